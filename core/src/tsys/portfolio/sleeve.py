"""Account-level limits seen from one bucket's sleeve.

The daily run sizes a bucket inside the whole account: its budget is ``capital_share`` of the
equity and the risk caps (``max_position_weight``, ``sector_cap``, the user's exposure caps) are
shares of the account. A backtest or a research run simulates the sleeve alone, as if it were
the whole account (``capital_share`` replaced by 1.0), so the same caps must be restated as
shares of the sleeve: a 15% account cap is 25% of a 0.6 sleeve. Without this a sleeve backtest
is ``1 / share`` times stricter than the daily run it is meant to describe.
"""

from __future__ import annotations

import attrs

from tsys.config import OverridesConfig, RiskConfig


def sleeve_limits(
    risk: RiskConfig, overrides: OverridesConfig, share: float
) -> tuple[RiskConfig, OverridesConfig]:
    """``risk`` and ``overrides`` with the account-level caps divided by the sleeve's ``share``
    of the account (capped at 1.0, i.e. no limit). A share outside (0, 1) changes nothing.

    Per-position limits that are not shares of the account (``max_adv_share``, the correlation
    cap) and the user's blocked symbols are kept as they are.
    """
    share = float(share)
    if not 0.0 < share < 1.0:
        return risk, overrides

    def scaled(cap: float) -> float:
        return min(1.0, cap / share)

    return (
        attrs.evolve(
            risk,
            max_position_weight=scaled(risk.max_position_weight),
            sector_cap=scaled(risk.sector_cap),
        ),
        attrs.evolve(
            overrides,
            crypto_exposure_cap=scaled(overrides.crypto_exposure_cap),
            equity_exposure_cap=scaled(overrides.equity_exposure_cap),
            bucket_caps={k: scaled(x) for k, x in overrides.bucket_caps.items()},
            sector_caps={k: scaled(x) for k, x in overrides.sector_caps.items()},
        ),
    )
