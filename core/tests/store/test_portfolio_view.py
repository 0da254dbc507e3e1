"""build_view is pure: hand-computed lines, totals, exposures and clusters."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsys.contracts import PositionRecord
from tsys.portfolio.view import build_view, correlation_clusters

T0 = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)


def pos(
    symbol,
    qty,
    entry,
    *,
    side="buy",
    source="manual",
    stop=None,
    bucket="",
    ac="equity",
    closed=False,
    realized=0.0,
    pid=None,
):
    return PositionRecord(
        id=pid or f"{source}-{symbol}",
        source=source,
        symbol=symbol,
        asset_class=ac,
        side=side,
        quantity=0.0 if closed else qty,
        opened_at=T0,
        entry_price=entry,
        stop=stop,
        bucket=bucket,
        realized_pnl=realized,
        closed_at=T0 + dt.timedelta(days=3) if closed else None,
        exit_price=entry if closed else None,
    )


def test_lines_and_totals_by_hand():
    positions = [
        pos("A", 10, 50.0, stop=45.0, bucket="b1"),
        pos("S", 4, 30.0, side="sell", stop=33.0, source="paper"),
        pos("Z", 2, 10.0, source="system", stop=12.0),  # stop above price: nothing at risk
        pos("N", 5, 8.0),  # no price
        pos("C", 1, 1.0, closed=True, realized=12.5),
        pos("P", 3, 20.0, realized=-2.0, pid="partial"),
    ]
    prices = {"A": 55.0, "S": 28.0, "Z": 11.0, "P": 21.0}
    v = build_view(positions, prices, {"A": "Tech"}, None, 1000.0)
    by = {ln.position.symbol: ln for ln in v.lines}
    assert set(by) == {"A", "S", "Z", "N", "P"}
    a, s, z, n = by["A"], by["S"], by["Z"], by["N"]
    assert (a.market_value, a.unrealized_pnl, a.money_at_risk, a.r_multiple) == (550, 50, 100, 1.0)
    assert a.weight == 0.55 and a.sector == "Tech" and a.cost == 500
    assert (s.market_value, s.unrealized_pnl, s.money_at_risk) == (-112, 8, 20)
    assert s.r_multiple == pytest.approx(2 / 3)
    assert (z.money_at_risk, z.r_multiple) == (0.0, None)  # stop above entry on a long
    assert (n.last_price, n.market_value, n.money_at_risk) == (None, None, None)
    t = v.totals
    assert (t.positions, t.priced) == (5, 4)
    assert t.market_value == 550 - 112 + 22 + 63
    assert t.gross_exposure == 550 + 112 + 22 + 63
    assert t.unrealized_pnl == 50 + 8 + 2 + 3
    assert t.money_at_risk == 120
    assert t.cost == 500 + 120 + 20 + 40 + 60
    assert (t.realized_pnl, t.realized_pnl_closed, t.closed_trades) == (10.5, 12.5, 1)
    assert v.exposure["source"] == {"manual": 613, "paper": 112, "system": 22}
    assert v.exposure["bucket"] == {"b1": 550, "(none)": 197}
    assert v.exposure["sector"] == {"Tech": 550, "unknown": 197}
    assert any("no price for 1 symbol(s) (N)" in w for w in v.warnings)
    d = v.to_dict()
    assert d["exposure"]["source"]["paper"] == {"value": 112, "weight": 0.112}


def test_complete_linkage_does_not_chain():
    rng = np.random.default_rng(0)
    n = 60
    x = rng.normal(size=n)
    y = rng.normal(size=n)
    # A~B strongly, B~C strongly, A~C weakly: single linkage would chain them; complete must not.
    a = x + 0.3 * y
    b = x + y
    c = y + 0.3 * x
    d = rng.normal(size=n)
    rets = pd.DataFrame({"A": a, "B": b, "C": c, "D": d, "E": 2 * d + rng.normal(0, 0.1, n)})
    corr = rets.corr()
    assert corr.loc["A", "B"] > 0.7 and corr.loc["B", "C"] > 0.7 and corr.loc["A", "C"] < 0.7
    clusters = correlation_clusters(rets, dict.fromkeys("ABCDE", 10.0), 100.0)
    groups = [c.symbols for c in clusters]
    assert ("D", "E") in groups
    for g in groups:
        for i in g:
            for j in g:
                if i != j:
                    assert corr.loc[i, j] > 0.7
    assert not any({"A", "C"} <= set(g) for g in groups)
    de = next(c for c in clusters if c.symbols == ("D", "E"))
    assert (de.market_value, de.weight) == (20.0, 0.2)
    assert de.min_correlation == pytest.approx(corr.loc["D", "E"])


@given(
    st.lists(
        st.tuples(st.floats(0.01, 1e4), st.floats(0.01, 1e4), st.floats(0.01, 1e4), st.booleans()),
        min_size=1,
        max_size=20,
    )
)
def test_totals_are_sums_of_lines(rows):
    positions = [
        pos(f"S{i}", q, e, side="sell" if short else "buy", stop=e * 0.9)
        for i, (q, e, _, short) in enumerate(rows)
    ]
    prices = {f"S{i}": p for i, (_, _, p, _) in enumerate(rows)}
    v = build_view(positions, prices, {}, None, 1e6)
    exp_mv = sum((-q if short else q) * p for q, _, p, short in rows)
    exp_risk = sum(max(0.0, (-1 if short else 1) * q * (p - e * 0.9)) for q, e, p, short in rows)
    assert v.totals.market_value == pytest.approx(exp_mv, rel=1e-9, abs=1e-6)
    assert v.totals.money_at_risk == pytest.approx(exp_risk, rel=1e-9, abs=1e-6)
    assert all(ln.money_at_risk >= 0 for ln in v.lines)


def test_portfolio_flags_position_through_stop():
    """Issue 13.1: a position (manual included) whose last price is through its stop is flagged
    in the view, its JSON and a warning; one above its stop is not."""
    import datetime as dt

    from tsys.contracts import PositionRecord

    at = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    manual = PositionRecord(
        id="m1", source="manual", symbol="AAA", asset_class="equity", side="buy",
        quantity=10, opened_at=at, entry_price=100.0, stop=95.0,
    )  # fmt: skip
    paper = PositionRecord(
        id="p1", source="paper", symbol="BBB", asset_class="equity", side="buy",
        quantity=5, opened_at=at, entry_price=50.0, stop=45.0,
    )  # fmt: skip
    short = PositionRecord(
        id="m2", source="manual", symbol="CCC", asset_class="equity", side="sell",
        quantity=5, opened_at=at, entry_price=50.0, stop=55.0,
    )  # fmt: skip
    view = build_view(
        [manual, paper, short], {"AAA": 94.0, "BBB": 46.0, "CCC": 56.0}, {}, None, 10_000.0
    )
    flagged = {ln.position.symbol: ln.through_stop for ln in view.lines}
    assert flagged == {"AAA": True, "BBB": False, "CCC": True}
    assert any("AAA (manual) last 94.00 is through its stop 95.00" in w for w in view.warnings)
    rows = {r["symbol"]: r["through_stop"] for r in view.to_dict()["positions"]}
    assert rows == flagged


def test_newsletter_flags_position_through_stop():
    """The daily run tags a held position whose last close is through its stop; the
    newsletter's portfolio row says so and the run carries a warning."""
    import datetime as dt

    import numpy as np
    import pandas as pd

    from tsys.contracts import DailyRun, PortfolioSnapshot, PositionRecord
    from tsys.daily.snapshot import flag_through_stop
    from tsys.data.bars import Bars
    from tsys.report.newsletter import _portfolio_view

    at = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    held = [
        PositionRecord(
            id=f"m{i}",
            source="manual",
            symbol=s,
            asset_class="equity",
            side="buy",
            quantity=10,
            opened_at=at,
            entry_price=100.0,
            stop=95.0,
        )
        for i, s in enumerate(("AAA", "BBB"))
    ]
    closes = np.array([[96.0, 99.0], [94.5, 97.0]])
    idx = pd.date_range("2024-03-04", periods=2, tz="UTC")
    bars = Bars(
        idx, ("AAA", "BBB"), closes, closes, closes, closes, np.full((2, 2), 1e6),
        asset_classes=["equity", "equity"],
    )  # fmt: skip

    class Hub:
        def symbols(self):
            return ["AAA", "BBB"]

        def bars(self, symbols, start, end):
            return bars.select(symbols)

    flagged, notes = flag_through_stop(Hub(), held, dt.date(2024, 3, 5))
    assert [p.symbol for p in flagged if "through-stop" in p.tags] == ["AAA"]
    assert notes == [
        "AAA (manual) closed at 94.50, through its stop 95.00: the protective exit should "
        "have happened"
    ]
    run = DailyRun(
        as_of=dt.date(2024, 3, 5),
        created_at=at,
        config_digest="x",
        portfolio=PortfolioSnapshot(
            as_of=at, account_equity=10_000.0, cash=8_000.0, positions=flagged
        ),
    )
    rows = {r["symbol"]: r["stop"] for s in _portfolio_view(run)["sources"] for r in s["rows"]}
    assert "THROUGH" in rows["AAA"] and "THROUGH" not in rows["BBB"]
