"""The daily run's latest-only mode: news and earnings for today's candidates only, and the
last row exactly as in a full-history computation."""

from __future__ import annotations

import datetime as dt

import attrs
import numpy as np
from tsys_bucket_sp500.bucket import DAILY_EVENT_CHECKS, Params, Sp500Bucket

from tsys.data.demo import DemoSource
from tsys.testing import memory_context

AS_OF = dt.date(2024, 6, 28)

MEMBERS = Params(mode="members")


class Recording(DemoSource):
    """The demo market, remembering which symbols news and earnings were asked for."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked: list[tuple[str, tuple[str, ...], dt.date, dt.date]] = []

    def news(self, symbols, start, end):
        self.asked.append(("news", tuple(symbols), start, end))
        return super().news(symbols, start, end)

    def earnings(self, symbols, start, end):
        self.asked.append(("earnings", tuple(symbols), start, end))
        return super().earnings(symbols, start, end)


def test_last_row_identical_and_inputs_limited_to_candidates():
    src = Recording(seed=7, as_of=AS_OF)
    symbols = [*src.universe("sp500", AS_OF)[:150], "SPY"]
    bars = src.bars(symbols, dt.date(2022, 1, 1), AS_OF)
    params = MEMBERS
    full_ctx = memory_context(src, AS_OF)
    full = Sp500Bucket().compute(full_ctx, bars, params)
    full_asked = list(src.asked)
    src.asked.clear()
    daily_ctx = attrs.evolve(memory_context(src, AS_OF), latest_only=True)
    daily = Sp500Bucket().compute(daily_ctx, bars, params)

    last = bars.shape[0] - 1
    cand = np.isfinite(full.score[last])
    assert cand.sum() > DAILY_EVENT_CHECKS, "the test needs more candidates than are checked"
    order = np.argsort(-np.where(cand, full.score[last], -np.inf), kind="stable")
    checked = np.zeros_like(cand)
    checked[order[:DAILY_EVENT_CHECKS]] = True
    for name, a in full.arrays().items():
        b = daily.arrays()[name]
        if name == "blocked":
            # Only the checked candidates are looked up.
            assert np.array_equal(a[last][checked], b[last][checked]), name
            assert not b[last][~checked].any()
        elif name == "entries":
            # The checked candidates enter exactly as in the full computation; the rest wait.
            assert np.array_equal(a[last][checked], b[last][checked]), name
            assert not b[last][~checked].any()
        else:
            assert np.array_equal(a[last], b[last], equal_nan=True), name
    full_reasons = {k: v for k, v in full.block_reasons.items() if k[0] == last and checked[k[1]]}
    daily_reasons = {k: v for k, v in daily.block_reasons.items() if k[0] == last}
    assert daily_reasons == full_reasons
    assert full.blocked[last][checked].any(), "some checked candidate should be blocked"

    news_calls = [c for c in src.asked if c[0] == "news"]
    asked = {s for c in news_calls for s in c[1]}
    assert asked == {bars.symbols[j] for j in np.flatnonzero(checked)}
    assert all(c[2] >= AS_OF - dt.timedelta(days=params.news_days) for c in news_calls)
    full_news = {s for c in full_asked if c[0] == "news" for s in c[1]}
    assert len(full_news) > 2 * len(asked)
