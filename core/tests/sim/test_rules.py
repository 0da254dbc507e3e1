"""One test per simulator rule, on hand-made panels with hand-computed expectations."""

import math

import numpy as np
import pytest

from tsys.errors import ContractError
from tsys.sim import (
    Capacity,
    CostModel,
    FeeModel,
    FixedSlippage,
    ImpactSlippage,
    StopRules,
    simulate,
)

NAN = math.nan
NOCAP = Capacity(max_participation=None)
FREE = CostModel(FeeModel(), FixedSlippage(bps=0.0), NOCAP)


def panel(rows):
    """rows: list over bars of (o, h, l, c, v) for one symbol -> five T x 1 arrays."""
    a = np.array(rows, dtype=float)
    return [np.ascontiguousarray(a[:, k : k + 1]) for k in range(5)]


def col(*xs):
    return np.array(xs, dtype=float).reshape(-1, 1)


FLAT = [(100, 101, 99, 100, 1e6)] * 4


def filled(res):
    f = res.fills
    return f[f.qty > 0].reset_index(drop=True)


def test_moo_fill_price_includes_slippage_and_executes_next_open():
    o, h, lo, c, v = panel(
        [(100, 101, 99, 100, 1e6), (102, 103, 101, 102, 1e6), (103, 104, 102, 103, 1e6)]
    )
    costs = CostModel(FeeModel(), FixedSlippage(bps=5.0), NOCAP)
    res = simulate(o, h, lo, c, v, target_weights=col(0.5, NAN, NAN), costs=costs, cash=100_000.0)
    f = filled(res)
    assert len(f) == 1 and f.bar[0] == 1 and f.reason[0] == "entry" and f.side[0] == "buy"
    px = 102 * 1.0005
    assert f.price[0] == pytest.approx(px, rel=1e-15)
    assert f.ref_price[0] == 102
    assert f.qty[0] == math.floor(0.5 * 100_000 / px) == 489
    assert f.slippage[0] == pytest.approx(f.qty[0] * 102 * 0.0005)
    assert res.positions[:, 0].tolist() == [0, 489, 489]
    assert res.cash[1] == pytest.approx(100_000 - 489 * px)
    assert res.equity[2] == pytest.approx(res.cash[2] + 489 * 103)


def test_fee_minimum_applies_per_order():
    o, h, lo, c, v = panel(FLAT)
    costs = CostModel(FeeModel(bps=1.0, per_share=0.001, minimum=5.0), FixedSlippage(0.0), NOCAP)
    res = simulate(o, h, lo, c, v, target_qty=col(10, NAN, 500, NAN), costs=costs)
    f = filled(res)
    assert f.fee[0] == 5.0  # 10*100*1e-4 + 10*0.001 = 0.11 < 5
    assert f.qty[1] == 490 and f.fee[1] == pytest.approx(490 * 100 * 1e-4 + 490 * 0.001)  # 5.39
    assert res.cash[3] == pytest.approx(100_000 - 10 * 100 - 5.0 - 490 * 100 - 5.39)


def test_buy_scaled_to_cash_including_fees():
    o, h, lo, c, v = panel(FLAT)
    costs = CostModel(FeeModel(bps=1.0, per_share=0.001, minimum=5.0), FixedSlippage(0.0), NOCAP)
    res = simulate(o, h, lo, c, v, target_qty=col(10, NAN, 1000, NAN), costs=costs)
    f = filled(res)
    # 98,995 cash left cannot pay 990 shares + 10.89 fee; 989 shares + 10.879 fee fit
    assert f.qty[1] == 989 and f.unfilled_qty[1] == 1
    assert res.cash[3] >= 0


def test_capacity_caps_fill_and_reports_unfilled():
    o, h, lo, c, v = panel([(100, 101, 99, 100, 1000)] * 3)
    costs = CostModel(FeeModel(), FixedSlippage(0.0), Capacity(max_participation=0.025))
    res = simulate(o, h, lo, c, v, target_qty=col(100, NAN, NAN), costs=costs)
    f = res.fills
    assert len(f) == 1
    assert f.qty[0] == 25 and f.unfilled_qty[0] == 75
    assert res.positions[-1, 0] == 25


def test_stop_gap_fills_at_open_with_slippage():
    o, h, lo, c, v = panel(
        [
            (100, 101, 99, 100, 1e6),
            (100, 101, 99, 100, 1e6),
            (90, 92, 88, 91, 1e6),
            (91, 92, 90, 91, 1e6),
        ]
    )
    costs = CostModel(FeeModel(), FixedSlippage(bps=10.0), NOCAP)
    res = simulate(
        o,
        h,
        lo,
        c,
        v,
        target_qty=col(10, NAN, NAN, NAN),
        stop_price=col(95, NAN, NAN, NAN),
        costs=costs,
    )
    f = filled(res)
    assert f.reason.tolist() == ["entry", "stop"]
    assert f.bar[1] == 2 and f.ref_price[1] == 90 and f.price[1] == pytest.approx(90 * 0.999)
    t = res.trades
    assert t.exit_reason[0] == "stop" and t.bars_held[0] == 1
    entry = 100 * 1.001
    assert t.pnl[0] == pytest.approx(10 * (90 * 0.999 - entry))
    assert t.r_multiple[0] == pytest.approx(t.pnl[0] / ((entry - 95) * 10))


def test_stop_inside_bar_fills_at_stop_level():
    o, h, lo, c, v = panel(
        [(100, 101, 99, 100, 1e6), (100, 101, 99, 100, 1e6), (97, 98, 94, 96, 1e6)]
    )
    res = simulate(
        o, h, lo, c, v, target_qty=col(10, NAN, NAN), stop_price=col(95, NAN, NAN), costs=FREE
    )
    f = filled(res)
    assert f.reason[1] == "stop" and f.price[1] == 95 and f.bar[1] == 2


def test_stop_and_target_in_same_bar_takes_the_stop():
    o, h, lo, c, v = panel(
        [(100, 101, 99, 100, 1e6), (100, 101, 99, 100, 1e6), (100, 110, 94, 104, 1e6)]
    )
    res = simulate(
        o, h, lo, c, v, target_qty=col(10, NAN, NAN),
        stop_price=col(95, NAN, NAN), target_price=col(105, NAN, NAN), costs=FREE,
    )  # fmt: skip
    f = filled(res)
    assert f.reason[1] == "stop" and f.price[1] == 95


def test_target_fills_at_level_without_slippage_and_gap_fills_at_open():
    rows = [(100, 101, 99, 100, 1e6), (100, 101, 99, 100, 1e6), (101, 106, 100, 104, 1e6)]
    costs = CostModel(FeeModel(), FixedSlippage(bps=10.0), NOCAP)
    res = simulate(
        *panel(rows), target_qty=col(10, NAN, NAN), stops=StopRules(take_profit=0.05), costs=costs
    )
    f = filled(res)
    assert f.reason[1] == "target" and f.price[1] == pytest.approx(100 * 1.001 * 1.05)
    rows[2] = (108, 109, 107, 108, 1e6)
    res = simulate(
        *panel(rows), target_qty=col(10, NAN, NAN), stops=StopRules(take_profit=0.05), costs=costs
    )
    f = filled(res)
    assert f.reason[1] == "target" and f.price[1] == 108


def test_atr_trailing_stop_follows_highest_high():
    rows = [
        (100, 101, 99, 100, 1e6),  # TR 2
        (100, 101, 99, 100, 1e6),  # TR 2, ATR(2) = 2; entry at open 100, highest high -> 101
        (102, 105, 101, 104, 1e6),  # TR max(4, 5, 1) = 5, ATR = 3.5; level 101 - 1.5*2 = 98 not hit
        (104, 105, 99, 100, 1e6),  # level 105 - 1.5*3.5 = 99.75; low 99 -> stopped at 99.75
    ]
    res = simulate(
        *panel(rows), target_qty=col(10, NAN, NAN, NAN), costs=FREE,
        stops=StopRules(atr_trailing=1.5, atr_window=2),
    )  # fmt: skip
    f = filled(res)
    assert f.reason.tolist() == ["entry", "trailing_stop"]
    assert f.bar[1] == 3 and f.price[1] == pytest.approx(105 - 1.5 * 3.5)
    assert math.isnan(f.ref_price[0]) is False


def test_time_stop_exits_at_open_after_n_bars():
    o, h, lo, c, v = panel([(100 + k, 101 + k, 99 + k, 100 + k, 1e6) for k in range(6)])
    res = simulate(
        o,
        h,
        lo,
        c,
        v,
        target_qty=col(10, *[NAN] * 5),
        costs=FREE,
        stops=StopRules(time_stop_bars=2),
    )
    f = filled(res)
    assert f.reason.tolist() == ["entry", "time_stop"]
    assert f.bar.tolist() == [1, 3] and f.price[1] == 103
    assert res.trades.bars_held[0] == 2


def test_limit_entry_fills_at_min_of_open_and_limit_or_not_at_all():
    rows = [(100, 101, 99, 100, 1e6), (100, 101, 98, 100, 1e6), (100, 101, 99, 100, 1e6)]
    costs = CostModel(FeeModel(), FixedSlippage(bps=10.0), NOCAP)
    res = simulate(
        *panel(rows), target_qty=col(10, NAN, NAN), limit_price=col(99, NAN, NAN), costs=costs
    )
    f = res.fills
    assert f.qty[0] == 10 and f.price[0] == 99 and f.ref_price[0] == 99
    # limit above the open fills at the open
    res = simulate(
        *panel(rows), target_qty=col(10, NAN, NAN), limit_price=col(120, NAN, NAN), costs=costs
    )
    assert res.fills.price[0] == 100
    # low never reaches the limit: reported unfilled, nothing held
    rows[1] = (100, 101, 99.5, 100, 1e6)
    res = simulate(
        *panel(rows), target_qty=col(10, NAN, NAN), limit_price=col(99, NAN, NAN), costs=costs
    )
    f = res.fills
    assert f.qty[0] == 0 and f.unfilled_qty[0] == 10 and math.isnan(f.price[0])
    assert res.positions[-1, 0] == 0


def test_lot_rounding_whole_shares_and_crypto_lots():
    o, h, lo, c, v = panel([(3, 3, 3, 3, 1e9)] * 3)
    res = simulate(o, h, lo, c, v, target_weights=col(1.0, NAN, NAN), costs=FREE, cash=100.0)
    assert res.positions[-1, 0] == 33
    res = simulate(
        o, h, lo, c, v, target_weights=col(1.0, NAN, NAN), costs=FREE, cash=100.0, lot_size=1e-8
    )
    q = res.positions[-1, 0]
    assert q == math.floor(100.0 / 3 / 1e-8) * 1e-8
    assert 0 <= res.cash[-1] < 3e-8 + 1e-9


def test_buys_scale_down_pro_rata_to_cash():
    rows = np.array([(10, 10, 10, 10, 1e9)] * 3, dtype=float)
    p = [np.repeat(rows[:, k : k + 1], 2, axis=1) for k in range(5)]
    w = np.array([[0.8, 0.8], [NAN, NAN], [NAN, NAN]])
    res = simulate(*p, target_weights=w, costs=FREE, cash=1000.0)
    # each wants 80 shares (800), 1600 > 1000 -> scale 0.625 -> 50 each
    assert res.positions[-1].tolist() == [50, 50]
    assert res.cash[-1] == 0.0
    f = res.fills
    assert f.unfilled_qty.tolist() == [30, 30]


def test_sells_execute_before_buys_and_fund_them():
    rows = np.array([(10, 10, 10, 10, 1e9)] * 4, dtype=float)
    p = [np.repeat(rows[:, k : k + 1], 2, axis=1) for k in range(5)]
    w = np.array([[1.0, NAN], [NAN, NAN], [0.0, 1.0], [NAN, NAN]])
    res = simulate(*p, target_weights=w, costs=FREE, cash=1000.0)
    assert res.positions[-1].tolist() == [0, 100]
    f = res.fills[res.fills.bar == 3]
    assert f.side.tolist() == ["sell", "buy"]


@pytest.mark.parametrize("bad", ["zero_volume", "nan_open", "nan_close"])
def test_no_trade_on_bar_without_volume_or_price_order_waits(bad):
    rows = [(100, 101, 99, 100, 1e6)] * 4
    o, h, lo, c, v = panel(rows)
    if bad == "zero_volume":
        v[1, 0] = 0
    elif bad == "nan_open":
        o[1, 0] = NAN
    else:
        c[1, 0] = NAN
    res = simulate(o, h, lo, c, v, target_qty=col(10, NAN, NAN, NAN), costs=FREE)
    f = res.fills
    assert f.bar.tolist() == [2] and f.qty.tolist() == [10]
    assert res.positions[:, 0].tolist() == [0, 0, 10, 10]


def test_stops_do_not_fire_on_untradable_bar():
    rows = [
        (100, 101, 99, 100, 1e6),
        (100, 101, 99, 100, 1e6),
        (90, 91, 80, 90, 0),
        (92, 93, 91, 92, 1e6),
    ]
    res = simulate(
        *panel(rows),
        target_qty=col(10, NAN, NAN, NAN),
        stop_price=col(95, NAN, NAN, NAN),
        costs=FREE,
    )
    f = filled(res)
    assert (
        f.bar.tolist() == [1, 3] and f.price[1] == 92
    )  # gap through the stop at the next tradable open


def test_sub_accounts_are_independent():
    rows = np.array([(10, 10, 10, 10, 1e9)] * 3, dtype=float)
    p = [np.repeat(rows[:, k : k + 1], 2, axis=1) for k in range(5)]
    p[3][2, 1] = 20.0  # symbol 1 doubles at the last close
    w = np.array([[1.0, 0.5], [NAN, NAN], [NAN, NAN]])
    res = simulate(*p, target_weights=w, costs=FREE, cash=1000.0, cash_sharing=False)
    assert res.positions[-1].tolist() == [100, 50]
    assert res.sub_equity[-1].tolist() == [1000.0, 500.0 + 50 * 20]
    assert res.equity[-1] == 2500.0 and res.cash[-1] == 500.0


def test_signals_enter_only_when_flat_and_exit_only_when_long():
    o, h, lo, c, v = panel([(10, 10, 10, 10, 1e9)] * 6)
    ent = col(1, 1, 0, 0, 1, 0).astype(bool)
    ext = col(0, 0, 1, 1, 0, 0).astype(bool)
    res = simulate(
        o, h, lo, c, v, entries=ent, exits=ext, target_weights=0.5, costs=FREE, cash=1000.0
    )
    f = filled(res)
    assert f.bar.tolist() == [1, 3, 5] and f.reason.tolist() == ["entry", "exit", "entry"]
    assert f.qty.tolist() == [50, 50, 50]


def test_impact_slippage_formula():
    T = 30
    rng = np.random.default_rng(0)
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, T))).reshape(-1, 1)
    o, h, lo, v = c.copy(), c * 1.01, c * 0.99, np.full((T, 1), 10_000.0)
    w = np.full((T, 1), NAN)
    w[24] = 0.5
    costs = CostModel(
        FeeModel(), ImpactSlippage(half_spread_bps=2.0, impact=0.1, vol_window=20), Capacity(0.025)
    )
    res = simulate(o, h, lo, c, v, target_weights=w, costs=costs, cash=10_000.0)
    f = res.fills
    r = np.diff(np.log(c[:, 0]))[25 - 1 - 20 : 25 - 1]  # 20 returns ending at close 24
    sd = np.std(r, ddof=1)
    est = 0.5 * 10_000 / o[25, 0]
    part = min(est, 0.025 * 10_000) / 10_000
    s = 2e-4 + 0.1 * sd * math.sqrt(part)
    assert f.price[0] == pytest.approx(o[25, 0] * (1 + s), rel=1e-12)


def test_invalid_inputs_are_refused():
    o, h, lo, c, v = panel(FLAT)
    with pytest.raises(ContractError, match="no shorting"):
        simulate(o, h, lo, c, v, target_weights=col(-0.1, NAN, NAN, NAN))
    with pytest.raises(ContractError, match="shape"):
        simulate(o, h, lo, c, v, target_weights=np.zeros((3, 1)))
    with pytest.raises(ContractError, match="not both"):
        simulate(o, h, lo, c, v, target_weights=col(1, 1, 1, 1), target_qty=col(1, 1, 1, 1))
    with pytest.raises(ValueError):
        FeeModel(bps=-1)
    with pytest.raises(ValueError):
        StopRules(stop_loss=1.5)


def test_atr_trailing_takes_a_multiple_of_the_atr():
    # true range 2 on every bar -> ATR(3) = 2; entry at the open of bar 1 (100), highest high 101
    rows = [(100, 101, 99, 100, 1e6)] * 4 + [(100, 101, 94.5, 100, 1e6), (100, 101, 93, 95, 1e6)]
    rules = StopRules(atr_trailing=3.0, atr_window=3)
    assert rules.atr_trailing == 3.0
    res = simulate(
        *panel(rows), target_qty=col(10, *[NAN] * 5), costs=FREE, stops=rules, cash=10_000.0
    )
    f = filled(res)
    # level 101 - 3.0 x 2 = 95 (three ATRs below the highest high): lows of 99 leave it alone,
    # the low of 94.5 on bar 4 goes through it and the stop fills at 95
    assert f.reason.tolist() == ["entry", "trailing_stop"]
    assert f.bar[1] == 4 and f.price[1] == pytest.approx(101 - 3.0 * 2.0)
    for multiple in (0.5, 20.0, 25):
        assert StopRules(atr_trailing=multiple).atr_trailing == multiple
    for bad in (0, -1.0, math.inf, math.nan, True):
        with pytest.raises(ValueError, match="multiple of the ATR"):
            StopRules(atr_trailing=bad)
