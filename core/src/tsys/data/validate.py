"""Data validation, run on every load: what is wrong with the bars, and which rows were dropped.

Rules (``Issue.rule``):

``unreadable_file``          the file cannot be read as bars (empty, binary, UTF-16, ``;``
                             separated, no header, a folder): the symbol is skipped
``no_usable_rows``           not one row of the symbol survived (or the file has none)
``bad_date``                 a date that does not parse (row dropped)
``date_out_of_range``        a date before 1900 or more than a year ahead (row dropped; the
                             file's line is named)
``nonfinite_price``          an open/high/low/close or volume is infinite (row dropped)
``implausible_price``        a close 1000 times above or below the median of its neighbours
                             (the five bars either side), wherever it is, the last bar
                             included (row dropped)
``unsorted_dates``           dates out of order (rows sorted, reported)
``duplicate_dates``          a date twice: identical copies keep one, conflicting copies are all
                             dropped (nobody can tell which one is right)
``missing_price``            an open/high/low/close is empty (row dropped)
``nonpositive_price``        an open/high/low/close is zero or negative (row dropped)
``negative_volume``          volume below zero (row dropped)
``missing_volume``           volume empty (row kept, reported)
``ohlc_inconsistent``        high below open/close, low above open/close, or high below low
                             (row dropped)
``off_calendar``             an equity bar on a day the exchange was closed (row dropped)
``gap``                      a session (equities) or day (crypto) without a bar between a
                             symbol's first and last bar; nothing is filled in (stays NaN)
``possible_unadjusted_split`` a one-day move beyond 40% (equities) or 60% (crypto) that reverses
                             the next day or has a split-like ratio (2, 3, 1/2, ..., 100,
                             1/100), the last bar included; kept, reported

Nothing is silently fixed: a dropped row is reported with its dates and reason, and a gap stays
a gap. ``strict=True`` raises :class:`~tsys.errors.DataError` instead of dropping.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd

from tsys.contracts import AssetClass
from tsys.errors import DataError

#: Rules whose rows are dropped (errors); the rest are warnings.
DROP_RULES = frozenset(
    {
        "unreadable_file",
        "no_usable_rows",
        "bad_date",
        "date_out_of_range",
        "nonfinite_price",
        "implausible_price",
        "missing_price",
        "nonpositive_price",
        "negative_volume",
        "ohlc_inconsistent",
        "off_calendar",
    }
)
#: Rules that make ``strict=True`` raise. Gaps, sorting and missing volume are reported only:
#: real markets halt and real files arrive unsorted; neither makes the bars that exist wrong.
STRICT_RULES = DROP_RULES | {"duplicate_dates", "possible_unadjusted_split"}

JUMP_THRESHOLD = {AssetClass.EQUITY: 0.40, AssetClass.CRYPTO: 0.60}
_SPLIT_RATIOS = np.array(
    [
        *(2, 3, 4, 5, 8, 10, 20, 50, 100, 1.5),
        *(1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 8, 1 / 10, 1 / 20, 1 / 50, 1 / 100, 2 / 3),
    ]
)
_SPLIT_TOL = 0.03
#: Relative slack for OHLC comparisons: adjusted prices carry float rounding in the 1e-9 range.
_OHLC_RTOL = 1e-6
_MAX_EXAMPLES = 5
#: A close this many times above or below its neighbours' median is no price (1e12, 1e-6).
IMPLAUSIBLE_RATIO = 1000.0
_NEIGHBOURS = 5
#: Dates a price file may hold: the calendars' range, not year 1 or 9999.
FIRST_DATE = pd.Timestamp("1900-01-01")


@attrs.frozen
class Issue:
    """One rule broken by one symbol: how often, example dates, rows dropped."""

    symbol: str
    rule: str
    count: int
    examples: tuple[str, ...] = attrs.field(converter=tuple, factory=tuple)
    dropped: int = 0
    message: str = ""
    #: For gaps: how many separate stretches of missing dates (``count`` is the dates).
    runs: int = 0

    @property
    def severity(self) -> str:
        return "error" if self.rule in DROP_RULES else "warning"

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "rule": self.rule,
            "severity": self.severity,
            "count": self.count,
            "dropped": self.dropped,
            "examples": list(self.examples),
            "message": self.message,
            **({"runs": self.runs} if self.rule == "gap" else {}),
        }


@attrs.define
class QualityReport:
    """The result of validating a load: symbols, rows, and every issue found."""

    source: str = ""
    symbols: int = 0
    rows: int = 0
    issues: list[Issue] = attrs.field(factory=list)
    notes: list[str] = attrs.field(factory=list)

    @property
    def rows_dropped(self) -> int:
        return sum(i.dropped for i in self.issues)

    @property
    def ok(self) -> bool:
        return not self.issues

    def for_symbol(self, symbol: str) -> list[Issue]:
        return [i for i in self.issues if i.symbol == symbol]

    def get(self, symbol: str, rule: str) -> Issue | None:
        """The issue of ``rule`` for ``symbol``, or None."""
        for i in self.issues:
            if i.symbol == symbol and i.rule == rule:
                return i
        return None

    def strict_issues(self) -> list[Issue]:
        return [i for i in self.issues if i.rule in STRICT_RULES]

    def totals(self) -> dict[str, dict[str, int]]:
        """Per rule: symbols affected, occurrences, rows dropped."""
        out: dict[str, dict[str, int]] = {}
        for i in self.issues:
            t = out.setdefault(i.rule, {"symbols": 0, "count": 0, "dropped": 0})
            t["symbols"] += 1
            t["count"] += i.count
            t["dropped"] += i.dropped
        return dict(sorted(out.items()))

    def extend(self, other: QualityReport) -> None:
        self.symbols += other.symbols
        self.rows += other.rows
        self.issues.extend(other.issues)
        for n in other.notes:
            if n not in self.notes:
                self.notes.append(n)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "symbols": self.symbols,
            "rows": self.rows,
            "rows_dropped": self.rows_dropped,
            "ok": self.ok,
            "totals": self.totals(),
            "issues": [i.to_dict() for i in self.issues],
            "notes": list(self.notes),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def raise_if_strict(self) -> None:
        """Raise :class:`DataError` listing the issues that strict mode refuses."""
        bad = self.strict_issues()
        if not bad:
            return
        lines = [f"{i.symbol}: {i.rule} x{i.count} ({', '.join(i.examples)})" for i in bad[:20]]
        more = f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else ""
        raise DataError(
            f"data validation failed for {self.source or 'the data'} (strict mode):\n  "
            + "\n  ".join(lines)
            + more,
            hint="fix the files, or run without strict mode to drop the untrusted rows "
            "with a warning",
        )


def _iso(ts: Any) -> str:
    return pd.Timestamp(ts).date().isoformat()


def _examples(dates: Sequence[Any]) -> tuple[str, ...]:
    return tuple(_iso(d) for d in list(dates)[:_MAX_EXAMPLES])


def expected_dates(asset_class: AssetClass, start: Any, end: Any, calendar: str = "XNYS"):
    """The dates a symbol of ``asset_class`` should have a bar on, ``start``..``end``."""
    from tsys.data import calendars

    if asset_class is AssetClass.CRYPTO:
        return calendars.crypto_days(start, end)
    return calendars.sessions(start, end, calendar)


def check_panel(
    index: pd.DatetimeIndex,
    symbols: Sequence[str],
    asset_classes: Sequence[AssetClass],
    fields: dict[str, np.ndarray],
    *,
    calendar: str = "XNYS",
) -> tuple[np.ndarray, list[Issue]]:
    """Check a T x N panel; return the mask of rows to drop and the issues found.

    ``index`` must be sorted and unique (tz-naive or UTC midnight dates). A row where every
    field is NaN is "no bar" (a gap candidate), not a bad row.
    """
    o, h, low, c, v = (fields[f] for f in ("open", "high", "low", "close", "volume"))
    t, n = c.shape
    naive = index.tz_localize(None) if index.tz is not None else index
    issues: list[Issue] = []
    prices = np.stack([o, h, low, c])
    present = ~(np.isnan(prices).all(axis=0) & np.isnan(v))
    nonfin = (np.isinf(prices).any(axis=0) | np.isinf(v)) & present
    prices = np.where(np.isinf(prices), np.nan, prices)
    o, h, low, c = prices
    v = np.where(np.isinf(v), np.nan, v)
    nonpos = (prices <= 0).any(axis=0) & present & ~nonfin
    missing = np.isnan(prices).any(axis=0) & present & ~nonpos & ~nonfin
    negvol = (v < 0) & present
    missvol = np.isnan(v) & present & ~missing & ~nonpos
    with np.errstate(invalid="ignore"):
        hi_ref = np.maximum(o, c) * (1 - _OHLC_RTOL)
        lo_ref = np.minimum(o, c) * (1 + _OHLC_RTOL)
        incons = ((h < hi_ref) | (low > lo_ref) | (h < low * (1 - _OHLC_RTOL))) & present
    incons &= ~(nonpos | missing)
    # An equity bar on a closed day is untrusted; crypto trades every day.
    off_cal = np.zeros((t, n), dtype=bool)
    eq_cols = np.array([a is AssetClass.EQUITY for a in asset_classes], dtype=bool)
    if eq_cols.any() and t:
        sess = expected_dates(AssetClass.EQUITY, naive[0], naive[-1], calendar)
        is_sess = naive.isin(sess)
        off_cal[:, eq_cols] = (~is_sess)[:, None] & present[:, eq_cols]
    implausible = _implausible(np.where(present & ~nonfin & ~nonpos, c, np.nan)) & ~missing
    incons &= ~implausible
    drop = nonfin | nonpos | missing | negvol | incons | off_cal | implausible

    def add(rule: str, mask: np.ndarray, message: str, dropped: bool) -> None:
        for j in np.flatnonzero(mask.any(axis=0)):
            rows = np.flatnonzero(mask[:, j])
            issues.append(
                Issue(
                    symbols[j],
                    rule,
                    len(rows),
                    _examples(naive[rows]),
                    len(rows) if dropped else 0,
                    message,
                )
            )

    add("nonfinite_price", nonfin, "open/high/low/close or volume infinite", True)
    add(
        "implausible_price",
        implausible & ~nonpos,
        f"close over {IMPLAUSIBLE_RATIO:g} times above or below its neighbours",
        True,
    )
    add("nonpositive_price", nonpos, "open/high/low/close zero or negative", True)
    add("missing_price", missing, "open/high/low/close empty", True)
    add("negative_volume", negvol & ~(nonpos | missing), "volume below zero", True)
    add("ohlc_inconsistent", incons & ~negvol, "high below open/close or low above them", True)
    add(
        "off_calendar",
        off_cal & ~(nonfin | implausible | nonpos | missing | negvol | incons),
        "bar on a day the exchange was closed",
        True,
    )
    add("missing_volume", missvol & ~drop, "volume empty", False)

    kept = present & ~drop
    issues += _gaps(naive, symbols, asset_classes, present, calendar)
    issues += _jumps(naive, symbols, asset_classes, np.where(kept, c, np.nan))
    return drop, issues


def _implausible(close: np.ndarray) -> np.ndarray:
    """Cells whose close is :data:`IMPLAUSIBLE_RATIO` away from its neighbours' median."""
    if close.shape[0] < 2:
        return np.zeros(close.shape, dtype=bool)
    med = (
        pd.DataFrame(close)
        .rolling(2 * _NEIGHBOURS + 1, center=True, min_periods=2)
        .median()
        .to_numpy()
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(np.log(close / med)) > np.log(IMPLAUSIBLE_RATIO)


def _gaps(naive, symbols, asset_classes, present, calendar) -> list[Issue]:
    out: list[Issue] = []
    for ac in (AssetClass.EQUITY, AssetClass.CRYPTO):
        cols = [j for j, a in enumerate(asset_classes) if a is ac and present[:, j].any()]
        if not cols:
            continue
        firsts = [int(np.argmax(present[:, j])) for j in cols]
        lasts = [len(naive) - 1 - int(np.argmax(present[::-1, j])) for j in cols]
        grid = expected_dates(ac, naive[min(firsts)], naive[max(lasts)], calendar)
        pos = naive.get_indexer(grid)
        for j, f, la in zip(cols, firsts, lasts, strict=True):
            lo, hi = grid.searchsorted(naive[f]), grid.searchsorted(naive[la], side="right")
            p = pos[lo:hi]
            missing = (p < 0) | ~present[np.maximum(p, 0), j]
            if missing.any():
                dates = grid[lo:hi][missing]
                k = np.flatnonzero(missing)
                starts = np.r_[0, np.flatnonzero(np.diff(k) > 1) + 1]
                ends = np.r_[starts[1:] - 1, len(k) - 1]
                spans = tuple(
                    _iso(dates[a]) if a == b else f"{_iso(dates[a])}..{_iso(dates[b])}"
                    for a, b in zip(starts[:_MAX_EXAMPLES], ends[:_MAX_EXAMPLES], strict=True)
                )
                kind = "sessions" if ac is AssetClass.EQUITY else "days"
                out.append(
                    Issue(
                        symbols[j],
                        "gap",
                        len(dates),
                        spans,
                        0,
                        f"{len(dates)} {kind} without a bar in {len(starts)} stretch(es) "
                        "(left empty, not filled)",
                        runs=len(starts),
                    )
                )
    return out


def _jumps(naive, symbols, asset_classes, close) -> list[Issue]:
    out: list[Issue] = []
    if close.shape[0] < 2:
        return out
    df = pd.DataFrame(close)
    prev = df.ffill().shift(1).to_numpy()
    nxt = df[::-1].ffill()[::-1].shift(-1).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = close / prev
        back = nxt / prev
        thr = np.array([JUMP_THRESHOLD[a] for a in asset_classes])
        big = (np.abs(ratio - 1) > thr) & ~np.isnan(close)
        flag = np.zeros_like(big)
        r, j = np.nonzero(big)  # few cells: test the ratios only there
        reversal = np.abs(np.log(back[r, j])) < np.log(1.15)
        near = (np.abs(ratio[r, j][:, None] / _SPLIT_RATIOS - 1) < _SPLIT_TOL).any(axis=-1)
        flag[r, j] = reversal | near
    for j in np.flatnonzero(flag.any(axis=0)):
        rows = np.flatnonzero(flag[:, j])
        ratios = ", ".join(f"{ratio[r, j]:.3g}x" for r in rows[:_MAX_EXAMPLES])
        out.append(
            Issue(
                symbols[j],
                "possible_unadjusted_split",
                len(rows),
                _examples(naive[rows]),
                0,
                f"one-day close ratio {ratios} that reverses or looks like a split",
            )
        )
    return out


def _warn_dropped(issues: Sequence[Issue], warn: Callable[[str], None] | None) -> None:
    if warn is None:
        return
    for i in issues:
        if i.dropped:
            warn(
                f"{i.symbol}: dropped {i.dropped} row(s) ({i.rule}: {i.message}) on "
                f"{', '.join(i.examples)}{' ...' if i.count > len(i.examples) else ''}"
            )


def validate_frame(
    symbol: str,
    raw: pd.DataFrame,
    asset_class: AssetClass,
    *,
    strict: bool = False,
    warn: Callable[[str], None] | None = None,
    calendar: str = "XNYS",
    source: str = "",
) -> tuple[pd.DataFrame, QualityReport]:
    """Validate one symbol's rows (column ``date`` plus OHLCV) as read from a file.

    Returns the trusted rows indexed by date (tz-naive, sorted, unique) and the report.
    """
    asset_class = AssetClass(asset_class)
    report = QualityReport(source=source, symbols=1, rows=len(raw))
    issues: list[Issue] = []
    df = raw.copy()
    dates = pd.to_datetime(df["date"], errors="coerce")
    bad = dates.isna().to_numpy()
    if bad.any():
        text = df["date_text"] if "date_text" in df.columns else df["date"]
        issues.append(
            Issue(
                symbol,
                "bad_date",
                int(bad.sum()),
                tuple(str(x) for x in text[bad].head(_MAX_EXAMPLES)),
                int(bad.sum()),
                "date does not parse",
            )
        )
    df = df.assign(date=dates)[~bad]
    far = ((df["date"] < FIRST_DATE) | (df["date"] > _last_date())).to_numpy()
    if far.any():
        text = (df["date_text"] if "date_text" in df.columns else df["date"].astype(str))[far]
        lines = ", ".join(str(int(i) + 2) for i in df.index[far][:_MAX_EXAMPLES])
        where = f"{source} line {lines}" if source else f"line {lines}"
        issues.append(
            Issue(
                symbol,
                "date_out_of_range",
                int(far.sum()),
                tuple(str(x) for x in text.head(_MAX_EXAMPLES)),
                int(far.sum()),
                f"{where}: date outside {FIRST_DATE.date()}..{_last_date().date()}",
            )
        )
        df = df[~far]
    d = df["date"].to_numpy()
    backwards = int((d[1:] < d[:-1]).sum()) if len(d) > 1 else 0
    if backwards:
        where = np.flatnonzero(d[1:] < d[:-1]) + 1
        issues.append(
            Issue(
                symbol,
                "unsorted_dates",
                backwards,
                _examples(d[where]),
                0,
                "dates out of order (sorted)",
            )
        )
        df = df.sort_values("date", kind="stable")
    fields = ["open", "high", "low", "close", "volume"]
    dup = df["date"].duplicated(keep=False).to_numpy()
    if dup.any():
        groups = df[dup].groupby("date", sort=True)
        conflicting = [k for k, g in groups if len(g[fields].drop_duplicates()) > 1]
        drop_rows = df["date"].isin(conflicting).to_numpy() | (
            df["date"].duplicated(keep="first").to_numpy() & ~df["date"].isin(conflicting)
        )
        n_dates = df.loc[dup, "date"].nunique()
        msg = (
            f"{len(conflicting)} date(s) with conflicting rows (all dropped), "
            f"{n_dates - len(conflicting)} with identical copies (one kept)"
        )
        issues.append(
            Issue(
                symbol,
                "duplicate_dates",
                int(n_dates),
                _examples(sorted(df.loc[dup, "date"].unique())),
                int(drop_rows.sum()),
                msg,
            )
        )
        df = df[~drop_rows]
    df = df.set_index(pd.DatetimeIndex(df["date"]).normalize())[fields].astype(np.float64)
    arrays = {f: df[f].to_numpy()[:, None] for f in fields}
    drop, panel_issues = check_panel(df.index, [symbol], [asset_class], arrays, calendar=calendar)
    issues += panel_issues
    df = df[~drop[:, 0]]
    df.index.name = "date"
    if df.empty:
        issues.append(
            Issue(
                symbol,
                "no_usable_rows",
                1,
                (),
                0,
                f"no usable row ({len(raw)} read{f' from {source}' if source else ''})",
            )
        )
    report.issues = issues
    if strict:
        report.raise_if_strict()
    _warn_dropped(issues, warn)
    return df, report


def validate_bars(
    bars: Any,
    *,
    strict: bool = False,
    warn: Callable[[str], None] | None = None,
    calendar: str = "XNYS",
) -> tuple[Any, QualityReport]:
    """Validate a :class:`~tsys.data.bars.Bars` panel; return it with untrusted bars blanked."""
    from tsys.data.bars import FIELDS

    fields = {f: getattr(bars, f) for f in FIELDS}
    drop, issues = check_panel(
        bars.index, bars.symbols, bars.asset_classes, fields, calendar=calendar
    )
    present = ~np.isnan(np.stack([fields[f] for f in FIELDS])).all(axis=0)
    report = QualityReport(
        source=bars.source, symbols=len(bars.symbols), rows=int(present.sum()), issues=issues
    )
    if strict:
        report.raise_if_strict()
    _warn_dropped(issues, warn)
    if drop.any():
        bars = bars.with_fields(**{f: np.where(drop, np.nan, fields[f]) for f in FIELDS})
    return bars, report


def _last_date() -> pd.Timestamp:
    return pd.Timestamp(dt.date.today() + dt.timedelta(days=366))


def unreadable_issue(symbol: str, exc: Any) -> Issue:
    """The report's entry for a file that could not be read (:class:`UnreadableFile`)."""
    return Issue(symbol, "unreadable_file", 1, (), 0, f"{exc.path}: {exc.reason}")


def as_date(x: Any) -> dt.date:
    return pd.Timestamp(x).date()
