"""What ``tsys portfolio`` (and the dashboard's Portfolio page) reads from the demo market,
kept on disk per (generator, seed, as-of, day, symbols).

The merged book is valued at the demo market's last closes, with its sectors and recent daily
returns (for correlation clusters). Generating the market takes seconds, its answer for one
book on one day is a few kilobytes: the first valuation of a day writes it to
``<workspace>/cache/demo/``, every later one (another process, a restarted dashboard) reads it.
The key holds a digest of the generator's source files (``tsys/data/demo*.py``, this one
aside), so a changed generator never serves numbers it would no longer make. Values round-trip
exactly (float64 arrays, no text formatting).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tsys.files import atomic_write_bytes

#: (prices, sectors, returns) as :func:`tsys.holdings.load_portfolio` reads them.
MarketInputs = tuple[dict[str, float], dict[str, str], Any]


@functools.lru_cache(maxsize=1)
def generator_digest() -> str:
    """A digest of the demo market's generator (every ``tsys/data/demo*.py`` but this one)."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("demo*.py")):
        if path.name == Path(__file__).name:
            continue
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def cache_file(folder: Path, source: Any, symbols: Sequence[str], day: dt.date) -> Path | None:
    """Where the inputs of ``symbols`` on ``day`` from ``source`` are kept (None: not the demo
    source, nothing is cached)."""
    from tsys.data.demo import DemoSource

    if type(source) is not DemoSource:
        return None
    key = [generator_digest(), source.seed, source.as_of.isoformat(), day.isoformat(), *symbols]
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:24]
    return Path(folder) / "demo" / f"portfolio-{day.isoformat()}-{digest}.npz"


def read(path: Path) -> MarketInputs | None:
    """The inputs kept in ``path``, or None when it is absent or unreadable."""
    import pandas as pd

    try:
        with np.load(path, allow_pickle=False) as z:
            prices = dict(zip(z["price_symbols"].tolist(), z["prices"].tolist(), strict=True))
            sectors = json.loads(str(z["sectors"]))
            returns = None
            if bool(z["has_returns"]):
                index = pd.DatetimeIndex(z["index"]).tz_localize("UTC")  # its own unit
                returns = pd.DataFrame(z["returns"], index=index, columns=z["columns"].tolist())
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return prices, sectors, returns


def write(path: Path, inputs: MarketInputs) -> None:
    """Keep ``inputs`` in ``path`` (atomically; a failure to write is not an error)."""
    prices, sectors, returns = inputs
    arrays: dict[str, Any] = {
        "price_symbols": np.array(list(prices), dtype=str),
        "prices": np.array(list(prices.values()), dtype=np.float64),
        "sectors": np.array(json.dumps(sectors)),
        "has_returns": np.array(returns is not None),
    }
    if returns is not None:
        arrays["returns"] = returns.to_numpy(dtype=np.float64)
        arrays["index"] = returns.index.tz_convert("UTC").tz_localize(None).to_numpy()
        arrays["columns"] = np.array([str(c) for c in returns.columns], dtype=str)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buf.getvalue())
    except OSError:
        return
