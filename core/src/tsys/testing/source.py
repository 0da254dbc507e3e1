"""The data-source contract suite: what every :class:`~tsys.data.source.DataSource` must do.

A plugin's tests call :func:`data_source_contract_suite` with a source (pointed at the author's
loopback fake of their service, or at local files) and the symbols and dates it has bars for::

    def test_contract(source):
        data_source_contract_suite(source, ["AAA", "BTC-USD"], date(2024, 1, 2), date(2024, 3, 28))

Checks: bars (a panel of the asked symbols, stamped at UTC midnight, sorted and unique, inside
the asked dates, nothing after ``end``: no look-ahead); the calendar (equity bars only on
exchange sessions); units (each column's volume unit is the one the source declares);
validation (no bar that tsys's loader would drop or strict mode refuse); what it provides
(``provides`` names only known capabilities, and an optional method it does not provide
answers None).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd

from tsys.contracts import AssetClass
from tsys.data.bars import Bars, VolumeUnit
from tsys.data.source import OPTIONAL_DATA
from tsys.testing.checks import CheckResult, run_checks

#: The result of one data-source check.
SourceCheck = CheckResult


@attrs.define
class _Case:
    source: Any
    symbols: list[str]
    start: dt.date
    end: dt.date
    calendar: str
    _bars: Bars | None = None

    def bars(self) -> Bars:
        if self._bars is None:
            got = self.source.bars(self.symbols, self.start, self.end)
            assert isinstance(got, Bars), f"bars() returned {type(got).__name__}, not Bars"
            self._bars = got
        return self._bars


def _check_bars(case: _Case) -> str:
    b = case.bars()
    assert len(b.index), "no bars for the asked symbols and dates"
    assert set(b.symbols) <= set(case.symbols), (
        f"unasked symbols {set(b.symbols) - set(case.symbols)}"
    )
    missing = set(case.symbols) - set(b.symbols)
    assert not missing, f"no bars for {sorted(missing)}"
    idx = pd.DatetimeIndex(b.index)
    assert idx.tz is not None and str(idx.tz) == "UTC", f"index time zone {idx.tz}, not UTC"
    assert (idx == idx.normalize()).all(), "bars must be stamped at midnight UTC (the session date)"
    assert idx.is_monotonic_increasing and idx.is_unique, "dates must be sorted and unique"
    first, last = idx[0].date(), idx[-1].date()
    assert first >= case.start, f"a bar on {first}, before start {case.start}"
    assert last <= case.end, f"a bar on {last}, after end {case.end} (look-ahead)"
    return f"{len(b.symbols)} symbols x {len(idx)} days, {first} .. {last}"


def _check_point_in_time(case: _Case) -> str:
    cut = case.end - dt.timedelta(days=7)
    b = case.source.bars(case.symbols, case.start, cut)
    assert isinstance(b, Bars)
    if len(b.index):
        assert b.index[-1].date() <= cut, f"asked up to {cut}, got {b.index[-1].date()}"
    full = case.bars()
    both = full.index[full.index <= pd.Timestamp(cut, tz="UTC")]
    for s in b.symbols:
        j, k = b.column(s), full.column(s)
        rows = np.searchsorted(full.index, b.index)
        same = np.isclose(b.close[:, j], full.close[rows, k], equal_nan=True)
        assert same.all(), f"{s}: a shorter request changed past closes"
    return f"up to {cut}: {len(both)} days, the same closes"


def _check_calendar(case: _Case) -> str:
    from tsys.data import calendars

    b = case.bars()
    sessions = {d.date() for d in calendars.sessions(case.start, case.end, case.calendar)}
    bad = []
    for j, ac in enumerate(b.asset_classes):
        if AssetClass(ac) is not AssetClass.EQUITY:
            continue
        have = ~np.isnan(b.close[:, j])
        days = {d.date() for d, h in zip(b.index, have, strict=True) if h}
        off = sorted(days - sessions)
        if off:
            bad.append(
                f"{b.symbols[j]} on {off[0]}" + (f" (+{len(off) - 1})" if len(off) > 1 else "")
            )
    assert not bad, "equity bars on closed days: " + ", ".join(bad)
    return f"equity bars only on {case.calendar} sessions"


def _check_units(case: _Case) -> str:
    b = case.bars()
    for s, ac, unit in zip(b.symbols, b.asset_classes, b.volume_units, strict=True):
        declared = case.source.volume_unit(ac)
        assert isinstance(unit, VolumeUnit), f"{s}: volume unit {unit!r}"
        assert unit is declared, (
            f"{s}: bars say volume in {unit.value}, the source declares {declared.value}"
        )
    return ", ".join(
        sorted(
            {
                f"{AssetClass(a).value} {u.value}"
                for a, u in zip(b.asset_classes, b.volume_units, strict=True)
            }
        )
    )


def _check_validation(case: _Case) -> str:
    from tsys.data.validate import validate_bars

    _, report = validate_bars(case.bars(), calendar=case.calendar)
    strict = report.strict_issues()
    dropped = report.rows_dropped
    assert not strict and not dropped, "bars tsys would not trust: " + "; ".join(
        f"{i.symbol} {i.rule}" for i in (strict or report.issues)[:5]
    )
    return f"{report.rows} rows, none dropped"


def _check_provides(case: _Case) -> str:
    src = case.source
    provides = set(getattr(src, "provides", {"bars"}))
    unknown = provides - {"bars", *OPTIONAL_DATA}
    assert not unknown, f"provides names unknown capabilities {sorted(unknown)}"
    args: dict[str, tuple] = {
        "universe": ("sp500", case.end),
        "market_caps": (case.start, case.end),
        "excluded_coins": (),
        "fundamentals": (case.symbols,),
        "news": (case.symbols, case.start, case.end),
        "earnings": (case.symbols, case.start, case.end),
        "options_flow": (case.start, case.end),
    }
    for name in OPTIONAL_DATA:
        if name in provides or name not in args:
            continue
        got = getattr(src, name)(*args[name])
        assert got is None, f"{name}() answered though 'provides' does not name it"
    return ", ".join(sorted(provides))


CHECKS: dict[str, Callable[[_Case], str]] = {
    "bars": _check_bars,
    "point_in_time": _check_point_in_time,
    "calendar": _check_calendar,
    "units": _check_units,
    "validation": _check_validation,
    "provides": _check_provides,
}


def data_source_contract_suite(
    source: Any,
    symbols: Sequence[str],
    start: dt.date,
    end: dt.date,
    *,
    calendar: str = "XNYS",
    skip: Sequence[str] = (),
) -> list[SourceCheck]:
    """Run every data-source check on ``source`` for ``symbols`` from ``start`` to ``end``
    (dates it has bars for); raise AssertionError listing each failure."""
    case = _Case(source, list(symbols), start, end, calendar)
    subject = f"data source {getattr(source, 'name', source)!r}"
    return run_checks(CHECKS, (case,), subject=subject, skip=skip)
