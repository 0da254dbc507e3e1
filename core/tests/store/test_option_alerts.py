"""The recorded options-flow alerts (m0005): stored once per alert id, read back by session."""

from __future__ import annotations

import datetime as dt

import pytest

from tsys.store.option_alerts import OptionAlert


def _alert(i: int, *, day: int = 2, symbol: str = "MSFT", **kw) -> OptionAlert:
    values = dict(
        alert_id=f"uw:{i}",
        source="unusualwhales",
        created_at=dt.datetime(2024, 5, day, 19, i % 60, tzinfo=dt.UTC),
        session_date=dt.date(2024, 5, day),
        symbol=symbol,
        option_type="call" if i % 2 else "put",
        premium=100_000.0 + i,
        expiry=dt.date(2024, 5, 17),
        strike=420.5,
        side="ask",
        sweep=bool(i % 3 == 0),
        raw=f'{{"i": {i}}}',
    )
    values.update(kw)
    return OptionAlert(**values)


def test_add_is_idempotent_on_the_alert_id(store):
    alerts = [_alert(i) for i in range(40)]
    assert store.option_alerts.add(alerts) == 40
    assert store.option_alerts.add(alerts) == 0
    # overlapping batches and repeats inside a batch count once
    assert store.option_alerts.add([*alerts[30:], _alert(40), _alert(40), _alert(41)]) == 2
    span = store.option_alerts.span()
    assert span.count == 42 and span.sessions == 1
    assert span.first == dt.datetime(2024, 5, 2, 19, 0, tzinfo=dt.UTC)


def test_first_record_wins_and_rows_round_trip(store):
    a = _alert(1, ask_premium=90_000.0, opening=True, nonstandard=True, dte=15)
    store.option_alerts.add([a])
    store.option_alerts.add([_alert(1, premium=1.0)])
    (back,) = store.option_alerts.between(None, None)
    assert back == a
    assert back.payload() == {"i": 1}


def test_between_filters_sessions_symbols_and_source(store):
    store.option_alerts.add(
        [
            _alert(1, day=1),
            _alert(2, day=2, symbol="AAPL"),
            _alert(3, day=3),
            _alert(4, day=3, source="import"),
        ]
    )
    got = store.option_alerts.between(dt.date(2024, 5, 2), dt.date(2024, 5, 3))
    assert [a.alert_id for a in got] == ["uw:2", "uw:3", "uw:4"]
    assert [a.alert_id for a in store.option_alerts.between(None, None, symbols=["AAPL"])] == [
        "uw:2"
    ]
    assert store.option_alerts.latest("unusualwhales") == dt.datetime(
        2024, 5, 3, 19, 3, tzinfo=dt.UTC
    )
    assert store.option_alerts.span("import").count == 1
    assert store.option_alerts.latest("nobody") is None


def test_naive_times_and_unknown_types_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        _alert(1, created_at=dt.datetime(2024, 5, 2, 19, 0))
    with pytest.raises(ValueError, match="call or put"):
        _alert(1, option_type="straddle")
