"""Issue 23: a `tsys override` rule in a daily run on the demo market.

A ``--today`` crypto cap set for 2026-07-01 shrinks that day's crypto buys (the capped
allocations carry the constraint with the rule's id), is recorded in run.json and the
newsletter, and is gone in the run of the next day.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from tsys.cli import cli
from tsys.config import load_config
from tsys.daily.pipeline import run_daily

DAY, NEXT = dt.date(2026, 7, 1), dt.date(2026, 7, 2)


@pytest.fixture
def demo_env(tmp_path, monkeypatch):
    """The demo sandbox of a fresh data dir; returns its runs folder."""
    (tmp_path / "tsys.toml").write_text("[account]\nsize = 100000\n", encoding="utf-8")
    env = {"TSYS_CONFIG": tmp_path / "tsys.toml", "TSYS_DATA_DIR": tmp_path / "data"}
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.delenv("TSYS_DATABASE_URL", raising=False)
    return tmp_path / "data" / "demo" / "runs"


def _run(as_of, **kw):
    return run_daily(
        load_config(None), as_of=as_of, demo=True, buckets=["crypto"], paper=False, **kw
    ).run


def _crypto_buys(run):
    return {p.symbol: p.allocation for p in run.plans if p.action.name == "BUY"}


def test_today_crypto_cap_shrinks_the_days_buys_and_is_gone_next_day(demo_env):
    before = _crypto_buys(_run(DAY, dry_run=True))
    assert sum(a.dollars for a in before.values()) > 10_000  # the demo buys crypto that day

    r = CliRunner().invoke(
        cli,
        [
            *("override", "--demo", "cap", "crypto", "0.05", "--today"),
            *("--as-of", "2026-07-01", "--reason", "exchange outage"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "until 2026-07-03 00:00 UTC" in r.stdout  # the end of the next UTC day

    run = _run(DAY)
    capped = _crypto_buys(run)
    assert 0 < sum(a.dollars for a in capped.values()) <= 5_000 + 1e-6
    details = [c.detail for a in capped.values() for c in a.constraints]
    assert any("capped at 5% of the account today by override O-0001" in d for d in details)
    saved = json.loads((demo_env / "2026-07-01" / "run.json").read_text())
    [rec] = saved["overrides"]
    assert (rec["id"], rec["rule"], rec["since"], rec["reason"]) == (
        "O-0001",
        "cap crypto at 5%",
        "2026-07-01",
        "exchange outage",
    )
    assert rec["until"] == "2026-07-03T00:00:00+00:00" and rec["expires_next"] is True
    assert any("O-0001 (5%) is stricter than tsys.toml's 100% and wins" in w for w in run.warnings)
    text = (demo_env / "2026-07-01" / "newsletter.txt").read_text()
    assert "== Overrides in force ==" in text
    assert (
        "O-0001 cap crypto at 5%: since 2026-07-01, until 2026-07-03 00:00 UTC" in text
        and "reason: exchange outage" in text
    )
    assert "override O-0001 (cap crypto at 5%) expires 2026-07-03 00:00 UTC" in text

    nxt = _run(NEXT)
    assert nxt.overrides == ()
    assert not any("O-0001" in c.detail for p in nxt.plans for c in p.allocation.constraints)
    assert "Overrides in force" not in (demo_env / "2026-07-02" / "newsletter.txt").read_text()


def test_blocked_symbol_the_bucket_would_buy_shows_in_what_to_avoid(demo_env):
    before = _crypto_buys(_run(DAY, dry_run=True))
    sym = next(iter(before))
    r = CliRunner().invoke(
        cli, ["override", "--demo", "block", sym, "--until", "2026-07-01", "--as-of", "2026-07-01"]
    )
    assert r.exit_code == 0, r.output
    assert "warning" not in r.output  # the demo source knows it
    run = _run(DAY)
    assert sym not in _crypto_buys(run)
    [b] = [b for b in run.blockers if b.symbol == sym]
    assert (b.kind, b.reason) == ("user", "blocked by the user (override O-0001)")
    text = (demo_env / "2026-07-01" / "newsletter.txt").read_text()
    avoid = text.split("== What to avoid ==")[1].split("==")[0]
    assert f"{sym} (crypto): blocked by the user (override O-0001) [user]" in avoid


def test_pause_stops_new_entries_only(demo_env):
    r = CliRunner().invoke(
        cli, ["override", "--demo", "pause", "crypto", "--for", "3d", "--as-of", "2026-07-01"]
    )
    assert r.exit_code == 0, r.output
    run = _run(DAY, dry_run=True)
    assert _crypto_buys(run) == {}
    [b] = run.buckets
    assert any("paused by O-0001: no new entries today" in n for n in b.warnings)


def test_equity_and_bucket_caps_apply_in_the_daily_run_and_are_listed_once(demo_env):
    def run_sp500(**kw):
        return run_daily(
            load_config(None), as_of=DAY, demo=True, buckets=["sp500"], paper=False, **kw
        )

    before = _crypto_buys(run_sp500(dry_run=True).run)
    assert sum(a.dollars for a in before.values()) > 10_000  # the demo's sp500 buys that day
    for args in (("equity", "0.1"), ("sp500", "0.25")):
        r = CliRunner().invoke(
            cli, ["override", "--demo", "cap", *args, "--today", "--as-of", "2026-07-01"]
        )
        assert r.exit_code == 0, r.output
    outcome = run_sp500()
    run = outcome.run
    capped = _crypto_buys(run)
    assert 0 < sum(a.dollars for a in capped.values()) <= 10_000 + 1e-6
    cons = [c for a in capped.values() for c in a.constraints]
    assert any(
        c.name == "equity_exposure_cap"
        and "capped at 10% of the account today by override O-0001" in c.detail
        for c in cons
    )
    saved = json.loads((demo_env / "2026-07-01" / "run.json").read_text())
    assert [(o["id"], o["rule"], o["applied"]) for o in saved["overrides"]] == [
        ("O-0001", "cap equity at 10%", True),
        ("O-0002", "cap sp500 at 25%", True),
    ]
    text = (demo_env / "2026-07-01" / "newsletter.txt").read_text()
    assert "O-0002 cap sp500 at 25%: since 2026-07-01" in text and "not applied" not in text
    # listed once: in the section and the outcome's messages, not again among the warnings
    assert not any("override in force" in w for w in run.warnings)
    assert "override in force" not in text and text.count("O-0001 cap equity at 10%:") == 1
    assert any(
        m.startswith("override in force: O-0001 cap equity at 10%") for m in outcome.messages
    )
