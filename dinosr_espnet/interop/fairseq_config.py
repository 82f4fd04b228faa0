"""fairseq DinoSR model config (``cfg["model"]``) ↔ ``DinoSRConfig`` (spec §3, §5, §9).

Rules, so that an import never silently changes what the weights compute:
- keys that define the network or its targets are mapped; a value our model cannot represent
  (e.g. ``discrete: false``, ``freeze_pre_enc_modules: false``, ``layer_norm_first: true``, a
  weight-normalised single positional conv) is an error naming the key;
- sizes are bounded (``size_limits``) before anything is built from them;
- keys that only matter for continued pretraining and that we cannot represent are kept at our
  value with a warning naming them;
- keys of fairseq's wider ``Wav2Vec2Config`` that play no part here are ignored;
- a mapped key missing from the file takes the released BASE value, with a warning.
"""
from __future__ import annotations

import ast
import logging
import re
from typing import Any, Mapping

from dinosr_espnet.interop.size_limits import MAX_CONV_LAYERS, check_sizes
from dinosr_espnet.model.config import ConvSpec, DinoSRConfig

logger = logging.getLogger(__name__)

# fairseq key → DinoSRConfig field, same meaning and unit.
DIRECT_KEYS: dict[str, str] = {
    "encoder_embed_dim": "embed_dim",
    "encoder_ffn_embed_dim": "ffn_dim",
    "encoder_attention_heads": "num_heads",
    "encoder_layers": "num_layers",
    "conv_bias": "conv_bias",
    "conv_pos_groups": "pos_conv_groups",
    "pos_conv_depth": "pos_conv_depth",
    "dropout": "dropout",
    "attention_dropout": "attention_dropout",
    "activation_dropout": "activation_dropout",
    "dropout_input": "dropout_input",
    "encoder_layerdrop": "layerdrop",
    "mask_prob": "mask_prob",
    "mask_length": "mask_length",
    "require_same_masks": "mask_equalize",
    "average_top_k_layers": "num_codebooks",
    "codebook_size": "codebook_size",
    "codebook_end_decay": "codebook_decay",
    "ema_decay": "ema_decay_start",
    "ema_end_decay": "ema_decay_end",
    "ema_anneal_end_step": "ema_anneal_updates",
}
# Keys that change the network or its targets: the only value our model implements.
ARCHITECTURE_KEYS: dict[str, Any] = {
    "discrete": True,  # false: data2vec-style regression, no heads and no codebooks
    "extractor_mode": "layer_norm",
    "layer_norm_first": False,
    "activation_fn": "gelu",
    "layer_type": "transformer",
    "pos_enc_type": "abs",
    "instance_norm_target_layer": True,
    "layer_norm_target_layer": False,
    "batch_norm_target_layer": False,
    "group_norm_target_layer": False,
    "layer_norm_targets": False,
    "instance_norm_targets": False,
    # false: after freeze_teacher_step the teacher reads its own frozen copy of the CNN,
    # LayerNorm and projection (extra `_pre_encoder_*` tensors); true is the release
    "freeze_pre_enc_modules": True,
}
# Keys that only affect (continued) pretraining: the release value our training implements.
TRAINING_KEYS: dict[str, Any] = {
    "feature_grad_mult": 1.0,
    "mask_selection": "static",
    "mask_other": 0.0,
    "no_mask_overlap": False,
    "mask_min_space": 1,
    "mask_dropout": 0.0,
    "mask_channel_prob": 0.0,
    "ema_transformer_only": True,
    "ema_layers_only": True,
}
# Constant keys written on export besides the two tables above.
EXPORT_CONSTANTS: dict[str, Any] = {"_name": "dinosr", "codebook_end_decay_step": 0}
# fairseq keys computed from other DinoSRConfig fields (besides DIRECT_KEYS): those fields.
DERIVED_KEYS: dict[str, tuple[str, ...]] = {
    "conv_feature_layers": ("conv_layers",),
    "conv_pos": ("pos_conv_kernel", "pos_conv_depth"),
    "freeze_teacher_step": ("ema_last_update",),
    "normal_init_codebook": ("codebook_init",),
    "codebook_init_decay": ("codebook_decay",),
}
# Released BASE values of the keys that are not plain DinoSRConfig fields.
BASE_CONV_POS = 95
BASE_FREEZE_TEACHER_STEP = 200001
MAX_CONV_SPEC_CHARS = 2000


def depends_on(key: str) -> tuple[str, ...]:
    """The DinoSRConfig fields an exported fairseq key is computed from (none: a constant)."""
    if key in DIRECT_KEYS:
        return (DIRECT_KEYS[key],)
    return DERIVED_KEYS.get(key, ())


def fairseq_name(field: str) -> str:
    """``cfg['model'][...]`` name of the fairseq key a DinoSRConfig field is read from."""
    for key in DIRECT_KEYS:
        if DIRECT_KEYS[key] == field:
            return f"fairseq cfg['model']['{key}']"
    for key, fields in DERIVED_KEYS.items():
        if field in fields:
            return f"fairseq cfg['model']['{key}']"
    return f"fairseq cfg['model'] (our '{field}')"


def parse_conv_feature_layers(spec: Any) -> list[ConvSpec]:
    """Parse fairseq's ``conv_feature_layers`` without evaluating code.

    Accepts the tiny grammar fairseq configs use — lists of ``(channels, kernel, stride)``
    int tuples joined by ``+`` and repeated by ``* n`` — e.g.
    ``"[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] * 2"``; a list of triples is also
    accepted. Anything else, a string over ``MAX_CONV_SPEC_CHARS`` characters or more than
    ``MAX_CONV_LAYERS`` layers raises ``ValueError``.
    """
    if isinstance(spec, (list, tuple)):
        if len(spec) > MAX_CONV_LAYERS or not all(
                isinstance(layer, (list, tuple)) and len(layer) == 3
                and all(isinstance(v, int) and not isinstance(v, bool) for v in layer)
                for layer in spec):
            raise ValueError(f"conv_feature_layers must be at most {MAX_CONV_LAYERS} "
                             f"(channels, kernel, stride) triples of ints")
        return [tuple(layer) for layer in spec]
    if not isinstance(spec, str):
        raise ValueError(f"conv_feature_layers must be a string, got {type(spec).__name__}")
    if len(spec) > MAX_CONV_SPEC_CHARS:
        raise ValueError(f"conv_feature_layers is a string of {len(spec)} characters (at most "
                         f"{MAX_CONV_SPEC_CHARS}; the release's has 62)")
    try:
        tree = ast.parse(spec.strip(), mode="eval")
        value = _literal(tree.body, spec)
    except SyntaxError as e:
        raise ValueError(f"conv_feature_layers {spec!r} is not valid: {e.msg}") from None
    except (RecursionError, MemoryError):
        raise ValueError(f"conv_feature_layers {spec[:60]!r}...: nested too deeply") from None
    if not isinstance(value, list) or not value:
        raise ValueError(f"conv_feature_layers {spec!r} must describe a non-empty list")
    return value


def _literal(node: ast.AST, spec: str) -> Any:
    """Value of an int, an int triple, a list of triples, list + list or list * int."""
    def bad(why: str) -> ValueError:
        return ValueError(f"conv_feature_layers {spec!r}: {why}")

    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int):
            raise bad(f"only integers are allowed, got {node.value!r}")
        return node.value
    if isinstance(node, ast.Tuple):
        values = [_literal(e, spec) for e in node.elts]
        if len(values) != 3 or not all(isinstance(v, int) for v in values):
            raise bad("each layer must be a (channels, kernel, stride) triple of ints")
        return tuple(values)
    if isinstance(node, ast.List):
        values = [_literal(e, spec) for e in node.elts]
        if not all(isinstance(v, tuple) for v in values):
            raise bad("lists may only contain (channels, kernel, stride) triples")
        return values
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
        left, right = _literal(node.left, spec), _literal(node.right, spec)
        if isinstance(node.op, ast.Add):
            if not (isinstance(left, list) and isinstance(right, list)):
                raise bad("'+' joins two lists of layers")
            result = left + right
        else:
            if isinstance(left, int) and isinstance(right, list):
                left, right = right, left
            if not (isinstance(left, list) and isinstance(right, int)) or right < 0:
                raise bad("'*' repeats a list of layers a non-negative integer number of times")
            if len(left) * right > MAX_CONV_LAYERS:
                raise bad(f"more than {MAX_CONV_LAYERS} layers")
            result = left * right
        if len(result) > MAX_CONV_LAYERS:
            raise bad(f"more than {MAX_CONV_LAYERS} layers")
        return result
    raise bad(f"unsupported syntax {type(node).__name__}")


def format_conv_feature_layers(layers: list[ConvSpec]) -> str:
    """fairseq string for ``layers``, runs of equal layers written as ``[(c, k, s)] * n``."""
    parts: list[str] = []
    i = 0
    while i < len(layers):
        j = i
        while j < len(layers) and tuple(layers[j]) == tuple(layers[i]):
            j += 1
        c, k, s = layers[i]
        parts.append(f"[({c}, {k}, {s})]" + (f" * {j - i}" if j - i > 1 else ""))
        i = j
    return " + ".join(parts)


def pos_conv_kernel(conv_pos: int, depth: int) -> int:
    """Kernel of each stacked positional conv: fairseq uses ``max(3, conv_pos // depth)``."""
    return max(3, conv_pos // depth)


def _check_network_keys(model_cfg: Mapping[str, Any]) -> None:
    """Refuse values that change the network; warn about training-only differences."""
    for key, expected in ARCHITECTURE_KEYS.items():
        if key in model_cfg and model_cfg[key] != expected:
            raise ValueError(f"fairseq cfg['model']['{key}'] = {model_cfg[key]!r} is not "
                             f"supported: it changes the network, and this model implements "
                             f"{key} = {expected!r} only")
    if "discrete" not in model_cfg:
        logger.warning("fairseq cfg['model'] lacks 'discrete' (the official code then builds a "
                       "model without heads and codebooks); imported as discrete: true, which "
                       "the state dict's heads and codebooks must confirm")
    if model_cfg.get("ema_transformer_only") is False and model_cfg.get("ema_layers_only") is False:
        raise ValueError("fairseq cfg['model']['ema_transformer_only'] = False with "
                         "ema_layers_only = False is not supported: the teacher would be a copy "
                         "of the whole model, this model's teacher is the transformer encoder")
    for key, expected in TRAINING_KEYS.items():
        if key in model_cfg and model_cfg[key] != expected:
            logger.warning(f"fairseq cfg['model']['{key}'] = {model_cfg[key]!r} has no "
                           f"equivalent here (implemented: {expected!r}); it only matters for "
                           f"continued pretraining")


def _int_key(model_cfg: Mapping[str, Any], key: str, default: int, minimum: int) -> int:
    value = model_cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"fairseq cfg['model']['{key}'] = {value!r} is not supported (expected "
                         f"an integer >= {minimum})")
    return value


def config_from_fairseq(model_cfg: Mapping[str, Any]) -> DinoSRConfig:
    """``DinoSRConfig`` equivalent to a fairseq DinoSR ``cfg["model"]`` (module docstring).

    Every size is bounded (``size_limits``) before the caller builds anything from it.
    """
    if not isinstance(model_cfg, Mapping):
        raise ValueError(f"fairseq cfg['model'] must be a mapping, got {type(model_cfg).__name__}")
    _check_network_keys(model_cfg)
    default = DinoSRConfig()
    missing = [k for k in (*DIRECT_KEYS, *DERIVED_KEYS) if k not in model_cfg]
    if missing:
        logger.warning(f"fairseq cfg['model'] lacks {', '.join(missing)}: using the released "
                       f"BASE values")
    values: dict[str, Any] = {
        field: model_cfg.get(key, getattr(default, field)) for key, field in DIRECT_KEYS.items()
    }
    try:
        values["conv_layers"] = parse_conv_feature_layers(
            model_cfg.get("conv_feature_layers", default.conv_layers))
    except ValueError as e:
        raise ValueError(f"fairseq cfg['model']['conv_feature_layers']: {e}") from None
    depth = values["pos_conv_depth"]
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 2:
        raise ValueError(f"fairseq cfg['model']['pos_conv_depth'] = {depth!r} is not supported: "
                         f"depth 1 is wav2vec 2.0's weight-normalised positional conv; DinoSR "
                         f"uses a stack of >= 2 plain convolutions")
    values["pos_conv_kernel"] = pos_conv_kernel(_int_key(model_cfg, "conv_pos", BASE_CONV_POS, 1),
                                                depth)
    # the last EMA step is at freeze_teacher_step − 1
    values["ema_last_update"] = _int_key(model_cfg, "freeze_teacher_step",
                                         BASE_FREEZE_TEACHER_STEP, 1) - 1
    values["codebook_init"] = "normal" if model_cfg.get("normal_init_codebook") else "instance_norm"
    if model_cfg.get("freeze_pre_enc_modules", True):
        logger.info("fairseq freeze_pre_enc_modules=true is a no-op in the release (spec §5): "
                    "imported with freeze_feature_extractor_after=null, as the release trained")
    init_decay = model_cfg.get("codebook_init_decay", values["codebook_decay"])
    if init_decay != values["codebook_decay"] and model_cfg.get("codebook_end_decay_step", 0):
        logger.warning(f"fairseq codebook decay anneal {init_decay} → {values['codebook_decay']} "
                       f"is not implemented: the constant end value is used")
    try:
        cfg = DinoSRConfig.from_dict(values)
    except ValueError as e:
        field = re.search(r"'(\w+)'", str(e))
        name = fairseq_name(field.group(1)) if field else "fairseq cfg['model']"
        raise ValueError(f"{name}: invalid value: {e}") from None
    check_sizes(cfg, fairseq_name)
    return cfg


def config_to_fairseq(cfg: DinoSRConfig) -> dict[str, Any]:
    """The fairseq ``cfg["model"]`` keys that describe ``cfg`` (with the network constants).

    The exporter completes them with the release's other fields (``release_cfg``). Options
    fairseq cannot express are warned about and written as the released behaviour.
    """
    if cfg.frontend != "cnn":
        raise ValueError(f"frontend={cfg.frontend!r} has no fairseq equivalent (fairseq DinoSR "
                         f"reads the waveform with a CNN): only frontend 'cnn' models export")
    kernel, depth = cfg.pos_conv_kernel, cfg.pos_conv_depth
    if depth < 2 or pos_conv_kernel(kernel * depth, depth) != kernel:
        raise ValueError(f"pos_conv_kernel={kernel} with pos_conv_depth={depth} has no fairseq "
                         f"equivalent (fairseq needs depth >= 2 and kernel >= 3)")
    out: dict[str, Any] = {**EXPORT_CONSTANTS, **ARCHITECTURE_KEYS, **TRAINING_KEYS}
    for key, field in DIRECT_KEYS.items():
        out[key] = getattr(cfg, field)
    out["conv_feature_layers"] = format_conv_feature_layers(cfg.conv_layers)
    out["conv_pos"] = kernel * depth
    out["freeze_teacher_step"] = cfg.ema_last_update + 1
    out["codebook_init_decay"] = cfg.codebook_decay
    out["normal_init_codebook"] = cfg.codebook_init == "normal"

    default = DinoSRConfig()
    inexpressible = [name for name in ("codebook_update", "codebook_freeze_inactive",
                                       "codebook_init_std", "mask_min_spans", "target_norm_eps")
                     if getattr(cfg, name) != getattr(default, name)]
    if cfg.codebook_init == "l2_normalized":
        inexpressible.append("codebook_init")
    after = cfg.freeze_feature_extractor_after
    if after is not None and after != cfg.ema_last_update + 1:
        inexpressible.append("freeze_feature_extractor_after")
    if inexpressible:
        logger.warning(f"not expressible in the fairseq config (released behaviour written "
                       f"instead): {', '.join(inexpressible)}")
    return out
