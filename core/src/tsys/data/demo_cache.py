"""The demo market's answers kept on disk, keyed by a digest of its generator.

Generating the market takes seconds; two of its answers are small, asked for again by later
processes, and kept here in the workspace's cache, exactly (float64 arrays, no text
formatting):

* what ``tsys portfolio`` (and the dashboard's Portfolio page) reads, per (generator, seed,
  as-of, day, symbols): the merged book is valued at the demo market's last closes, with its
  sectors and recent daily returns (for correlation clusters). The first valuation of a day
  writes it to ``<workspace>/cache/demo/``, every later one (another process, a restarted
  dashboard) reads it.
* the index-level series, SPY, the sector ETFs and the defensive funds, per (generator, seed,
  horizon): SPY and the sector ETFs are made from all 540 generated equities (cap-weighted),
  so serving them costs the whole equity generation (about a second and 190 MB); a daily run of
  the trend book (SPY, TLT, GLD) reads them instead. Written by :class:`~tsys.data.demo.
  DemoSource` whenever a source with a cache folder generates the equities (a few MB).

The key holds :func:`generator_digest`: the generator's source files (``tsys/data/demo*.py``,
this one aside) and the versions of numpy, pandas and exchange_calendars, so a changed
generator never serves numbers it would no longer make.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tsys.errors import WriteError
from tsys.files import atomic_write_bytes

if TYPE_CHECKING:
    from tsys.data.bars import Bars
    from tsys.data.demo_market import Market

#: (prices, sectors, returns) as :func:`tsys.holdings.load_portfolio` reads them.
MarketInputs = tuple[dict[str, float], dict[str, str], Any]


@functools.lru_cache(maxsize=1)
def generator_digest() -> str:
    """A digest of the demo market's generator: every ``tsys/data/demo*.py`` but this one, and
    the versions of the libraries its numbers and sessions come from."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("demo*.py")):
        if path.name == Path(__file__).name:
            continue
        h.update(path.name.encode())
        h.update(path.read_bytes())
    for dist in ("numpy", "pandas", "exchange-calendars"):
        h.update(f"{dist}={metadata.version(dist)};".encode())
    return h.hexdigest()[:16]


def cache_file(folder: Path, source: Any, symbols: Sequence[str], day: dt.date) -> Path | None:
    """Where the inputs of ``symbols`` on ``day`` from ``source`` are kept (None: not the demo
    source, nothing is cached)."""
    # The demo source by its registered name: tsys.data.demo imports this module.
    if getattr(source, "name", None) != "demo" or not getattr(source, "synthetic", False):
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
    except (OSError, WriteError):  # atomic_write_bytes says WriteError
        return


# --------------------------------------------------------------------------- index series


def _series_names() -> tuple[str, ...]:
    """The series kept: every equity-class symbol of the demo market that is not a stock."""
    from tsys.data.demo_market import DEFENSIVE_FUNDS, INDEX_ETF, SECTOR_ETFS

    return (INDEX_ETF, *SECTOR_ETFS, *(f[0] for f in DEFENSIVE_FUNDS))


def _series_file(folder: Path, seed: int, horizon: dt.date) -> Path:
    name = f"series-seed{seed}-{horizon.isoformat()}-{generator_digest()}.npz"
    return Path(folder) / name


def is_series(symbols: Sequence[str]) -> bool:
    """True when every one of ``symbols`` is kept by :func:`write_series`."""
    return set(symbols) <= set(_series_names())


def write_series(folder: Path, mk: Market) -> None:
    """Keep ``mk``'s index-level series in ``folder`` (once; its equities are generated)."""
    from tsys.data.bars import FIELDS

    path = _series_file(folder, mk.seed, mk.horizon)
    if path.exists():
        return
    bars = mk.equities.select(_series_names())
    buf = io.BytesIO()
    arrays = {f: getattr(bars, f) for f in FIELDS}
    np.savez(buf, index=bars.index.tz_localize(None).to_numpy(), **arrays)
    try:
        atomic_write_bytes(path, buf.getvalue())
    except (OSError, WriteError):  # a read-only cache: the next process generates again
        return
    for old in path.parent.glob(f"series-seed{mk.seed}-*.npz"):
        if old != path:  # an earlier horizon or generator: never read again
            with contextlib.suppress(OSError):
                old.unlink()


def read_series(folder: Path, seed: int, horizon: dt.date) -> Bars | None:
    """The index-level series of the market of ``seed`` up to ``horizon``, or None when they
    are not kept (or unreadable)."""
    import pandas as pd

    from tsys.contracts import AssetClass
    from tsys.data.bars import FIELDS, Bars, VolumeUnit

    try:
        with np.load(_series_file(folder, seed, horizon), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in ("index", *FIELDS)}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    names = _series_names()
    return Bars(
        pd.DatetimeIndex(arrays["index"]).tz_localize("UTC"),
        names,
        **{f: arrays[f] for f in FIELDS},
        asset_classes=[AssetClass.EQUITY] * len(names),
        volume_units=VolumeUnit.BASE,
        source=f"demo (synthetic, seed {seed})",
        synthetic=True,
    )
