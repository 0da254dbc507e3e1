"""sleeve_limits: account-level caps restated as shares of a bucket's sleeve."""

from __future__ import annotations

import pytest

from tsys.config import OverridesConfig, RiskConfig
from tsys.portfolio import sleeve_limits


def test_caps_scale_by_the_sleeve_share_and_stop_at_one():
    risk = RiskConfig(
        sector_cap=0.30, max_position_weight=0.15, max_adv_share=0.01, max_pairwise_correlation=0.8
    )
    r, o = sleeve_limits(risk, OverridesConfig(crypto_exposure_cap=0.1), 0.6)
    assert r.max_position_weight == pytest.approx(0.25)
    assert r.sector_cap == pytest.approx(0.5)
    assert o.crypto_exposure_cap == pytest.approx(0.1 / 0.6)
    # not shares of the account: unchanged
    assert r.max_adv_share == 0.01 and r.max_pairwise_correlation == 0.8
    r, o = sleeve_limits(risk, OverridesConfig(), 0.2)
    assert r.max_position_weight == pytest.approx(0.75) and r.sector_cap == 1.0
    assert o.crypto_exposure_cap == 1.0


@pytest.mark.parametrize("share", [1.0, 0.0, -0.5, 1.5])
def test_a_share_outside_zero_one_changes_nothing(share):
    risk, over = RiskConfig(), OverridesConfig(blocked_symbols=["X"])
    assert sleeve_limits(risk, over, share) == (risk, over)
