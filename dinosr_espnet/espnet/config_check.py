"""Start-up validation of an ESPnet training command: every YAML key, its type and range.

ESPnet sets the ``--config`` YAML as argparse defaults without any type check (a quoted
``"10"`` is silently converted, a list where a number belongs fails deep in the trainer), and
passes ``optim_conf``/``scheduler_conf``/``<choice>_conf`` straight to the chosen classes. Here
the expected type of each top-level key is derived from ESPnet's own argparse parser (the
option's ``type``, ``nargs``, ``choices``), the nested ``*_conf`` keys are checked against the
chosen class's constructor signature (annotations, else the default's type), and ranges come
from a short table. Every failure is a ``ConfigError`` (a ``ValueError``) of one line naming
the file, key, value and expected type. Strings are never accepted where numbers or booleans
belong, even when they look like one.
"""
from __future__ import annotations

import argparse
from collections import abc
import difflib
import importlib
import inspect
import math
import sys
import types
import typing
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import yaml
from espnet2.utils.nested_dict_action import NestedDictAction

from dinosr_espnet.model.config import string_number_hint


class ConfigError(ValueError):
    """A training option with a wrong key, type or value."""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_triple(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and len(v) == 3 and all(isinstance(x, str) for x in v)


def _is_size(v: Any) -> bool:
    if _is_number(v):
        return v >= 0
    if not isinstance(v, str):
        return False
    import humanfriendly

    try:
        humanfriendly.parse_size(v)
    except humanfriendly.InvalidSize:
        return False
    return True


# ESPnet's argparse ``type`` functions by name: (accepts the YAML value, description).
_SCALAR_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "int": (_is_int, "an int"),
    "float": (_is_number, "a number"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "str2bool": (lambda v: isinstance(v, bool), "true or false"),
    "int_or_none": (lambda v: v is None or _is_int(v), "an int or null"),
    "float_or_none": (lambda v: v is None or _is_number(v), "a number or null"),
    "str_or_none": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "str_or_int": (lambda v: isinstance(v, str) or _is_int(v), "a string or an int"),
    "str2triple_str": (_is_triple, "a list of 3 strings"),
    "parse_size": (_is_size, "a size (bytes, or a string like '1GB')"),
    "humanfriendly_parse_size_or_none": (lambda v: v is None or _is_size(v),
                                         "a size (bytes, or a string like '1GB') or null"),
}

# Ranges of ESPnet's and the DinoSR tasks' numeric options: (low, low inclusive, high, high
# inclusive). Numbers not listed must be finite and >= 0, except those in _SIGNED.
_RANGES: dict[str, tuple[float, bool, float, bool]] = {
    **{k: (1, True, math.inf, False) for k in (
        "max_epoch", "accum_grad", "batch_size", "batch_bins", "valid_batch_size",
        "valid_batch_bins", "max_batch_size", "min_batch_size", "num_iters_per_epoch",
        "log_interval", "patience", "fs", "max_sample_size", "category_sample_size",
        "num_cache_chunks", "max_cache_fd", "keep_nbest_models", "fold_length",
        "health_interval")},
    "grad_clip": (0, False, math.inf, True),
    "grad_clip_type": (0, False, math.inf, True),
    "chunk_shift_ratio": (0, False, 1, True),
    "health_active_fraction": (0, True, 1, True),
    "health_perplexity_drop": (1, False, math.inf, False),
}
_SIGNED = {"wandb_model_log_interval"}
# ``*_conf`` options outside ESPnet's class choices: the class they configure.
_EXTRA_CONFS = {"ctc_conf": ("espnet2.asr.ctc", "CTC")}
_INFINITE_OK = {"grad_clip", "grad_clip_type"}

# Ranges of nested keys, by ``<conf>.<key>``; "optim_conf" covers optim2_conf etc.
_NESTED_RANGES: dict[str, tuple[float, bool, float, bool]] = {
    "optim_conf.lr": (0, True, math.inf, False),
    "optim_conf.eps": (0, True, math.inf, False),
    "optim_conf.weight_decay": (0, True, math.inf, False),
    "optim_conf.momentum": (0, True, math.inf, False),
    "optim_conf.betas": (0, True, 1, False),
    "scheduler_conf.max_steps": (1, True, math.inf, False),
    "scheduler_conf.warmup_steps": (0, True, math.inf, False),
    "scheduler_conf.phase_ratio": (0, True, 1, True),
    "scheduler_conf.init_lr_scale": (0, False, 1, True),
    "scheduler_conf.final_lr_scale": (0, False, 1, True),
    **{f"encoder_conf.{k}": (0, True, 1, True) for k in ("mask_prob", "mask_channel_prob")},
    **{f"encoder_conf.{k}": (0, True, 1, False) for k in (
        "dropout", "attention_dropout", "activation_dropout", "dropout_input", "layerdrop",
        "dropout_rate")},
    **{f"encoder_conf.{k}": (0, True, math.inf, False) for k in (
        "freeze_encoder_updates", "mask_min_spans", "mask_channel_min_spans")},
    **{f"encoder_conf.{k}": (1, True, math.inf, False) for k in (
        "mask_length", "mask_channel_length")},
    "ctc_conf.dropout_rate": (0, True, 1, False),
}


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value!r}{string_number_hint(value)}"
    return f"{value!r} ({type(value).__name__})"


def _range_text(low: float, low_in: bool, high: float, high_in: bool) -> str:
    if high == math.inf and not high_in:
        return f"{'>=' if low_in else '>'} {low:g}"
    return f"in {'[' if low_in else '('}{low:g}, {high:g}{']' if high_in else ')'}"


def _in_range(v: float, low: float, low_in: bool, high: float, high_in: bool) -> bool:
    return (low <= v if low_in else low < v) and (v <= high if high_in else v < high)


class _Checker:
    """Checks for one config file (``where`` prefixes every message)."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, key: str, value: Any, expected: str) -> ConfigError:
        return ConfigError(f"{self.where}: key '{key}' = {_value_text(value)}: expected "
                           f"{expected}")

    # ---------------------------------------------------------------- top level
    def option(self, action: argparse.Action, value: Any) -> None:
        """One top-level YAML value against its argparse option."""
        key = action.dest
        if isinstance(action, NestedDictAction):
            if value is not None and not isinstance(value, dict):
                raise self.fail(key, value, "a mapping (key: value lines)")
            return
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            if not isinstance(value, bool):
                raise self.fail(key, value, "true or false")
            return
        many = isinstance(action, argparse._AppendAction) or action.nargs in ("+", "*") or (
            isinstance(action.nargs, int) and action.nargs > 1)
        if many and key == "keep_nbest_models" and _is_int(value):
            value = [value]  # ESPnet's trainer also takes a single int here
        if not many:
            self.scalar(action, key, value)
            return
        if not isinstance(value, (list, tuple)):
            raise self.fail(key, value, f"a list, each item {self.describe(action)}")
        if isinstance(action.nargs, int) and len(value) != action.nargs:
            raise self.fail(key, value, f"a list of {action.nargs} items, each "
                                        f"{self.describe(action)}")
        for i, item in enumerate(value):
            self.scalar(action, f"{key}[{i}]", item)

    @staticmethod
    def describe(action: argparse.Action) -> str:
        name = getattr(action.type, "__name__", "str")
        return _SCALAR_TYPES.get(name, (None, "a string"))[1]

    def scalar(self, action: argparse.Action, key: str, value: Any) -> None:
        if value is None and action.default is None:
            return  # unset, as ESPnet's own default (its config.yaml writes null)
        name = getattr(action.type, "__name__", None) or "str"
        if name in _SCALAR_TYPES:
            accepts, expected = _SCALAR_TYPES[name]
            if not accepts(value):
                raise self.fail(key, value, expected)
            converted = value
        else:  # ESPnet's lambdas (case-folding of choices) and unknown types take strings
            nullable = action.choices is not None and None in action.choices
            if value is None and nullable:
                converted = None
            elif not isinstance(value, str):
                raise self.fail(key, value, "a string" + (" or null" if nullable else ""))
            else:
                try:
                    converted = action.type(value) if action.type else value
                except (TypeError, ValueError) as e:
                    raise self.fail(key, value, f"a valid value ({e})") from None
        if converted is not None and action.choices is not None and (
                converted not in action.choices):
            shown = ", ".join(str(c) if c is not None else "null" for c in action.choices)
            raise self.fail(key, value, f"one of: {shown}")

    # ---------------------------------------------------------------- ranges
    def number_range(self, key: str, value: Any, bounds: Optional[tuple], signed: bool = False,
                     infinite_ok: bool = False) -> None:
        """Finite (unless ``infinite_ok``) and within ``bounds`` (default >= 0 unless signed)."""
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if not _is_number(v):
                continue
            if math.isnan(v) or (math.isinf(v) and not infinite_ok):
                raise self.fail(key, value, "a finite number")
            if bounds is None:
                bounds = None if signed else (0, True, math.inf, False)
            if bounds is not None and not _in_range(v, *bounds):
                raise self.fail(key, value, f"a number {_range_text(*bounds)}")

    # ---------------------------------------------------------------- nested
    def conf(self, conf_name: str, conf: Mapping[str, Any], target: Callable,
             skip: int, range_prefix: str) -> None:
        """``conf`` as keyword arguments of ``target`` (its first ``skip`` parameters are
        filled by ESPnet): known keys, types from annotations or defaults, ranges."""
        params, hints, open_kwargs = _parameters(target, skip)
        for key, value in conf.items():
            full = f"{conf_name}.{key}"
            if key not in params:
                if open_kwargs:
                    continue
                close = difflib.get_close_matches(str(key), list(params), n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise ConfigError(f"{self.where}: unknown key '{full}' for "
                                  f"{_qualname(target)} ({hint}known: {', '.join(params)})")
            annotation = hints.get(key, inspect.Parameter.empty)
            default = params[key].default
            if not _matches(value, annotation, default):
                raise self.fail(full, value, _expected_text(annotation, default))
            self.number_range(full, value, _NESTED_RANGES.get(f"{range_prefix}.{key}"),
                              signed=True, infinite_ok=True)


def _qualname(target: Callable) -> str:
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', target)}"


def _parameters(target: Callable, skip: int
                ) -> tuple[dict[str, inspect.Parameter], dict[str, Any], bool]:
    """Keyword parameters of ``target`` (a class: its ``__init__``) after ``skip`` positional
    ones, their resolved annotations, and whether it takes ``**kwargs``."""
    func = target.__init__ if inspect.isclass(target) else target
    sig = inspect.signature(func)
    params = list(sig.parameters.values())
    if inspect.isclass(target):
        params = params[1:]  # self
    params = params[skip:]
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # unresolvable forward references: fall back to the defaults
        hints = {}
    named = {p.name: p for p in params
             if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    open_kwargs = any(p.kind == p.VAR_KEYWORD for p in params)
    return named, hints, open_kwargs


def _matches(value: Any, annotation: Any, default: Any) -> bool:
    """Whether a YAML value fits a parameter annotation (YAML lists stand for tuples)."""
    if annotation is inspect.Parameter.empty:
        return _matches_default(value, default)
    if annotation in (Any, object):
        return True
    if annotation is type(None) or annotation is None:
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return _is_int(value)
    if annotation is float:
        return _is_number(value)
    if annotation is str or annotation is Path:
        return isinstance(value, str)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a, inspect.Parameter.empty) for a in args)
    if origin is typing.Literal:
        return value in args
    if origin is tuple or annotation is tuple:
        if not isinstance(value, (list, tuple)):
            return False
        if not args:
            return True
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0], inspect.Parameter.empty) for v in value)
        return len(value) == len(args) and all(
            _matches(v, a, inspect.Parameter.empty) for v, a in zip(value, args))
    if origin in (list, set, abc.Sequence, abc.Collection, abc.Iterable) or annotation in (
            list, abc.Sequence):
        if not isinstance(value, (list, tuple)):
            return False
        return not args or all(_matches(v, args[0], inspect.Parameter.empty) for v in value)
    if origin in (dict, abc.Mapping) or annotation in (dict, abc.Mapping):
        return isinstance(value, dict)
    if inspect.isclass(annotation):  # e.g. torch.Tensor: no YAML value is one
        return isinstance(value, annotation)
    return True  # callables, type variables: not checked


def _matches_default(value: Any, default: Any) -> bool:
    if default is inspect.Parameter.empty or default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if _is_number(default):
        return _is_number(value)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    if isinstance(default, dict):
        return isinstance(value, dict)
    return True


def _expected_text(annotation: Any, default: Any) -> str:
    if annotation is inspect.Parameter.empty:
        if isinstance(default, bool):
            return "true or false"
        if _is_number(default):
            return "a number"
        return f"a {type(default).__name__}"
    names = {bool: "true or false", int: "an int", float: "a number", str: "a string",
             type(None): "null", Path: "a path string"}
    if annotation in names:
        return names[annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        parts = [_expected_text(a, None) for a in typing.get_args(annotation)]
        return " or ".join(dict.fromkeys(p for p in parts if "Tensor" not in p))
    if typing.get_origin(annotation) is tuple or annotation is tuple:
        return f"a list ({annotation})".replace("typing.", "")
    return str(annotation).replace("typing.", "")


def _config_path(argv: Sequence[str]) -> Optional[str]:
    probe = argparse.ArgumentParser(add_help=False)
    probe.add_argument("--config")
    known, _ = probe.parse_known_args(list(argv))
    return known.config


def load_config(path: str) -> dict[str, Any]:
    """The YAML mapping of ``--config``; one-line errors for a missing/invalid file."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"--config {path}: no such file")
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"--config {path}:{at}: invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: expected a mapping of options, got "
                          f"{type(data).__name__}")
    return data


def check_training_command(task: type, argv: Optional[Sequence[str]] = None) -> None:
    """Validate the ``--config`` YAML and the resulting options of ``task.main(cmd=argv)``.

    Raises ``ConfigError`` (one line) for an unknown key, a wrong type (strings that look like
    numbers included), a value out of range, or a bad ``*_conf`` key of the chosen optimizer,
    scheduler, model or class choice. ``--help``/``--print_config`` are left to ESPnet.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help", "--print_config") for a in argv):
        return
    parser = task.get_parser()
    actions = {a.dest: a for a in parser._actions if a.dest != "help"}
    path = _config_path(argv)
    if path is not None:
        checker = _Checker(f"--config {path}")
        for key, value in load_config(path).items():
            if key == "config":  # ESPnet ignores it (its config.yaml records the source)
                continue
            if key not in actions:
                close = difflib.get_close_matches(str(key), list(actions), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ConfigError(f"--config {path}: unknown key '{key}'{hint}")
            checker.option(actions[key], value)
    args = parser.parse_args(argv)
    check_options(task, args, "options" if path is None else f"--config {path} (+ command line)")


def check_options(task: type, args: argparse.Namespace, where: str = "options") -> None:
    """Ranges of the top-level numbers, every ``*_conf`` against the class it configures, and
    the task's own ``check_task_options(args)`` (its ValueErrors become ConfigErrors)."""
    checker = _Checker(where)
    for key, value in vars(args).items():
        if key.endswith("_conf") or isinstance(value, bool):
            continue
        checker.number_range(key, value, _RANGES.get(key), signed=key in _SIGNED,
                             infinite_ok=key in _INFINITE_OK)
    from espnet2.tasks.abs_task import optim_classes, scheduler_classes

    for i in range(1, getattr(task, "num_optimizers", 1) + 1):
        suffix = "" if i == 1 else str(i)
        optim = optim_classes.get(getattr(args, f"optim{suffix}", None))
        if optim is not None:
            checker.conf(f"optim{suffix}_conf", getattr(args, f"optim{suffix}_conf") or {},
                         optim, 1, "optim_conf")
        scheduler = scheduler_classes.get(getattr(args, f"scheduler{suffix}", None))
        if scheduler is not None:
            checker.conf(f"scheduler{suffix}_conf",
                         getattr(args, f"scheduler{suffix}_conf") or {}, scheduler, 1,
                         "scheduler_conf")
    for choices in task.class_choices_list:
        name = getattr(args, choices.name, None)
        conf = getattr(args, f"{choices.name}_conf", None) or {}
        cls = choices.get_class(name) if name is not None else None
        if cls is not None:
            checker.conf(f"{choices.name}_conf", conf, cls, _espnet_filled(cls),
                         f"{choices.name}_conf")
    for conf_name, (module, qualname) in _EXTRA_CONFS.items():
        if conf_name in vars(args):
            target = getattr(importlib.import_module(module), qualname)
            checker.conf(conf_name, getattr(args, conf_name) or {}, target,
                         _espnet_filled(target), conf_name)
    task_check = getattr(task, "check_task_options", None)
    if task_check is not None:
        try:
            task_check(args)
        except ValueError as e:
            raise ConfigError(f"{where}: {e}") from None


def _espnet_filled(cls: type) -> int:
    """Leading constructor parameters ESPnet passes itself (sizes, vocabulary, sub-modules):
    those without a default."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    count = 0
    for p in params:
        if p.default is not inspect.Parameter.empty or p.kind != p.POSITIONAL_OR_KEYWORD:
            break
        count += 1
    return count

