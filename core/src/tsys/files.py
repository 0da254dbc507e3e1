"""Writing files safely: atomic replacement, JSON documents and CSV tables.

The bottom layer every other module (run artifacts, newsletters, reports, caches, plugins) writes
through, so a reader never sees half a file and a failed write never destroys the previous one.
A write that fails raises :class:`~tsys.errors.WriteError` ("cannot write <path>: <reason>").
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tsys.errors import WriteError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and a rename.

    A reader sees the old file or the new one, never half of one; a failed write leaves the
    old file untouched and no temp file behind. The parent folders are created.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            # mkstemp makes 0600 files; give the file the mode it had, or the one any other
            # new file gets (0644 under the usual umask), like history.jsonl (issue 21.16).
            os.fchmod(fh.fileno(), _mode_for(path))
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    # Read, not set-and-restore: os.umask(0) would briefly open every file made meanwhile.
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically (see :func:`atomic_write_bytes`).

    Secrets are scrubbed on the way out (:func:`tsys.redact.scrub`).
    """
    from tsys.redact import scrub

    atomic_write_bytes(path, scrub(text).encode("utf-8"))


def write_json(
    path: Path,
    data: Any,
    *,
    indent: int | None = 2,
    sort_keys: bool = False,
    default: Callable[[Any], Any] | None = None,
) -> None:
    """Write ``data`` as a JSON document (with a final newline) to ``path`` atomically."""
    text = json.dumps(data, indent=indent, sort_keys=sort_keys, default=default)
    atomic_write_text(path, text + "\n")


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """A CSV table with a header row and ``\\n`` line endings; missing keys are empty cells.

    A carriage return inside a text cell becomes ``\\n``: the csv module quotes cells holding
    the line terminator but not a lone ``\\r``, which a reader would take for a line break.
    """
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _no_cr(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


def _no_cr(value: Any) -> Any:
    if isinstance(value, str) and "\r" in value:
        return value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def append_line(path: Path, line: str) -> None:
    """Append one line (a newline is added) to ``path``, creating it and its folders."""
    from tsys.redact import scrub

    path, line = Path(path), scrub(line)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from exc
