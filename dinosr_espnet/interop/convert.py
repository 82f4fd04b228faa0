"""Import the authors' fairseq DinoSR checkpoint into our format, and export back (spec §9).

Import: restricted load → config mapping (``fairseq_config``) → key mapping (``key_map``) with
every key consumed → ESPnet experiment directory (``espnet_dir``). Export is the reverse:
student fp16 (as released), teacher ``_ema`` fp32, codebooks as fp32 EMA sums and counts, a
plain-dict ``cfg`` and the update counter in ``optimizer_history[-1]["num_updates"]``.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import torch
import yaml

from dinosr_espnet.interop import key_map
from dinosr_espnet.interop.espnet_dir import read_experiment, write_experiment
from dinosr_espnet.interop.fairseq_config import config_from_fairseq, config_to_fairseq
from dinosr_espnet.interop.safe_load import load_checkpoint
from dinosr_espnet.model.config import DinoSRConfig
from dinosr_espnet.model.dinosr import DinoSR

logger = logging.getLogger(__name__)

IMPORT_INFO_FILE = "fairseq_import.yaml"

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
            n = int(value.item() if hasattr(value, "item") else value)
        except (TypeError, ValueError):
            raise ValueError(f"checkpoint {where} = {value!r} is not an integer") from None
        if n < 0:
            raise ValueError(f"checkpoint {where} = {n} is negative")
        return n, where
    return None


def fairseq_configs(ckpt: Any, source: str) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """``(cfg["model"], cfg["task"])`` of a checkpoint; old ``args`` Namespaces are accepted."""
    if not isinstance(ckpt, Mapping) or not isinstance(ckpt.get("model"), Mapping):
        raise ValueError(f"{source}: not a fairseq checkpoint (a dict with a 'model' state dict)")
    cfg = ckpt.get("cfg")
    if isinstance(cfg, Mapping):
        model_cfg, task_cfg = cfg.get("model"), cfg.get("task")
        if not isinstance(model_cfg, Mapping):
            raise ValueError(f"{source}: cfg['model'] is missing or not a dict")
        if not isinstance(task_cfg, Mapping):
            raise ValueError(f"{source}: cfg['task'] is missing or not a dict")
        return model_cfg, task_cfg
    args = ckpt.get("args")
    if args is not None and hasattr(args, "__dict__"):
        return vars(args), vars(args)
    raise ValueError(f"{source}: neither a 'cfg' dict nor an 'args' namespace")


def import_fairseq(ckpt_path: Union[str, Path], out_dir: Union[str, Path],
                   num_updates: Optional[int] = None) -> Path:
    """Convert a released fairseq checkpoint into an experiment directory; returns the .pth.

    ``num_updates`` overrides the counter found in the file (needed to continue pretraining
    from a checkpoint whose optimizer history was stripped).
    """
    ckpt_path = Path(ckpt_path)
    ckpt = load_checkpoint(ckpt_path)
    model_cfg, task_cfg = fairseq_configs(ckpt, str(ckpt_path))
    if task_cfg.get("normalize") is not True:
        raise ValueError(
            f"{ckpt_path}: cfg['task']['normalize'] = {task_cfg.get('normalize')!r}: the model "
            f"was not trained on standardised waveforms, but this pipeline always standardises "
            f"its input (spec §3), so its features would not match")
    cfg = config_from_fairseq(model_cfg)

    found = find_num_updates(ckpt)
    where = "command line"
    if num_updates is None:
        if found is None:
            logger.warning(f"{ckpt_path}: no update counter found (looked in "
                           f"{', '.join(w for w, _ in _NUM_UPDATES_LOCATIONS)}); using 0. "
                           f"Pass --num_updates to continue pretraining on the right schedule")
            num_updates, where = 0, "default (not in file)"
        else:
            num_updates, where = found
    logger.info(f"num_updates = {num_updates} (from {where})")

    with torch.device("meta"):
        reference = DinoSR(cfg).state_dict()
    state = key_map.from_fairseq(ckpt["model"], reference, num_updates)
    info = {
        "source": str(ckpt_path.resolve()),
        "input_normalize": True,
        "num_updates": num_updates,
        "num_updates_from": where,
        "fairseq_model_name": str(model_cfg.get("_name", "")),
    }
    header = (f"Imported from the fairseq checkpoint {ckpt_path.name} by "
              f"dinosr_espnet.bin.import_fairseq ({IMPORT_INFO_FILE}).\n"
              f"Input normalisation (per-file waveform standardisation, spec §3): true.")
    model_path = write_experiment(out_dir, cfg, state, header=header)
    with (Path(out_dir) / IMPORT_INFO_FILE).open("w", encoding="utf-8") as f:
        yaml.safe_dump(info, f, sort_keys=False)
    logger.info(f"wrote {model_path} and {Path(out_dir) / 'config.yaml'}")
    return model_path


def fairseq_checkpoint(cfg: DinoSRConfig, state_dict: Mapping[str, torch.Tensor],
                       sample_rate: int = 16000) -> dict[str, Any]:
    """The released layout (spec §9) for our ``DinoSR`` state dict."""
    model, num_updates = key_map.to_fairseq(state_dict, cfg.num_codebooks)
    return {
        "args": None,
        "cfg": {
            "model": config_to_fairseq(cfg),
            "task": {"_name": "audio_pretraining", "normalize": True,
                     "sample_rate": sample_rate},
        },
        "model": model,
        "optimizer_history": [{"num_updates": num_updates}],
        "extra_state": {},
        "last_optimizer_state": None,
    }


def export_fairseq(src: Union[str, Path], out_path: Union[str, Path],
                   config: Optional[Union[str, Path]] = None) -> Path:
    """Write the experiment (directory or .pth) ``src`` as a fairseq checkpoint at ``out_path``.

    The student is rounded to fp16 as in the release (exact for an imported checkpoint).
    """
    cfg, state, full = read_experiment(src, config)
    with torch.device("meta"):
        expected = DinoSR(cfg).state_dict()
    missing, unknown = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unknown:
        raise KeyError(f"{src}: state dict does not match model_conf: "
                       f"missing {missing or 'none'}, unknown {unknown or 'none'}")
    for key, ref in expected.items():
        if state[key].shape != ref.shape:
            raise ValueError(f"{src}: '{key}' has shape {tuple(state[key].shape)}, model_conf "
                             f"implies {tuple(ref.shape)}")
    ckpt = fairseq_checkpoint(cfg, state, sample_rate=int(full.get("fs", 16000)))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, out_path)
    logger.info(f"wrote {out_path}")
    return out_path
