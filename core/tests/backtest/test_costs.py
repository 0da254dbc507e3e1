"""Default costs per asset class and their one-line description in reports."""

from tsys.contracts import AssetClass
from tsys.sim import Capacity, CostModel, FeeModel, FixedSlippage, default_costs


def test_default_costs_by_asset_class_and_their_description():
    eq, cr = default_costs(AssetClass.EQUITY), default_costs("crypto")
    assert (eq.fees.bps, eq.slippage.half_spread_bps, eq.slippage.impact) == (1.0, 2.0, 0.1)
    assert (cr.fees.bps, cr.slippage.half_spread_bps, cr.slippage.impact) == (10.0, 10.0, 0.2)
    assert eq.describe() == (
        "fees 1 bps, impact slippage (2 bps half spread, impact 0.1), "
        "fills capped at 2.5% of volume"
    )
    plain = CostModel(FeeModel(bps=5.0), FixedSlippage(bps=3.0), Capacity(None))
    assert plain.describe() == "fees 5 bps, fixed slippage 3 bps"
