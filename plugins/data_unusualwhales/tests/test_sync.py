"""The client and the recorded history against the loopback Unusual Whales (cold and warm)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from uw_fake import START, TOKEN, flow_alert

from tsys.api import DataError, OptionAlerts, open_workspace_store

NOW = dt.datetime(2024, 5, 3, 22, 0, tzinfo=dt.UTC)


def _alerts(n: int, *, every: dt.timedelta = dt.timedelta(minutes=7)) -> list[dict]:
    return [flow_alert(i, START + i * every) for i in range(n)]


def _recorded(src) -> list:
    with src.open_store() as store:
        return OptionAlerts(store).between(None, None)


def test_entry_point_is_discovered():
    from importlib.metadata import entry_points

    from tsys import plugins

    eps = {ep.name: ep.value for ep in entry_points(group="tsys")}
    assert eps["data-unusualwhales"] == "tsys_data_unusualwhales"
    plugins.reset_plugin_manager()
    assert "unusualwhales" in plugins.data_sources().names()


def test_cold_sync_pages_back_and_a_rerun_stores_nothing_twice(make_source, uw, backend):
    uw.alerts = _alerts(45)
    src = make_source(now=NOW, limit=10)
    cold = src.sync(since=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    assert cold.stored == 45 and cold.malformed == 0
    # 45 alerts, 10 a page, each page repeating the last one of the page before:
    # 44..35, 35..26, 26..17, 17..8, then 8..0 (short: the window's start)
    assert cold.pages == cold.calls == 5
    assert (cold.received, cold.duplicates) == (49, 4)
    assert cold.stopped == "reached the start of the window"
    rows = _recorded(src)
    assert len(rows) == 45 and len({r.alert_id for r in rows}) == 45
    # the request carried the bearer token, the filters and the time window
    first = uw.requests[0]
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert first.args["newer_than"] == str(int(dt.datetime(2024, 5, 1, tzinfo=dt.UTC).timestamp()))
    assert "older_than" not in first.args and uw.requests[1].args["older_than"].isdigit()
    # warm: the same window again stores nothing; a default sync starts from the last alert
    again = src.sync(since=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    assert again.stored == 0 and again.duplicates == 49
    uw.alerts.append(flow_alert(99, START + dt.timedelta(hours=8)))
    warm = src.sync()
    assert (warm.stored, warm.calls) == (1, 1)
    assert len(_recorded(src)) == 46


def test_equal_times_across_a_page_edge_are_not_lost(make_source, uw):
    t = START + dt.timedelta(hours=2)
    newer = [flow_alert(i, t + dt.timedelta(minutes=i), ticker="NEW") for i in range(1, 4)]
    tied = [flow_alert(i, t, ticker=f"T{i:02d}") for i in range(3)]
    uw.alerts = [*newer, *tied, *_alerts(8)]  # page 1 (5) ends inside the three tied alerts
    src = make_source(now=NOW, limit=5)
    report = src.sync(since=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    assert report.stored == 14 and not report.problems, report.as_dict()


def test_more_ties_than_a_page_are_reported_and_paging_goes_on(make_source, uw):
    t = START + dt.timedelta(hours=2)
    uw.alerts = [flow_alert(i, t, ticker=f"T{i:02d}") for i in range(7)] + _alerts(8)
    src = make_source(now=NOW, limit=5)
    report = src.sync(since=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    assert report.stored == 5 + 8  # two of the seven tied alerts cannot be reached
    assert any("more than 5 alerts at" in p for p in report.problems)


def test_duplicates_and_malformed_items_in_a_page(make_source, uw):
    good = _alerts(4)
    bad = [
        flow_alert(10, START, total_premium=None),
        flow_alert(11, START, option_chain="NOT-AN-OCC"),
        flow_alert(12, START, type="straddle", option_chain=None),
        flow_alert(13, START, created_at="yesterday"),
        "not an object",
    ]
    uw.alerts = [*good, good[1], good[2], *bad]
    src = make_source(now=NOW)
    report = src.sync(since=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    assert (report.stored, report.malformed, report.duplicates) == (4, 5, 2)
    assert any("total_premium is missing" in p for p in report.problems)
    assert any("not an OCC symbol" in p for p in report.problems)
    assert any("an alert must be an object" in p for p in report.problems)


def test_normalised_fields_in_the_store(make_source, uw):
    t = dt.datetime(2024, 5, 2, 19, 59, 30, 168490, tzinfo=dt.UTC)  # 15:59:30 New York
    uw.alerts = [flow_alert(1, t), flow_alert(2, t + dt.timedelta(minutes=2), ticker="SPXW")]
    src = make_source(now=NOW)
    src.sync(since=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    a, spx = _recorded(src)
    assert a.created_at == t and a.session_date == dt.date(2024, 5, 2)
    assert (a.symbol, a.option_type, a.strike, a.premium) == ("MSFT", "call", 401.0, 151000.0)
    assert (a.side, a.sweep, a.opening, a.volume, a.open_interest) == (
        "ask",
        True,
        False,
        2442,
        7913,
    )
    assert a.dte == 14 and a.expiry == dt.date(2024, 5, 16)
    assert a.otm_pct == pytest.approx(401 / 402.5 - 1)
    assert a.volume_oi_ratio == pytest.approx(0.30860609124226)
    assert json.loads(a.raw)["total_premium"] == "151000"
    # 16:01 New York still belongs to the session of that day; SPXW maps to the SPY proxy
    assert spx.session_date == dt.date(2024, 5, 2)
    assert (spx.symbol, spx.root, spx.issue_type) == ("SPY", "SPXW", "Common Stock")


def test_filters_reach_the_wire(make_source, uw):
    uw.alerts = [
        flow_alert(i, START + dt.timedelta(minutes=i), kind=("put" if i % 2 else "call"))
        for i in range(10)
    ]
    src = make_source(
        now=NOW,
        min_premium=155000,
        puts=False,
        rule_names=["RepeatedHits"],
        min_dte=1,
        opening_only=True,
    )
    report = src.sync(since=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    args = uw.requests[0].args
    assert args["min_premium"] == "155000" and args["is_put"] == "false"
    assert args.getlist("rule_name[]") == ["RepeatedHits"]
    assert args["min_dte"] == "1" and args["all_opening"] == "true"
    assert "is_call" not in args  # the API's default (true) is left to the API
    assert report.stored == 2  # calls 6 and 8 (premium 156000, 158000)


def test_429_waits_what_retry_after_says(make_source, uw):
    uw.alerts = _alerts(3)
    uw.script = [
        (429, '{"message": "Too Many Requests"}', {"retry-after": "7"}, "application/json")
    ]
    sleeps: list[float] = []
    src = make_source(now=NOW, sleeps=sleeps, max_backoff_seconds=30)
    report = src.sync(since=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    assert sleeps == [7.0] and report.stored == 3 and report.calls == 2


def test_500_plain_text_is_retried_then_reported(make_source, uw):
    uw.script = [(500, "Something went wrong", {}, "text/plain")] * 4
    sleeps: list[float] = []
    src = make_source(now=NOW, sleeps=sleeps, max_retries=3)
    with pytest.raises(
        DataError,
        match=r"after 4 attempt\(s\): server error \(HTTP 500: "
        r"Something went wrong\)",
    ):
        src.sync(since=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    assert len(sleeps) == 3


def test_422_body_becomes_a_plain_message(make_source, uw):
    src = make_source(now=NOW, limit=250)
    with pytest.raises(DataError) as err:
        src.sync(since=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    assert "rejected the request (HTTP 422): limit must be between 1 and 200" in str(err.value)
    assert "(at /api/option-trades/flow-alerts)" in str(err.value)


@pytest.mark.parametrize("status", [401, 403])
def test_refused_token_is_named_never_shown(make_source, uw, monkeypatch, status):
    monkeypatch.setenv("UNUSUAL_WHALES_API_TOKEN", "WRONG-" + TOKEN)
    if status == 403:
        monkeypatch.setenv("UNUSUAL_WHALES_API_TOKEN", TOKEN)
        body = json.dumps({"message": f"token {TOKEN} lacks the plan for this endpoint"})
        uw.script = [(403, body, {}, "application/json")]
    src = make_source(now=NOW)
    with pytest.raises(DataError) as err:
        src.sync(since=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    text = str(err.value) + repr(src) + repr(src.client) + repr(src.options)
    assert f"refused the token (HTTP {status})" in text and "UNUSUAL_WHALES_API_TOKEN" in text
    assert TOKEN not in text


def test_no_token_says_which_variable(make_source, monkeypatch):
    monkeypatch.delenv("UNUSUAL_WHALES_API_TOKEN")
    src = make_source(now=NOW)
    with pytest.raises(DataError, match="UNUSUAL_WHALES_API_TOKEN"):
        src.sync()


def test_minute_quota_waits_and_day_quota_stops_keeping_what_was_fetched(make_source, uw):
    uw.alerts = _alerts(30)
    uw.minute_remaining = 0
    sleeps: list[float] = []
    src = make_source(now=NOW, sleeps=sleeps, limit=10)
    uw.daily_limit = 2  # the second answer says the day's quota is used up
    report = src.sync(since=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    assert sleeps == [1.0]  # x-uw-req-per-minute-reset: 1 second, after the first page
    assert report.calls == 2 and report.stored == 19
    assert "daily request quota is used up (2 of 2)" in report.stopped
    assert len(_recorded(src)) == 19


def test_page_budget_stops_and_the_next_run_continues(make_source, uw):
    uw.alerts = _alerts(30)
    src = make_source(now=NOW, limit=10, max_pages=2)
    first = src.sync(since=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    assert first.calls == 2 and "page budget (2)" in first.stopped
    rest = src.sync(since=dt.datetime(2024, 5, 1, tzinfo=dt.UTC), max_pages=10)
    assert first.stored + rest.stored == 30


def test_share_float_capability_is_cached(make_source, uw):
    src = make_source(now=NOW)
    got = src.fundamentals(["MSFT", "aapl"])
    assert got["MSFT"].shares_float == 7_430_000_000 and got["AAPL"].shares_float == 4_250_000
    n = len(uw.requests)
    src.fundamentals(["MSFT"])
    assert len(uw.requests) == n
    assert uw.requests[0].path == "/api/shorts/MSFT/interest-float/v2"


def test_options_flow_reads_the_history_and_syncs_once_in_a_daily_run(make_source, uw, backend):
    uw.alerts = _alerts(5)
    src = make_source(now=NOW, backfill_days=5)
    frame = src.options_flow(dt.date(2024, 5, 1), dt.date(2024, 5, 3))
    assert len(frame) == 5 and len(uw.requests) == 1
    assert {"timestamp", "symbol", "premium", "side", "sweep", "session"} <= set(frame.columns)
    assert str(frame["timestamp"].dt.tz) == "UTC"
    src.options_flow(dt.date(2024, 5, 1), dt.date(2024, 5, 3))
    assert len(uw.requests) == 1  # once per process
    with open_workspace_store(src.ctx.config, demo=False) as store:
        assert store.option_alerts.span().count == 5
        assert store.backend == backend


def test_options_flow_with_nothing_recorded_defers(make_source, monkeypatch):
    monkeypatch.delenv("UNUSUAL_WHALES_API_TOKEN")
    src = make_source(now=NOW)
    assert src.options_flow(dt.date(2024, 5, 1), dt.date(2024, 5, 3)) is None
    assert any("no alerts recorded yet" in w for w in src.ctx.warnings)


def test_a_failed_auto_sync_is_a_warning(make_source, uw):
    uw.script = [(500, "Something went wrong", {}, "text/plain")] * 10
    src = make_source(now=NOW, max_retries=0)
    assert src.options_flow(dt.date(2024, 5, 1), dt.date(2024, 5, 3)) is None
    assert any("sync failed" in w for w in src.ctx.warnings)
