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
    sent = pd.to_numeric(window["sentiment"], errors="coerce")
    rel = pd.to_numeric(window["relevance"], errors="coerce").fillna(1.0)
    keep = sent.notna()
    window, sent, rel = window[keep], sent[keep], rel[keep]
    if window.empty:
        return {}
    sums = pd.DataFrame({"symbol": window["symbol"], "w": rel, "ws": sent * rel, "n": 1.0})
    agg = sums.groupby("symbol", sort=True)[["w", "ws", "n"]].sum()
    agg = agg[agg["w"] > 0.0]
    scores = agg["ws"] / agg["w"]
    out: dict[str, str] = {}
    for sym, score in scores[scores < threshold].items():
        if not math.isfinite(score):
            continue
        rows = window[window["symbol"] == sym]
        worst = rows.loc[sent[rows.index].idxmin()]
        title = str(worst.get("title") or "").strip()
        reason = (
            f"news sentiment {score:+.2f} over {lookback_days} day(s) "
            f"({int(agg.at[sym, 'n'])} article(s)) is below {threshold:+.2f}"
        )
        if title:
            reason += f"; most negative: {title}"
        out[str(sym)] = reason
    return out
