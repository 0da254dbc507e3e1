"""Turn recent news sentiment into blockers: symbols whose news is strongly negative."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd


def negative_news_blockers(
    news_frame: pd.DataFrame, as_of: dt.date, lookback_days: int, threshold: float
) -> dict[str, str]:
    """Return ``{symbol: reason}`` for symbols whose recent news sentiment is below ``threshold``.

    Only rows dated in ``(as_of - lookback_days, as_of]`` count, so nothing after ``as_of`` can
    fire a blocker (no look-ahead). A symbol's score is the relevance-weighted mean of its
    article sentiments (a missing relevance weighs 1; a zero relevance does not count).

    Parameters
    ----------
    news_frame
        Rows with :data:`tsys.data.source.NEWS_COLUMNS` (``sentiment`` in -1..1).
    as_of
        The decision date.
    lookback_days
        Days of news that count, ``as_of`` included (1 = that day only).
    threshold
        Block when the score is strictly below this (e.g. -0.5).

    Returns
    -------
    dict of str to str
        The reason reads like "news sentiment -0.62 over 3 days (4 articles) is below -0.50;
        most negative: <title>".
    """
    if lookback_days < 1:
        raise ValueError(f"lookback_days must be at least 1, got {lookback_days}")
    if news_frame is None or len(news_frame) == 0:
        return {}
    dates = pd.to_datetime(news_frame["date"]).dt.normalize()
    hi = pd.Timestamp(as_of)
    lo = hi - pd.Timedelta(days=lookback_days - 1)
    window = news_frame.loc[(dates >= lo) & (dates <= hi)]
    window = window[pd.to_numeric(window["sentiment"], errors="coerce").notna()]
    out: dict[str, str] = {}
    for sym, rows in window.groupby("symbol", sort=True):
        sent = pd.to_numeric(rows["sentiment"]).to_numpy(dtype=float)
        rel = pd.to_numeric(rows["relevance"], errors="coerce").fillna(1.0).to_numpy(dtype=float)
        total = float(rel.sum())
        if total <= 0.0:
            continue
        score = float((sent * rel).sum() / total)
        if not math.isfinite(score) or score >= threshold:
            continue
        worst = rows.iloc[int(sent.argmin())]
        title = str(worst.get("title") or "").strip()
        reason = (
            f"news sentiment {score:+.2f} over {lookback_days} day(s) "
            f"({len(rows)} article(s)) is below {threshold:+.2f}"
        )
        if title:
            reason += f"; most negative: {title}"
        out[str(sym)] = reason
    return out
