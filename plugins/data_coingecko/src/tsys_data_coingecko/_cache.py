"""A small on-disk JSON cache: one file per entry, written atomically, never deleted on failure."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

from tsys.daily.artifacts import atomic_write_bytes

log = logging.getLogger(__name__)


class JsonCache:
    """Entries ``{"fetched_at": ISO-8601 UTC, "payload": ...}`` under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts[:-1], parts[-1] + ".json")

    def read(self, *parts: str) -> dict[str, Any] | None:
        """Return the entry, or None when absent or unreadable (a corrupt entry is re-fetched)."""
        path = self.path(*parts)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable cache entry %s: %s", path, exc)
            return None
        if not isinstance(entry, dict) or "fetched_at" not in entry or "payload" not in entry:
            log.warning("ignoring malformed cache entry %s", path)
            return None
        try:
            entry["fetched_at"] = dt.datetime.fromisoformat(entry["fetched_at"])
        except (TypeError, ValueError):
            log.warning("ignoring cache entry %s with a bad timestamp", path)
            return None
        return entry

    def write(self, payload: Any, *parts: str, fetched_at: dt.datetime) -> None:
        entry = {"fetched_at": fetched_at.isoformat(), "payload": payload}
        data = json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        atomic_write_bytes(self.path(*parts), data)
