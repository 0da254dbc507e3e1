"""Interest on idle cash: accrual by calendar days or per bar, reported apart from trading."""

import math

import numpy as np
import pandas as pd
import pytest

from tsys.errors import ContractError
from tsys.sim import Capacity, CostModel, FeeModel, FixedSlippage, simulate, simulate_grid

NAN = math.nan
FREE = CostModel(FeeModel(), FixedSlippage(bps=0.0), Capacity(None))


def flat(T, N=1, px=100.0):
    a = np.full((T, N), px)
    return a, a.copy(), a.copy(), a.copy(), np.full((T, N), 1e6)


def test_idle_cash_compounds_by_calendar_days():
    # Thu, Fri, Mon (3 days), Tue: nothing traded, 5% a year on all of the cash
    idx = pd.DatetimeIndex(["2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"])
    res = simulate(*flat(4), target_weights=np.full((4, 1), NAN), costs=FREE, cash=10_000.0,
                   index=idx, cash_rate=0.05)  # fmt: skip
    want = [10_000.0]
    for days in (1, 3, 1):
        want.append(want[-1] + want[-1] * (0.05 * days / 365.0))
    assert res.cash.tolist() == want and res.equity.tolist() == want
    assert res.interest[0] == 0.0
    assert res.interest[2] == pytest.approx(want[1] * 0.05 * 3 / 365, rel=1e-15)
    assert res.interest_earned == pytest.approx(want[-1] - 10_000.0, rel=1e-12)


def test_per_bar_accrual_and_a_rate_per_bar():
    rates = np.array([0.9, 0.04, 0.08, 0.0, 0.02])  # the first bar accrues nothing
    res = simulate(*flat(5), target_weights=np.full((5, 1), NAN), costs=FREE, cash=1_000.0,
                   cash_rate=rates, cash_rate_periods=252)  # fmt: skip
    c = 1_000.0
    for t in range(1, 5):
        x = c * (rates[t] / 252)
        assert res.interest[t] == x
        c += x
        assert res.cash[t] == c


def test_only_idle_cash_earns_and_trading_pnl_stays_apart():
    # half the account in a position from bar 1: from then on only the other half earns
    T = 6
    o, h, lo, c, v = flat(T)
    c[:] = np.linspace(100.0, 110.0, T).reshape(-1, 1)
    o[:] = c
    h[:] = c + 1
    lo[:] = c - 1
    w = np.full((T, 1), NAN)
    w[0] = 0.5
    w[4] = 0.0
    kw = dict(target_weights=w, costs=FREE, cash=10_000.0, cash_rate=0.1, cash_rate_periods=10)
    res = simulate(o, h, lo, c, v, **kw)
    base = simulate(o, h, lo, c, v, **{**kw, "cash_rate": 0.0})
    # bar 1: cash of close 0 (all of it) earns, then the buy; later bars: what is left earns
    assert res.interest[1] == 10_000.0 * 0.01
    assert res.interest[2] == pytest.approx(res.cash[1] * 0.01, rel=1e-15)
    assert res.positions[1, 0] > base.positions[1, 0] - 1  # the interest may buy a share more
    pnl = res.trades.pnl.sum()
    assert res.equity[-1] - 10_000.0 - res.interest_earned == pytest.approx(pnl, rel=1e-12)
    assert base.interest_earned == 0.0


def test_a_zero_rate_changes_nothing():
    rng = np.random.default_rng(0)
    T, N = 40, 3
    c = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (T, N)), axis=0))
    bars = (c, c * 1.01, c * 0.99, c, np.full((T, N), 1e5))
    w = np.where(rng.random((T, N)) < 0.3, rng.random((T, N)) / N, NAN)
    for sharing in (True, False):
        a = simulate(*bars, target_weights=w, cash_sharing=sharing)
        b = simulate(*bars, target_weights=w, cash_sharing=sharing, cash_rate=0.0)
        assert np.array_equal(a.equity, b.equity) and np.array_equal(a.cash, b.cash)
        assert not b.interest.any()


@pytest.mark.parametrize("impl", ["cython", "python"])
@pytest.mark.parametrize("layout", [np.ascontiguousarray, np.asfortranarray])
def test_sub_accounts_each_earn_on_their_cash(impl, layout):
    # without shared cash every sub-account's idle cash earns; quiet spans of the compiled
    # symbol-major loop accrue bar by bar like the others
    T, N = 30, 2
    bars = [layout(x) for x in flat(T, N)]
    ent = np.zeros((T, N), bool)
    ext = np.zeros((T, N), bool)
    ent[3, 0] = ext[20, 0] = True
    res = simulate(*bars, entries=layout(ent), exits=layout(ext), target_weights=0.5,
                   costs=FREE, cash=1_000.0, cash_sharing=False, cash_rate=0.0365,
                   cash_rate_periods=365, impl=impl)  # fmt: skip
    idle = 1_000.0 * (1 + 0.0001) ** (T - 1)  # symbol 1 never trades
    assert res.last_sub_equity[1] == pytest.approx(idle, rel=1e-12)
    assert res.interest_earned == pytest.approx(res.equity[-1] - 2_000.0, rel=1e-9)


def test_grid_sets_earn_alike_and_bad_rates_are_refused():
    T = 8
    bars = flat(T)
    w = np.full((2, T, 1), NAN)
    w[1, 0] = 1.0  # set 1 invested from the open of bar 1: its cash earns (almost) nothing after
    g = simulate_grid(*bars, target_weights=w, costs=FREE, cash=1_000.0, cash_rate=0.05,
                      cash_rate_periods=252)  # fmt: skip
    assert g.interest.shape == (2, T)
    assert g.interest[0, 1] == g.interest[1, 1] == 1_000.0 * (0.05 / 252)  # before the buy
    assert g[0].interest[2:].sum() > 1_000 * g[1].interest[2:].sum()
    with pytest.raises(ContractError, match="calendar days"):
        simulate(*bars, target_weights=w[0], cash_rate=0.05)
    with pytest.raises(ContractError, match="shape"):
        simulate(*bars, target_weights=w[0], cash_rate=[0.05, 0.04], cash_rate_periods=252)
    with pytest.raises(ContractError, match="cash_rate_periods"):
        simulate(*bars, target_weights=w[0], cash_rate=0.05, cash_rate_periods=0)
    with pytest.raises(ContractError, match="finite"):
        simulate(*bars, target_weights=w[0], cash_rate=math.inf, cash_rate_periods=252)
