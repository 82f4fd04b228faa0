"""fairseq DinoSR model config (``cfg["model"]``) ↔ ``DinoSRConfig`` (spec §3, §5, §9).

Rules, so that an import never silently changes what the weights compute:
- keys that define the network or its targets are mapped; a value our model cannot represent
  (e.g. ``layer_norm_first: true``, a weight-normalised single positional conv) is an error;
- keys that only matter for continued pretraining and that we cannot represent are kept at our
  value with a warning naming them;
- keys of fairseq's wider ``Wav2Vec2Config`` that play no part here are ignored;
- a mapped key missing from the file takes the released BASE value, with a warning.
"""
from __future__ import annotations

import ast
import logging
from typing import Any, Mapping

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
    "extractor_mode": "layer_norm",
    "layer_norm_first": False,
    "activation_fn": "gelu",
    "layer_type": "transformer",
    "pos_enc_type": "abs",
    "instance_norm_target_layer": True,
    "layer_norm_target_layer": False,
    "batch_norm_target_layer": False,
    "group_norm_target_layer": False,
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
    "instance_norm_targets": False,
    "layer_norm_targets": False,
}
# Released BASE values of the keys that are not plain DinoSRConfig fields.
BASE_CONV_POS = 95
BASE_FREEZE_TEACHER_STEP = 200001


def parse_conv_feature_layers(spec: Any) -> list[ConvSpec]:
    """Parse fairseq's ``conv_feature_layers`` without evaluating code.

    Accepts the tiny grammar fairseq configs use — lists of ``(channels, kernel, stride)``
    int tuples joined by ``+`` and repeated by ``* n`` — e.g.
    ``"[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] * 2"``; a list of triples is also
    accepted. Anything else raises ``ValueError``.
    """
    if isinstance(spec, (list, tuple)):
        return [tuple(layer) for layer in spec]
    if not isinstance(spec, str):
        raise ValueError(f"conv_feature_layers must be a string, got {spec!r}")
    try:
        tree = ast.parse(spec.strip(), mode="eval")
    except SyntaxError as e:
        raise ValueError(f"conv_feature_layers {spec!r} is not valid: {e.msg}") from None
    value = _literal(tree.body, spec)
    if not isinstance(value, list) or not value:
        raise ValueError(f"conv_feature_layers {spec!r} must describe a non-empty list")
    return value


_MAX_CONV_LAYERS = 1000


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
            if len(left) * right > _MAX_CONV_LAYERS:
                raise bad(f"more than {_MAX_CONV_LAYERS} layers")
            result = left * right
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


def config_from_fairseq(model_cfg: Mapping[str, Any]) -> DinoSRConfig:
    """``DinoSRConfig`` equivalent to a fairseq DinoSR ``cfg["model"]`` (module docstring)."""
    if not isinstance(model_cfg, Mapping):
        raise ValueError(f"fairseq cfg['model'] must be a mapping, got {type(model_cfg).__name__}")
    for key, expected in ARCHITECTURE_KEYS.items():
        if key in model_cfg and model_cfg[key] != expected:
            raise ValueError(f"fairseq cfg['model']['{key}'] = {model_cfg[key]!r} is not "
                             f"supported (this model implements {expected!r} only)")
    for key, expected in TRAINING_KEYS.items():
        if key in model_cfg and model_cfg[key] != expected:
            logger.warning(f"fairseq cfg['model']['{key}'] = {model_cfg[key]!r} has no "
                           f"equivalent here (implemented: {expected!r}); it only matters for "
                           f"continued pretraining")

    default = DinoSRConfig()
    missing = [k for k in (*DIRECT_KEYS, "conv_feature_layers", "conv_pos", "freeze_teacher_step")
               if k not in model_cfg]
    if missing:
        logger.warning(f"fairseq cfg['model'] lacks {', '.join(missing)}: using the released "
                       f"BASE values")
    values: dict[str, Any] = {
        field: model_cfg.get(key, getattr(default, field)) for key, field in DIRECT_KEYS.items()
    }
    values["conv_layers"] = parse_conv_feature_layers(
        model_cfg.get("conv_feature_layers", default.conv_layers))
    depth = values["pos_conv_depth"]
    if not isinstance(depth, int) or depth < 2:
        raise ValueError(f"fairseq cfg['model']['pos_conv_depth'] = {depth!r} is not supported: "
                         f"depth 1 is wav2vec 2.0's weight-normalised positional conv; DinoSR "
                         f"uses a stack of >= 2 plain convolutions")
    values["pos_conv_kernel"] = pos_conv_kernel(model_cfg.get("conv_pos", BASE_CONV_POS), depth)

    freeze_step = model_cfg.get("freeze_teacher_step", BASE_FREEZE_TEACHER_STEP)
    if not isinstance(freeze_step, int) or freeze_step < 1:
        raise ValueError(f"fairseq cfg['model']['freeze_teacher_step'] = {freeze_step!r} is not "
                         f"supported (expected the positive update at which λ becomes 1)")
    values["ema_last_update"] = freeze_step - 1  # last EMA step is at freeze_teacher_step − 1
    values["codebook_init"] = "normal" if model_cfg.get("normal_init_codebook") else "instance_norm"
    if model_cfg.get("freeze_pre_enc_modules"):
        logger.info("fairseq freeze_pre_enc_modules=true is a no-op in the release (spec §5): "
                    "imported with freeze_feature_extractor_after=null, as the release trained")
    init_decay = model_cfg.get("codebook_init_decay", values["codebook_decay"])
    if init_decay != values["codebook_decay"] and model_cfg.get("codebook_end_decay_step", 0):
        logger.warning(f"fairseq codebook decay anneal {init_decay} → {values['codebook_decay']} "
                       f"is not implemented: the constant end value is used")
    try:
        return DinoSRConfig.from_dict(values)
    except ValueError as e:
        raise ValueError(f"fairseq cfg['model'] gives an invalid configuration: {e}") from None


def config_to_fairseq(cfg: DinoSRConfig) -> dict[str, Any]:
    """fairseq ``cfg["model"]`` for ``cfg``; options fairseq cannot express are warned about."""
    if cfg.frontend != "cnn":
        raise ValueError(f"frontend={cfg.frontend!r} has no fairseq equivalent (fairseq DinoSR "
                         f"reads the waveform with a CNN): only frontend 'cnn' models export")
    kernel, depth = cfg.pos_conv_kernel, cfg.pos_conv_depth
    if depth < 2 or pos_conv_kernel(kernel * depth, depth) != kernel:
        raise ValueError(f"pos_conv_kernel={kernel} with pos_conv_depth={depth} has no fairseq "
                         f"equivalent (fairseq needs depth >= 2 and kernel >= 3)")
    out: dict[str, Any] = {"_name": "dinosr", **ARCHITECTURE_KEYS}
    for key, field in DIRECT_KEYS.items():
        out[key] = getattr(cfg, field)
    out["conv_feature_layers"] = format_conv_feature_layers(cfg.conv_layers)
    out["conv_pos"] = kernel * depth
    out["freeze_teacher_step"] = cfg.ema_last_update + 1
    out["codebook_init_decay"] = cfg.codebook_decay
    out["codebook_end_decay_step"] = 0
    out["normal_init_codebook"] = cfg.codebook_init == "normal"
    out["freeze_pre_enc_modules"] = cfg.freeze_feature_extractor_after is not None
    out.update(TRAINING_KEYS)

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
