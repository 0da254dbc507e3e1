"""Every data source, broker and notifier declares an attrs options class, and its
``from_config`` refuses bad options with the same located wording (issue 14.4).

One table: for each plugin, good options, an unknown key, a wrong type and an out-of-range value.
"""

from __future__ import annotations

import importlib
from typing import Any

import attrs
import pytest

from tsys.brokers import BrokerContext
from tsys.data.source import SourceContext
from tsys.errors import ConfigError
from tsys.notifiers import NotifierContext
from tsys.options import structure_options

EMAIL = {"host": "smtp.test", "sender": "a@b.test", "recipients": ["a@b.test"]}


@attrs.frozen
class Case:
    plugin: str  # "module:Class"
    kind: str  # source | broker | notifier
    where: str
    base: dict[str, Any]
    good: tuple[dict[str, Any], str, Any]  # options, a field, its structured value
    unknown: tuple[str, str | None]  # a misspelt key, the suggestion
    wrong_type: tuple[str, Any, str]  # key, value, "expected ..., got ..."
    out_of_range: tuple[str, Any, str]  # key, value, the rule's words

    def build(self, options: dict[str, Any], tmp_path) -> Any:
        module, name = self.plugin.split(":")
        cls = getattr(importlib.import_module(module), name)
        ctx = {
            "source": lambda: SourceContext(cache_dir=tmp_path),
            "broker": BrokerContext,
            "notifier": NotifierContext,
        }[self.kind]()
        return cls.from_config({**self.base, **options}, ctx)

    def options_class(self) -> type:
        module, name = self.plugin.split(":")
        return getattr(importlib.import_module(module), name).options_class


CASES = [
    Case(
        "tsys_data_coingecko.source:CoinGeckoSource",
        "source",
        "$.data.options.coingecko",
        {},
        ({"top_n": 20, "exclude_categories": ["stablecoins"]}, "top_n", 20),
        ("top_m", "top_n"),
        ("top_n", "20", "expected an integer, got '20' (a string)"),
        ("per_page", 500, "must be between 1 and 250, got 500"),
    ),
    Case(
        "tsys_data_alphavantage.source:AlphaVantageSource",
        "source",
        "$.data.options.alphavantage",
        {},
        ({"calls_per_minute": 75, "horizon": "12month"}, "horizon", "12month"),
        ("daily_budjet", "daily_budget"),
        ("timeout", "fast", "expected a number, got 'fast' (a string)"),
        ("news_limit", 0, "must be between 1 and 1000, got 0"),
    ),
    Case(
        "tsys_data_unusualwhales.source:UnusualWhalesSource",
        "source",
        "$.data.options.unusualwhales",
        {},
        ({"min_premium": 100000, "rule_names": ["RepeatedHits"]}, "min_premium", 100000),
        ("min_premum", "min_premium"),
        ("min_dte", "1", "expected an integer, got '1' (a string)"),
        ("limit", 0, "must be between 1 and 500, got 0"),
    ),
    Case(
        "tsys_notifier_email.notifier:EmailNotifier",
        "notifier",
        "$.notifiers.email",
        EMAIL,
        ({**EMAIL, "port": 2525, "per_bucket": True}, "port", 2525),
        ("recipient", "recipients"),
        ("per_bucket", "yes", "expected true or false, got 'yes' (a string)"),
        ("retries", -1, "must be >= 0, got -1"),
    ),
    Case(
        "tsys_broker_alpaca.broker:AlpacaBroker",
        "broker",
        "$.broker.options",
        {},
        ({"brackets": True, "attempts": 2}, "attempts", 2),
        ("bracket", "brackets"),
        ("attempts", 2.5, "expected an integer, got 2.5 (a number)"),
        ("crypto_time_in_force", "day", "must be one of 'gtc', 'ioc', got 'day'"),
    ),
    Case(
        "tsys_broker_alpaca.data:AlpacaDataSource",
        "source",
        "$.data.options.alpaca",
        {},
        ({"feed": "sip", "symbols": ["AAPL"]}, "symbols", ["AAPL"]),
        ("feeds", "feed"),
        ("symbols", "AAPL", "expected a list of strings, got 'AAPL' (a string)"),
        ("feed", "otc", "must be one of 'iex', 'sip', 'delayed_sip', got 'otc'"),
    ),
    Case(
        "tsys.brokers.local:LocalPaperBroker",
        "broker",
        "$.broker.options",
        {},
        ({"cash": 50_000, "fee_bps": 1}, "cash", 50_000.0),
        ("slipage_bps", "slippage_bps"),
        ("fee_bps", "1bp", "expected a number, got '1bp' (a string)"),
        ("cash", -5, "must be > 0, got -5.0"),
    ),
    Case(
        "tsys.data.csv:CsvSource",
        "source",
        "$.data.options.csv",
        {"path": "."},
        ({"path": ["a", "b"], "strict": True}, "path", ["a", "b"]),
        ("calender", "calendar"),
        ("strict", 1, "expected true or false, got 1 (an integer)"),
        ("asset_class", "bond", "must be one of 'equity', 'crypto', got 'bond'"),
    ),
    Case(
        "tsys.data.demo:DemoSource",
        "source",
        "$.data.options.demo",
        {},
        ({"seed": 11, "history_years": 5}, "history_years", 5.0),
        ("sead", "seed"),
        ("seed", "11", "expected an integer, got '11' (a string)"),
        ("history_years", 0, "must be > 0, got 0.0"),
    ),
]
CASES.append(
    Case(
        "tsys.notifiers.file:FileNotifier",
        "notifier",
        "$.notifiers.file",
        {},
        ({"directory": "out"}, "directory", "out"),
        ("dir", None),
        ("directory", ["out"], "expected a string, got ['out'] (a list)"),
        ("directory", " ", "must not be empty, got ' '"),
    )
)
IDS = [c.plugin.split(":")[1] for c in CASES]


def _lines(case: Case, options: dict[str, Any], tmp_path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        case.build(options, tmp_path)
    head, *lines = info.value.message.splitlines()
    assert head == f"invalid [{case.where.removeprefix('$.')}]:"
    return [line.strip() for line in lines]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_good_options_become_the_declared_class(case):
    options, field, value = case.good
    opts = structure_options(case.options_class(), options, where=case.where)
    assert attrs.has(type(opts)) and getattr(opts, field) == value


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_an_unknown_key_is_refused_with_a_suggestion(case, tmp_path):
    key, guess = case.unknown
    hint = f" (did you mean {guess!r}?)" if guess else ""
    assert _lines(case, {key: 1}, tmp_path) == [
        f"unknown option {key!r}{hint} @ {case.where}.{key}"
    ]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_wrong_type_names_the_value_and_the_expected_type(case, tmp_path):
    key, value, words = case.wrong_type
    assert _lines(case, {key: value}, tmp_path) == [f"{words} @ {case.where}.{key}"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_an_out_of_range_value_is_located(case, tmp_path):
    key, value, words = case.out_of_range
    assert _lines(case, {key: value}, tmp_path) == [f"{words} @ {case.where}.{key}"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_secrets_are_never_options_and_never_shown(case, monkeypatch):
    cls = case.options_class()
    secret_fields = [a for a in attrs.fields(cls) if "tsys_secret_env" in a.metadata]
    for a in secret_fields:
        monkeypatch.setenv(a.metadata["tsys_secret_env"], "sk-live-hunter2")
    opts = structure_options(cls, case.good[0], where=case.where)
    assert "hunter2" not in repr(opts)
    for a in secret_fields:
        with pytest.raises(ConfigError) as info:
            structure_options(cls, {**case.good[0], a.name: "sk-in-file"}, where=case.where)
        assert "sk-in-file" not in str(info.value) and "hunter2" not in str(info.value)
