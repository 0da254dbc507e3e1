"""Cost, capacity and stop models of the simulator: small, named, validated objects.

Every model is a frozen attrs class whose parameters are checked on construction, in the spirit
of zipline's ``finance/commission.py`` and ``finance/slippage.py`` and Lean's per-security
reality models. The simulator reads them once, turns them into per-symbol parameter arrays, and
never consults them inside its loop.
"""

from __future__ import annotations

import math

import attrs
from attrs import validators as v

from tsys.contracts import AssetClass

__all__ = [
    "Capacity",
    "CostModel",
    "FeeModel",
    "FixedSlippage",
    "ImpactSlippage",
    "StopRules",
]


def _finite_ge0(inst: object, attribute: attrs.Attribute, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{attribute.name} must be a finite number >= 0, got {value!r}")


def _optional_multiple(inst: object, attribute: attrs.Attribute, value: float | None) -> None:
    """An ATR multiple: None or a finite number > 0 (typically 0.5 to 20; 3.0 is common)."""
    if value is None:
        return
    if isinstance(value, bool) or not (
        isinstance(value, int | float) and math.isfinite(value) and value > 0
    ):
        raise ValueError(
            f"{attribute.name} is a multiple of the ATR and must be None or a finite number > 0 "
            f"(e.g. 3.0), got {value!r}"
        )


def _optional_fraction(inst: object, attribute: attrs.Attribute, value: float | None) -> None:
    if value is None:
        return
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be None or a finite number > 0, got {value!r}")


@attrs.frozen
class FeeModel:
    """Commission per order: ``max(minimum, bps/1e4 x notional + per_share x qty)``.

    Parameters
    ----------
    bps : float
        Fee in basis points of the fill's notional value.
    per_share : float
        Fee per unit (share or coin) traded.
    minimum : float
        Minimum fee per order that fills at least one lot.
    """

    bps: float = attrs.field(default=0.0, converter=float, validator=_finite_ge0)
    per_share: float = attrs.field(default=0.0, converter=float, validator=_finite_ge0)
    minimum: float = attrs.field(default=0.0, converter=float, validator=_finite_ge0)


@attrs.frozen
class FixedSlippage:
    """A fixed price concession of ``bps`` basis points against the trader on every market fill."""

    bps: float = attrs.field(default=5.0, converter=float, validator=_finite_ge0)


@attrs.frozen
class ImpactSlippage:
    """Half-spread plus square-root market impact.

    The concession, as a fraction of the reference price, is
    ``half_spread_bps / 1e4 + impact x daily_vol x sqrt(participation)``, where ``daily_vol`` is
    the sample standard deviation of close-to-close log returns over the ``vol_window`` bars up to
    the previous close (fewer while history is short, none before two returns exist) and
    ``participation`` is the filled quantity's share of the bar's volume.
    """

    half_spread_bps: float = attrs.field(default=2.0, converter=float, validator=_finite_ge0)
    impact: float = attrs.field(default=0.1, converter=float, validator=_finite_ge0)
    vol_window: int = attrs.field(default=20, validator=[v.instance_of(int), v.ge(2)])


@attrs.frozen
class Capacity:
    """Largest share of a bar's volume one symbol may trade in that bar.

    The default 2.5% is Lean's ``VolumeShareSlippageModel`` default. ``None`` removes the cap
    (used by the parity benchmark, whose reference has none). What the cap leaves over is
    reported as unfilled quantity, never filled silently.
    """

    max_participation: float | None = attrs.field(default=0.025, validator=_optional_fraction)


@attrs.frozen
class CostModel:
    """Fees, slippage and capacity of one symbol (or of every symbol when shared)."""

    fees: FeeModel = attrs.field(factory=FeeModel, validator=v.instance_of(FeeModel))
    slippage: FixedSlippage | ImpactSlippage = attrs.field(
        factory=FixedSlippage, validator=v.instance_of((FixedSlippage, ImpactSlippage))
    )
    capacity: Capacity = attrs.field(factory=Capacity, validator=v.instance_of(Capacity))

    def describe(self) -> str:
        """One line for reports: "fees 1 bps, impact slippage (...), fills capped at 2.5%..."."""
        s = self.slippage
        slip = (
            f"impact slippage ({s.half_spread_bps:g} bps half spread, impact {s.impact:g})"
            if isinstance(s, ImpactSlippage)
            else f"fixed slippage {s.bps:g} bps"
        )
        cap = self.capacity.max_participation
        text = f"fees {self.fees.bps:g} bps, {slip}"
        return text if cap is None else f"{text}, fills capped at {cap:.1%} of volume"


def default_costs(asset_class: AssetClass | str) -> CostModel:
    """Realistic default costs of an asset class (backtests, validation, the paper report).

    Equities: 1 bp fee and impact slippage (2 bps half spread + 0.1 x daily vol x sqrt of
    participation). Crypto: 10 bps fee (a retail taker fee) and a wider 10 bps half spread with
    a larger impact coefficient. Both cap fills at 2.5% of the bar's volume.
    """
    if AssetClass(asset_class) is AssetClass.CRYPTO:
        return CostModel(
            fees=FeeModel(bps=10.0),
            slippage=ImpactSlippage(half_spread_bps=10.0, impact=0.2),
            capacity=Capacity(max_participation=0.025),
        )
    return CostModel(
        fees=FeeModel(bps=1.0),
        slippage=ImpactSlippage(half_spread_bps=2.0, impact=0.1),
        capacity=Capacity(max_participation=0.025),
    )


def _optional_int_ge1(inst: object, attribute: attrs.Attribute, value: int | None) -> None:
    if value is None:
        return
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        raise ValueError(f"{attribute.name} must be None or an integer >= 1, got {value!r}")


@attrs.frozen
class StopRules:
    """Protective exits applied to every position.

    Parameters
    ----------
    stop_loss : float or None
        Exit when the price falls this fraction below the average entry price (0.05 = 5%).
    take_profit : float or None
        Exit when the price rises this fraction above the average entry price.
    atr_trailing : float or None
        Chandelier stop, as a multiple of the ATR (not a fraction: 3.0 means three ATRs, and
        any finite value > 0 is accepted): the highest high since entry (the entry price on the
        entry bar) minus ``atr_trailing`` x the ATR known at the previous close.
    atr_window : int
        Bars in the simple moving average of the true range.
    time_stop_bars : int or None
        Exit at the open once a position has been held this many bars.
    """

    stop_loss: float | None = attrs.field(default=None, validator=_optional_fraction)
    take_profit: float | None = attrs.field(default=None, validator=_optional_fraction)
    atr_trailing: float | None = attrs.field(default=None, validator=_optional_multiple)
    atr_window: int = attrs.field(default=14, validator=[v.instance_of(int), v.ge(1)])
    time_stop_bars: int | None = attrs.field(default=None, validator=_optional_int_ge1)

    def __attrs_post_init__(self) -> None:
        if self.stop_loss is not None and self.stop_loss >= 1:
            raise ValueError(
                f"stop_loss is a fraction below entry and must be < 1, got {self.stop_loss!r}"
            )
