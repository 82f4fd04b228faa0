"""Test helper: corrupt, hostile and absurd checkpoint files, one writer per kind.

Raw pickles are assembled opcode by opcode (``pickle.dumps`` could not produce most of them)
and placed in a torch zip archive in place of a valid checkpoint's ``data.pkl``.
"""
from __future__ import annotations

import argparse
import io
import pickle
import wave
import zipfile
from pathlib import Path
from typing import Any, Callable

import torch

from fairseq_writer import make_fairseq_checkpoint

PROTO2 = b"\x80\x02"


def _pickled(value: Any) -> bytes:
    """Opcodes pushing ``value`` (protocol 2, without PROTO and STOP)."""
    return pickle.dumps(value, protocol=2)[2:-1]


def torch_zip_with_pickle(path: Path, data_pkl: bytes) -> None:
    """A torch zip archive whose ``data.pkl`` is ``data_pkl``."""
    buf = io.BytesIO()
    torch.save({"a": 1}, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(path, "w") as out:
        for item in src.infolist():
            data = src.read(item.filename)
            out.writestr(item, data_pkl if item.filename.endswith("data.pkl") else data)


def _checkpoint(path: Path, edit: Callable[[dict], None]) -> None:
    ckpt = make_fairseq_checkpoint(seed=0)
    edit(ckpt)
    torch.save(ckpt, path)


def _set_model_cfg(key: str, value: Any) -> Callable[[dict], None]:
    return lambda ckpt: ckpt["cfg"]["model"].__setitem__(key, value)


def write_text(path: Path) -> None:
    path.write_text("this is a README, not a checkpoint\n", encoding="utf-8")


def write_wav(path: Path) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x01" * 1600)


def write_malformed_pickle(path: Path) -> None:
    torch_zip_with_pickle(path, PROTO2 + b"}q\x00(X\x01\x00\x00\x00aq")  # cut mid-stream


def write_truncated_archive(path: Path) -> None:
    buf = io.BytesIO()
    torch.save(make_fairseq_checkpoint(seed=0), buf)
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])


def write_unsupported_opcode(path: Path) -> None:
    torch_zip_with_pickle(path, PROTO2 + b"\x82\x01.")  # EXT1: torch's unpickler lacks it


def write_object_scalar(path: Path) -> None:
    """``numpy.core.multiarray.scalar(dtype('O'), <8 raw bytes>)``: a pointer read from bytes."""
    dtype = b"cnumpy\ndtype\n" + _pickled(("O8", False, True)) + b"R"
    torch_zip_with_pickle(path, PROTO2 + b"cnumpy.core.multiarray\nscalar\n" + dtype
                          + _pickled(b"\x10" * 8) + b"\x86R.")


def write_flagged_dtype(path: Path) -> None:
    """A float64 dtype whose pickled state sets the object/pointer flags (63), then a scalar."""
    dtype = (b"cnumpy\ndtype\n" + _pickled(("f8", False, True)) + b"R"
             + _pickled((3, "<", None, None, None, -1, -1, 63)) + b"b")
    torch_zip_with_pickle(path, PROTO2 + b"cnumpy.core.multiarray\nscalar\n" + dtype
                          + _pickled(b"\x10" * 8) + b"\x86R.")


def write_namespace_list_state(path: Path) -> None:
    torch_zip_with_pickle(path, PROTO2 + b"cargparse\nNamespace\n)\x81" + _pickled([1, 2])
                          + b"b.")


def write_namespace_slot_state(path: Path) -> None:
    """A ``(dict, slotstate)`` BUILD state setting ``__class__`` through ``setattr``."""
    state = ({}, {"__class__": 1})
    torch_zip_with_pickle(path, PROTO2 + b"cargparse\nNamespace\n)\x81" + _pickled(state)
                          + b"b.")


def write_compressed_record(path: Path) -> None:
    buf = io.BytesIO()
    torch.save({"a": torch.zeros(4)}, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, \
            zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            out.writestr(item.filename, src.read(item.filename))


def write_long_conv_spec(path: Path) -> None:
    spec = " + ".join(["[(16, 3, 2)]"] * 20000)
    _checkpoint(path, _set_model_cfg("conv_feature_layers", spec))


def write_deep_conv_spec(path: Path) -> None:
    spec = " + ".join(["[(16, 3, 2)]"] * 60) + " + [(16, 2, 1)] * 40"  # parses: 100 layers
    _checkpoint(path, _set_model_cfg("conv_feature_layers", spec))


def write_huge_embed_dim(path: Path) -> None:
    _checkpoint(path, _set_model_cfg("encoder_embed_dim", 1_000_000_000_000))


def write_huge_codebook(path: Path) -> None:
    _checkpoint(path, _set_model_cfg("codebook_size", 10 ** 15))


def write_not_discrete(path: Path) -> None:
    _checkpoint(path, _set_model_cfg("discrete", False))


def write_no_pre_enc_freeze(path: Path) -> None:
    _checkpoint(path, _set_model_cfg("freeze_pre_enc_modules", False))


def write_infinite_counter(path: Path) -> None:
    _checkpoint(path, lambda c: c["optimizer_history"][-1].__setitem__("num_updates",
                                                                       float("inf")))


def write_nested_namespace_args(path: Path) -> None:
    """An old-style ``args`` checkpoint whose Namespace holds another Namespace."""
    def edit(ckpt: dict) -> None:
        fields = {**ckpt["cfg"]["model"], **ckpt["cfg"]["task"]}
        ckpt["cfg"], ckpt["args"] = None, argparse.Namespace(**fields, sub=argparse.Namespace())
    _checkpoint(path, edit)


def write_tensor_in_cfg(path: Path) -> None:
    _checkpoint(path, lambda c: c["cfg"]["common"].__setitem__("seed", torch.zeros(2)))


def write_deeply_nested_cfg(path: Path) -> None:
    nested: list = []
    for _ in range(100):
        nested = [nested]
    _checkpoint(path, lambda c: c["cfg"]["common"].__setitem__("nested", nested))


# name → (writer, phrase the one-line error must contain)
KINDS: dict[str, tuple[Callable[[Path], None], str]] = {
    "text_file": (write_text, "not a torch checkpoint: a text file"),
    "wav_file": (write_wav, "not a torch checkpoint: a RIFF/WAV audio file"),
    "malformed_pickle": (write_malformed_pickle, "corrupt torch checkpoint"),
    "truncated_archive": (write_truncated_archive, "corrupt torch checkpoint"),
    "unsupported_opcode": (write_unsupported_opcode,
                           "corrupt torch checkpoint (malformed pickle): Unsupported operand 130"),
    "compressed_record": (write_compressed_record, "compressed record"),
    "object_dtype_scalar": (write_object_scalar, "refused to load: numpy dtype 'O8'"),
    "flagged_float_dtype": (write_flagged_dtype, "float64 with a non-standard pickled state"),
    "namespace_list_state": (write_namespace_list_state,
                             "refused to load: an argparse.Namespace with state of type list"),
    "namespace_slot_state": (write_namespace_slot_state,
                             "refused to load: an argparse.Namespace with state of type tuple"),
    "conv_spec_20000_terms": (write_long_conv_spec, "conv_feature_layers"),
    "conv_spec_100_layers": (write_deep_conv_spec, "more than 64 layers"),
    "embed_dim_1e12": (write_huge_embed_dim,
                       "'encoder_embed_dim'] = 1000000000000 is out of range"),
    "codebook_size_1e15": (write_huge_codebook, "'codebook_size'] = 1000000000000000 is out of"),
    "discrete_false": (write_not_discrete, "'discrete'] = False is not supported"),
    "freeze_pre_enc_false": (write_no_pre_enc_freeze,
                             "'freeze_pre_enc_modules'] = False is not supported"),
    "infinite_num_updates": (write_infinite_counter, "num_updates'] = inf is not an integer"),
    "namespace_in_args": (write_nested_namespace_args,
                          "args['sub'] is an argparse.Namespace, not plain configuration data"),
    "tensor_in_cfg": (write_tensor_in_cfg, "cfg['common']['seed'] is a Tensor"),
    "deeply_nested_cfg": (write_deeply_nested_cfg, "nested more than 16 levels"),
}
