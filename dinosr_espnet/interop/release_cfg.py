"""The ``cfg`` of an exported checkpoint: the release's full field set, values from the model.

The official loader rebuilds the model from ``cfg["model"]`` and gives every missing field
its dataclass default, some of which build a different network (``discrete`` defaults to
false). So an export carries every field of the released BASE ``cfg`` (package data
``release_cfg.yaml``, sections ``model`` and ``task``):

- a model trained here: the release's values, with every field that describes the model
  (sizes, heads, codebooks, masking, EMA schedule, network constants such as
  ``discrete: true``) computed from its config, and the task's sample rate and crop size from
  the experiment's config;
- a model that was imported: the ``cfg`` kept at import (``fairseq_cfg.yaml``) written back
  unchanged, except the fields whose model settings differ from what that ``cfg`` describes
  (what training changed) and the release fields it lacked.
"""
from __future__ import annotations

import copy
import dataclasses
import logging
from contextlib import contextmanager
from importlib import resources
from typing import Any, Iterator, Mapping, Optional

import yaml

from dinosr_espnet.interop import fairseq_config
from dinosr_espnet.interop.fairseq_config import config_from_fairseq, config_to_fairseq, depends_on
from dinosr_espnet.model.config import DinoSRConfig

TEMPLATE_FILE = "release_cfg.yaml"
SECTIONS = ("model", "task")


def release_template() -> dict[str, dict[str, Any]]:
    """The released BASE ``cfg`` (sections ``model`` and ``task``), a fresh copy."""
    text = resources.files(__package__).joinpath(TEMPLATE_FILE).read_text(encoding="utf-8")
    return yaml.safe_load(text)


@contextmanager
def _quiet_config_mapping() -> Iterator[None]:
    """Re-reading a kept cfg repeats the import's warnings: silence them."""
    mapping_logger = logging.getLogger(fairseq_config.__name__)
    disabled, mapping_logger.disabled = mapping_logger.disabled, True
    try:
        yield
    finally:
        mapping_logger.disabled = disabled


def changed_fields(before: DinoSRConfig, after: DinoSRConfig) -> set[str]:
    """Names of the DinoSRConfig fields whose values differ."""
    return {f.name for f in dataclasses.fields(DinoSRConfig)
            if getattr(before, f.name) != getattr(after, f.name)}


def task_values(conf: Mapping[str, Any]) -> dict[str, Any]:
    """``cfg["task"]`` fields set by an experiment's ``config.yaml`` (input as in training)."""
    values: dict[str, Any] = {"normalize": True, "sample_rate": int(conf.get("fs", 16000))}
    if "max_sample_size" in conf:
        values["max_sample_size"] = conf["max_sample_size"]
    return values


def exported_cfg(cfg: DinoSRConfig, conf: Mapping[str, Any],
                 kept: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """The full fairseq ``cfg`` for a model with config ``cfg`` (module docstring).

    ``conf`` is the experiment's ``config.yaml`` mapping, ``kept`` the ``cfg`` kept at import
    (``None`` for a model trained here).
    """
    template = release_template()
    out = copy.deepcopy(dict(kept)) if kept else {}
    kept_model = dict((kept or {}).get("model") or {})
    kept_task = dict((kept or {}).get("task") or {})
    model = {**template["model"], **kept_model}
    derived = config_to_fairseq(cfg)
    if kept_model:
        with _quiet_config_mapping():
            changed = changed_fields(config_from_fairseq(kept_model), cfg)
        for key, value in derived.items():
            if key not in kept_model or changed & set(depends_on(key)):
                model[key] = value
    else:
        model.update(derived)
        max_steps = (conf.get("scheduler_conf") or {}).get("max_steps")
        if isinstance(max_steps, int) and not isinstance(max_steps, bool):
            model["max_update"] = max_steps
    task = {**template["task"], **kept_task}
    for key, value in task_values(conf).items():
        if key not in kept_task or kept_task[key] != value:
            task[key] = value
    out["model"], out["task"] = model, task
    return out
