"""tsys.options.structure_options: one function, one wording, for every plugin's options."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from tsys.errors import ConfigError
from tsys.options import (
    above,
    at_least,
    between,
    http_url,
    one_of,
    secret_field,
    structure_options,
)

WHERE = "$.data.options.toy"


@attrs.frozen
class ToyOptions:
    host: str
    top_n: int = attrs.field(default=100, validator=at_least(1))
    timeout: float = attrs.field(default=20.0, validator=above(0))
    share: float = attrs.field(default=0.5, validator=between(0, 1))
    plan: str | None = attrs.field(default=None, validator=one_of("public", "demo"))
    base_url: str = attrs.field(default="https://example.com", validator=http_url())
    strict: bool = False
    categories: list[str] = attrs.field(factory=list)
    overrides: dict[str, str] = attrs.field(factory=dict)
    as_of: dt.date | None = None
    path: str | list[str] | None = None
    api_key: str | None = secret_field("COINGECKO_API_KEY")


def _problems(options):
    with pytest.raises(ConfigError) as info:
        structure_options(ToyOptions, options, where=WHERE)
    head, *lines = info.value.message.splitlines()
    assert head == "invalid [data.options.toy]:"
    return [line.strip() for line in lines], info.value


def test_good_options_are_typed_and_defaulted(monkeypatch):
    monkeypatch.delenv("COINGECKO_API_KEY", raising=False)
    opts = structure_options(
        ToyOptions,
        {"host": "h", "timeout": 5, "as_of": dt.date(2024, 1, 2), "categories": ["a"]},
        where=WHERE,
    )
    assert opts == ToyOptions(host="h", timeout=5.0, as_of=dt.date(2024, 1, 2), categories=["a"])
    assert isinstance(opts.timeout, float)
    assert structure_options(ToyOptions, {"host": "h", "as_of": "2024-01-02"}, where=WHERE).as_of
    # a union picks its member by the value's shape: one folder or several
    assert structure_options(ToyOptions, {"host": "h", "path": "d"}, where=WHERE).path == "d"
    assert structure_options(ToyOptions, {"host": "h", "path": ["d"]}, where=WHERE).path == ["d"]


@pytest.mark.parametrize(
    ("options", "line"),
    [
        (
            {"host": "h", "tpo_n": 5},
            "unknown option 'tpo_n' (did you mean 'top_n'?) @ $.data.options.toy.tpo_n",
        ),
        ({"host": "h", "colour": 1}, "unknown option 'colour' @ $.data.options.toy.colour"),
        (
            {"host": "h", "top_n": "ten"},
            "expected an integer, got 'ten' (a string) @ $.data.options.toy.top_n",
        ),
        (
            {"host": "h", "top_n": 2.5},
            "expected an integer, got 2.5 (a number) @ $.data.options.toy.top_n",
        ),
        (
            {"host": "h", "top_n": True},
            "expected an integer, got True (true or false) @ $.data.options.toy.top_n",
        ),
        (
            {"host": "h", "strict": "yes"},
            "expected true or false, got 'yes' (a string) @ $.data.options.toy.strict",
        ),
        ({"host": 5}, "expected a string, got 5 (an integer) @ $.data.options.toy.host"),
        (
            {"host": "h", "categories": "stablecoins"},
            "expected a list of strings, got 'stablecoins' (a string) "
            "@ $.data.options.toy.categories",
        ),
        (
            {"host": "h", "categories": ["a", 3]},
            "expected a string, got 3 (an integer) @ $.data.options.toy.categories[1]",
        ),
        (
            {"host": "h", "overrides": {"btc": 1}},
            "expected a string, got 1 (an integer) @ $.data.options.toy.overrides.btc",
        ),
        ({}, "required option missing (a string) @ $.data.options.toy.host"),
        (
            {"host": "h", "path": 3},
            "expected a string or a list of strings, got 3 (an integer) @ $.data.options.toy.path",
        ),
        (
            {"host": "h", "path": ["a", 3]},
            "expected a string, got 3 (an integer) @ $.data.options.toy.path[1]",
        ),
        ({"host": "h", "top_n": 0}, "must be >= 1, got 0 @ $.data.options.toy.top_n"),
        ({"host": "h", "timeout": 0}, "must be > 0, got 0.0 @ $.data.options.toy.timeout"),
        (
            {"host": "h", "share": 2},
            "must be between 0 and 1, got 2.0 @ $.data.options.toy.share",
        ),
        (
            {"host": "h", "plan": "pro"},
            "must be one of 'public', 'demo', got 'pro' @ $.data.options.toy.plan",
        ),
        (
            {"host": "h", "base_url": "ftp://x"},
            "must start with http:// or https://, got 'ftp://x' @ $.data.options.toy.base_url",
        ),
    ],
)
def test_each_problem_is_located_with_value_and_expectation(options, line):
    lines, exc = _problems(options)
    assert lines == [line]
    assert "known options of [data.options.toy]: as_of, base_url" in exc.hint
    assert "api_key" not in exc.hint  # a secret is not an option


def test_every_problem_is_reported_at_once():
    lines, _ = _problems({"host": 1, "top_n": "x", "colour": 2})
    assert lines == [
        "unknown option 'colour' @ $.data.options.toy.colour",
        "expected a string, got 1 (an integer) @ $.data.options.toy.host",
        "expected an integer, got 'x' (a string) @ $.data.options.toy.top_n",
    ]


def test_secrets_come_from_the_environment_and_never_show(monkeypatch):
    monkeypatch.setenv("COINGECKO_API_KEY", "sk-hunter2")
    opts = structure_options(ToyOptions, {"host": "h"}, where=WHERE)
    assert opts.api_key == "sk-hunter2"
    assert "hunter2" not in repr(opts)
    lines, exc = _problems({"host": "h", "api_key": "sk-in-the-file"})
    assert lines == [
        "api_key is a secret, read from the environment only: remove it and set "
        "COINGECKO_API_KEY @ $.data.options.toy.api_key"
    ]
    assert "sk-in-the-file" not in str(exc) and "hunter2" not in str(exc)


def test_plain_attrs_validators_are_located_too():
    @attrs.frozen
    class Plain:
        size: float = attrs.field(default=1.0, validator=attrs.validators.gt(0))
        name: str = attrs.field(default="x", validator=attrs.validators.instance_of(str))

    with pytest.raises(ConfigError, match=r"must be > 0: -1.0 @ \$.broker.options.size"):
        structure_options(Plain, {"size": -1.0}, where="$.broker.options")


def test_none_means_an_empty_table():
    @attrs.frozen
    class Empty:
        n: int = 1

    assert structure_options(Empty, None, where="$.notifiers.x") == Empty()


def test_a_data_source_builds_its_options_below_its_own_table(monkeypatch):
    from tsys.data.source import DataSource

    class ToySource(DataSource):
        name = "toy"
        options_class = ToyOptions

    monkeypatch.delenv("COINGECKO_API_KEY", raising=False)
    assert ToySource.options_from({"host": "h", "top_n": 3}) == ToyOptions(host="h", top_n=3)
    with pytest.raises(ConfigError) as info:
        ToySource.options_from({"host": "h", "tpo_n": 5})
    assert info.value.message.splitlines()[1:] == [
        "  unknown option 'tpo_n' (did you mean 'top_n'?) @ $.data.options.toy.tpo_n"
    ]
    with pytest.raises(TypeError, match="DataSource declares no options_class"):
        DataSource.options_from({})
