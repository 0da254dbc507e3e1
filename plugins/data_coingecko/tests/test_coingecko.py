"""The coingecko source against a loopback CoinGecko speaking the real wire format."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cg_fake import COINS, KEY, NOW, RATE_LIMIT_BODY, sleeper

from tsys.api import JsonCache
from tsys.errors import ConfigError, DataError
from tsys.testing.data_plugins import discovered_source, option_problems


def expected_caps(top_n: int) -> dict[str, float]:
    """Independent expectation: the fake's coins by cap, first holder of a symbol wins."""
    ranked = sorted((c for c in COINS if c[3] is not None), key=lambda c: -c[3])[:top_n]
    out: dict[str, float] = {}
    for _cid, sym, _name, cap, _cats in ranked:
        if re.fullmatch(r"[a-z0-9]+", sym):
            out.setdefault(f"{sym.upper()}-USD", cap)
    return out


def test_market_caps_cold_then_warm(fake, make_source):
    src = make_source(per_page=4)
    caps = src.market_caps(None, NOW.date())
    assert list(caps.index) == [pd.Timestamp("2024-05-03")]
    assert caps.iloc[0].to_dict() == expected_caps(100)
    assert list(caps.columns)[:3] == ["BTC-USD", "ETH-USD", "USDT-USD"]
    # 15 coins at 4 per page: pages 1-4, the last one short.
    assert [c[0]["page"] for c in fake.calls] == ["1", "2", "3", "4"]
    assert all(c[0]["order"] == "market_cap_desc" and c[0]["per_page"] == "4" for c in fake.calls)
    again = make_source(per_page=4).market_caps(None, NOW.date())
    assert len(fake.calls) == 4  # warm cache: zero calls
    pd.testing.assert_frame_equal(caps, again)


def test_top_n_limits_pages(fake, make_source):
    caps = make_source(top_n=5, per_page=250).market_caps(None, NOW.date())
    assert caps.iloc[0].to_dict() == expected_caps(5)
    assert len(fake.calls) == 1 and fake.calls[0][0]["per_page"] == "5"


def test_history_is_not_faked(fake, make_source):
    src = make_source()
    assert src.market_caps(None, dt.date(2024, 4, 1)) is None
    assert any("only current market caps" in w for w in src.ctx.warnings)
    assert fake.calls == []
    yesterday = src.market_caps(None, dt.date(2024, 5, 2))  # the crypto as-of at 00:30 UTC
    assert list(yesterday.index) == [pd.Timestamp("2024-05-02")]


def test_excluded_coins_by_category_and_heuristics(fake, make_source):
    src = make_source()
    excluded = src.excluded_coins()
    cats = sorted({c[0].get("category") for c in fake.calls if "category" in c[0]})
    assert cats == ["stablecoins", "wrapped-tokens"]
    for sym in ("USDT-USD", "USDC-USD", "DAI-USD", "WBTC-USD", "TUSX-USD", "STETH-USD"):
        assert sym in excluded
    # A bridged "eth" in wrapped-tokens must not exclude Ethereum itself.
    for sym in ("BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "BNB-USD", "MATIC-USD"):
        assert sym not in excluded
    universe = src.universe("crypto", NOW.date())
    assert universe == ["BTC-USD", "ETH-USD", "BNB-USD", "SOL-USD", "XRP-USD", "MATIC-USD"]
    assert src.universe("sp500", NOW.date()) is None


def test_symbol_overrides(fake, make_source):
    src = make_source(symbol_overrides={"matic-network": "POL-USD", "BNB": "BNB-USDT"})
    caps = src.market_caps(None, NOW.date())
    assert "POL-USD" in caps.columns and "MATIC-USD" not in caps.columns
    assert "BNB-USDT" in caps.columns


def test_keys_and_plans(fake, make_source, monkeypatch):
    make_source().market_caps(None, NOW.date())
    headers = fake.calls[-1][1]
    assert "x-cg-demo-api-key" not in headers and "x-cg-pro-api-key" not in headers
    monkeypatch.setenv("COINGECKO_API_KEY", KEY)
    demo = make_source(top_n=3)  # plan defaults to demo when a key is set
    demo.market_caps(None, NOW.date())
    assert fake.calls[-1][1]["x-cg-demo-api-key"] == KEY
    assert KEY not in fake.calls[-1][0].values()  # the key is a header, not a query param
    pro = make_source(top_n=2, plan="pro")
    pro.market_caps(None, NOW.date())
    assert fake.calls[-1][1]["x-cg-pro-api-key"] == KEY
    assert KEY not in repr(pro.client)
    monkeypatch.delenv("COINGECKO_API_KEY")
    with pytest.raises(ConfigError, match="needs COINGECKO_API_KEY"):
        make_source(plan="pro")


def test_default_hosts_per_plan(monkeypatch, tmp_path):
    from tsys_data_coingecko.source import CoinGeckoSource

    from tsys.data.source import SourceContext

    monkeypatch.setenv("COINGECKO_API_KEY", KEY)
    ctx = SourceContext(cache_dir=tmp_path)
    assert (
        CoinGeckoSource.from_config({"plan": "pro"}, ctx).client.base_url
        == "https://pro-api.coingecko.com/api/v3"
    )
    assert (
        CoinGeckoSource.from_config({}, ctx).client.base_url == "https://api.coingecko.com/api/v3"
    )


def test_429_with_retry_after_then_success(fake, make_source):
    fake.script = [(429, json.dumps(RATE_LIMIT_BODY), {"Retry-After": "2"})]
    src = make_source(top_n=3, max_backoff_seconds=30)
    waits: list[float] = []
    src.client.sleep = waits.append
    caps = src.market_caps(None, NOW.date())
    assert caps.iloc[0].to_dict() == expected_caps(3)
    assert waits == [2.0]  # Retry-After honoured
    assert len(fake.calls) == 2


def test_429_inside_http_200_and_http_date_retry_after(fake, make_source):
    when = "Fri, 03 May 2024 00:30:05 GMT"
    fake.script = [
        (200, json.dumps(RATE_LIMIT_BODY), {}),
        (429, json.dumps(RATE_LIMIT_BODY), {"Retry-After": when}),
    ]
    src = make_source(top_n=3, backoff_seconds=0.5, max_backoff_seconds=30)
    waits: list[float] = []
    src.client.sleep = waits.append
    src.client.clock = lambda: NOW.timestamp()
    src.market_caps(None, NOW.date())
    assert waits == [0.5, 5.0]  # exponential backoff without a header, then the header's date


def test_retries_are_bounded(fake, make_source):
    fake.script = [(429, json.dumps(RATE_LIMIT_BODY), {"Retry-After": "1"})] * 5
    src = make_source(max_retries=2)
    with pytest.raises(DataError, match=r"failed after 3 attempt\(s\): rate limited"):
        src.market_caps(None, NOW.date())
    assert len(fake.calls) == 3


def test_5xx_then_success_and_persistent_5xx(fake, make_source):
    fake.script = [(502, "<html>Bad Gateway</html>", {})]
    assert make_source(top_n=2).market_caps(None, NOW.date()).shape == (1, 2)
    fake.script = [(503, "", {})] * 4
    with pytest.raises(DataError, match=r"server error \(HTTP 503\)"):
        make_source(top_n=3, max_retries=3).market_caps(None, NOW.date())


def test_bad_key_is_not_retried_and_not_echoed(fake, make_source, monkeypatch):
    monkeypatch.setenv("COINGECKO_API_KEY", KEY)
    body = {"status": {"error_code": 10002, "error_message": f"Invalid API key {KEY}"}}
    fake.script = [(401, json.dumps(body), {})]
    with pytest.raises(DataError, match="refused the request") as info:
        make_source().market_caps(None, NOW.date())
    assert KEY not in str(info.value)
    assert len(fake.calls) == 1


@pytest.mark.parametrize(
    ("step", "words"),
    [
        ((200, "<html>maintenance</html>", {}), "not valid JSON"),
        ((200, '[{"id": "bitcoin"', {}), "not valid JSON"),
        ((200, '{"coins": []}', {}), "unexpected shape"),
        ((400, '{"error": "invalid vs_currency"}', {}), "HTTP 400: invalid vs_currency"),
    ],
)
def test_malformed_answers(fake, make_source, step, words):
    fake.script = [step]
    with pytest.raises(DataError, match=re.escape(words)):
        make_source().market_caps(None, NOW.date())


def test_timeout_retried_then_clear_error(fake, make_source):
    fake.script = [sleeper(0.6), sleeper(0.6)]
    with pytest.raises(DataError, match=r"no answer within 0\.2 s"):
        make_source(timeout=0.2, max_retries=1).market_caps(None, NOW.date())


def test_empty_ranking_is_an_empty_frame_with_a_warning(fake, make_source):
    fake.coins = []
    src = make_source()
    caps = src.market_caps(None, NOW.date())
    assert caps.shape == (1, 0)
    assert any("came back empty" in w for w in src.ctx.warnings)
    assert src.excluded_coins() >= {"USDT-USD", "USDC-USD"}  # the fixed symbol list still holds


def test_stale_cache_used_when_refresh_fails(fake, make_source, tmp_path):
    first = make_source().market_caps(None, NOW.date())
    cache = tmp_path / "cache" / "coingecko"
    before = {p: p.read_bytes() for p in cache.rglob("*.json")}
    fake.script = [(429, json.dumps(RATE_LIMIT_BODY), {"Retry-After": "0"})] * 4
    later = make_source(now=NOW + dt.timedelta(days=1))
    caps = later.market_caps(None, (NOW + dt.timedelta(days=1)).date())
    assert caps.iloc[0].to_dict() == first.iloc[0].to_dict()
    assert any("could not be refreshed" in w and "2024-05-03" in w for w in later.ctx.warnings)
    assert {p: p.read_bytes() for p in cache.rglob("*.json")} == before


def test_key_never_in_logs(fake, make_source, monkeypatch, caplog):
    monkeypatch.setenv("COINGECKO_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    fake.script = [(429, json.dumps(RATE_LIMIT_BODY), {"Retry-After": "0"})]
    make_source(top_n=3).market_caps(None, NOW.date())
    assert "retrying" in caplog.text
    assert KEY not in caplog.text


@pytest.mark.parametrize(
    ("options", "line"),
    [
        (
            {"topn": 3},
            "unknown option 'topn' (did you mean 'top_n'?) @ $.data.options.coingecko.topn",
        ),
        (
            {"plan": "enterprise"},
            "must be one of 'public', 'demo', 'pro', got 'enterprise' @ $.data.options.coingecko.plan",
        ),
        (
            {"per_page": 500},
            "must be between 1 and 250, got 500 @ $.data.options.coingecko.per_page",
        ),
        (
            {"symbol_overrides": {"x": 3}},
            "expected a string, got 3 (an integer) @ $.data.options.coingecko.symbol_overrides.x",
        ),
        (
            {"exclude_categories": "stablecoins"},
            "expected a list of strings, got 'stablecoins' (a string) "
            "@ $.data.options.coingecko.exclude_categories",
        ),
    ],
)
def test_options_are_validated(make_source, options, line):
    assert option_problems(make_source, **options) == [line]


def test_symbol_override_keys_are_matched_in_lower_case(make_source):
    src = make_source(symbol_overrides={"MATIC-Network": "POL-USD"})
    assert src.bars_symbol({"id": "matic-network", "symbol": "matic"}) == "POL-USD"


def test_discovered_through_entry_point():
    cls = discovered_source("coingecko", distribution="tsys-data-coingecko")
    assert cls.provides == {"market_caps", "excluded_coins"}


def test_config_to_registry_path(fake, httpserver, tmp_path, monkeypatch):
    """What `tsys data universe crypto` does: config -> registry -> caps minus exclusions."""
    from tsys.config import config_from_dict
    from tsys.data.source import SourceContext
    from tsys.data.sources import open_source
    from tsys.testing.isolation import plugins_registered

    monkeypatch.delenv("COINGECKO_API_KEY", raising=False)
    cfg = config_from_dict(
        {"data": {"options": {"coingecko": {"base_url": httpserver.url_for("/api/v3")}}}}
    )
    with plugins_registered():
        src = open_source("coingecko", cfg, ctx=SourceContext(tmp_path))
    src.now = lambda: NOW
    caps = src.market_caps(None, NOW.date())
    excluded = src.excluded_coins()
    universe = [s for s in caps.columns if s not in excluded]
    assert universe == ["BTC-USD", "ETH-USD", "BNB-USD", "SOL-USD", "XRP-USD", "MATIC-USD"]
    assert src.client.plan == "public"
    assert JsonCache(tmp_path / "coingecko").path("markets", "top100").is_file()
    assert len(fake.calls) == 3  # cold: one ranking page + one page per category
    with plugins_registered():
        warm = open_source("coingecko", cfg, ctx=SourceContext(tmp_path))
    warm.now = lambda: NOW
    warm.market_caps(None, NOW.date())
    warm.excluded_coins()
    assert len(fake.calls) == 3  # warm, same UTC day: zero calls


def test_cli_data_universe_crypto(fake, httpserver, tmp_path, monkeypatch):
    """`tsys data universe crypto --source coingecko` against the loopback API."""
    from click.testing import CliRunner

    from tsys import plugins
    from tsys.cli import cli

    monkeypatch.delenv("COINGECKO_API_KEY", raising=False)
    (tmp_path / "tsys.toml").write_text(
        f'[data.options.coingecko]\nbase_url = "{httpserver.url_for("/api/v3")}"\n'
        "max_retries = 1\nbackoff_seconds = 0.01\nmax_backoff_seconds = 0.02\n"
    )
    monkeypatch.setenv("TSYS_DATA_DIR", str(tmp_path / "data"))
    plugins.reset_plugin_manager()
    args = ["--config", str(tmp_path / "tsys.toml"), "data", "universe", "crypto"]
    args += ["--source", "coingecko", "--json"]
    try:
        ok = CliRunner().invoke(cli, args)
        assert ok.exit_code == 0, ok.output
        members = [m["symbol"] for m in json.loads(ok.output)["members"]]
        assert members == ["BTC-USD", "ETH-USD", "BNB-USD", "SOL-USD", "XRP-USD", "MATIC-USD"]
        cache = JsonCache(tmp_path / "data" / "cache" / "coingecko")
        assert cache.path("markets", "top100").is_file()
        fake.script = [(429, json.dumps(RATE_LIMIT_BODY), {"Retry-After": "0"})] * 2
        shutil.rmtree(tmp_path / "data" / "cache")
        bad = CliRunner().invoke(cli, args)
        assert bad.exit_code == 4, bad.output
        assert "rate limited (HTTP 429)" in bad.output and "Traceback" not in bad.output
    finally:
        plugins.reset_plugin_manager()
