"""Issue 13.3 on the demo market: reasons match actions, nothing exiting is bought.

Reproduces the report: on 2024-03-14 the demo plan bought NERE while its own exit flag was set
(buy 03-12, sell 03-13, buy 03-14).
"""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from tsys.cli import cli
from tsys.contracts import Action, DailyRun
from tsys.serialization import loads
from tsys.testing.isolation import isolate

DAYS = ("2024-03-12", "2024-03-13", "2024-03-14")


@pytest.fixture(scope="module")
def three_days(tmp_path_factory):
    root = tmp_path_factory.mktemp("trust")
    mp = pytest.MonkeyPatch()
    isolate(mp, root)
    mp.setenv("COLUMNS", "80")
    # Stock picks (the reasons and blocks these tests read): Bucket A's members mode.
    (root / "tsys.toml").write_text('[buckets.sp500.params]\nmode = "members"\n')
    out = {}
    try:
        for day in DAYS:
            res = CliRunner().invoke(
                cli, ["run-daily", "--demo", "--as-of", day, "--buckets", "sp500", "--no-send"]
            )
            assert res.exit_code == 0, res.output
            run_dir = root / "data" / "demo" / "runs" / day  # --demo: the sandbox
            run = loads((run_dir / "run.json").read_text(), DailyRun)
            with (run_dir / "plans.csv").open() as fh:
                rows = list(csv.DictReader(fh))
            out[day] = (res.output, run, rows)
    finally:
        mp.undo()
    return out


def test_trust_reason_matches_action(three_days):
    for day, (_, run, rows) in three_days.items():
        for p in run.plans:
            lead = p.allocation.signal.rationale[0]
            if p.action is Action.SELL:
                assert lead.startswith(("exit", "stop", "time stop", "blocked")), (day, lead)
            elif p.action is Action.BUY:
                assert lead.startswith("entry"), (day, lead)
            elif p.action is Action.WATCH:
                assert lead.startswith(("not bought", "all ", "no entry", "its one")), lead
            elif p.action is Action.HOLD:
                assert lead.startswith(("hold", "exit", "stop")), lead
        # plans.csv carries the same reason, first, in its own column
        assert [r["reason"] for r in rows] == [p.allocation.signal.rationale[0] for p in run.plans]


def test_trust_never_buy_what_exits_demo(three_days):
    for _, run, _ in three_days.values():
        for p in run.plans:
            if p.action is Action.BUY:
                # explain() tags an exiting symbol with "exit: ..."; a BUY never has one.
                assert not any(t.startswith("exit:") for t in p.allocation.signal.rationale)
    _, run, _ = three_days["2024-03-14"]
    nere = [p for p in run.plans if p.symbol == "NERE"]
    assert nere and all(p.action is not Action.BUY for p in nere)
    assert nere[0].allocation.signal.rationale[0].startswith("not bought: its exit holds")


def test_trust_terminal_table_quantity_and_whole_words(three_days):
    text, run, _ = three_days["2024-03-14"]
    assert "qty" in text
    for p in run.plans:
        if p.action is Action.BUY:
            qty = f"{p.allocation.quantity:,.0f}"
            assert any(p.symbol in line and f" {qty} " in line for line in text.splitlines())
    assert "…" not in text  # nothing is cut with an ellipsis
    avoid = [b for br in run.buckets for b in br.blockers][:10]
    flat = " ".join(text.split())
    for b in avoid:
        # every avoid line is complete (wrapped, never cut): all its words are printed
        assert f"avoid {b.symbol}: {' '.join(b.reason.split())}" in flat
    assert all(len(line) <= 80 for line in text.splitlines() if "│" in line)
