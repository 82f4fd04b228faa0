"""A small helper process that synthesises for a worker: one fork per utterance, kept cheap.

`espeak.synth_isolated` forks per utterance so that every utterance is independent of what was
synthesised before. Forking a worker that holds numpy and audio buffers costs more than the
synthesis itself, so each worker starts this server: a fresh interpreter that imports only the
espeak binding, never synthesises, and forks one child per request. Requests and replies are
length-prefixed pickles on the server's stdin/stdout.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path
from typing import BinaryIO

from dinosr_espnet.data.synth.espeak import Espeak, Synthesis, Voice, synth_isolated, synth_isolated_payload

_HEADER = struct.Struct("<Q")
_server: SynthServer | None = None


def _send(stream: BinaryIO, payload: bytes) -> None:
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _receive(stream: BinaryIO) -> bytes | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    return stream.read(_HEADER.unpack(header)[0])


class SynthServer:
    """Handle on a running server process."""

    def __init__(self) -> None:
        package_root = str(Path(__file__).resolve().parents[3])
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
        )
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "dinosr_espnet.data.synth.synth_server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    def synth(self, text: str, voice: Voice, seed: int) -> Synthesis:
        _send(self._proc.stdin, pickle.dumps((text, voice, seed)))
        payload = _receive(self._proc.stdout)
        if payload is None:
            raise RuntimeError(f"espeak synthesis server exited (code {self._proc.poll()}) on {text!r}")
        result = pickle.loads(payload)
        if isinstance(result, Exception):
            raise result
        return result

    def close(self) -> None:
        self._proc.stdin.close()
        self._proc.wait()


def start() -> None:
    """Start this process's server (idempotent); `synthesize` then goes through it."""
    global _server
    if _server is None:
        _server = SynthServer()


def stop() -> None:
    """Stop this process's server, if any (it also exits on its own when this process dies)."""
    global _server
    if _server is not None:
        _server.close()
        _server = None


def synthesize(text: str, voice: Voice, seed: int) -> Synthesis:
    """History-independent synthesis: through this process's server if started, else by a
    fork of this process (`espeak.synth_isolated`); both give identical results."""
    return _server.synth(text, voice, seed) if _server is not None else synth_isolated(text, voice, seed)


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Server loop: answer each (text, voice, seed) request until end of input."""
    Espeak.get()
    while (request := _receive(requests)) is not None:
        text, voice, seed = pickle.loads(request)
        _send(replies, synth_isolated_payload(text, voice, seed))


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
