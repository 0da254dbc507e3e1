"""News-sentiment features: point in time (an item counts from the bar after its day)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ml_market import SYMBOLS, CoinBucket, market
from test_lookahead import MetaAudited

from tsys.ml.features import NEWS_WINDOWS, feature_panels, news_frame, news_panels
from tsys.testing import InMemorySource, LookaheadError, lookahead_audit, memory_context


def _news(bars, seed=0, share=0.3):
    rng = np.random.default_rng(seed)
    rows = []
    for t, day in enumerate(bars.index):
        for sym in SYMBOLS[:4]:  # two symbols without any news
            if t > 40 and rng.random() < share:
                rows.append((day.normalize(), sym, float(rng.uniform(-1, 1))))
    frame = pd.DataFrame(rows, columns=["date", "symbol", "sentiment"])
    for col in ("relevance", "title", "url", "source"):
        frame[col] = np.nan if col == "relevance" else ""
    return frame


@pytest.fixture(scope="module")
def bars():
    return market(planted=False, n_days=400)


def test_an_item_counts_from_the_next_bar_and_means_are_right(bars):
    news = _news(bars)
    p = news_panels(bars, news)
    j = bars.column(SYMBOLS[0])
    mine = news[news["symbol"] == SYMBOLS[0]]
    t = 200
    day = bars.index[t].normalize()
    window = bars.index[t - NEWS_WINDOWS[0]].normalize()
    # the items known at the close of t: dated before t's day, on or after the window's start
    known = mine[(mine["date"] < day) & (mine["date"] >= window)]
    assert p["news_count_5"][t, j] == len(known)
    if len(known):
        assert p["news_sent_5"][t, j] == pytest.approx(known["sentiment"].mean())
    # symbols without news have missing values, not zeros; so do rows before the first item
    k = bars.column(SYMBOLS[5])
    assert np.isnan(p["news_count_21"][:, k]).all() and np.isnan(p["news_sent_21"][:, k]).all()
    assert np.isnan(p["news_count_5"][:40, j]).all()


@pytest.mark.parametrize("t", [120, 250, 398])
def test_news_on_or_after_a_bars_day_does_not_change_that_bar(bars, t):
    news = _news(bars)
    ref = news_panels(bars, news)
    day = bars.index[t].normalize()
    later = news["date"] >= day
    changed = news.copy()
    changed.loc[later, "sentiment"] = -changed.loc[later, "sentiment"]
    extra = pd.DataFrame(
        {"date": [day] * 4, "symbol": list(SYMBOLS[:4]), "sentiment": [1.0] * 4}
    ).assign(relevance=np.nan, title="", url="", source="")
    changed = pd.concat([changed, extra], ignore_index=True)
    got = news_panels(bars, changed)
    for name, a in ref.items():
        np.testing.assert_array_equal(a[: t + 1], got[name][: t + 1], err_msg=name)
    if t + 1 < bars.shape[0]:  # the same-day items count from the next bar on
        assert any(
            not np.array_equal(a[t + 1], got[n][t + 1], equal_nan=True) for n, a in ref.items()
        )


class NewsAudited(MetaAudited):
    """The coin bucket publishing its feature panels with the news of its context's hub."""

    def compute(self, ctx, bars, params):
        out = CoinBucket.compute(self, ctx, bars, params)
        panels = feature_panels(bars, out, self.benchmark, news_frame(ctx.data, bars))
        if self.leak:  # a deliberately broken feature: news of the bar's own day
            shifted = {k: np.vstack([v[1:], v[-1:]]) for k, v in panels.items() if "news" in k}
            panels = {**panels, **shifted}
        out.extras = {f"f_{k}": np.array(v) for k, v in panels.items()}
        return out


def test_news_features_pass_the_lookahead_audit(bars):
    ctx = memory_context(InMemorySource(bars, news=_news(bars)), bars.index[-1].date())
    bucket = NewsAudited()
    params = bucket.default_params()
    assert {"f_news_sent_5", "f_news_count_21"} <= set(bucket.compute(ctx, bars, params).extras)
    cuts = [150, 300, bars.shape[0] - 2]
    assert lookahead_audit(bucket, ctx, bars, params, cut_points=cuts) == cuts
    with pytest.raises(LookaheadError, match="f_news"):
        lookahead_audit(NewsAudited(leak=True), ctx, bars, params, cut_points=[300])
