"""A short fingerprint of a bars panel: which data a study, a research run or a params file saw.

Two panels have the same fingerprint when they hold the same symbols, sessions, prices and
volumes from the same kind of source (synthetic or not). Optuna studies and research reports
carry it, so trials on the demo market never mix with trials on real data, and a shipped
parameter set says what data it was researched on.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np


def bars_fingerprint(bars: Any) -> str:
    """SHA-256 over the panel's symbols, dates, closes and volumes: 16 hex digits."""
    h = hashlib.sha256()
    h.update(b"synthetic" if getattr(bars, "synthetic", False) else b"real")
    h.update("\x1f".join(bars.symbols).encode())
    h.update(np.asarray(bars.index.asi8, dtype=np.int64).tobytes())
    for field in ("close", "volume"):
        a = np.ascontiguousarray(getattr(bars, field), dtype=np.float64)
        h.update(np.nan_to_num(a, nan=-1.0).tobytes())
    return h.hexdigest()[:16]
