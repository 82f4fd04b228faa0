"""Our checkpoint format: an ESPnet experiment directory (``config.yaml`` + a ``.pth``).

``config.yaml`` is what ``dinosr_train`` writes (every ``DinoSRTask`` option, ``model_conf``
= the ``DinoSRConfig`` fields); the ``.pth`` is the state dict of ``ESPnetDinoSRModel``, whose
``DinoSR`` module is the attribute ``dinosr`` (keys ``dinosr.<contract name>``). So an
imported directory works wherever a trained one does: the inference API, unit extraction and
``--init_param <dir>/model.pth:dinosr:encoder.dinosr`` for CTC fine-tuning.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import torch
import yaml

from dinosr_espnet.interop.safe_load import load_checkpoint
from dinosr_espnet.interop.size_limits import check_sizes
from dinosr_espnet.interop.staged_output import staged_directory
from dinosr_espnet.model.config import DinoSRConfig

MODEL_FILE = "model.pth"
CONFIG_FILE = "config.yaml"
ESPNET_PREFIX = "dinosr."
# Model files looked for in an experiment directory, in this order, then the latest N epoch.
_MODEL_CANDIDATES = (MODEL_FILE, "valid.loss.best.pth", "valid.loss.ave.pth")


def task_config(cfg: DinoSRConfig, output_dir: Path) -> dict[str, Any]:
    """The ``config.yaml`` mapping ``dinosr_train`` would write for ``cfg`` (task defaults)."""
    from dinosr_espnet.espnet.task import DinoSRTask  # imports ESPnet (several seconds)

    args = DinoSRTask.get_parser().parse_args(["--output_dir", str(output_dir)])
    args.model_conf = cfg.to_dict()
    return vars(args)


def write_experiment(out_dir: Union[str, Path], cfg: DinoSRConfig,
                     state_dict: Mapping[str, torch.Tensor], header: str = "",
                     task_overrides: Optional[Mapping[str, Any]] = None,
                     files: Optional[Mapping[str, str]] = None, replace: bool = False) -> Path:
    """Write ``config.yaml``, ``model.pth`` (keys prefixed ``dinosr.``) and ``files``.

    ``header`` is written as YAML comment lines at the top of ``config.yaml``;
    ``task_overrides`` replace task defaults (e.g. ``fs``); ``files`` maps extra file names to
    their text. The directory appears whole or not at all (``staged_output``); an existing
    non-empty ``out_dir`` is replaced only if ``replace``. Returns the final ``.pth`` path.
    """
    from espnet2.utils.yaml_no_alias_safe_dump import yaml_no_alias_safe_dump

    out_dir = Path(out_dir)
    config = task_config(cfg, out_dir)
    config.update(task_overrides or {})
    text = yaml_no_alias_safe_dump(config, indent=4, sort_keys=False)
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    with staged_directory(out_dir, replace=replace) as stage:
        (stage / CONFIG_FILE).write_text(comment + text, encoding="utf-8")
        torch.save({ESPNET_PREFIX + k: v.contiguous() for k, v in state_dict.items()},
                   stage / MODEL_FILE)
        for name, content in (files or {}).items():
            (stage / name).write_text(content, encoding="utf-8")
    return out_dir / MODEL_FILE


def resolve_model_file(path: Union[str, Path]) -> Path:
    """The ``.pth`` of an experiment: ``path`` itself, or the best candidate in the directory."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f"no such model file or experiment directory: {path}")
    for name in _MODEL_CANDIDATES:
        if (path / name).is_file():
            return path / name
    epochs = sorted((int(m.group(1)), p) for p in path.glob("*epoch.pth")
                    if (m := re.fullmatch(r"(\d+)epoch\.pth", p.name)))
    if epochs:
        return epochs[-1][1]
    raise FileNotFoundError(f"{path}: no model file ({', '.join(_MODEL_CANDIDATES)} or "
                            f"<N>epoch.pth)")


def read_experiment(path: Union[str, Path], config: Optional[Union[str, Path]] = None
                    ) -> tuple[DinoSRConfig, dict[str, torch.Tensor], dict[str, Any]]:
    """``(DinoSRConfig, DinoSR state dict, full config mapping)`` of an experiment.

    ``path`` is the directory or its ``.pth``; ``config`` defaults to ``config.yaml`` next to
    the model file. The state dict is loaded with ``weights_only=True``; keys may carry the
    ``dinosr.`` prefix (ESPnet model) or not (a bare ``DinoSR``), not a mix. Sizes are
    bounded before the caller builds a model from the config.
    """
    model_path = resolve_model_file(path)
    config_path = Path(config) if config is not None else model_path.parent / CONFIG_FILE
    if not config_path.is_file():
        raise FileNotFoundError(f"config not found: {config_path}")
    try:
        with config_path.open(encoding="utf-8") as f:
            full = yaml.safe_load(f)
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ValueError(f"{config_path}: not a readable YAML file: "
                         f"{' '.join(str(e).split())[:200]}") from None
    if not isinstance(full, Mapping) or not isinstance(full.get("model_conf"), Mapping):
        raise ValueError(f"{config_path}: no 'model_conf' mapping (not a DinoSR config)")
    try:
        cfg = DinoSRConfig.from_dict(full["model_conf"])
    except ValueError as e:
        raise ValueError(f"{config_path}: model_conf: {e}") from None
    check_sizes(cfg, lambda field: f"{config_path}: model_conf['{field}']")
    state = load_checkpoint(model_path)
    if (not isinstance(state, Mapping) or not all(isinstance(k, str) for k in state)
            or not all(torch.is_tensor(v) for v in state.values())):
        raise ValueError(f"{model_path}: not a state dict of tensors")
    prefixed = [k for k in state if k.startswith(ESPNET_PREFIX)]
    if prefixed and len(prefixed) != len(state):
        other = sorted(k for k in state if not k.startswith(ESPNET_PREFIX))
        raise ValueError(f"{model_path}: keys outside '{ESPNET_PREFIX}*': {', '.join(other[:5])}")
    cut = len(ESPNET_PREFIX) if prefixed else 0
    return cfg, {k[cut:]: v for k, v in state.items()}, dict(full)
