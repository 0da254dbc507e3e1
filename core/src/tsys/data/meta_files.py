"""The csv source's metadata files: index snapshots, sectors, float snapshot, caps and news.

Beside its price files the csv source (:mod:`tsys.data.csv`) can read (all optional):
``constituents_dir`` (yearly index snapshots ``constituents_YYYY-MM-DD.csv`` -> point-in-time
``universe("sp500")``), ``sectors_file`` (GICS sectors), ``market_caps_file`` (crypto market caps,
``date,symbol,...,market_cap``), ``news_dir`` (``<SYM>.csv`` daily sentiment 1..5) and
``float_file`` (shares float snapshot). :class:`MetaFiles` reads them, each once, and answers the
data-source metadata calls for the csv source.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsys.data.source import NEWS_COLUMNS, Fundamentals
from tsys.errors import DataError

#: Stablecoins and wrapped tokens: a crypto universe ranks real coins, not dollars or copies.
KNOWN_EXCLUDED_COINS = frozenset(
    f"{s}-USD"
    for s in (
        "USDT",
        "USDC",
        "DAI",
        "BUSD",
        "TUSD",
        "USDP",
        "PAX",
        "GUSD",
        "UST",
        "USTC",
        "FDUSD",
        "PYUSD",
        "USDE",
        "USDD",
        "FRAX",
        "LUSD",
        "EURS",
        "WBTC",
        "WETH",
        "STETH",
        "WSTETH",
        "WBETH",
        "RETH",
        "CBETH",
        "WTRX",
        "BTCB",
        "HBTC",
        "RENBTC",
    )
)

#: Sector names some vendors use, mapped to GICS sector names.
_SECTOR_ALIASES = {
    "healthcare": "Health Care",
    "technology": "Information Technology",
    "financial": "Financials",
    "financial services": "Financials",
    "consumer cyclical": "Consumer Discretionary",
    "consumer defensive": "Consumer Staples",
    "basic materials": "Materials",
    "communication services": "Communication Services",
    "energy": "Energy",
    "industrials": "Industrials",
    "real estate": "Real Estate",
    "utilities": "Utilities",
}

_DATE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})")
#: The date in a snapshot file's name: "float_snapshot_2023-08.csv" -> "2023-08".
_SNAPSHOT_RE = re.compile(r"(\d{4}-\d{2}(?:-\d{2})?)")


def parse_amount(value: Any) -> float | None:
    """Parse a displayed number: ``36.44M``, ``262.12K``, ``1.2B``, ``"137,452"``; ``-`` is None."""
    if value is None:
        return None
    if isinstance(value, int | float | np.floating | np.integer):
        return None if np.isnan(value) else float(value)
    s = str(value).strip().replace(",", "")
    if s in ("", "-", "--", "nan", "NaN", "N/A"):
        return None
    mult = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}.get(s[-1].upper())
    if mult is not None:
        s = s[:-1]
    pct = s.endswith("%")
    if pct:
        s = s[:-1]
    try:
        x = float(s)
    except ValueError:
        return None
    return x * (mult or 1.0) / (100.0 if pct else 1.0)


def _is_fund(industry: Any) -> bool:
    text = str(industry).strip().lower() if isinstance(industry, str) else ""
    return text in ("exchange traded fund", "etf", "closed-end fund")


def _sym(s: str) -> str:
    # Index lists write class shares "BRK.B"; the price files write "BRK-B".
    return str(s).strip().upper().replace(".", "-")


def _utc_days(values: Any) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(pd.to_datetime(values))
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    return idx.normalize().tz_localize("UTC")


def _read_table(path: Path, warn: Any = None) -> list[dict[str, str]]:
    """Read a small metadata CSV row by row; a row with extra fields is kept and reported.

    Index snapshots carry the odd unquoted comma in a name ("Washington, D.C"); pandas
    refuses the whole file for it, while the symbol in the first column is still right.
    """
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        rows = []
        for lineno, row in enumerate(reader, start=2):
            if len(row) > len(header) and warn is not None:
                warn(
                    f"{path.name} line {lineno}: {len(row)} fields for {len(header)} columns; "
                    "extra fields ignored"
                )
            rows.append(dict(zip(header, row, strict=False)))
    return rows


class MetaFiles:
    """The optional metadata files of a csv source; ``warn`` takes the source's warnings."""

    def __init__(
        self,
        *,
        constituents_dir: str | Path | None = None,
        sectors_file: str | Path | None = None,
        market_caps_file: str | Path | None = None,
        news_dir: str | Path | None = None,
        float_file: str | Path | None = None,
        warn: Callable[[str], None],
    ) -> None:
        self.constituents_dir = Path(constituents_dir) if constituents_dir else None
        self.sectors_file = Path(sectors_file) if sectors_file else None
        self.market_caps_file = Path(market_caps_file) if market_caps_file else None
        self.news_dir = Path(news_dir) if news_dir else None
        self.float_file = Path(float_file) if float_file else None
        self.warn = warn
        self._snapshots: list[tuple[dt.date, Path]] | None = None
        self._fund: dict[str, Fundamentals] | None = None
        self._news_span: dict[str, tuple[dt.date, dt.date] | None] = {}

    def _snapshot_list(self) -> list[tuple[dt.date, Path]]:
        if self._snapshots is None:
            snaps = []
            if self.constituents_dir is not None and self.constituents_dir.is_dir():
                for f in self.constituents_dir.glob("*.csv"):
                    m = _DATE_RE.search(f.name)
                    if m:
                        snaps.append((dt.date.fromisoformat(m.group(1)), f))
            self._snapshots = sorted(snaps)
        return self._snapshots

    def universe(self, name: str, as_of: dt.date) -> list[str] | None:
        if name != "sp500":
            return None
        snaps = self._snapshot_list()
        if not snaps:
            return None
        as_of = pd.Timestamp(as_of).date()
        eligible = [s for s in snaps if s[0] <= as_of]
        if eligible:
            date, path = eligible[-1]
        else:
            date, path = snaps[0]
            self.warn(
                f"sp500 membership before the first snapshot ({date.isoformat()}) is not known; "
                "using that snapshot for earlier dates (survivorship bias)"
            )
        rows = _read_table(path, self.warn)
        col = next(
            (c for c in (rows[0] if rows else {}) if c.lower() in ("symbol", "ticker")), None
        )
        if col is None:
            raise DataError(f"{path} has no Symbol column")
        return sorted({_sym(r[col]) for r in rows if r.get(col)})

    def market_caps(self, start: dt.date | None, end: dt.date) -> pd.DataFrame | None:
        if self.market_caps_file is None:
            return None
        df = pd.read_csv(self.market_caps_file)
        cols = {c.lower(): c for c in df.columns}
        if not {"date", "symbol", "market_cap"} <= set(cols):
            raise DataError(f"{self.market_caps_file} needs columns date, symbol, market_cap")
        sym = df[cols["symbol"]].map(lambda s: s if str(s).endswith("-USD") else f"{_sym(s)}-USD")
        frame = pd.DataFrame(
            {
                "date": _utc_days(df[cols["date"]]),
                "symbol": sym,
                "cap": pd.to_numeric(df[cols["market_cap"]], errors="coerce"),
            }
        )
        frame = frame.drop_duplicates(["date", "symbol"], keep="last")
        wide = frame.pivot(index="date", columns="symbol", values="cap").sort_index()
        wide.columns.name = None
        lo = pd.Timestamp(start, tz="UTC") if start is not None else None
        hi = pd.Timestamp(end, tz="UTC")
        mask = (wide.index <= hi) & ((wide.index >= lo) if lo is not None else True)
        return wide[mask]

    def _fundamentals_table(self) -> dict[str, Fundamentals]:
        if self._fund is not None:
            return self._fund
        info: dict[str, dict[str, Any]] = {}
        if self.float_file is not None:
            df = pd.read_csv(self.float_file, dtype=str)
            when = _SNAPSHOT_RE.search(self.float_file.name)
            for row in df.to_dict("records"):
                s = _sym(row.get("symbol", ""))
                sector = row.get("sector")
                if _is_fund(row.get("industry")):
                    # Snapshots file every ETF under "Financial": a fund has no sector, so
                    # SPY, TLT and GLD do not share one sector cap.
                    sector = None
                info[s] = {
                    "name": row.get("company") or None,
                    "sector": _SECTOR_ALIASES.get(str(sector).strip().lower())
                    if isinstance(sector, str)
                    else None,
                    "shares_outstanding": parse_amount(row.get("shares_outstanding")),
                    "shares_float": parse_amount(row.get("shares_float")),
                    "market_cap": parse_amount(row.get("market_cap")),
                    "snapshot": when.group(1) if when else None,
                }
        for _, path in self._snapshot_list():
            for row in _read_table(path, self.warn):
                sector = row.get("Sector") or row.get("GICS Sector")
                if row.get("Symbol") and sector:
                    info.setdefault(_sym(row["Symbol"]), {})["sector"] = sector
        if self.sectors_file is not None:
            df = pd.read_csv(self.sectors_file, dtype=str)
            for row in df.to_dict("records"):
                d = info.setdefault(_sym(row["Symbol"]), {})
                d["sector"] = row.get("GICS Sector") or d.get("sector")
                d["name"] = row.get("Security") or d.get("name")
        self._fund = {s: Fundamentals(symbol=s, **d) for s, d in info.items()}
        return self._fund

    def fundamentals(self, symbols: Sequence[str]) -> dict[str, Fundamentals] | None:
        if self.float_file is None and self.sectors_file is None and not self._snapshot_list():
            return None
        table = self._fundamentals_table()
        return {s: table.get(s, Fundamentals(symbol=s)) for s in symbols}

    def news_coverage(self, symbols: Sequence[str]) -> dict[str, tuple[dt.date, dt.date]] | None:
        """First and last day of each symbol's news file (no file: no news for it)."""
        if self.news_dir is None:
            return None
        out = {}
        for s in symbols:
            if s not in self._news_span:
                f = self.news_dir / f"{s}.csv"
                span = None
                if f.is_file():
                    dates = _utc_days(pd.read_csv(f, usecols=["date"])["date"])
                    if len(dates):
                        span = (dates.min().date(), dates.max().date())
                self._news_span[s] = span
            if self._news_span[s] is not None:
                out[s] = self._news_span[s]
        return out

    def news(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame | None:
        if self.news_dir is None:
            return None
        frames = []
        lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
        for s in symbols:
            f = self.news_dir / f"{s}.csv"
            if not f.is_file():
                continue
            df = pd.read_csv(f)
            df = df[pd.to_numeric(df["has_news"], errors="coerce") == 1]
            dates = _utc_days(df["date"])
            keep = (dates >= lo) & (dates <= hi)
            x = pd.to_numeric(df["sentiment_1to5"], errors="coerce").to_numpy()[keep]
            frames.append(
                pd.DataFrame(
                    {
                        "date": dates[keep],
                        "symbol": s,
                        "sentiment": (x - 3.0) / 2.0,
                        "relevance": np.nan,
                        "title": "",
                        "url": "",
                        "source": f"csv {self.news_dir.name}",
                    }
                )
            )
        if not frames:
            return pd.DataFrame(columns=list(NEWS_COLUMNS))
        out = pd.concat(frames, ignore_index=True)
        return out[list(NEWS_COLUMNS)].sort_values(["date", "symbol"], ignore_index=True)
