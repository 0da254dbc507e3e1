"""Issue 21.14: an Alpha Vantage that refuses connections is given up on after one try.

Before, with the default call budget (5 a minute), every symbol waited for its turn only to
fail again: `run-daily` sat silent for minutes and exited 0. Now the first refused connection
is remembered for the run; later calls fail at once with that reason (one warning per run).
"""

from __future__ import annotations

import datetime as dt
import socket

from tsys.data.source import DataHub, SourceContext

NOW = dt.datetime(2024, 5, 3, 21, 0, tzinfo=dt.UTC)
SYMBOLS = [f"S{i}" for i in range(12)]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_refused_connection_is_given_up_on_for_the_run(tmp_path, monkeypatch):
    from tsys_data_alphavantage.source import AlphaVantageSource

    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", "unreachable-test-key")
    ctx = SourceContext(cache_dir=tmp_path)
    src = AlphaVantageSource.from_config(
        {"base_url": f"http://127.0.0.1:{_closed_port()}", "calls_per_minute": 5}, ctx
    )
    src.now = lambda: NOW
    calls = []
    real_get = src.client.session.get

    def counting_get(*args, **kwargs):
        calls.append(args)
        return real_get(*args, **kwargs)

    src.client.session.get = counting_get
    waits: list[float] = []
    src.client.budget.sleep = waits.append  # the call budget's waits, recorded, not slept
    from tsys.data.demo import DemoSource

    hub = DataHub(DemoSource.from_config({}, ctx), [src], ctx)
    hub.news(SYMBOLS, NOW.date() - dt.timedelta(days=3), NOW.date())
    hub.fundamentals(SYMBOLS)
    hub.earnings(SYMBOLS, NOW.date(), NOW.date() + dt.timedelta(days=10))
    assert len(calls) == 1, calls  # one connection attempt for the whole run
    assert waits == []  # not minutes of waiting for the call budget
    said = " ".join(ctx.warnings)
    assert "could not be reached" in said and "unreachable-test-key" not in said
