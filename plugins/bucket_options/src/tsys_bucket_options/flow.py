"""Unusual options-flow alerts laid on the bars panel, without looking ahead.

**When an alert can act.** A daily decision is taken after a session's close and executes at
the next open. An alert belongs to the row of its New York date when that date is a session
(an alert at 15:59 and one at 16:01 both belong to that session and act at the next open), and
to the next session's row otherwise (a weekend or holiday alert acts at the open after that
session). A pre-market alert belongs to its own session too, so it acts one session later than
a trader at the screen could: the rule never needs a price or an alert from after the row.
Alerts dated before the panel's first session, or after its last, are left out.
A source's ``session`` column is not trusted for this; the time is.

Panels (T x N, float): premium that qualifies for the "follow" rule, and every call's and
every put's premium, summed per row and symbol.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import attrs
import numpy as np
import pandas as pd

NEW_YORK = ZoneInfo("America/New_York")


@attrs.frozen(eq=False)
class FlowPanels:
    follow: np.ndarray  # premium of follow-qualifying alerts
    calls: np.ndarray  # every call's premium
    puts: np.ndarray  # every put's premium
    rows: np.ndarray  # (n,) row of each alert kept (-1: outside the panel)
    cols: np.ndarray  # (n,) column of each alert kept (-1: not in the panel)
    frame: pd.DataFrame  # the alerts, with ``row`` and ``col``
    unknown: tuple[str, ...]  # follow conditions the flow data cannot say (columns absent)


def alert_rows(timestamps: pd.Series, index: pd.DatetimeIndex) -> np.ndarray:
    """The decision row of each alert time (see the module docstring); -1 beyond the panel."""
    if not len(timestamps):
        return np.zeros(0, dtype=np.int64)
    ts = pd.to_datetime(timestamps, utc=True)
    et_days = ts.dt.tz_convert(NEW_YORK).dt.tz_localize(None).dt.normalize().to_numpy()
    days = index.tz_convert(None) if index.tz is not None else index
    days = np.asarray(days.normalize(), dtype="datetime64[ns]")
    et_days = et_days.astype("datetime64[ns]")
    rows = np.searchsorted(days, et_days, side="left")
    inside = (rows < len(days)) & (et_days >= days[0]) if len(days) else rows < 0
    return np.where(inside, rows, -1).astype(np.int64)


def _flag(frame: pd.DataFrame, name: str) -> np.ndarray | None:
    if name not in frame.columns:
        return None
    col = frame[name]
    if col.dtype == bool:
        return col.to_numpy()
    return col.astype(str).str.lower().isin(["true", "1", "yes"]).to_numpy()


def build_panels(
    frame: pd.DataFrame | None,
    index: pd.DatetimeIndex,
    symbols: list[str],
    *,
    min_premium: float,
    ask_only: bool,
    sweep_only: bool,
    opening_only: bool,
    max_dte: int,
) -> FlowPanels:
    T, N = len(index), len(symbols)
    follow, calls, puts = (np.zeros((T, N)) for _ in range(3))
    if frame is None or not len(frame):
        empty = pd.DataFrame(columns=["timestamp", "symbol", "option_type", "premium"])
        z = np.zeros(0, dtype=np.int64)
        return FlowPanels(follow, calls, puts, z, z, empty, ())
    f = frame.reset_index(drop=True).copy()
    rows = alert_rows(f["timestamp"], index)
    col = {s: j for j, s in enumerate(symbols)}
    cols = np.array([col.get(s, -1) for s in f["symbol"].astype(str)], dtype=np.int64)
    f["row"], f["col"] = rows, cols
    prem = pd.to_numeric(f["premium"], errors="coerce").to_numpy(dtype=float)
    kind = f["option_type"].astype(str).str.lower().to_numpy()
    ok = (rows >= 0) & (cols >= 0) & np.isfinite(prem) & (prem > 0)
    is_call, is_put = ok & (kind == "call"), ok & (kind == "put")
    np.add.at(calls, (rows[is_call], cols[is_call]), prem[is_call])
    np.add.at(puts, (rows[is_put], cols[is_put]), prem[is_put])
    qual = is_call & (prem >= min_premium)
    unknown = []
    if ask_only:
        if "side" in f.columns:
            qual &= f["side"].astype(str).to_numpy() == "ask"
        else:
            unknown.append("ask side")
    for wanted, name in ((sweep_only, "sweep"), (opening_only, "opening")):
        if wanted:
            flags = _flag(f, name)
            if flags is None:
                unknown.append(name)
            else:
                qual &= flags
    if "dte" in f.columns:
        dte = pd.to_numeric(f["dte"], errors="coerce").to_numpy(dtype=float)
        qual &= ~(dte > max_dte)  # unknown DTE passes
    if "nonstandard" in f.columns:
        qual &= ~_flag(f, "nonstandard")
    np.add.at(follow, (rows[qual], cols[qual]), prem[qual])
    return FlowPanels(follow, calls, puts, rows, cols, f, tuple(unknown))


def rolling_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Sum of the last ``window`` rows (this one included), causal."""
    c = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), x]), axis=0)
    w = max(1, int(window))
    out = c[1:] - c[np.maximum(np.arange(1, len(c)) - w, 0)]
    return out
