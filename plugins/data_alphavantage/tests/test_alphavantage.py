"""The alphavantage source against a loopback Alpha Vantage speaking the real wire formats."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from av_fake import (
    BAD_KEY,
    BURST,
    DEMO,
    INVALID_CALL,
    KEY,
    NOTE,
    NOW,
    PREMIUM,
    QUOTA,
    QUOTA_WITH_KEY,
    sleeper,
)

from tsys.data.source import NEWS_COLUMNS
from tsys.errors import DataError
from tsys.testing.data_plugins import discovered_source, option_problems

D1, D2, D3 = dt.date(2024, 5, 1), dt.date(2024, 5, 2), dt.date(2024, 5, 3)


def seed_news(fake):
    fake.add_article("20240501T133000", "Apple beats", AAPL=(0.41, 0.9))
    fake.add_article("20240501T150000", "Both move", AAPL=(-0.2, 0.3), MSFT=(0.1, 0.5))
    fake.add_article("20240502T090000", "Microsoft slips", MSFT=(-0.62, 0.8))
    fake.add_article("20240503T200000", "Apple recall", AAPL=(-0.7, 0.95))
    fake.add_article("20240430T200000", "Too early", AAPL=(0.9, 0.9))
    fake.add_article("20240502T100000", "Other ticker", IBM=(0.5, 0.5))


def expected_rows(fake, symbols, start, end):
    """Independent expectation: walk the fake's articles directly."""
    rows = []
    for when, title, scores in fake.articles:
        day = dt.datetime.strptime(when, "%Y%m%dT%H%M%S").date()
        for sym in symbols:
            if sym in scores and start <= day <= end:
                s, r = scores[sym]
                rows.append((pd.Timestamp(day), sym, round(s, 6), round(r, 6), title))
    return sorted(rows)


def frame_rows(frame):
    return sorted(
        (r.date, r.symbol, round(r.sentiment, 6), round(r.relevance, 6), r.title)
        for r in frame.itertuples()
    )


def assert_no_key(text: str) -> None:
    assert KEY not in text


# ---------------------------------------------------------------------------------- news
def test_news_cold_then_warm_cache(fake, make_source):
    seed_news(fake)
    src = make_source()
    frame = src.news(["AAPL", "msft"], D1, D3)
    assert list(frame.columns) == list(NEWS_COLUMNS)
    assert frame_rows(frame) == expected_rows(fake, ["AAPL", "MSFT"], D1, D3)
    assert len(fake.calls) == 2  # one call per symbol covers all three days
    assert {c["tickers"] for c in fake.calls} == {"AAPL", "MSFT"}
    assert fake.calls[0]["time_from"] == "20240501T0000"
    assert fake.calls[0]["time_to"] == "20240503T2359"
    assert frame["url"].str.startswith("https://news.example.test/").all()
    assert (frame["source"] == "Example Wire").all()

    again = make_source().news(["AAPL", "MSFT"], D1, D3)  # a fresh process, same day
    assert len(fake.calls) == 2  # warm cache: zero calls
    pd.testing.assert_frame_equal(frame, again)


def test_news_next_day_fetches_only_unfinished_days(fake, make_source):
    seed_news(fake)
    make_source().news(["AAPL"], D1, D3)
    fake.add_article("20240503T230000", "Late Apple story", AAPL=(0.3, 0.6))
    fake.add_article("20240504T100000", "Apple rebounds", AAPL=(0.5, 0.7))
    later = make_source(now=NOW + dt.timedelta(days=1))
    frame = later.news(["AAPL"], D1, dt.date(2024, 5, 4))
    # May 1-2 were final when fetched; May 3 was "today" then, so May 3-4 are asked again.
    assert len(fake.calls) == 2
    assert fake.calls[1]["time_from"] == "20240503T0000"
    assert fake.calls[1]["time_to"] == "20240504T2359"
    assert frame_rows(frame) == expected_rows(fake, ["AAPL"], D1, dt.date(2024, 5, 4))


def test_news_end_in_future_is_clamped_to_today(fake, make_source):
    seed_news(fake)
    frame = make_source().news(["AAPL"], D3, dt.date(2024, 5, 10))
    assert fake.calls[0]["time_to"] == "20240503T2359"
    assert frame_rows(frame) == expected_rows(fake, ["AAPL"], D3, D3)


def test_no_articles_is_an_empty_frame_and_is_cached(fake, make_source):
    src = make_source()
    frame = src.news(["AAPL"], D1, D2)
    assert frame.empty and list(frame.columns) == list(NEWS_COLUMNS)
    assert src.ctx.warnings == []
    make_source().news(["AAPL"], D1, D2)
    assert len(fake.calls) == 1


def test_partial_failure_warns_and_keeps_the_rest(fake, make_source):
    seed_news(fake)
    src = make_source()
    frame = src.news(["AAPL", "BADTICKER"], D1, D3)
    assert frame_rows(frame) == expected_rows(fake, ["AAPL"], D1, D3)
    assert any("BADTICKER" in w and "invalid inputs" in w for w in src.ctx.warnings)


def test_truncated_feed_is_not_cached_as_final(fake, make_source):
    for hour in range(10, 16):
        fake.add_article(f"20240502T{hour}0000", f"story {hour}", AAPL=(0.1, 0.5))
    src = make_source(news_limit=3)
    frame = src.news(["AAPL"], D1, D2)
    assert len(frame) == 3  # the newest three
    assert any("limit of 3 articles" in w for w in src.ctx.warnings)
    make_source(news_limit=3).news(["AAPL"], D1, D2)
    assert len(fake.calls) == 2  # the incomplete days were asked again


def test_corrupt_scores_are_skipped_with_a_warning(fake, httpserver, make_source):
    body = {
        "items": "2",
        "feed": [
            {
                "title": "ok",
                "url": "u",
                "source": "s",
                "time_published": "20240502T100000",
                "ticker_sentiment": [
                    {"ticker": "AAPL", "relevance_score": "None", "ticker_sentiment_score": "0.2"}
                ],
            },
            {
                "title": "bad",
                "url": "u",
                "source": "s",
                "time_published": "20240502T110000",
                "ticker_sentiment": [
                    {"ticker": "AAPL", "relevance_score": "0.5", "ticker_sentiment_score": "-"}
                ],
            },
        ],
    }
    fake.script.append((200, json.dumps(body), "application/json"))
    src = make_source()
    frame = src.news(["AAPL"], D2, D2)
    assert frame["title"].tolist() == ["ok"]
    assert frame["relevance"].isna().all()
    assert any("skipped 1 news article" in w for w in src.ctx.warnings)


# ------------------------------------------------------------------------- error bodies
@pytest.mark.parametrize(
    ("body", "kind", "words"),
    [
        ({"Information": QUOTA}, "RateLimited", "daily request quota"),
        ({"Information": QUOTA_WITH_KEY}, "RateLimited", "daily request quota"),
        ({"Note": NOTE}, "RateLimited", "too many calls in a short time"),
        ({"Error Message": BAD_KEY}, "BadKey", "API key was refused"),
        ({"Information": DEMO}, "BadKey", "demo key"),
        ({"Error Message": INVALID_CALL}, "InvalidCall", "invalid call"),
        ({"Information": PREMIUM}, "InvalidCall", "premium endpoint"),
        ({"Information": "Something new happened."}, "AlphaVantageError", "instead of data"),
    ],
)
def test_error_bodies_become_plain_data_errors(fake, make_source, body, kind, words):
    fake.script = [(200, json.dumps(body), "application/json")] * 2
    src = make_source()
    with pytest.raises(DataError) as info:
        src.fundamentals(["IBM"])
    err = info.value
    assert words in str(err)
    assert type(err).__name__ == kind
    assert_no_key(str(err))


def test_error_kinds_are_typed(fake, make_source):
    from tsys_data_alphavantage.client import BadKey, InvalidCall, RateLimited

    src = make_source()
    fake.script = [(200, json.dumps({"Error Message": BAD_KEY}), "application/json")]
    with pytest.raises(BadKey):
        src.client.query("OVERVIEW", {"symbol": "IBM"})
    fake.script = [(200, json.dumps({"Information": PREMIUM}), "application/json")]
    with pytest.raises(InvalidCall):
        src.client.query("TIME_SERIES_DAILY_ADJUSTED", {"symbol": "IBM"})
    fake.script = [(200, json.dumps({"Information": QUOTA}), "application/json")]
    with pytest.raises(RateLimited) as info:
        src.client.query("OVERVIEW", {"symbol": "IBM"})
    assert info.value.daily


def test_daily_quota_stops_further_calls(fake, make_source):
    fake.script = [(200, json.dumps({"Information": QUOTA}), "application/json")]
    src = make_source()
    with pytest.raises(DataError, match="daily request quota"):
        src.fundamentals(["IBM"])
    with pytest.raises(DataError, match="reported the daily quota as used up"):
        make_source().fundamentals(["MSFT"])  # a new process reads the persisted counter
    assert len(fake.calls) == 1


def test_burst_limit_is_retried_once(fake, make_source):
    fake.overviews["IBM"] = {"Symbol": "IBM", "Name": "International Business Machines"}
    fake.script = [(200, json.dumps({"Information": BURST}), "application/json")]
    src = make_source(burst_retry_wait=3.0)
    waits: list[float] = []
    src.client.budget.sleep = waits.append  # a fake sleep: the test waits on nothing
    out = src.fundamentals(["IBM"])
    assert out["IBM"].name == "International Business Machines"
    assert len(fake.calls) == 2 and waits == [3.0]


def test_burst_limit_twice_is_not_retried_again(fake, make_source):
    fake.overviews["IBM"] = {"Symbol": "IBM", "Name": "International Business Machines"}
    fake.script = [(200, json.dumps({"Information": BURST}), "application/json")] * 3
    src = make_source(burst_retry_wait=3.0)
    waits: list[float] = []
    src.client.budget.sleep = waits.append
    with pytest.raises(DataError):
        src.client.query("OVERVIEW", {"symbol": "IBM"})
    assert len(fake.calls) == 2 and waits == [3.0]


def test_bad_key_fails_the_whole_call_even_with_several_symbols(fake, make_source, monkeypatch):
    seed_news(fake)
    src = make_source()
    monkeypatch.setattr(src.client, "_key", "WRONGKEY")
    with pytest.raises(DataError, match="API key was refused") as info:
        src.news(["AAPL", "MSFT"], D1, D3)
    assert "WRONGKEY" not in str(info.value)
    assert len(fake.calls) == 1


def test_missing_key_says_which_variable(fake, make_source, monkeypatch):
    seed_news(fake)
    make_source().news(["AAPL"], D1, D3)  # warm the cache with a key
    monkeypatch.delenv("ALPHAVANTAGE_API_KEY")
    src = make_source()
    assert len(src.news(["AAPL"], D1, D3)) == 3  # the warm cache needs no key
    with pytest.raises(DataError, match="ALPHAVANTAGE_API_KEY is not set"):
        src.news(["MSFT"], D1, D3)
    assert len(fake.calls) == 1


@pytest.mark.parametrize(
    ("step", "words"),
    [
        ((503, "Service Unavailable", "text/plain"), "HTTP 503 (server error)"),
        ((200, "<html>oops</html>", "text/html"), "not valid JSON"),
        ((200, '{"feed": [', "application/json"), "not valid JSON"),
        ((200, '{"items": "0"}', "application/json"), "unexpected shape"),
    ],
)
def test_transport_failures(fake, make_source, step, words):
    fake.script = [step]
    with pytest.raises(DataError, match=re.escape(words)) as info:
        make_source().news(["AAPL"], D1, D1)
    assert_no_key(str(info.value))


def test_timeout_is_a_clear_error_without_the_key(fake, make_source):
    fake.script = [sleeper(1.0)]
    with pytest.raises(DataError, match=r"did not answer within 0\.2 s") as info:
        make_source(timeout=0.2).news(["AAPL"], D1, D1)
    assert_no_key(str(info.value))
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_connection_refused_message_is_scrubbed(make_source, tmp_path, monkeypatch):
    from tsys_data_alphavantage.source import AlphaVantageSource

    from tsys.data.source import SourceContext

    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", KEY)
    src = AlphaVantageSource.from_config(
        {"base_url": "http://127.0.0.1:9", "timeout": 1.0}, SourceContext(cache_dir=tmp_path)
    )
    src.now = lambda: NOW
    with pytest.raises(DataError, match="could not be reached") as info:
        src.fundamentals(["IBM"])
    assert_no_key(str(info.value))
    assert "apikey=***" in str(info.value) or "apikey" not in str(info.value)


def test_key_never_reaches_logs(fake, make_source, caplog):
    seed_news(fake)
    fake.script = [(200, json.dumps({"Information": QUOTA_WITH_KEY}), "application/json")]
    caplog.set_level(logging.DEBUG)
    src = make_source()
    with pytest.raises(DataError):
        src.fundamentals(["IBM"])
    # The loopback server (werkzeug) logs the raw URL; that is the fake's log, not ours.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")
    assert "apikey=***" in ours  # urllib3 logged the URL, scrubbed
    assert_no_key(ours)
    assert_no_key(" ".join(src.ctx.warnings))
    assert KEY not in repr(src.client)


# -------------------------------------------------------------------- stale cache on errors
def test_rate_limit_uses_stale_cache_and_never_deletes_it(fake, make_source, tmp_path):
    seed_news(fake)
    fake.overviews["IBM"] = {"Symbol": "IBM", "Name": "IBM Corp", "Sector": "TECHNOLOGY"}
    first = make_source().news(["AAPL"], D1, D3)
    make_source().fundamentals(["IBM"])
    cache = tmp_path / "cache" / "alphavantage"
    before = {p: p.read_bytes() for p in cache.rglob("*.json") if p.name != "calls.json"}

    fake.script = [(200, json.dumps({"Note": NOTE}), "application/json")] * 2
    fake.script += [(200, json.dumps({"Information": QUOTA}), "application/json")]
    later = make_source(now=NOW + dt.timedelta(days=9))
    frame = later.news(["AAPL"], D1, D3)
    pd.testing.assert_frame_equal(frame, first)  # May 3 was refreshed from stale cache
    assert any("could not be refreshed" in w for w in later.ctx.warnings)
    out = later.fundamentals(["IBM"])
    assert out["IBM"].sector == "Technology"
    assert any("overview of IBM could not be refreshed" in w for w in later.ctx.warnings)
    after = {p: p.read_bytes() for p in cache.rglob("*.json") if p.name != "calls.json"}
    assert after == before


# ------------------------------------------------------------------------------ overview
def test_overview_parses_strings_and_caches_for_a_week(fake, make_source):
    fake.overviews["EXMP"] = {
        "Symbol": "EXMP",
        "AssetType": "Common Stock",
        "Name": "Example Corp",
        "Sector": "LIFE SCIENCES",
        "MarketCapitalization": "1234567890",
        "SharesOutstanding": "50000000",
        "SharesFloat": "-",
        "PERatio": "None",
    }
    fake.overviews["NOFL"] = {
        "Symbol": "NOFL",
        "Name": "None",
        "Sector": "",
        "MarketCapitalization": "0",
        "SharesOutstanding": "None",
        "SharesFloat": "12,500,000",
    }
    src = make_source()
    out = src.fundamentals(["EXMP", "nofl", "SPYX"])
    e, n, s = out["EXMP"], out["NOFL"], out["SPYX"]
    assert (e.name, e.sector, e.market_cap, e.shares_outstanding, e.shares_float) == (
        "Example Corp",
        "Life Sciences",
        1234567890.0,
        50000000.0,
        None,
    )
    assert (n.name, n.sector, n.market_cap, n.shares_outstanding, n.shares_float) == (
        None,
        None,
        None,
        None,
        12500000.0,
    )
    assert s.name is None and s.market_cap is None  # `{}` for unknown symbols / ETFs
    assert any("no company overview for SPYX" in w for w in src.ctx.warnings)
    assert len(fake.calls) == 3
    make_source(now=NOW + dt.timedelta(days=6)).fundamentals(["EXMP", "NOFL", "SPYX"])
    assert len(fake.calls) == 3
    make_source(now=NOW + dt.timedelta(days=7, minutes=1)).fundamentals(["EXMP"])
    assert len(fake.calls) == 4


# ------------------------------------------------------------------------------ earnings
CAL = (
    "symbol,name,reportDate,fiscalDateEnding,estimate,currency,timeOfTheDay\r\n"
    "AAPL,Apple Inc,2024-05-02,2024-03-31,1.50,USD,post-market\r\n"
    "MSFT,Microsoft Corp,2024-07-23,2024-06-30,,USD,\r\n"
    "IBM,International Business Machines,2024-07-24,2024-06-30,1.59,USD,post-market\r\n"
    "AAPL,Apple Inc,2024-08-01,2024-06-30,1.35,USD,post-market\r\n"
    "XYZ,Broken Row,not-a-date,2024-06-30,1.00,USD,\r\n"
)


def test_earnings_calendar_csv_filtered_and_cached_daily(fake, make_source):
    fake.calendar_csv = CAL
    src = make_source()
    frame = src.earnings(["AAPL", "MSFT", "XYZ"], D3, dt.date(2024, 7, 31))
    assert list(frame.columns) == ["symbol", "date"]
    assert frame.values.tolist() == [["MSFT", pd.Timestamp("2024-07-23")]]
    assert fake.calls[0]["horizon"] == "3month"
    frame2 = make_source().earnings(["AAPL"], D1, dt.date(2024, 8, 31))
    assert frame2["date"].tolist() == [pd.Timestamp("2024-05-02"), pd.Timestamp("2024-08-01")]
    assert len(fake.calls) == 1  # same day: from the cache
    make_source(now=NOW + dt.timedelta(days=1)).earnings(["AAPL"], D3, dt.date(2024, 7, 1))
    assert len(fake.calls) == 2


def test_earnings_older_csv_header_and_json_errors(fake, make_source):
    fake.calendar_csv = (
        "symbol,name,reportDate,fiscalDateEnding,estimate,currency\n"
        "IBM,International Business Machines,2024-07-24,2024-06-30,1.59,USD\n"
    )
    assert make_source().earnings(["IBM"], D3, dt.date(2024, 8, 1))["symbol"].tolist() == ["IBM"]
    fake.script = [(200, json.dumps({"Information": QUOTA}), "application/json")]
    later = make_source(now=NOW + dt.timedelta(days=1))
    frame = later.earnings(["IBM"], D3, dt.date(2024, 8, 1))  # stale cache + warning
    assert frame["symbol"].tolist() == ["IBM"]
    assert any("earnings calendar could not be refreshed" in w for w in later.ctx.warnings)


def test_earnings_errors_without_cache(fake, make_source):
    fake.script = [(200, json.dumps({"Error Message": BAD_KEY}), "application/json")]
    with pytest.raises(DataError, match="API key was refused"):
        make_source().earnings(["IBM"], D3, dt.date(2024, 8, 1))
    fake.script = [(200, "", "text/csv")]
    with pytest.raises(DataError, match="empty response"):
        make_source().earnings(["IBM"], D3, dt.date(2024, 8, 1))
    fake.script = [(200, "a,b\n1,2\n", "text/csv")]
    with pytest.raises(DataError, match="without the expected 'symbol'"):
        make_source().earnings(["IBM"], D3, dt.date(2024, 8, 1))


def test_empty_calendar_is_an_empty_frame(fake, make_source):
    frame = make_source().earnings(["IBM"], D3, dt.date(2024, 8, 1))
    assert frame.empty and list(frame.columns) == ["symbol", "date"]


# ------------------------------------------------------------------------- call budget
def test_daily_budget_is_enforced_and_persisted(fake, make_source):
    for sym in ("A", "B", "C"):
        fake.overviews[sym] = {"Symbol": sym, "Name": sym}
    src = make_source(daily_budget=2)
    out = src.fundamentals(["A", "B", "C"])
    assert set(out) == {"A", "B"}
    assert any("budget of 2 Alpha Vantage calls is used up" in w for w in src.ctx.warnings)
    assert len(fake.calls) == 2
    with pytest.raises(DataError, match="no call was made"):
        make_source(daily_budget=2).fundamentals(["C"])
    assert len(fake.calls) == 2
    assert src.client.budget.used_today() == 2


def test_calls_per_minute_waits_for_a_slot(tmp_path):
    from tsys_data_alphavantage.client import CallBudget, RateLimited

    clock = [1_714_600_000.0]
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        clock[0] += s

    def two_a_minute(max_wait_seconds: float) -> CallBudget:
        return CallBudget(
            tmp_path / "calls.json",
            calls_per_minute=2,
            daily_budget=100,
            max_wait_seconds=max_wait_seconds,
            clock=lambda: clock[0],
            sleep=sleep,
        )

    budget = two_a_minute(90)
    budget.acquire()
    clock[0] += 10
    budget.acquire()
    clock[0] += 5
    budget.acquire()  # the first call is 15 s old: wait 45 s for it to leave the window
    assert sleeps == [pytest.approx(45.0)]
    assert budget.used_today() == 3
    impatient = two_a_minute(1)
    with pytest.raises(RateLimited, match="2 calls per minute"):
        impatient.acquire()


@pytest.mark.parametrize(
    ("options", "line"),
    [
        (
            {"calls_per_minutes": 3},
            "unknown option 'calls_per_minutes' (did you mean 'calls_per_minute'?) "
            "@ $.data.options.alphavantage.calls_per_minutes",
        ),
        (
            {"horizon": "1month"},
            "must be one of '3month', '6month', '12month', got '1month' "
            "@ $.data.options.alphavantage.horizon",
        ),
        (
            {"daily_budget": 2.5},
            "expected an integer, got 2.5 (a number) @ $.data.options.alphavantage.daily_budget",
        ),
        (
            {"block_below": -2},
            "must be between -1 and 1, got -2.0 @ $.data.options.alphavantage.block_below",
        ),
    ],
)
def test_options_are_validated(make_source, options, line):
    assert option_problems(make_source, **options) == [line]


# -------------------------------------------------------------------- entry point + hub
def test_discovered_through_entry_point():
    cls = discovered_source("alphavantage", distribution="tsys-data-alphavantage")
    assert cls.provides == {"news", "earnings", "fundamentals"}


def test_through_the_data_hub(fake, make_source):
    from tsys.data.source import DataHub, DataSource, SourceContext

    class NoExtras(DataSource):
        name = "primary"

    seed_news(fake)
    src = make_source()
    hub = DataHub(NoExtras(), [src], SourceContext(cache_dir=src.cache.root.parent))
    frame = hub.news(["AAPL"], D1, D3)
    assert frame_rows(frame) == expected_rows(fake, ["AAPL"], D1, D3)
    assert hub.options_flow(D1, D3) is None
    assert hub.ctx.warnings == [
        "no installed data source provides options-flow alerts; running without it"
    ]


def test_config_to_registry_path(fake, httpserver, tmp_path, monkeypatch):
    """What `tsys data news` does: config table -> registry -> from_config -> news."""
    from tsys.config import config_from_dict
    from tsys.data.source import SourceContext
    from tsys.data.sources import open_source
    from tsys.testing.isolation import plugins_registered

    seed_news(fake)
    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", KEY)
    cfg = config_from_dict(
        {
            "data": {
                "extra_sources": ["alphavantage"],
                "options": {
                    "alphavantage": {
                        "base_url": httpserver.url_for("/").rstrip("/"),
                        "calls_per_minute": 100,
                    }
                },
            }
        }
    )
    with plugins_registered():
        src = open_source("alphavantage", cfg, ctx=SourceContext(tmp_path))
    src.now = lambda: NOW
    frame = src.news(["AAPL"], D1, D3)
    assert frame_rows(frame) == expected_rows(fake, ["AAPL"], D1, D3)
    from tsys.api import JsonCache

    assert JsonCache(tmp_path / "alphavantage").path("news", "AAPL", "2024-05-01").is_file()


def test_cli_data_news(fake, httpserver, tmp_path, monkeypatch):
    """`tsys data news AAPL --source alphavantage` against the loopback API."""
    from click.testing import CliRunner

    from tsys import plugins
    from tsys.cli import cli

    seed_news(fake)
    (tmp_path / "tsys.toml").write_text(
        "[data.options.alphavantage]\n"
        f'base_url = "{httpserver.url_for("/").rstrip("/")}"\ncalls_per_minute = 100\n'
    )
    monkeypatch.setenv("TSYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", KEY)
    plugins.reset_plugin_manager()
    args = ["--config", str(tmp_path / "tsys.toml"), "data", "news", "AAPL"]
    args += ["--source", "alphavantage", "--end", "2024-05-03", "--days", "2"]
    try:
        ok = CliRunner().invoke(cli, args)
        assert ok.exit_code == 0, ok.output
        assert ok.output.splitlines() == [
            "2024-05-01  +0.41  Apple beats",
            "2024-05-01  -0.20  Both move",
            "2024-05-03  -0.70  Apple recall",
        ]
        from tsys.api import JsonCache

        cache = JsonCache(tmp_path / "data" / "cache" / "alphavantage")
        days = ("2024-05-01", "2024-05-02", "2024-05-03")
        cached = cache.path("news", "AAPL", days[0]).parent
        assert sorted(p.name for p in cached.iterdir()) == sorted(
            cache.path("news", "AAPL", d).name for d in days
        )
        fake.script = [(200, json.dumps({"Information": QUOTA_WITH_KEY}), "application/json")]
        bad = CliRunner().invoke(cli, [*args[:4], "MSFT", *args[5:]])
        assert bad.exit_code == 4
        assert "daily request quota" in bad.output and KEY not in bad.output
        assert "Traceback" not in bad.output
    finally:
        plugins.reset_plugin_manager()
