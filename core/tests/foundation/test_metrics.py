import math

import numpy as np
import pandas as pd
import pytest

from tsys import metrics
from tsys.metrics import compute

EQ = [100.0, 110.0, 99.0, 108.9]  # returns +10%, -10%, +10%


def test_return_and_risk_formulas_by_hand():
    m = compute(pd.Series(EQ), periods_per_year=252)
    mean = (0.1 - 0.1 + 0.1) / 3
    sd = math.sqrt(((0.1 - mean) ** 2 * 2 + (-0.1 - mean) ** 2) / 2)
    down = math.sqrt((0.1**2) / 3)
    cagr = 1.089 ** (252 / 3) - 1
    assert m["total_return"] == pytest.approx(0.089)
    assert m["cagr"] == pytest.approx(cagr)
    assert m["volatility"] == pytest.approx(sd * math.sqrt(252))
    assert m["sharpe"] == pytest.approx(mean / sd * math.sqrt(252))
    assert m["sortino"] == pytest.approx(mean / down * math.sqrt(252))
    assert m["max_drawdown"] == pytest.approx(-0.1)
    assert m["max_drawdown_duration"] == 2
    assert m["calmar"] == pytest.approx(cagr / 0.1)
    assert m["worst_day"] == pytest.approx(-0.1)


def test_drawdown_duration_counts_until_recovery():
    m = compute(np.array([100, 90, 95, 101, 100, 99, 98, 102.0]))
    assert m["max_drawdown_duration"] == 3
    assert m["max_drawdown"] == pytest.approx(-0.1)


def test_trade_statistics_ignore_open_trades():
    trades = pd.DataFrame(
        {
            "pnl": [10.0, -5.0, 20.0, 3.0],
            "r_multiple": [1.0, -0.5, math.nan, 9.0],
            "exit_reason": ["exit", "stop", "target", "open"],
        }
    )
    m = compute(pd.Series(EQ), trades=trades)
    assert m["trade_count"] == 3
    assert m["win_rate"] == pytest.approx(2 / 3)
    assert m["profit_factor"] == pytest.approx(30 / 5)
    assert m["avg_r"] == pytest.approx(0.25)


def test_exposure_turnover_participation_and_capacity():
    fills = pd.DataFrame(
        {"bar": [1, 2], "symbol_index": [0, 1], "qty": [10.0, 5.0], "price": [10.0, 20.0]}
    )
    volume = np.array([[1000.0, 100.0]] * 4)
    pv = np.array([0.0, 55.0, 49.5, 54.45])
    m = compute(
        pd.Series(EQ), fills=fills, volume=volume, positions_value=pv, max_participation=0.025
    )
    assert m["exposure"] == pytest.approx((0 + 0.5 + 0.5 + 0.5) / 4)
    assert m["turnover"] == pytest.approx((100 + 100) / 2 / np.mean(EQ) * 252 / 4)
    assert m["max_adv_participation"] == pytest.approx(0.05)
    assert m["capacity_estimate"] == pytest.approx(100 * 0.025 / 0.05)


def test_flat_equity_has_no_sharpe():
    m = compute(pd.Series([100.0, 100.0, 100.0]))
    assert m["total_return"] == 0 and math.isnan(m["sharpe"]) and m["max_drawdown"] == 0


def test_sharpe_cagr_drawdown_by_hand():
    # mean 0.005, sample sd sqrt(0.0005 / 3), annualised with 4 periods a year
    assert metrics.sharpe(np.array([0.01, -0.01, 0.02, 0.0]), 4) == pytest.approx(0.7745967, 1e-6)
    assert metrics.cagr(np.array([0.1, -0.1]), 2) == pytest.approx(-0.01)
    # equity 1, 1.1, 0.88, 0.924, 0.8316: peak 1.1, trough 0.8316
    r = np.array([0.1, -0.2, 0.05, -0.1])
    assert metrics.max_drawdown(r) == pytest.approx(0.8316 / 1.1 - 1)  # negative: a loss
    assert metrics.drawdowns(r) == pytest.approx(
        [0.0, 0.88 / 1.1 - 1, 0.924 / 1.1 - 1, 0.8316 / 1.1 - 1]
    )
    assert metrics.calmar(r, 4) == pytest.approx(metrics.cagr(r, 4) / (1 - 0.8316 / 1.1))
    assert metrics.max_drawdown(np.array([0.01, 0.02])) == 0.0
    assert metrics.sharpe(np.zeros(10)) == 0.0
    with pytest.raises(ValueError):
        metrics.sharpe(np.array([0.1, np.nan]))


def test_moments_of_a_known_sample():
    # symmetric two-point sample: skew 0, kurtosis 1
    s, k = metrics.moments(np.array([-1.0, 1.0, -1.0, 1.0]))
    assert s == pytest.approx(0.0)
    assert k == pytest.approx(1.0)
    # (0, 0, 3): deviations -1, -1, 2; m2 = 2, m3 = 2, m4 = 6
    s, k = metrics.moments(np.array([0.0, 0.0, 3.0]))
    assert s == pytest.approx(2 / 2**1.5)
    assert k == pytest.approx(6 / 4)


def test_the_curve_and_the_series_agree_with_the_summary():
    eq = np.array([100.0, 110.0, 88.0, 92.4, 83.16, 120.0])
    r = eq[1:] / eq[:-1] - 1.0
    m = compute(eq, periods_per_year=4)
    assert m["max_drawdown"] < 0
    assert m["max_drawdown"] == pytest.approx(metrics.max_drawdown(r))
    assert m["max_drawdown"] == metrics.equity_drawdowns(eq).min()
    assert m["sharpe"] == pytest.approx(metrics.sharpe(r, 4))
    assert m["cagr"] == pytest.approx(metrics.cagr(r, 4))
    curve = metrics.drawdown_curve([None, 100.0, 110.0, math.nan, 88.0, 120.0])
    assert curve[0] is None and curve[3] is None
    assert curve[1:3] == [0.0, 0.0] and curve[4] == pytest.approx(-0.2) and curve[5] == 0.0
    assert metrics.drawdown_curve([-5.0, 1.0]) == [None, 0.0]  # no positive peak yet
