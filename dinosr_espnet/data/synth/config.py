"""What to generate: a size preset (`conf/corpus/<size>.yaml`) plus command-line overrides.

The resolved `Request` is written to `manifest.json`; a rerun with an equal request is skipped.
It includes a hash of the configuration files, so editing the grammar, voices or language table
makes the next run regenerate.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from dinosr_espnet.data.synth.speakers import check_style
from dinosr_espnet.data.synth.wordlists import load_languages, select_languages
from dinosr_espnet.package_data import conf_dir

GENERATOR_VERSION = "3"
CONF_DIR = conf_dir() / "corpus"
CORPORA = ("librispeech", "librilight", "babel")
LIBRISPEECH_SPLITS = (
    "train-clean-100",
    "train-clean-360",
    "train-other-500",
    "dev-clean",
    "dev-other",
    "test-clean",
    "test-other",
)
BABEL_SPLITS = ("training", "dev", "eval")
CONF_FILES = ("synthesis.yaml", "english_grammar.yaml", "babel_languages.yaml")
_SPLIT_KEYS = {"speakers", "chapters", "utts_per_speaker"}
_BABEL_SPLIT_KEYS = {"recordings", "segments_per_recording"}
DEFAULT_STYLES = {"clean": "clean", "other": "other"}


@dataclass
class Request:
    """A fully resolved generation request (sizes after overrides)."""

    size: str
    seed: int
    corpora: list[str]
    librispeech: dict[str, dict[str, int]]
    lm_sentences: int
    librilight_utts_per_fold: int
    babel_languages: list[int]
    babel_lexicon_words: int
    babel: dict[str, dict[str, int]]
    librispeech_styles: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_STYLES))
    generator_version: str = GENERATOR_VERSION
    conf_sha256: str = ""
    synthesis: dict = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("synthesis")
        return d


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"configuration file not found: {path}")
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def preset_path(size: str, conf_dir: Path = CONF_DIR) -> Path:
    """`ci`/`demo` -> `conf/corpus/<size>.yaml`; anything ending in .yaml is a path."""
    return Path(size) if size.endswith((".yaml", ".yml")) else conf_dir / f"{size}.yaml"


def _positive(value, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{where}: must be a positive integer, got {value!r}")
    return value


def _check_preset(p: dict, path: Path) -> None:
    unknown = set(p) - {"librispeech", "librilight", "babel"}
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {sorted(unknown)}")
    ls = p.get("librispeech") or {}
    extra = set(ls.get("splits") or {}) - set(LIBRISPEECH_SPLITS)
    extra_babel = set((p.get("babel") or {}).get("splits") or {}) - set(BABEL_SPLITS)
    if extra or extra_babel:
        raise ValueError(f"{path}: unknown split(s) {sorted(extra | extra_babel)}")
    for split in LIBRISPEECH_SPLITS:
        spec = (ls.get("splits") or {}).get(split)
        if not isinstance(spec, dict) or set(spec) != _SPLIT_KEYS:
            raise ValueError(f"{path}: librispeech.splits.{split} needs exactly {sorted(_SPLIT_KEYS)}")
        for key in _SPLIT_KEYS:
            _positive(spec[key], f"{path}: librispeech.splits.{split}.{key}")
    _positive(ls.get("lm_sentences"), f"{path}: librispeech.lm_sentences")
    _positive((p.get("librilight") or {}).get("utts_per_fold"), f"{path}: librilight.utts_per_fold")
    babel = p.get("babel") or {}
    for split in BABEL_SPLITS:
        spec = (babel.get("splits") or {}).get(split)
        if not isinstance(spec, dict) or set(spec) != _BABEL_SPLIT_KEYS:
            raise ValueError(f"{path}: babel.splits.{split} needs exactly {sorted(_BABEL_SPLIT_KEYS)}")
        for key in _BABEL_SPLIT_KEYS:
            _positive(spec[key], f"{path}: babel.splits.{split}.{key}")
    _positive(babel.get("lexicon_words"), f"{path}: babel.lexicon_words")
    if not babel.get("languages"):
        raise ValueError(f"{path}: babel.languages must list BABEL ids or names")


def _preset_styles(preset: dict, path: Path) -> dict[str, str]:
    """The preset's `librispeech.styles` (which synthesis.yaml section voices the clean and the
    other parts), defaulting to the sections `clean` and `other`."""
    styles = (preset.get("librispeech") or {}).get("styles") or dict(DEFAULT_STYLES)
    if not isinstance(styles, dict) or set(styles) != set(DEFAULT_STYLES):
        raise ValueError(f"{path}: librispeech.styles needs exactly the keys {sorted(DEFAULT_STYLES)}")
    return {k: str(v) for k, v in styles.items()}


def _check_synthesis(s: dict, path: Path, styles: dict[str, str]) -> None:
    ls = s.get("librispeech") or {}
    for kind, name in styles.items():
        if not isinstance(ls.get(name), dict):
            raise ValueError(f"{path}: librispeech.{name} (the {kind} style of the preset) is missing")
        check_style(ls[name], f"{path}: librispeech.{name}")
    check_style((s.get("babel") or {}).get("speaker") or {}, f"{path}: babel.speaker")


def conf_hash(conf_dir: Path) -> str:
    """SHA-256 over the content of the generator's configuration files."""
    h = hashlib.sha256()
    for name in CONF_FILES:
        h.update(name.encode() + b"\0" + (conf_dir / name).read_bytes())
    return h.hexdigest()


def resolve_request(
    size: str,
    seed: int = 0,
    corpora: list[str] | None = None,
    speakers: int | None = None,
    utts_per_speaker: int | None = None,
    hours_per_split: float | None = None,
    languages: list[str] | None = None,
    conf_dir: str | os.PathLike = CONF_DIR,
) -> Request:
    """Load the preset, apply the overrides and validate everything (errors name the key)."""
    conf_dir = Path(conf_dir)
    if seed < 0:
        raise ValueError(f"--seed must be >= 0, got {seed}")
    path = preset_path(size, conf_dir)
    preset = _read_yaml(path)
    _check_preset(preset, path)
    styles = _preset_styles(preset, path)
    synthesis = _read_yaml(conf_dir / "synthesis.yaml")
    _check_synthesis(synthesis, conf_dir / "synthesis.yaml", styles)
    synthesis["librispeech"].update({kind: synthesis["librispeech"][name] for kind, name in styles.items()})
    corpora = list(corpora or CORPORA)
    bad = [c for c in corpora if c not in CORPORA]
    if bad or not corpora:
        raise ValueError(f"--corpora: unknown {bad}; choose from {','.join(CORPORA)}")
    if utts_per_speaker is not None and hours_per_split is not None:
        raise ValueError("--utts-per-speaker and --hours-per-split are mutually exclusive")
    if hours_per_split is not None and hours_per_split <= 0:
        raise ValueError(f"--hours-per-split must be positive, got {hours_per_split}")

    ls = {k: dict(preset["librispeech"]["splits"][k]) for k in LIBRISPEECH_SPLITS}
    babel = {k: dict(preset["babel"]["splits"][k]) for k in BABEL_SPLITS}
    est_utt = float(synthesis["librispeech"]["estimated_utterance_seconds"])
    est_seg = float(synthesis["babel"]["estimated_segment_seconds"])
    for spec in ls.values():
        if speakers is not None:
            spec["speakers"] = _positive(speakers, "--speakers")
        if utts_per_speaker is not None:
            spec["utts_per_speaker"] = _positive(utts_per_speaker, "--utts-per-speaker")
        if hours_per_split is not None:
            spec["utts_per_speaker"] = max(1, round(hours_per_split * 3600 / (spec["speakers"] * est_utt)))
        spec["chapters"] = min(spec["chapters"], spec["utts_per_speaker"])
    for spec in babel.values():
        if speakers is not None:
            spec["recordings"] = _positive(speakers, "--speakers")
        if utts_per_speaker is not None:
            spec["segments_per_recording"] = _positive(utts_per_speaker, "--utts-per-speaker")
        if hours_per_split is not None:
            spec["segments_per_recording"] = max(
                1, round(hours_per_split * 3600 / (spec["recordings"] * est_seg))
            )
    wanted = languages if languages is not None else [str(v) for v in preset["babel"]["languages"]]
    chosen = select_languages(load_languages(conf_dir / "babel_languages.yaml"), wanted)
    return Request(
        size=path.stem if path.parent == conf_dir else str(path),
        seed=int(seed),
        corpora=[c for c in CORPORA if c in corpora],
        librispeech=ls,
        lm_sentences=int(preset["librispeech"]["lm_sentences"]),
        librilight_utts_per_fold=int(preset["librilight"]["utts_per_fold"]),
        babel_languages=[lang.id for lang in chosen],
        babel_lexicon_words=int(preset["babel"]["lexicon_words"]),
        babel=babel,
        librispeech_styles=styles,
        conf_sha256=conf_hash(conf_dir),
        synthesis=synthesis,
    )
