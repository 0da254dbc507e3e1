"""A Parquet cache for network data sources, refreshed incrementally.

Each key (e.g. ``"alphavantage/daily/AAPL"``) is one Parquet file holding a date-indexed frame
and, in its metadata, the date range that has been fetched (which can be wider than the rows:
weekends and holidays have no rows but were asked for). :meth:`ParquetCache.get_or_fetch` asks
the fetcher only for the part of the requested range not yet covered (the head before, the tail
after), merges, and writes atomically after every successful piece: a fetch that fails halfway
never loses what was already stored.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from tsys.data.calendars import as_date
from tsys.errors import DataError
from tsys.files import atomic_write_bytes
from tsys.symbols import safe_name

log = logging.getLogger(__name__)

Fetch = Callable[[dt.date, dt.date], pd.DataFrame]
_META_KEY = b"tsys_cache"
_ONE_DAY = dt.timedelta(days=1)
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class ParquetCache:
    """Per-key Parquet files under ``directory``; see the module docstring."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path(self, key: str) -> Path:
        """The file of ``key``: a readable slug plus a short hash (keys may hold any text)."""
        return self.directory / safe_name(key, suffix=".parquet")

    # ------------------------------------------------------------------ read / write
    def read(self, key: str) -> tuple[pd.DataFrame, tuple[dt.date, dt.date] | None]:
        """The stored frame and the covered (start, end) range, or an empty frame and None."""
        import pyarrow.parquet as pq

        path = self.path(key)
        if not path.is_file():
            return pd.DataFrame(), None
        try:
            table = pq.read_table(path)
        except Exception as exc:
            raise DataError(
                f"cache file {path} is unreadable ({type(exc).__name__}: {exc})",
                hint="delete it; the next run fetches the data again",
            ) from exc
        meta = json.loads((table.schema.metadata or {}).get(_META_KEY, b"{}"))
        if meta.get("key") != key or "start" not in meta:
            raise DataError(
                f"cache file {path} does not belong to key {key!r}",
                hint="delete it; the next run fetches the data again",
            )
        df = table.to_pandas()
        return df, (dt.date.fromisoformat(meta["start"]), dt.date.fromisoformat(meta["end"]))

    def write(self, key: str, df: pd.DataFrame, covered: tuple[dt.date, dt.date]) -> None:
        """Store ``df`` with its covered range, atomically (temp file + rename)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(df, preserve_index=True)
        meta = dict(table.schema.metadata or {})
        meta[_META_KEY] = json.dumps(
            {"key": key, "start": covered[0].isoformat(), "end": covered[1].isoformat()}
        ).encode()
        table = table.replace_schema_metadata(meta)
        buf = io.BytesIO()
        pq.write_table(table, buf)
        atomic_write_bytes(self.path(key), buf.getvalue())

    def clear(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    # ------------------------------------------------------------------ the main entry
    def missing(self, key: str, start: Any, end: Any) -> list[tuple[dt.date, dt.date]]:
        """The (head, tail) ranges of ``start..end`` that :meth:`get_or_fetch` would fetch."""
        start, end = as_date(start), as_date(end)
        _, covered = self.read(key)
        if covered is None:
            return [(start, end)]
        pieces = []
        if start < covered[0]:
            pieces.append((start, covered[0] - _ONE_DAY))
        if end > covered[1]:
            pieces.append((covered[1] + _ONE_DAY, end))
        return pieces

    def get_or_fetch(
        self, key: str, start: Any, end: Any, fetch: Fetch, *, settled: Any = None
    ) -> pd.DataFrame:
        """Rows of ``key`` with ``start <= date <= end``, fetching only what is missing.

        Parameters
        ----------
        key
            What the data is (source, kind, symbol).
        start, end
            The inclusive date range wanted.
        fetch
            ``fetch(start, end) -> DataFrame`` indexed by date; called at most twice (head,
            tail), each time for a range not yet covered.
        settled
            The last date whose data can no longer change (default: ``end``). Rows after it
            are stored but their dates are not marked as covered, so they are asked again
            next time (a vendor may publish the newest bar late, or revise it).

        Returns
        -------
        DataFrame
            The stored rows in range, indexed by date, sorted.
        """
        start, end = as_date(start), as_date(end)
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        limit = end if settled is None else min(end, as_date(settled))
        pieces = self.missing(key, start, end)
        df, covered = self.read(key)
        for lo, hi in pieces:
            try:
                new = fetch(lo, hi)
            except DataError:
                raise
            except Exception as exc:
                raise DataError(
                    f"fetching {key} {lo}..{hi} failed: {type(exc).__name__}: {exc}",
                    hint="what was fetched before is kept in the cache; retry later",
                ) from exc
            df = _merge(df, _check_frame(new, key))
            top = min(hi, limit)
            if top >= lo:
                covered = (
                    (lo, top) if covered is None else (min(covered[0], lo), max(covered[1], top))
                )
            if covered is not None:
                self.write(key, df, covered)
        if df.empty:
            return df
        idx = _index_dates(df.index)
        return df[(idx >= pd.Timestamp(start)) & (idx <= pd.Timestamp(end))]


def _index_dates(idx: pd.Index) -> pd.DatetimeIndex:
    di = pd.DatetimeIndex(idx)
    return di.tz_localize(None) if di.tz is not None else di


def _check_frame(df: Any, key: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"fetcher for {key} returned {type(df).__name__}, not a DataFrame")
    if len(df) and not isinstance(df.index, pd.DatetimeIndex):
        raise DataError(f"fetcher for {key} returned a frame without a date index")
    return df


def _merge(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    if old.empty:
        out = new
    elif new.empty:
        out = old
    else:
        # A date fetched again (a revised last bar) takes the newer value.
        out = pd.concat([old, new])
        out = out[~out.index.duplicated(keep="last")]
    return out.sort_index()


class JsonCache:
    """A small on-disk JSON cache for API responses: one file per entry, written atomically,
    never deleted on failure (what network data sources keep between runs).

    Entries ``{"fetched_at": ISO-8601 UTC, "payload": ...}`` under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, *parts: str) -> Path:
        """The file of an entry: each part (a folder or the file name) slugged and hashed
        (:func:`tsys.symbols.safe_name`), so outside text (a symbol from a trade, a vendor's
        id) always names a file inside ``root``: ``news/AAPL/2024-05-01`` ->
        ``news-<hash>/AAPL-<hash>/2024-05-01-<hash>.json``."""
        names = [safe_name(str(p)) for p in parts]
        return self.root.joinpath(*names[:-1], names[-1] + ".json")

    def legacy_path(self, *parts: str) -> Path | None:
        """Where an older tsys kept the entry (plain names, e.g. ``news/AAPL/2024-05-01.json``);
        None when a part is not a plain name (those were already slugged and hashed)."""
        if not all(_PLAIN.fullmatch(str(p)) and ".." not in str(p) for p in parts):
            return None
        return self.root.joinpath(*map(str, parts[:-1]), f"{parts[-1]}.json")

    def read(self, *parts: str) -> dict[str, Any] | None:
        """Return the entry, or None when absent or unreadable (a corrupt entry is re-fetched).

        An entry an older tsys wrote under its plain name is read and moved to its slugged
        name (once, with an info line), so a rate-limited vendor is not asked again for it.
        """
        path = self.path(*parts)
        if not path.exists():
            self._migrate(parts, path)
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

    def _migrate(self, parts: tuple[str, ...], path: Path) -> None:
        old = self.legacy_path(*parts)
        if old is None or not old.is_file() or old.is_symlink():
            return
        try:
            atomic_write_bytes(path, old.read_bytes())
            old.unlink()
        except OSError as exc:
            log.warning("could not move the cache entry %s to %s: %s", old, path, exc)
            return
        log.info("cache entry %s moved to %s (slugged and hashed name)", old, path)

    def write(self, payload: Any, *parts: str, fetched_at: dt.datetime) -> None:
        entry = {"fetched_at": fetched_at.isoformat(), "payload": payload}
        data = json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        atomic_write_bytes(self.path(*parts), data)
