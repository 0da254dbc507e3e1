"""Reading a child process's output in tests that start ``tsys`` in a subprocess."""

from __future__ import annotations

import time
from typing import IO


def read_until(stream: IO[str], marker: str, seconds: float) -> str:
    """Read lines of ``stream`` until one contains ``marker``; return that line.

    Stops early at the end of the stream (returns ``""``) or, checked between lines, once
    ``seconds`` have passed (returns the last line read), so the caller can say what it saw.
    """
    deadline = time.monotonic() + seconds
    line = ""
    while time.monotonic() < deadline:
        line = stream.readline()
        if marker in line or not line:
            break
    return line


__all__ = ["read_until"]
