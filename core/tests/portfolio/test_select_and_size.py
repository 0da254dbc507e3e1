"""select_and_size: caps, sizing rules, overrides and lots, with hand-computed expectations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tsys.config import BucketConfig, OverridesConfig, RiskConfig
from tsys.contracts import AssetClass
from tsys.portfolio import Candidate, Holding, select_and_size

LOOSE = RiskConfig(
    sector_cap=1.0, max_pairwise_correlation=1.0, max_adv_share=1.0, max_position_weight=1.0
)


def cand(sym, score, price=100.0, **kw):
    kw.setdefault("asset_class", AssetClass.EQUITY)
    return Candidate(symbol=sym, score=score, price=price, **kw)


def run(cands, *, settings=None, risk=LOOSE, overrides=None, **kw):
    return select_and_size(
        cands,
        equity=kw.pop("equity", 100_000.0),
        bucket="b",
        settings=settings or BucketConfig(capital_share=0.5, max_positions=4, sizing="equal"),
        risk=risk,
        overrides=overrides or OverridesConfig(),
        **kw,
    )


def test_top_k_by_score_equal_weight_whole_shares():
    sel = run(
        [
            cand("A", 1.0),
            cand("B", 3.0),
            cand("C", 2.0, price=333.0),
            cand("D", 0.5),
            cand("E", 0.1),
        ]
    )
    assert [d.symbol for d in sel.decisions] == ["B", "C", "A", "D"]
    # budget 50,000 over 4 slots = 12,500 each; C at 333 -> floor(37.54) = 37 shares
    c = sel.decisions[1]
    assert c.quantity == 37.0 and c.dollars == pytest.approx(37 * 333.0)
    assert sel.decisions[0].quantity == 125.0 and sel.decisions[0].weight == pytest.approx(0.125)


def test_blocked_symbol_is_never_selected_and_recorded():
    sel = run([cand("A", 5.0), cand("B", 1.0)], overrides=OverridesConfig(blocked_symbols=["a"]))
    assert [d.symbol for d in sel.decisions] == ["B"]
    assert sel.rejected[0][0] == "A" and sel.rejected[0][1].name == "user_blocked"


def test_regime_scales_budget_and_zero_regime_means_cash():
    half = run([cand("A", 1.0)], regime=0.5)
    assert half.decisions[0].dollars == pytest.approx(6_200.0)  # 25,000/4 = 6,250 -> 62 shares
    off = run([cand("A", 1.0)], regime=0.0)
    assert off.decisions == () and "risk-off" in off.notes[0]


def test_inverse_vol_sizes_proportional_to_one_over_vol():
    s = BucketConfig(capital_share=1.0, max_positions=2, sizing="inverse_vol")
    sel = run(
        [cand("A", 2.0, volatility=0.01), cand("B", 1.0, volatility=0.03)],
        settings=s,
        round_lots=False,
    )
    a, b = sel.decisions
    # weights 1/0.01 : 1/0.03 = 3 : 1, total 2 slots x 50,000 = 100,000
    assert a.dollars == pytest.approx(75_000.0) and b.dollars == pytest.approx(25_000.0)


def test_volatility_target_shrinks_volatile_positions():
    s = BucketConfig(capital_share=1.0, max_positions=2, sizing="inverse_vol")
    daily = 1.2 / math.sqrt(365)  # 120% a year
    sel = run(
        [cand("X-USD", 1.0, asset_class=AssetClass.CRYPTO, volatility=daily)],
        settings=s,
        target_volatility=0.6,
        round_lots=False,
    )
    d = sel.decisions[0]
    assert d.dollars == pytest.approx(25_000.0)
    assert d.constraints[0].name == "volatility_target"


def test_risk_sizing_from_stop_distance():
    s = BucketConfig(capital_share=1.0, max_positions=5, sizing="risk", risk_per_trade=0.01)
    sel = run([cand("A", 1.0, price=50.0, stop=45.0)], settings=s)
    d = sel.decisions[0]
    # risk $1,000 / $5 per share = 200 shares = $10,000
    assert d.quantity == 200.0 and d.risk_budget == pytest.approx(1_000.0)


def test_caps_are_recorded_with_dollars_before_and_after():
    risk = RiskConfig(
        sector_cap=0.08, max_pairwise_correlation=1.0, max_adv_share=0.01, max_position_weight=0.1
    )
    s = BucketConfig(capital_share=1.0, max_positions=2, sizing="equal")
    held = [Holding("H", 3_000.0, AssetClass.EQUITY, sector="Tech", bucket="other")]
    sel = run(
        [cand("A", 1.0, price=10.0, adv_dollars=900_000.0, sector="Tech")],
        settings=s,
        risk=risk,
        held=held,
    )
    d = sel.decisions[0]
    names = [c.name for c in d.constraints]
    assert names == ["max_position_weight", "liquidity", "sector_cap"]
    assert (
        d.constraints[0].dollars_before == 50_000.0 and d.constraints[0].dollars_after == 10_000.0
    )
    assert d.constraints[1].dollars_after == pytest.approx(9_000.0)
    assert d.constraints[2].dollars_after == pytest.approx(5_000.0)  # 8,000 cap - 3,000 held
    assert d.dollars == pytest.approx(5_000.0) and d.liquidity_flag


def test_correlation_cap_against_held_and_selected():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 0.01, 60)
    returns = {
        "A": base,
        "B": base + rng.normal(0, 0.0005, 60),
        "C": rng.normal(0, 0.01, 60),
        "H": base * 2,
    }
    risk = RiskConfig(
        sector_cap=1.0, max_pairwise_correlation=0.8, max_adv_share=1.0, max_position_weight=1.0
    )
    sel = run([cand("A", 3.0), cand("B", 2.0), cand("C", 1.0)], risk=risk, returns=returns)
    assert [d.symbol for d in sel.decisions] == ["A", "C"]
    assert sel.rejected[0][0] == "B" and "with A" in sel.rejected[0][1].detail
    held = [Holding("H", 1_000.0, AssetClass.EQUITY, bucket="manual-ish")]
    sel2 = run([cand("A", 3.0), cand("C", 1.0)], risk=risk, returns=returns, held=held)
    assert [d.symbol for d in sel2.decisions] == ["C"]


def test_crypto_cap_and_fractional_lots():
    s = BucketConfig(capital_share=1.0, max_positions=1, sizing="equal")
    held = [Holding("ETH-USD", 4_000.0, AssetClass.CRYPTO, bucket="manual")]
    sel = run(
        [cand("BTC-USD", 1.0, price=30_000.0, asset_class=AssetClass.CRYPTO)],
        settings=s,
        overrides=OverridesConfig(crypto_exposure_cap=0.1),
        held=held,
    )
    d = sel.decisions[0]
    assert d.constraints[-1].name == "crypto_exposure_cap"
    assert d.dollars == pytest.approx(6_000.0, abs=30_000.0 * 1e-8)
    assert d.quantity == pytest.approx(0.2) and d.quantity != int(d.quantity)


def test_own_holdings_use_slots_and_budget():
    s = BucketConfig(capital_share=0.5, max_positions=2, sizing="equal")
    held = [Holding("Z", 30_000.0, AssetClass.EQUITY, bucket="b")]
    sel = run([cand("A", 2.0), cand("B", 1.0)], settings=s, held=held)
    assert [d.symbol for d in sel.decisions] == ["A"]  # one slot left
    assert sel.decisions[0].dollars == pytest.approx(20_000.0)  # 50,000 - 30,000 held
    assert sel.decisions[0].constraints[-1].name == "bucket_budget"


def test_share_too_small_for_one_share_is_rejected():
    sel = run([cand("BRK", 1.0, price=500_000.0)])
    assert sel.decisions == () and sel.rejected[0][1].name == "lot_size"


# ---------------------------------------------------------------------------- properties
symbols = st.sampled_from([f"S{i}" for i in range(12)] + ["BTC-USD", "ETH-USD", "SOL-USD"])


@st.composite
def candidates(draw):
    syms = draw(st.lists(symbols, min_size=0, max_size=10, unique=True))
    out = []
    for s in syms:
        crypto = s.endswith("-USD")
        price = draw(st.floats(0.5, 60_000.0 if crypto else 2_000.0))
        out.append(
            Candidate(
                symbol=s,
                score=draw(st.floats(-5, 5)),
                price=price,
                asset_class=AssetClass.CRYPTO if crypto else AssetClass.EQUITY,
                volatility=draw(st.one_of(st.none(), st.floats(0.001, 0.2))),
                stop=draw(st.one_of(st.none(), st.floats(0.01, 1.2).map(lambda f, p=price: f * p))),
                adv_dollars=draw(st.one_of(st.none(), st.floats(1e3, 1e10))),
                sector=draw(st.sampled_from([None, "Tech", "Energy", "Health"])),
                exit_reason=draw(st.sampled_from([None, None, None, "exit signal"])),
                # a meta-model's size factor (tsys.ml "size" mode); 1.0 is no model
                size_factor=draw(st.one_of(st.just(1.0), st.floats(0.0, 1.0))),
            )
        )
    return out


#: The account and bucket every property below draws.
BOOK = {
    "equity": st.floats(1_000.0, 5_000_000.0),
    "share": st.floats(0.0, 1.0),
    "max_pos": st.integers(0, 8),
    "sizing": st.sampled_from(["equal", "inverse_vol", "risk"]),
    "regime": st.floats(0.0, 1.0),
}


@given(
    cands=candidates(),
    **BOOK,
    sector_cap=st.floats(0.0, 1.0),
    adv_share=st.floats(0.0, 0.2),
    max_w=st.floats(0.0, 1.0),
    crypto_cap=st.floats(0.0, 1.0),
    blocked=st.lists(symbols, max_size=4),
    target_vol=st.one_of(st.none(), st.floats(0.1, 1.5)),
    held_crypto=st.floats(0.0, 0.5),
)
def test_properties_caps_budget_blocks_lots(
    cands,
    equity,
    share,
    max_pos,
    sizing,
    regime,
    sector_cap,
    adv_share,
    max_w,
    crypto_cap,
    blocked,
    target_vol,
    held_crypto,
):
    settings = BucketConfig(capital_share=share, max_positions=max_pos, sizing=sizing)
    risk = RiskConfig(
        sector_cap=sector_cap,
        max_pairwise_correlation=1.0,
        max_adv_share=adv_share,
        max_position_weight=max_w,
    )
    overrides = OverridesConfig(blocked_symbols=blocked, crypto_exposure_cap=crypto_cap)
    held = [Holding("DOGE-USD", held_crypto * equity, AssetClass.CRYPTO, bucket="manual")]
    inputs = dict(equity=equity, bucket="b", settings=settings, risk=risk, overrides=overrides)
    inputs.update(regime=regime, held=held, sizing=sizing, target_volatility=target_vol)
    sel = select_and_size(cands, **inputs)
    tol = 1e-9 * equity
    total = sum(d.dollars for d in sel.decisions)
    assert total <= share * regime * equity + tol
    assert len(sel.decisions) <= max_pos
    assert not {d.symbol.upper() for d in sel.decisions} & {b.upper() for b in blocked}
    # never buy what the bucket is exiting (issue 13.3)
    assert not {d.symbol for d in sel.decisions} & {c.symbol for c in cands if c.exit_reason}
    crypto = sum(d.dollars for d in sel.decisions if d.asset_class is AssetClass.CRYPTO)
    assert crypto <= max(0.0, crypto_cap * equity - held_crypto * equity) + tol
    by_sector: dict[str, float] = {}
    for d in sel.decisions:
        assert d.dollars > 0 and d.weight == pytest.approx(d.dollars / equity)
        assert d.dollars <= max_w * equity + tol
        c = next(c for c in cands if c.symbol == d.symbol)
        if c.adv_dollars is not None:
            assert d.dollars <= adv_share * c.adv_dollars + tol
        if d.asset_class is AssetClass.EQUITY:
            assert d.quantity == int(d.quantity)
            if d.sector is not None:
                by_sector[d.sector] = by_sector.get(d.sector, 0.0) + d.dollars
        assert d.dollars == pytest.approx(d.quantity * d.price, rel=1e-9)
    for v in by_sector.values():
        assert v <= sector_cap * equity + tol
    # rounding to a lot never loses more than one lot against the unrounded size
    unrounded = select_and_size(cands, **inputs, round_lots=False)
    # (only the first pick: later budgets differ by what rounding left over)
    if (
        sel.decisions
        and unrounded.decisions
        and sel.decisions[0].symbol == unrounded.decisions[0].symbol
    ):
        d, u = sel.decisions[0], unrounded.decisions[0]
        lot = 1.0 if d.asset_class is AssetClass.EQUITY else 1e-8
        assert 0 <= u.dollars - d.dollars <= lot * d.price + tol


@given(cands=candidates(), round_lots=st.booleans(), **BOOK)
@example(  # found in CI: a factor one ulp below 1 shrinks nothing, so nothing is recorded
    cands=[
        Candidate("S0", score=0.0, price=1.0, asset_class=AssetClass.EQUITY,
                  size_factor=0.9999999999999999)
    ],
    round_lots=False, equity=1000.0, share=1.0, max_pos=1, sizing="equal", regime=1.0,
)  # fmt: skip
@example(  # found in CI: a 2e-16 dollar position under the old cap tolerance was not scaled
    cands=[
        Candidate(f"S{i}", score=0.0, price=1.0, asset_class=AssetClass.EQUITY,
                  size_factor=2.4047535442819524e-218 if i == 0 else 1.0)
        for i in range(5)
    ],
    round_lots=False, equity=1000.0, share=1.0, max_pos=1, sizing="equal", regime=1e-18,
)  # fmt: skip
def test_property_a_size_factor_only_shrinks_what_the_caps_allowed(
    cands, equity, share, max_pos, sizing, regime, round_lots
):
    """The meta-model's "size" mode (issue 16): the factor scales the allocation sized under
    every cap (the caps and the budget are checked with factors by the property above); it is
    recorded as the ``ml_size`` constraint and the first pick is at most factor x its size
    without the model (plus one lot of rounding)."""
    import attrs

    from tsys.portfolio.construct import SIZE_CONSTRAINT

    settings = BucketConfig(capital_share=share, max_positions=max_pos, sizing=sizing)
    risk = RiskConfig(max_pairwise_correlation=1.0)

    def pick(cs):
        return select_and_size(
            cs, equity=equity, bucket="b", settings=settings, risk=risk,
            overrides=OverridesConfig(), regime=regime, round_lots=round_lots,
        ).decisions  # fmt: skip

    sized = pick(cands)
    plain = pick([attrs.evolve(c, size_factor=1.0) for c in cands])
    factor = {c.symbol: c.size_factor for c in cands}
    for d in sized:
        f = factor[d.symbol]
        # a factor that takes at least a micro-dollar off is recorded (1 - 1e-16 takes nothing)
        if 0.0 < f < 1.0 and d.dollars / f - d.dollars > 1e-6:
            assert any(c.name == SIZE_CONSTRAINT for c in d.constraints)
    if sized and plain and sized[0].symbol == plain[0].symbol:
        d = sized[0]
        lot = (1.0 if d.asset_class is AssetClass.EQUITY else 1e-8) * d.price
        assert d.dollars <= factor[d.symbol] * plain[0].dollars + (lot if round_lots else 0) + 1e-6


# ------------------------------------------------- the user's caps (issue 23: tsys override cap)
def test_equity_cap_counts_every_buckets_equities_and_names_the_rule():
    s = BucketConfig(capital_share=1.0, max_positions=2, sizing="equal")
    held = [Holding("H", 15_000.0, AssetClass.EQUITY, bucket="other")]
    ov = OverridesConfig(equity_exposure_cap=0.2, sources={"equity_exposure_cap": "O-0007"})
    sel = run([cand("A", 2.0), cand("B", 1.0)], settings=s, overrides=ov, held=held)
    [a] = sel.decisions  # 5,000 left under the cap, all to A; B gets nothing
    assert a.symbol == "A" and a.dollars == pytest.approx(5_000.0)
    con = a.constraints[-1]
    assert con.name == "equity_exposure_cap" and con.dollars_after == pytest.approx(5_000.0)
    assert "capped at 20% of the account today by override O-0007" in con.detail
    assert sel.rejected[0][0] == "B" and sel.rejected[0][1].name == "equity_exposure_cap"
    # crypto is not held to the equity cap
    btc = cand("BTC-USD", 3.0, price=10_000.0, asset_class=AssetClass.CRYPTO)
    sel = run([btc], settings=s, overrides=ov, held=held)
    assert sel.decisions[0].dollars == pytest.approx(50_000.0)


def test_bucket_cap_counts_the_buckets_own_holdings_only():
    s = BucketConfig(capital_share=1.0, max_positions=3, sizing="equal")
    held = [
        Holding("M", 10_000.0, AssetClass.EQUITY, bucket="b"),
        Holding("X", 50_000.0, AssetClass.EQUITY, bucket="other"),
    ]
    ov = OverridesConfig(bucket_caps={"b": 0.25}, sources={"bucket_cap:b": "O-0002"})
    sel = run([cand("A", 2.0), cand("B", 1.0)], settings=s, overrides=ov, held=held)
    assert sum(d.dollars for d in sel.decisions) == pytest.approx(15_000.0)
    con = sel.decisions[0].constraints[-1]
    assert con.name == "bucket_exposure_cap"
    assert "bucket b is capped at 25% of the account by the user by override O-0002" in con.detail
    # another bucket's cap does not touch this one
    other = OverridesConfig(bucket_caps={"other": 0.0})
    sel = run([cand("A", 2.0)], settings=s, overrides=other, held=held)
    assert sel.decisions[0].dollars == pytest.approx(33_300.0)  # 333 whole shares of a third


def test_sector_cap_binds_on_that_sector_only_matching_its_spelling_loosely():
    s = BucketConfig(capital_share=1.0, max_positions=3, sizing="equal")
    held = [Holding("XOM", 4_000.0, AssetClass.EQUITY, sector="energy", bucket="manual")]
    ov = OverridesConfig(sector_caps={"Energy": 0.05}, sources={"sector_cap:Energy": "O-0003"})
    sel = run(
        [cand("CVX", 3.0, sector="energy"), cand("AAPL", 2.0, sector="Information Technology")],
        settings=s,
        overrides=ov,
        held=held,
    )
    got = {d.symbol: d for d in sel.decisions}
    assert got["CVX"].dollars == pytest.approx(1_000.0)  # 5% of 100,000 less 4,000 held
    con = got["CVX"].constraints[-1]
    assert con.name == "sector_exposure_cap" and "by override O-0003" in con.detail
    assert got["AAPL"].dollars == pytest.approx(33_300.0)  # 333 whole shares of a third
    assert not got["AAPL"].constraints


def test_a_cap_from_tsys_toml_names_no_rule():
    ov = OverridesConfig(equity_exposure_cap=0.1)
    sel = run([cand("A", 1.0)], overrides=ov)
    con = sel.decisions[0].constraints[-1]
    assert con.name == "equity_exposure_cap" and "by override" not in con.detail


@given(
    cands=candidates(),
    equity=st.floats(1_000.0, 5_000_000.0),
    max_pos=st.integers(0, 8),
    sizing=st.sampled_from(["equal", "inverse_vol", "risk"]),
    equity_cap=st.floats(0.0, 1.0),
    bucket_cap=st.floats(0.0, 1.0),
    energy_cap=st.floats(0.0, 1.0),
    held_mine=st.floats(0.0, 0.5),
    held_energy=st.floats(0.0, 0.5),
)
def test_properties_user_caps_hold_after_every_selection(
    cands, equity, max_pos, sizing, equity_cap, bucket_cap, energy_cap, held_mine, held_energy
):
    overrides = OverridesConfig(
        equity_exposure_cap=equity_cap,
        bucket_caps={"b": bucket_cap},
        sector_caps={"Energy": energy_cap},
    )
    held = [
        Holding("MINE", held_mine * equity, AssetClass.EQUITY, sector="Tech", bucket="b"),
        Holding("OIL", held_energy * equity, AssetClass.EQUITY, sector="Energy", bucket="x"),
    ]
    sel = select_and_size(
        cands,
        equity=equity,
        bucket="b",
        settings=BucketConfig(capital_share=1.0, max_positions=max_pos, sizing=sizing),
        risk=LOOSE,
        overrides=overrides,
        held=held,
    )
    tol = 1e-9 * equity

    def new(pred):
        return sum(d.dollars for d in sel.decisions if pred(d))

    held_equity = (held_mine + held_energy) * equity
    assert new(lambda d: True) <= max(0.0, bucket_cap * equity - held_mine * equity) + tol
    is_equity = lambda d: d.asset_class is AssetClass.EQUITY  # noqa: E731
    assert new(is_equity) <= max(0.0, equity_cap * equity - held_equity) + tol
    energy = new(lambda d: is_equity(d) and d.sector == "Energy")
    assert energy <= max(0.0, energy_cap * equity - held_energy * equity) + tol
