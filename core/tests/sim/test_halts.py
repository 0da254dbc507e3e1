"""Halts in daily data (a day without volume): nothing fills on them, and a stop that meets one
fills at the first tradeable bar after it, at its open when that open is through the stop
(``shared/reference/RESEARCH.md``, "Small caps and halts"). Property-tested on random paths,
under both implementations, which must agree fill for fill."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tsys.sim import Capacity, CostModel, FeeModel, FixedSlippage, simulate

FREE = CostModel(FeeModel(), FixedSlippage(bps=0.0), Capacity(max_participation=None))


@st.composite
def halted_paths(draw):
    n = draw(st.integers(8, 40))
    steps = draw(st.lists(st.floats(-0.3, 0.3), min_size=n, max_size=n))
    close = 10.0 * np.exp(np.cumsum(steps))
    gaps = np.array(draw(st.lists(st.floats(-0.4, 0.4), min_size=n, max_size=n)))
    open_ = np.r_[close[0], close[:-1]] * np.exp(gaps)
    high = np.maximum(open_, close) * 1.02
    low = np.minimum(open_, close) * 0.98
    halted = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    halted[0] = False  # the entry decision's bar
    volume = np.where(halted, 0.0, 1e6)
    stop_frac = draw(st.floats(0.5, 0.98))
    return open_, high, low, close, volume, halted, stop_frac


def _run(p, impl):
    open_, high, low, close, volume, _halted, stop_frac = p
    n = len(close)
    qty = np.full((n, 1), math.nan)
    qty[0, 0] = 100.0
    stop = np.full((n, 1), math.nan)
    stop[0, 0] = close[0] * stop_frac
    bars = [np.ascontiguousarray(a.reshape(-1, 1)) for a in (open_, high, low, close, volume)]
    return simulate(*bars, target_qty=qty, stop_price=stop, costs=FREE, cash=1e6, impl=impl).fills


@settings(max_examples=150, deadline=None)
@given(halted_paths())
def test_a_stop_meeting_a_halt_fills_at_the_first_tradeable_open(p):
    open_, _high, low, _close, _volume, halted, stop_frac = p
    level = _close[0] * stop_frac
    by_impl = {impl: _run(p, impl) for impl in ("python", "cython")}
    f = by_impl["python"]
    cols = ["bar", "side", "qty", "price", "ref_price", "reason"]
    assert f[cols].equals(by_impl["cython"][cols])
    done = f[f.qty > 0]
    assert not halted[done.bar.to_numpy()].any(), "nothing fills on a halted bar"
    tradeable = np.flatnonzero(~halted)
    buys = done[done.side == "buy"]
    if not len(buys):
        assert not tradeable[tradeable > 0].size  # halted from the first open on
        return
    e = int(buys.bar.iloc[0])
    assert e == tradeable[tradeable > 0][0]  # the entry waits for the first tradeable open
    # The stop: the first tradeable bar from the entry bar on whose open or low reaches it
    # (a halted bar's low does not count); at the open when the open gapped through it.
    later = [t for t in tradeable if t >= e and (open_[t] <= level or low[t] <= level)]
    sells = done[done.side == "sell"]
    if not later:
        assert not len(sells)
        return
    t = later[0]
    assert sells.bar.tolist() == [t] and sells.reason.tolist() == ["stop"]
    want = open_[t] if open_[t] <= level else level
    assert sells.ref_price.iloc[0] == want
