"""``pip install`` of the built wheel (not editable) gives a working toolkit.

The wheel is built from a copy of the sources (no build/ or egg-info left in the checkout),
installed with --no-deps into a fresh virtual environment whose only other path is this
environment's site-packages (the dependencies, through a .pth file, so nothing is downloaded;
that site-packages' own .pth files, e.g. an editable install of this checkout, are not read).
Two tools then run from the installed package on its shipped configuration files: the corpus
generator (conf/corpus/*.yaml) and the BABEL preparation (conf/babel_*.yaml).
"""
from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAUNCHERS = sorted(p.stem for p in (REPO / "dinosr_espnet" / "bin").glob("*.py")
                   if 'if __name__ == "__main__":' in p.read_text(encoding="utf-8"))


def _run(cmd: list, cwd: Path, check: bool = True, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    if check:
        assert done.returncode == 0, f"{cmd}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("setup.py", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    for name in ("dinosr_espnet", "conf"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-w", dist, src], cwd=src)
    (path,) = dist.glob("dinosr_espnet-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", root], cwd=root)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = root / "lib" / version / "site-packages"
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", root / "bin" / "python", "install",
          "--no-deps", "--no-index", wheel], cwd=root)
    return root


def _console_scripts(wheel: Path) -> dict[str, str]:
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt"))
        parser = configparser.ConfigParser()
        parser.read_string(z.read(name).decode())
    return dict(parser["console_scripts"])


def test_wheel_ships_configs_license_and_one_script_per_launcher(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    shipped = {f"dinosr_espnet/conf/{p.relative_to(REPO / 'conf')}" for p in (REPO / "conf").rglob("*")
               if p.is_file()}
    assert "dinosr_espnet/conf/corpus/ci.yaml" in shipped
    assert shipped <= names, f"not in the wheel: {sorted(shipped - names)}"
    assert any(n.endswith(".dist-info/LICENSE") or n.endswith("licenses/LICENSE") for n in names)
    assert "Apache-2.0" in metadata
    assert "Requires-Dist: tensorboard" in metadata
    targets = _console_scripts(wheel)
    modules = sorted(t.split(":")[0].removeprefix("dinosr_espnet.bin.") for t in targets.values())
    assert modules == LAUNCHERS
    assert all(name.startswith("dinosr-") for name in targets)
    assert targets["dinosr-train"] == "dinosr_espnet.bin.dinosr_train:cli"
    assert targets["dinosr-extract"] == "dinosr_espnet.bin.extract:main"


def test_installed_package_runs_its_tools(wheel, venv, tmp_path):
    python = venv / "bin" / "python"
    where = _run([python, "-c", "import dinosr_espnet.package_data as p; print(p.__file__); "
                  "print(p.conf_dir())"], cwd=tmp_path).stdout.split()
    assert all(Path(w).is_relative_to(venv) for w in where), where
    for name in _console_scripts(wheel):
        assert (venv / "bin" / name).is_file(), name
    modules = ",".join(f"'dinosr_espnet.bin.{m}'" for m in LAUNCHERS)
    _run([python, "-c", f"import importlib; [importlib.import_module(m) for m in ({modules})]"],
         cwd=tmp_path)

    corpus = tmp_path / "corpus"
    _run([venv / "bin" / "dinosr-make-corpus", "--out", corpus, "--corpora", "babel",
          "--languages", "101", "--speakers", "1", "--utts-per-speaker", "1", "--nj", "1"],
         cwd=tmp_path)
    assert (corpus / "manifest.json").is_file()
    prepared = _run([venv / "bin" / "dinosr-prepare-babel", "--langs", "101", "--babel_root",
                     corpus / "babel", "--out", tmp_path / "data"], cwd=tmp_path).stdout.split()
    assert prepared == ["cantonese_train", "cantonese_dev", "cantonese_eval"]
    for name in prepared:
        assert (tmp_path / "data" / name / "wav.scp").read_text().strip()

    bad = _run([python, "-m", "dinosr_espnet.bin.prepare_babel", "--langs", "999"],
               cwd=tmp_path, check=False)
    assert bad.returncode == 1
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "999" in lines[0] and "babel_languages.yaml" in lines[0], bad.stderr
