"""Issue 23: `tsys override` rules in the store, their expiry and the command line."""

from __future__ import annotations

import datetime as dt
import json

import attrs
import pytest
from click.testing import CliRunner

from tsys.cli import cli
from tsys.config import OverridesConfig
from tsys.errors import ConfigError, StoreError
from tsys.overrides import decision_time, expiry_after, in_force_at, last_day, merge
from tsys.store import open_store

from .override_rules import rule as _rule

UTC = dt.UTC
FRI, SAT, MON, TUE = (dt.date(2024, 5, d) for d in (3, 4, 6, 7))


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A configuration on the demo market: the rules live in the demo sandbox's SQLite file."""
    cfg = tmp_path / "tsys.toml"
    cfg.write_text('[data]\nsource = "demo"\n', encoding="utf-8")
    monkeypatch.setenv("TSYS_CONFIG", str(cfg))
    monkeypatch.setenv("TSYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return f"sqlite:///{tmp_path / 'data' / 'demo' / 'tsys.db'}"


def run(*args):
    return CliRunner().invoke(cli, ["override", *args])


# --- expiry -----------------------------------------------------------------------------


def test_friday_today_on_equities_expires_after_mondays_close():
    exp = expiry_after(last_day(FRI, until=None, for_=None, is_today=True), "equity")
    assert exp == dt.datetime(2024, 5, 6, 20, 0, tzinfo=UTC)  # Monday 16:00 New York (EDT)
    rule = _rule(target="equity", ac="equity", expires=exp)
    assert in_force_at([rule], FRI) == [rule]
    assert in_force_at([rule], SAT) == [rule]  # the weekend still decides on Friday's close
    assert in_force_at([rule], MON) == []
    assert in_force_at([rule], TUE) == []


def test_crypto_today_lasts_until_the_end_of_the_next_utc_day():
    exp = expiry_after(last_day(SAT, until=None, for_=None, is_today=True), "crypto")
    assert exp == dt.datetime(2024, 5, 6, tzinfo=UTC)
    rule = _rule(starts=SAT, expires=exp)
    assert in_force_at([rule], FRI) == []  # set on Saturday: not before
    assert in_force_at([rule], SAT) == [rule]
    assert in_force_at([rule], dt.date(2024, 5, 5)) == []


def test_decision_time_per_asset_class():
    assert decision_time(FRI, "equity") == dt.datetime(2024, 5, 3, 20, 0, tzinfo=UTC)
    assert decision_time(SAT, "equity") == decision_time(FRI, "equity")
    assert decision_time(FRI, "crypto") == dt.datetime(2024, 5, 4, tzinfo=UTC)


def test_for_and_until_bad_input():
    assert last_day(FRI, until=None, for_="5d", is_today=False) == dt.date(2024, 5, 7)
    assert last_day(FRI, until=None, for_="2w", is_today=False) == dt.date(2024, 5, 16)
    assert last_day(FRI, until=None, for_=None, is_today=False) is None
    with pytest.raises(ConfigError, match="not a duration"):
        last_day(FRI, until=None, for_="5x", is_today=False)
    with pytest.raises(ConfigError, match="in the past"):
        last_day(FRI, until=dt.date(2024, 5, 2), for_=None, is_today=False)
    with pytest.raises(ConfigError, match="not several"):
        last_day(FRI, until=MON, for_="5d", is_today=False)


def test_removed_rule_is_not_in_force_after_its_removal():
    removed = dt.datetime(2024, 5, 6, 12, tzinfo=UTC)
    rule = _rule(target="equity", ac="equity", removed_at=removed, removed_by="bob")
    assert in_force_at([rule], FRI) == [rule]
    assert in_force_at([rule], MON) == []


# --- merge with tsys.toml ------------------------------------------------------------------


def test_stricter_crypto_cap_wins_and_says_so():
    strict = merge(OverridesConfig(crypto_exposure_cap=0.5), [_rule(share=0.05)], FRI)
    assert strict.overrides.crypto_exposure_cap == 0.05
    assert any("O-0001 (5%) is stricter" in n for n in strict.notes)
    loose = merge(OverridesConfig(crypto_exposure_cap=0.02), [_rule(share=0.05)], FRI)
    assert loose.overrides.crypto_exposure_cap == 0.02
    assert any("stricter 2% wins over O-0001 (5%)" in n for n in loose.notes)
    # The rule itself is listed by the records (run.json, the newsletter), not the notes.
    assert not any(n.startswith("override in force") for n in loose.notes)
    assert [r["rule"] for r in loose.records] == ["cap crypto at 5%"]


def test_blocks_and_pauses_add_up_and_caps_merge_per_target():
    rules = [
        _rule(kind="block", target="TSLA", ac="equity", id="O-0002"),
        _rule(kind="block", target="AAPL", ac="equity", id="O-0003"),
        _rule(kind="pause", target="sp500", ac="equity", target_type="bucket", id="O-0004"),
        _rule(target="Energy", ac="equity", target_type="sector", id="O-0005"),
    ]
    m = merge(OverridesConfig(blocked_symbols=["aapl"]), rules, FRI)
    assert m.overrides.blocked_symbols == ["aapl", "TSLA"]
    assert m.overrides.paused_buckets == ["sp500"]
    assert m.overrides.sources == {
        "TSLA": "O-0002",
        "sp500": "O-0004",
        "sector_cap:Energy": "O-0005",
    }
    assert m.overrides.sector_caps == {"Energy": 0.05}
    assert any("AAPL is blocked by tsys.toml and by O-0003" in n for n in m.notes)
    assert [r.id for r in m.in_force] == ["O-0002", "O-0003", "O-0004", "O-0005"]
    assert all(r["applied"] for r in m.records)
    assert merge(OverridesConfig(), rules, dt.date(2024, 5, 2)).in_force == ()


@pytest.mark.parametrize(
    ("target_type", "target", "field", "key"),
    [
        ("asset_class", "equity", "equity_exposure_cap", "equity_exposure_cap"),
        ("bucket", "sp500", "bucket_caps", "bucket_cap:sp500"),
        ("sector", "Energy", "sector_caps", "sector_cap:Energy"),
    ],
)
def test_stricter_cap_wins_for_equity_bucket_and_sector(target_type, target, field, key):
    def value(m):
        got = getattr(m.overrides, field)
        return got if isinstance(got, float) else got.get(target)

    def file(share):
        if field == "equity_exposure_cap":
            return OverridesConfig(equity_exposure_cap=share)
        return OverridesConfig(**{field: {target: share}})

    rule = _rule(target=target, ac="equity", target_type=target_type, share=0.2)
    strict = merge(file(0.5), [rule], FRI)
    assert value(strict) == 0.2 and strict.overrides.sources[key] == "O-0001"
    assert any("O-0001 (20%) is stricter than tsys.toml's 50% and wins" in n for n in strict.notes)
    loose = merge(file(0.1), [rule], FRI)
    assert value(loose) == 0.1 and key not in loose.overrides.sources
    assert any("the stricter 10% wins over O-0001 (20%)" in n for n in loose.notes)
    # Two rules on the same thing: the stricter rule wins, named as such.
    other = attrs.evolve(rule, id="O-0002", share=0.1)
    two = merge(OverridesConfig(), [rule, other], FRI)
    assert value(two) == 0.1 and two.overrides.sources[key] == "O-0002"
    assert any("O-0002 (10%) is stricter than O-0001 20% and wins" in n for n in two.notes)


def test_record_warns_on_the_last_run_before_expiry():
    exp = expiry_after(MON, "equity")  # holds for Monday's run, gone by Tuesday's
    rule = _rule(target="equity", ac="equity", expires=exp, reason="why")
    assert merge(OverridesConfig(), [rule], FRI).records[0]["expires_next"] is False
    rec = merge(OverridesConfig(), [rule], MON).records[0]
    assert rec["expires_next"] is True
    assert (rec["id"], rec["since"], rec["reason"], rec["by"]) == (
        "O-0001",
        "2024-05-03",
        "why",
        "ann",
    )


# --- store ---------------------------------------------------------------------------------


def test_store_keeps_history_and_refuses_a_second_removal(db_url):
    now = dt.datetime(2024, 5, 3, 14, tzinfo=UTC)
    with open_store(db_url) as s:
        a = s.overrides.add(
            kind="cap",
            target="crypto",
            target_type="asset_class",
            asset_class="crypto",
            share=0.05,
            reason="r",
            created_by="ann",
            created_at=now,
            starts_at=now,
            expires_at=now + dt.timedelta(days=1),
        )
        assert a.id == "O-0001" and s.overrides.get("o-1") == a
        gone = s.overrides.remove("O-0001", by="bob", at=now + dt.timedelta(hours=1))
        assert gone.removed_by == "bob" and s.overrides.all() == [gone]
        with pytest.raises(StoreError, match="already removed"):
            s.overrides.remove("O-0001", by="bob", at=now)
        with pytest.raises(StoreError, match="no override O-0009"):
            s.overrides.get("O-0009")
        with pytest.raises(StoreError, match="not an override id"):
            s.overrides.get("X1")


# --- command line --------------------------------------------------------------------------


def test_cli_cap_list_remove_roundtrip(env):
    r = run("cap", "crypto", "0.05", "--today", "--as-of", "2024-05-03", "--reason", "outage")
    assert r.exit_code == 0, r.output
    assert "set O-0001 cap crypto at 5% (since 2024-05-03, until 2024-05-05 00:00 UTC" in r.stdout
    assert "reason: outage" in r.stdout
    r = run("block", "aaa", "--for", "5d", "--json")
    assert r.exit_code == 0, r.output
    block = json.loads(r.stdout)
    assert (block["id"], block["kind"], block["target"]) == ("O-0002", "block", "AAA")
    r = run("list", "--json")
    rows = json.loads(r.stdout)
    assert [x["id"] for x in rows] == ["O-0002"]  # the 2024 cap has expired
    r = run("list", "--all")
    assert "O-0001 cap crypto at 5%" in r.stdout and "[expired]" in r.stdout
    r = run("remove", "O-0002")
    assert r.exit_code == 0 and "removed O-0002 block AAA" in r.stdout
    assert "no overrides in force" in run("list").stdout
    assert "[removed " in run("list", "--all").stdout
    r = run("remove", "O-0002")
    assert r.exit_code != 0 and "already removed" in r.output


def test_cli_pause_and_bad_input(env):
    r = run("pause", "crypto", "--until", "2999-01-01", "--reason", "rebuild")
    assert r.exit_code == 0, r.output
    assert "set O-0001 pause crypto (since" in r.stdout
    r = run("pause", "sp5000")
    assert r.exit_code == 2 and "did you mean 'sp500'?" in r.output
    r = run("cap", "crypto", "1.5")
    assert r.exit_code == 2 and "between 0 and 1" in r.output
    r = run("cap", "crytpo", "0.5")
    assert r.exit_code == 2 and "did you mean 'crypto'?" in r.output
    r = run("cap", "crypto", "0.5", "--until", "2000-01-01")
    assert r.exit_code == 2 and "in the past" in r.output
    r = run("block", "aaa", "--for", "5d", "--until", "2999-01-01")
    assert r.exit_code == 2 and "not several" in r.output
    r = run("block", "NOSUCH")
    assert r.exit_code == 0 and "does not know NOSUCH" in r.output
    with open_store(env) as s:
        assert [x.id for x in s.overrides.all()] == ["O-0001", "O-0002"]  # bad input: nothing


def test_cli_cap_sector_and_bucket_targets(env):
    r = run("cap", "information technology", "0.2", "--json")
    assert json.loads(r.stdout)["target"] == "Information Technology"
    r = run("cap", "sp500", "0.3", "--json")
    row = json.loads(r.stdout)
    assert (row["target_type"], row["asset_class"], row["expires_at"]) == (
        "bucket",
        "equity",
        None,
    )


def test_tsys_toml_caps_load_and_bad_shares_are_refused(tmp_path):
    from tsys.config import load_config

    good = tmp_path / "good.toml"
    good.write_text(
        "[overrides]\nequity_exposure_cap = 0.5\nbucket_caps = { sp500 = 0.4 }\n"
        'sector_caps = { "Energy" = 0.05 }\n',
        encoding="utf-8",
    )
    ov = load_config(good).overrides
    assert (ov.equity_exposure_cap, ov.bucket_caps, ov.sector_caps) == (
        0.5,
        {"sp500": 0.4},
        {"Energy": 0.05},
    )
    for bad in ("bucket_caps = { sp500 = 1.5 }", 'sector_caps = { "Energy" = true }'):
        path = tmp_path / "bad.toml"
        path.write_text(f"[overrides]\n{bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError):
            load_config(path)
