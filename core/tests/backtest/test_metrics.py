import math

import numpy as np
import pandas as pd
import pytest

from tsys.backtest.metrics import compute

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
