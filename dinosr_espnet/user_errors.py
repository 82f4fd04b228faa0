"""How a user error (bad value, missing file, ...) is told: one line, whatever raised it."""
from __future__ import annotations


def one_line(error: BaseException) -> str:
    """The message of ``error`` on one line.

    A KeyError's message loses its quotes; an error raised in a data-loader worker arrives
    re-raised with the worker's traceback in its message: only that traceback's last line
    (the worker's own message) is kept. Other multi-line messages are joined ("a: b; c").
    """
    text = str(error.args[0] if isinstance(error, KeyError) and error.args else error)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if "Original Traceback" in text and lines:
        last = lines[-1]
        for prefix in (f"{type(error).__name__}: ", "ValueError: ", "FileNotFoundError: "):
            if last.startswith(prefix):
                return last[len(prefix):]
        return last
    parts = lines or [type(error).__name__]
    return parts[0] + "".join((" " if prev.endswith(":") else "; ") + part
                              for prev, part in zip(parts, parts[1:]))
