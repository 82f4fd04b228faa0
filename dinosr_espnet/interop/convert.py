"""Import the authors' fairseq DinoSR checkpoint into our format, and export back (spec §9).

Import: restricted load → config mapping (``fairseq_config``) → key mapping (``key_map``) with
every key consumed → ESPnet experiment directory (``espnet_dir``). Export is the reverse:
student fp16 (as released), teacher ``_ema`` fp32, codebooks as fp32 EMA sums and counts, a
plain-dict ``cfg`` and the update counter in ``optimizer_history[-1]["num_updates"]``.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import torch
import yaml

from dinosr_espnet.interop import key_map
from dinosr_espnet.interop.espnet_dir import (
    read_experiment, resolve_model_file, write_experiment,
)
from dinosr_espnet.interop.fairseq_config import config_from_fairseq
from dinosr_espnet.interop.plain_data import plain_data
from dinosr_espnet.interop.release_cfg import SECTIONS, exported_cfg, release_template
from dinosr_espnet.interop.safe_load import load_checkpoint
from dinosr_espnet.interop.size_limits import MAX_STEP
from dinosr_espnet.interop.staged_output import staged_file
from dinosr_espnet.model.config import DinoSRConfig
from dinosr_espnet.model.dinosr import DinoSR

logger = logging.getLogger(__name__)

IMPORT_INFO_FILE = "fairseq_import.yaml"
FAIRSEQ_CFG_FILE = "fairseq_cfg.yaml"

# Where fairseq (and trimmed copies of its checkpoints) keep the update counter, in order.
_NUM_UPDATES_LOCATIONS: list[tuple[str, Callable[[Mapping[str, Any]], Any]]] = [
    ("optimizer_history[-1]['num_updates']", lambda c: c["optimizer_history"][-1]["num_updates"]),
    ("extra_state['num_updates']", lambda c: c["extra_state"]["num_updates"]),
    ("extra_state['train_iterator']['num_updates']",
     lambda c: c["extra_state"]["train_iterator"]["num_updates"]),
    ("num_updates", lambda c: c["num_updates"]),
]


def find_num_updates(ckpt: Mapping[str, Any]) -> Optional[tuple[int, str]]:
    """``(num_updates, where)`` from the first location of ``_NUM_UPDATES_LOCATIONS`` found."""
    for where, get in _NUM_UPDATES_LOCATIONS:
        try:
            value = get(ckpt)
        except (KeyError, IndexError, TypeError):
            continue
        try:
            if torch.is_tensor(value) and value.numel() != 1:
                raise TypeError
            n = value.item() if hasattr(value, "item") else value
            if isinstance(n, bool) or not isinstance(n, (int, float)) or not float(n).is_integer():
                raise TypeError
            n = int(n)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"checkpoint {where} = {_show(value)} is not an integer") from None
        if not 0 <= n <= MAX_STEP:
            raise ValueError(f"checkpoint {where} = {n} is out of range (0..{MAX_STEP})")
        return n, where
    return None


def _show(value: Any) -> str:
    """A short description of a value for an error message (never a huge repr)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return f"a {type(value).__name__}"


def fairseq_configs(ckpt: Any, source: str
                    ) -> tuple[Mapping[str, Any], Mapping[str, Any], dict[str, Any]]:
    """``(cfg["model"], cfg["task"], cfg to keep)`` of a checkpoint, as plain data.

    Old checkpoints with an ``args`` Namespace instead of ``cfg`` are accepted: the kept cfg
    is then the release's model and task fields that ``args`` holds.
    """
    if not isinstance(ckpt, Mapping) or not isinstance(ckpt.get("model"), Mapping):
        raise ValueError(f"{source}: not a fairseq checkpoint (a dict with a 'model' state dict)")
    cfg = ckpt.get("cfg")
    if isinstance(cfg, Mapping):
        kept = plain_data(cfg, f"{source}: cfg")
        for section in SECTIONS:
            if not isinstance(kept.get(section), dict):
                raise ValueError(f"{source}: cfg['{section}'] is missing or not a dict")
        return kept["model"], kept["task"], kept
    args = ckpt.get("args")
    if isinstance(args, argparse.Namespace):
        fields = plain_data(vars(args), f"{source}: args")
        template = release_template()
        kept = {section: {k: fields[k] for k in template[section] if k in fields}
                for section in SECTIONS}
        return fields, fields, kept
    raise ValueError(f"{source}: neither a 'cfg' dict nor an 'args' namespace")


def config_source(ckpt: Mapping[str, Any]) -> str:
    """Where a checkpoint's config comes from: ``cfg`` (fairseq >= 0.10) or ``args``."""
    return "cfg" if isinstance(ckpt.get("cfg"), Mapping) else "args"


def _sample_rate(task_cfg: Mapping[str, Any], source: str) -> int:
    rate = task_cfg.get("sample_rate", 16000)
    if isinstance(rate, bool) or not isinstance(rate, int) or not 1000 <= rate <= 384000:
        raise ValueError(f"{source}: task sample_rate = {_show(rate)} is not a sample rate "
                         f"(an integer in 1000..384000)")
    return rate


def import_fairseq(ckpt_path: Union[str, Path], out_dir: Union[str, Path],
                   num_updates: Optional[int] = None) -> Path:
    """Convert a released fairseq checkpoint into an experiment directory; returns the .pth.

    ``num_updates`` overrides the counter found in the file (needed to continue pretraining
    from a checkpoint whose optimizer history was stripped). Everything is checked before
    anything is written; the directory appears whole or not at all, and replaces an existing
    one only if that is empty or an earlier import.
    """
    ckpt_path, out_dir = Path(ckpt_path), Path(out_dir)
    ckpt = load_checkpoint(ckpt_path)
    model_cfg, task_cfg, kept = fairseq_configs(ckpt, str(ckpt_path))
    if task_cfg.get("normalize") is not True:
        where = "cfg['task']['normalize']" if config_source(ckpt) == "cfg" else "args.normalize"
        raise ValueError(
            f"{ckpt_path}: {where} = {_show(task_cfg.get('normalize'))}: the model "
            f"was not trained on standardised waveforms, but this pipeline always standardises "
            f"its input (spec §3), so its features would not match")
    sample_rate = _sample_rate(task_cfg, str(ckpt_path))
    try:
        cfg = config_from_fairseq(model_cfg)
    except ValueError as e:
        raise ValueError(f"{ckpt_path}: {e}") from None

    try:
        found = find_num_updates(ckpt)
    except ValueError as e:
        raise ValueError(f"{ckpt_path}: {e}") from None
    where = "command line"
    if num_updates is None:
        if found is None:
            logger.warning(f"{ckpt_path}: no update counter found (looked in "
                           f"{', '.join(w for w, _ in _NUM_UPDATES_LOCATIONS)}); using 0. "
                           f"Pass --num_updates to continue pretraining on the right schedule")
            num_updates, where = 0, "default (not in file)"
        else:
            num_updates, where = found
    elif not 0 <= num_updates <= MAX_STEP:
        raise ValueError(f"--num_updates {num_updates} is out of range (0..{MAX_STEP})")
    logger.info(f"num_updates = {num_updates} (from {where})")

    with torch.device("meta"):
        reference = DinoSR(cfg).state_dict()
    try:
        state = key_map.from_fairseq(ckpt["model"], reference, num_updates)
    except ValueError as e:
        raise ValueError(f"{ckpt_path}: {e}") from None
    info = {
        "source": str(ckpt_path.resolve()),
        "input_normalize": True,
        "num_updates": num_updates,
        "num_updates_from": where,
        "fairseq_model_name": str(model_cfg.get("_name", "")),
        "fairseq_cfg_from": config_source(ckpt),
    }
    header = (f"Imported from the fairseq checkpoint {ckpt_path.name} by "
              f"dinosr_espnet.bin.import_fairseq ({IMPORT_INFO_FILE}; its cfg in "
              f"{FAIRSEQ_CFG_FILE}).\n"
              f"Input normalisation (per-file waveform standardisation, spec §3): true.")
    overrides: dict[str, Any] = {"fs": sample_rate}
    crop = task_cfg.get("max_sample_size")
    if crop is None or (isinstance(crop, int) and not isinstance(crop, bool) and crop > 0):
        overrides["max_sample_size"] = crop
    files = {IMPORT_INFO_FILE: yaml.safe_dump(info, sort_keys=False),
             FAIRSEQ_CFG_FILE: yaml.safe_dump(kept, sort_keys=False, allow_unicode=True)}
    model_path = write_experiment(out_dir, cfg, state, header=header, task_overrides=overrides,
                                  files=files, replace=(out_dir / IMPORT_INFO_FILE).is_file())
    logger.info(f"wrote {model_path}, {out_dir / 'config.yaml'} and {out_dir / FAIRSEQ_CFG_FILE}")
    return model_path


def fairseq_checkpoint(cfg: DinoSRConfig, state_dict: Mapping[str, torch.Tensor],
                       conf: Mapping[str, Any], kept_cfg: Optional[Mapping[str, Any]] = None
                       ) -> dict[str, Any]:
    """The released layout (spec §9) for our ``DinoSR`` state dict (``release_cfg``)."""
    model, num_updates = key_map.to_fairseq(state_dict, cfg.num_codebooks)
    return {
        "args": None,
        "cfg": exported_cfg(cfg, conf, kept_cfg),
        "model": model,
        "optimizer_history": [{"num_updates": num_updates}],
        "extra_state": {},
        "last_optimizer_state": None,
    }


def read_kept_cfg(path: Path) -> dict[str, Any]:
    """The fairseq ``cfg`` kept at import (``FAIRSEQ_CFG_FILE``), checked as plain data."""
    try:
        kept = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not a readable YAML file: {' '.join(str(e).split())[:200]}"
                         ) from None
    kept = plain_data(kept, str(path))
    if not isinstance(kept, dict) or not all(isinstance(kept.get(s), dict) for s in SECTIONS):
        raise ValueError(f"{path}: not a fairseq cfg (a mapping with 'model' and 'task')")
    return kept


def export_fairseq(src: Union[str, Path], out_path: Union[str, Path],
                   config: Optional[Union[str, Path]] = None,
                   fairseq_cfg: Optional[Union[str, Path]] = None) -> Path:
    """Write the experiment (directory or .pth) ``src`` as a fairseq checkpoint at ``out_path``.

    The student is rounded to fp16 as in the release (exact for an imported checkpoint). The
    cfg is built by ``release_cfg.exported_cfg`` from the model config and, for an imported
    model, the cfg kept at import: ``fairseq_cfg`` or ``fairseq_cfg.yaml`` beside the model.
    The file appears whole or not at all.
    """
    cfg, state, full = read_experiment(src, config)
    with torch.device("meta"):
        expected = DinoSR(cfg).state_dict()
    missing, unknown = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unknown:
        raise ValueError(f"{src}: state dict does not match model_conf: "
                         f"missing {missing[:5] or 'none'}, unknown {unknown[:5] or 'none'}")
    for key, ref in expected.items():
        if state[key].shape != ref.shape:
            raise ValueError(f"{src}: '{key}' has shape {tuple(state[key].shape)}, model_conf "
                             f"implies {tuple(ref.shape)}")
    kept_path = (Path(fairseq_cfg) if fairseq_cfg is not None
                 else resolve_model_file(src).parent / FAIRSEQ_CFG_FILE)
    if fairseq_cfg is not None and not kept_path.is_file():
        raise FileNotFoundError(f"fairseq cfg not found: {kept_path}")
    kept = read_kept_cfg(kept_path) if kept_path.is_file() else None
    if kept is not None:
        logger.info(f"cfg: the one kept at import ({kept_path}), updated from the model")
    ckpt = fairseq_checkpoint(cfg, state, full, kept)
    out_path = Path(out_path)
    with staged_file(out_path) as stage:
        torch.save(ckpt, stage)
    logger.info(f"wrote {out_path}")
    return out_path
