"""Word n-gram LM estimation with KenLM's ``lmplz`` and binarisation with ``build_binary``.

pip's ``kenlm`` only queries LMs; the two programs are built from the ``kenlm`` source
distribution by ``utils/install_kenlm.sh`` (into ``<repo>/tools/bin``). They are looked up in
``--kenlm_bin`` / ``$KENLM_BIN`` when given (only there), else in ``<repo>/tools/bin``, then on
``PATH``.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from tqdm import tqdm

logger = logging.getLogger(__name__)

REPO_TOOLS_BIN = Path(__file__).resolve().parents[2] / "tools" / "bin"
INSTALL_SCRIPT = "utils/install_kenlm.sh"
# Debian packages needed to build lmplz/build_binary (see utils/install_kenlm.sh).
BUILD_PACKAGES = ("cmake", "build-essential", "libboost-program-options-dev",
                  "libboost-system-dev", "libboost-thread-dev", "libboost-test-dev",
                  "zlib1g-dev", "libbz2-dev", "liblzma-dev")


class KenLMNotFoundError(FileNotFoundError):
    """``lmplz`` or ``build_binary`` is not installed."""


def missing_build_packages() -> Optional[list[str]]:
    """Debian build packages not installed (via dpkg-query), or None when dpkg is absent."""
    if shutil.which("dpkg-query") is None:
        return None
    missing = []
    for pkg in BUILD_PACKAGES:
        status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                                capture_output=True, text=True).stdout
        if "install ok installed" not in status:
            missing.append(pkg)
    return missing


def find_kenlm_program(name: str, kenlm_bin: Optional[str | os.PathLike] = None) -> Path:
    """Path of KenLM program ``name`` (see module docstring for the search order).

    Raises KenLMNotFoundError saying how to build it and which Debian packages are missing.
    """
    kenlm_bin = kenlm_bin or os.environ.get("KENLM_BIN") or None
    if kenlm_bin is not None:
        candidates = [Path(kenlm_bin) / name]
    else:
        on_path = shutil.which(name)
        candidates = [REPO_TOOLS_BIN / name] + ([Path(on_path)] if on_path else [])
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    where = kenlm_bin if kenlm_bin is not None else f"{REPO_TOOLS_BIN} or PATH"
    missing = missing_build_packages()
    if missing is None:
        deps = f"it needs the Debian packages {' '.join(BUILD_PACKAGES)} (or equivalents)"
    elif missing:
        deps = (f"missing Debian packages: {' '.join(missing)} (apt-get install them, or run "
                f"`{INSTALL_SCRIPT} --install-deps` as root)")
    else:
        deps = "its Debian build packages are installed"
    raise KenLMNotFoundError(
        f"KenLM's {name} not found in {where}. Build lmplz and build_binary with "
        f"`{INSTALL_SCRIPT}` (installs to <repo>/tools/bin; or pass --kenlm_bin / set KENLM_BIN); "
        f"{deps}.")


@dataclass(frozen=True)
class NgramLM:
    """Files of a built LM."""

    arpa: Path
    binary: Path


def _run(cmd: Sequence[str], log: Path, stdin_lines: Optional[Sequence[Path]] = None,
         strip_ids: bool = False) -> None:
    """Run a KenLM program, stderr to (a new) ``log``; ``stdin_lines`` files go to its stdin."""
    logger.info(" ".join(map(str, cmd)))
    with open(log, "wb") as err:
        proc = subprocess.Popen(list(map(str, cmd)), stdin=subprocess.PIPE if stdin_lines else None,
                                stderr=err)
        if stdin_lines:
            assert proc.stdin is not None
            try:
                _stream_text(stdin_lines, proc.stdin, strip_ids)
            except BrokenPipeError:
                pass
            finally:
                proc.stdin.close()
        rc = proc.wait()
    if rc != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        raise RuntimeError(f"{Path(cmd[0]).name} failed (exit {rc}); end of {log}:\n"
                           + "\n".join(tail))


def _stream_text(files: Sequence[Path], out, strip_ids: bool) -> None:
    """Write the sentences of ``files`` to ``out`` (bytes), dropping the first field if asked."""
    total = sum(f.stat().st_size for f in files)
    with tqdm(total=total, unit="B", unit_scale=True, desc="lmplz", file=sys.stderr) as bar:
        for path in files:
            with open(path, "rb") as f:
                for line in f:
                    bar.update(len(line))
                    if strip_ids:
                        parts = line.split(maxsplit=1)
                        if not parts:
                            continue
                        line = parts[1] if len(parts) > 1 else b"\n"
                    out.write(line if line.endswith(b"\n") else line + b"\n")


def build_ngram(texts: Sequence[str | os.PathLike], out_dir: str | os.PathLike, order: int = 4,
                memory: str = "2G", strip_ids: bool = False,
                limit_vocab: Optional[str | os.PathLike] = None, binary_type: str = "trie",
                kenlm_bin: Optional[str | os.PathLike] = None) -> NgramLM:
    """Estimate a modified Kneser-Ney word ``order``-gram on ``texts`` (one sentence per line;
    with ``strip_ids`` Kaldi ``text`` files, first field dropped) and binarise it.

    Writes ``{order}gram.arpa`` and ``{order}gram.bin`` (plus ``lmplz.log``) to ``out_dir``.
    ``--discount_fallback`` lets tiny corpora through (used only where Kneser-Ney discounts
    cannot be estimated); ``<s> </s> <unk>`` in the text are treated as whitespace.
    """
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    files = [Path(t) for t in texts]
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(f"LM text {f} does not exist")
    if limit_vocab is not None and not Path(limit_vocab).is_file():
        raise FileNotFoundError(f"vocabulary file {limit_vocab} does not exist")
    lmplz = find_kenlm_program("lmplz", kenlm_bin)
    find_kenlm_program("build_binary", kenlm_bin)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    arpa = out / f"{order}gram.arpa"
    cmd = [lmplz, "-o", order, "-S", memory, "-T", f"{out}/", "--discount_fallback",
           "--skip_symbols", "--arpa", arpa]
    if limit_vocab is not None:
        cmd += ["--limit_vocab_file", limit_vocab]
    _run(cmd, out / "lmplz.log", stdin_lines=files, strip_ids=strip_ids)
    binary = binarize(arpa, out / f"{order}gram.bin", binary_type, memory, kenlm_bin)
    return NgramLM(arpa=arpa, binary=binary)


def binarize(arpa: str | os.PathLike, binary: str | os.PathLike, binary_type: str = "trie",
             memory: str = "2G", kenlm_bin: Optional[str | os.PathLike] = None) -> Path:
    """KenLM binary of an ARPA file (plain or ``.gz``): ``trie`` (smaller; built with an
    on-disk sort using ``memory``) or ``probing`` (faster, larger)."""
    if binary_type not in ("trie", "probing"):
        raise ValueError(f"binary_type must be trie or probing, got {binary_type!r}")
    if not Path(arpa).is_file():
        raise FileNotFoundError(f"ARPA file {arpa} does not exist")
    build_binary = find_kenlm_program("build_binary", kenlm_bin)
    binary = Path(binary)
    binary.parent.mkdir(parents=True, exist_ok=True)
    cmd = [build_binary, "-S", memory, binary_type, arpa, binary]
    _run(cmd, binary.parent / "build_binary.log")
    return binary
