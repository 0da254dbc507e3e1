"""Event-risk blockers of Bucket A's "members" mode: earnings dates and negative news."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tsys.api import indicators as ind

if TYPE_CHECKING:
    from tsys_bucket_sp500.bucket import Params


def block_earnings(
    earn: pd.DataFrame,
    day_ns: np.ndarray,
    col: dict[str, int],
    params: Params,
    blocked: np.ndarray,
    reasons: dict[tuple[int, int], str],
) -> None:
    """Block the ``earnings_days`` calendar days before each report, up to the report day."""
    dates = pd.to_datetime(earn["date"], utc=True).dt.tz_convert(None).dt.normalize()
    cols = earn["symbol"].map(col)
    ok = (cols.notna() & dates.notna()).to_numpy()
    if not ok.any():
        return
    jj = cols.to_numpy()[ok].astype(np.int64)
    report = dates.to_numpy(dtype="datetime64[ns]")[ok]
    # Earnings dates are announced weeks ahead, so knowing them at t is fair.
    lo = np.searchsorted(day_ns, report - np.timedelta64(params.earnings_days, "D"))
    hi = np.searchsorted(day_ns, report, side="right")
    length = np.maximum(hi - lo, 0)
    which = np.repeat(np.arange(len(jj)), length)
    offset = np.arange(len(which)) - np.repeat(np.cumsum(length) - length, length)
    t = lo[which] + offset
    j = jj[which]
    blocked[t, j] = True
    gap = ((report[which] - day_ns[t]) // np.timedelta64(1, "D")).astype(np.int64)
    # The first report (in the source's order) covering a cell names the reason.
    _, first = np.unique(t * blocked.shape[1] + j, return_index=True)
    first.sort()
    for tk, jk, n in zip(t[first].tolist(), j[first].tolist(), gap[first].tolist(), strict=True):
        reasons.setdefault((tk, jk), _earnings_reason(n))


def block_news(
    news: pd.DataFrame,
    day_ns: np.ndarray,
    symbols: list[str],
    params: Params,
    blocked: np.ndarray,
    reasons: dict[tuple[int, int], str],
) -> None:
    """Block where the mean daily sentiment of the last ``news_days`` days is too low."""
    one = np.timedelta64(1, "D")
    stamp = pd.to_datetime(news["date"], utc=True).dt.tz_convert(None).dt.normalize()
    day = stamp.to_numpy(dtype="datetime64[ns]")
    sent = pd.to_numeric(news["sentiment"], errors="coerce").to_numpy(dtype=np.float64)
    j_all = pd.Index(symbols).get_indexer(news["symbol"])
    keep = np.isfinite(sent) & (j_all >= 0) & ~np.isnat(day) & (day <= day_ns[-1])
    if not keep.any():
        return
    day, sent, j_all = day[keep], sent[keep], j_all[keep]
    titles = news["title"].to_numpy(dtype=object)[keep]
    # Calendar days from the first article (or bar) to the last bar: a bar after the newest
    # article still sees the articles inside its window.
    first = min(day.min(), day_ns[0])
    n_days = int((day_ns[-1] - first) // one) + 1
    pos = ((day - first) // one).astype(np.int64)
    # One group per (symbol, calendar day), ordered by symbol column then day.
    key = j_all.astype(np.int64) * n_days + pos
    dkey, dmean = _by_key(key, sent, "mean")
    used, where = np.unique(dkey // n_days, return_inverse=True)
    cal = np.full((n_days, len(used)), np.nan)
    cal[dkey % n_days, where] = dmean.astype(np.float64)
    # Mean over the last news_days calendar days up to and including each bar.
    roll = ind.sma(cal, params.news_days, min_periods=1)
    bar_pos = ((day_ns - first) // one).astype(np.int64)
    at = roll[bar_pos]
    with np.errstate(invalid="ignore"):
        bad_t, bad_k = np.nonzero(at < params.news_block)
    if not len(bad_t):
        return
    bad_j = used[bad_k]
    # A cell an earlier blocker (earnings) holds keeps that blocker's reason.
    fresh = ~blocked[bad_t, bad_j]
    blocked[bad_t, bad_j] = True
    bad_t, bad_k, bad_j = bad_t[fresh], bad_k[fresh], bad_j[fresh]
    # The headline behind the block: the most negative titled article inside the window
    # (ties: the later one), so the reason names the news that did the damage.
    if pd.api.types.infer_dtype(titles, skipna=False) == "string":
        titled = titles != ""
    else:
        titled = np.array([isinstance(x, str) and x != "" for x in titles], dtype=bool)
    rows = np.flatnonzero(titled)
    # Per (symbol, day) key, its most negative titled article: rows ordered by key, then
    # sentiment descending, then source order, so the last row of a key is the one.
    by_key = np.argsort(key[rows], kind="stable")
    k_sorted = key[rows][by_key]
    if bool(np.all(k_sorted[1:] != k_sorted[:-1])):
        best = rows[by_key]  # at most one titled article per key (the usual case)
    else:
        order = np.lexsort((rows, -sent[rows], key[rows]))
        k_order = key[rows][order]
        best = rows[order][np.r_[k_order[1:] != k_order[:-1], True]]
    # Calendar day x symbol column -> that article's row (-1: none).
    pick = np.full((n_days, len(used)), -1, dtype=np.int64)
    pick[key[best] % n_days, np.searchsorted(used, key[best] // n_days)] = best
    head = np.full(len(bad_t), -1, dtype=np.int64)
    worst = np.full(len(bad_t), np.inf)
    at_day = bar_pos[bad_t]
    for back in range(params.news_days):  # the calendar days of the window, newest first
        day_k = np.maximum(at_day - back, 0)
        row = np.where(at_day - back >= 0, pick[day_k, bad_k], -1)
        s_row = np.where(row >= 0, sent[row], np.inf)
        better = s_row < worst
        worst[better] = s_row[better]
        head[better] = row[better]
    values = at[bad_t, bad_k]
    uniq, inv = np.unique(values, return_inverse=True)
    shown = np.array(
        [f"negative news ({v:+.2f} over {params.news_days}d): " for v in uniq.tolist()],
        dtype=object,
    )[inv]
    msgs = shown + np.where(head >= 0, titles[np.maximum(head, 0)], "blocked")
    cells = zip(bad_t.tolist(), bad_j.tolist(), strict=True)
    reasons.update(zip(cells, msgs.tolist(), strict=True))


def _earnings_reason(days: int) -> str:
    """ "earnings today: blocked", "earnings in 1 day: blocked", "earnings in 3 days: blocked"."""
    if days == 0:
        return "earnings today: blocked"
    return f"earnings in {days} day{'s' if days != 1 else ''}: blocked"


def _by_key(key: np.ndarray, values: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """The distinct integer keys (ascending) and ``values`` reduced per key by "mean" or "last".

    Keys are usually unique (one article per symbol and day): then each group is its single
    value, exactly what the group-by returns, without the cost of grouping.
    """
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    if not len(ordered) or bool(np.all(ordered[1:] != ordered[:-1])):
        return ordered, values[order]
    grouped = pd.Series(values, dtype=values.dtype).groupby(key)
    out = grouped.mean() if how == "mean" else grouped.last()
    return out.index.to_numpy(), out.to_numpy(dtype=values.dtype)
