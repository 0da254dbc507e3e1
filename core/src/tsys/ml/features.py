"""Point-in-time features of a bucket's entry events.

Every feature of an event at the close of bar ``t`` is computed from rows ``<= t`` of the
panel (the indicators are causal; cross-sectional ranks compare symbols on row ``t`` only):

- the bucket's own view: its score, the score's cross-sectional rank, every numeric T x N
  ``extras`` panel it publishes (the values its rationale is built from), its regime;
- the symbol's trend (5/21/63-day returns, distance from the 50- and 200-day averages, 126-day
  trend R^2), volatility (21-day, its ratio to the 63-day, ATR as a share of the close) and
  volume (today's and the 5-day volume against the prior 20-day average);
- cross-sectional ranks of the 21-day return and of the volatility;
- the market: the benchmark's 21/63-day returns, 21-day volatility and distance from its
  200-day average;
- news sentiment, where the data hub has news (:func:`news_panels`): the mean sentiment and the
  number of news days over the last 5 and 21 sessions. A news item dated day ``d`` counts from
  the first bar *after* ``d`` (its headlines may come after that day's close); before a
  symbol's first news item is known its values are missing, not zero.
:func:`feature_panels` returns every feature as a T x N panel (market features broadcast), so
the look-ahead audit can compare whole panels row by row.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tsys import indicators as ind


def _ret(close: np.ndarray, k: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return close / ind.shift(close, k) - 1.0


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isfinite(b) & (b != 0), a / b - 1.0, np.nan)


def symbol_panels(bars: Any) -> dict[str, np.ndarray]:
    """Trend, volatility and volume features of every symbol (T x N each)."""
    close = np.asarray(bars.close, dtype=np.float64)
    vol = np.asarray(bars.volume, dtype=np.float64)
    v21 = ind.volatility(close, 21)
    prior_vol = ind.shift(ind.sma(vol, 20), 1)
    out = {
        "ret_5": _ret(close, 5),
        "ret_21": _ret(close, 21),
        "ret_63": _ret(close, 63),
        "dist_sma50": _ratio(close, ind.sma(close, 50)),
        "dist_sma200": _ratio(close, ind.sma(close, 200)),
        "trend_r2_126": ind.trend_r2(close, 126),
        "vol_21": v21,
        "vol_ratio_21_63": _ratio(v21, ind.volatility(close, 63)),
        "atr_pct": _ratio(ind.atr(bars.high, bars.low, close, 14), close) + 1.0,
        "volume_ratio": _ratio(vol, prior_vol),
        "volume_ratio_5": _ratio(ind.sma(vol, 5), prior_vol),
    }
    out["rank_ret_21"] = ind.cross_rank(out["ret_21"])
    out["rank_vol_21"] = ind.cross_rank(v21)
    return out


def market_panels(bars: Any, benchmark: str | None) -> dict[str, np.ndarray]:
    """The benchmark's trend and volatility (length-T columns; NaN without a benchmark)."""
    T = bars.shape[0]
    if not benchmark or benchmark not in bars.symbols:
        nan = np.full(T, np.nan)
        return {k: nan for k in ("mkt_ret_21", "mkt_ret_63", "mkt_vol_21", "mkt_dist_sma200")}
    c = np.asarray(bars.close[:, [bars.column(benchmark)]], dtype=np.float64)
    return {
        "mkt_ret_21": _ret(c, 21)[:, 0],
        "mkt_ret_63": _ret(c, 63)[:, 0],
        "mkt_vol_21": ind.volatility(c, 21)[:, 0],
        "mkt_dist_sma200": _ratio(c, ind.sma(c, 200))[:, 0],
    }


def bucket_panels(output: Any, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """The bucket's score, its rank, its numeric extras panels and its regime."""
    T, N = shape
    score = np.asarray(output.score, dtype=np.float64)
    out = {"score": score, "rank_score": ind.cross_rank(score)}
    for name in sorted(output.extras):
        if name == "size_factor":  # the meta-model's own output (size mode), not a feature
            continue
        a = np.asarray(output.extras[name])
        if a.shape == (T, N) and np.issubdtype(a.dtype, np.number):
            out[f"x_{name}"] = a.astype(np.float64)
    regime = output.regime if output.regime is not None else np.ones(T)
    out["regime"] = np.broadcast_to(np.asarray(regime, dtype=np.float64)[:, None], (T, N))
    return out


#: Sessions over which the news features average.
NEWS_WINDOWS = (5, 21)
#: Calendar days of news loaded before the first bar (the first window's warm-up).
NEWS_LOOKBACK_DAYS = 40


def uses_news(names: list[str] | None) -> bool:
    """Whether a feature list (a model's; None: every feature) reads the news panels."""
    return names is None or any(n.startswith("news_") for n in names)


def news_frame(hub: Any, bars: Any) -> Any:
    """The hub's news for the panel's symbols and dates (None: no source provides news)."""
    import datetime as dt

    from tsys.errors import TsysError

    if hub is None or not bars.shape[0] or not hasattr(hub, "news"):
        return None
    start = bars.index[0].date() - dt.timedelta(days=NEWS_LOOKBACK_DAYS)
    try:
        return hub.news(list(bars.symbols), start, bars.index[-1].date())
    except TsysError:
        return None


def news_panels(bars: Any, news: Any) -> dict[str, np.ndarray]:
    """Mean sentiment and news-day counts over the last :data:`NEWS_WINDOWS` sessions (T x N;
    see the module docstring for when an item counts)."""
    import pandas as pd

    T, N = bars.shape
    s_sum, n_sum = np.zeros((T, N)), np.zeros((T, N))
    if news is not None and len(news):
        idx = bars.index.tz_convert(None) if bars.index.tz is not None else bars.index
        days = np.asarray(idx.normalize(), dtype="datetime64[ns]")
        when = pd.to_datetime(news["date"], utc=True).dt.tz_convert(None).dt.normalize()
        pos = np.searchsorted(days, np.asarray(when, dtype="datetime64[ns]"), side="right")
        cols = {sym: j for j, sym in enumerate(bars.symbols)}
        j = np.array([cols.get(sym, -1) for sym in news["symbol"]], dtype=np.int64)
        x = pd.to_numeric(news["sentiment"], errors="coerce").to_numpy(dtype=np.float64)
        ok = (j >= 0) & (pos < T) & np.isfinite(x)
        np.add.at(s_sum, (pos[ok], j[ok]), x[ok])
        np.add.at(n_sum, (pos[ok], j[ok]), 1.0)
    seen = np.cumsum(n_sum, axis=0) > 0
    out = {}
    for k in NEWS_WINDOWS:
        s_k = _trailing_sum(s_sum, k)
        n_k = _trailing_sum(n_sum, k)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"news_sent_{k}"] = np.where(n_k > 0, s_k / n_k, np.nan)
        out[f"news_count_{k}"] = np.where(seen, n_k, np.nan)
    return out


def _trailing_sum(a: np.ndarray, k: int) -> np.ndarray:
    c = np.cumsum(a, axis=0)
    out = c.copy()
    out[k:] -= c[:-k]
    return out


def feature_panels(
    bars: Any, output: Any, benchmark: str | None, news: Any = None
) -> dict[str, np.ndarray]:
    """Every feature as a T x N panel, by name (sorted within each group). ``news`` (the hub's
    news frame, :func:`news_frame`) adds the news features; None leaves them out."""
    T, N = bars.shape
    panels = {**bucket_panels(output, (T, N)), **symbol_panels(bars)}
    for k, v in market_panels(bars, benchmark).items():
        panels[k] = np.broadcast_to(v[:, None], (T, N))
    if news is not None:
        panels.update(news_panels(bars, news))
    return panels


def feature_matrix(
    panels: dict[str, np.ndarray], t: np.ndarray, j: np.ndarray, names: list[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """The features of events ``(t, j)``: an (n, F) matrix (NaN allowed) and its column names.

    ``names`` fixes the columns (a trained model's list; a missing panel gives NaN).
    """
    names = list(panels) if names is None else list(names)
    X = np.full((len(t), len(names)), np.nan)
    for k, name in enumerate(names):
        p = panels.get(name)
        if p is not None:
            X[:, k] = p[t, j]
    X[~np.isfinite(X)] = np.nan
    return X, names
