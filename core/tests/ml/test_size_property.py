"""The meta-model's size factor in the one portfolio path: never above a cap, cash reconciles."""

from __future__ import annotations

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from tsys.config import BucketConfig, OverridesConfig, RiskConfig
from tsys.contracts import AssetClass
from tsys.portfolio.construct import SIZE_CONSTRAINT, Candidate, Holding, select_and_size

SECTORS = ("Tech", "Energy", None)


@st.composite
def book(draw):
    n = draw(st.integers(1, 8))
    cands = []
    for k in range(n):
        price = draw(st.floats(1.0, 2000.0))
        crypto = draw(st.booleans())
        cands.append(
            Candidate(
                symbol=f"S{k}" + ("-USD" if crypto else ""),
                score=draw(st.floats(0.0, 10.0)),
                price=price,
                asset_class=AssetClass.CRYPTO if crypto else AssetClass.EQUITY,
                volatility=draw(st.one_of(st.none(), st.floats(0.002, 0.08))),
                stop=price * draw(st.floats(0.5, 0.99)),
                adv_dollars=draw(st.one_of(st.none(), st.floats(1e4, 1e9))),
                sector=None if crypto else draw(st.sampled_from(SECTORS)),
                size_factor=draw(st.floats(0.0, 1.0)),
            )
        )
    held = [
        Holding(f"H{k}", draw(st.floats(0.0, 30_000.0)), AssetClass.EQUITY, "Tech", "b")
        for k in range(draw(st.integers(0, 3)))
    ]
    return cands, held


@settings(max_examples=80, deadline=None)
@given(
    b=book(),
    equity=st.floats(5_000.0, 5_000_000.0),
    share=st.floats(0.05, 1.0),
    slots=st.integers(1, 10),
    sizing=st.sampled_from(["equal", "inverse_vol", "risk"]),
    regime=st.floats(0.0, 1.0),
    crypto_cap=st.floats(0.05, 1.0),
    round_lots=st.booleans(),
)
def test_sizes_never_exceed_the_caps_and_cash_reconciles(
    b, equity, share, slots, sizing, regime, crypto_cap, round_lots
):
    cands, held = b
    risk = RiskConfig()
    overrides = OverridesConfig(crypto_exposure_cap=crypto_cap)
    cfg = BucketConfig(capital_share=share, max_positions=slots, sizing=sizing)

    def run(cs):
        return select_and_size(
            cs, equity=equity, bucket="b", settings=cfg, risk=risk, overrides=overrides,
            regime=regime, held=held, round_lots=round_lots,
        )  # fmt: skip

    sel = run(cands)
    plain = {d.symbol: d for d in run([attrs.evolve(c, size_factor=1.0) for c in cands]).decisions}
    mine = sum(h.dollars for h in held if h.bucket == "b")
    factor = {c.symbol: c.size_factor for c in cands}
    tol = 1e-6 * equity
    for d in sel.decisions:
        assert d.dollars <= risk.max_position_weight * equity + tol
        if d.sector is not None:
            assert d.dollars <= risk.sector_cap * equity + tol
        assert abs(d.quantity * d.price - d.dollars) <= 1e-6 * max(1.0, d.dollars)
        assert d.weight == d.dollars / equity
        f = factor[d.symbol]
        if f < 1.0 and d.dollars > 1e-6:
            assert any(c.name == SIZE_CONSTRAINT for c in d.constraints)
        if sel.decisions.index(d) == 0 and list(plain)[:1] == [d.symbol]:
            # the first pick meets the same caps as without the model: at most f times its size
            lot = d.price if round_lots else 0.0  # both sizes are rounded down to whole lots
            assert d.dollars <= f * plain[d.symbol].dollars + lot + tol
    crypto = sum(d.dollars for d in sel.decisions if d.asset_class is AssetClass.CRYPTO)
    assert crypto <= crypto_cap * equity + tol
    # cash reconciles: the bucket's buys fit in its regime-scaled budget, net of its holdings
    spent = sum(d.dollars for d in sel.decisions)
    assert spent <= max(0.0, sel.budget - mine) + tol
    assert len(sel.decisions) <= max(0, slots - len([h for h in held if h.bucket == "b"]))
