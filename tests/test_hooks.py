"""One test per hook spec (a meta-test below makes sure none is missing)."""

from __future__ import annotations

import datetime as dt
import inspect
import json

import click
from click.testing import CliRunner

from tsys import hookspecs, plugins
from tsys.hookspecs import hookimpl


class _Named:
    def __init__(self, name):
        self.name = name


def _contributing(hook: str, name: str) -> object:
    """A plugin whose ``hook`` (a ``register_*`` hook) registers one object called ``name``."""

    def contribute(self, register):
        register(_Named(name))

    return type("P", (), {hook: hookimpl(contribute)})()


def test_every_hook_has_a_test():
    specs = [
        n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(f, "tsys_spec")
    ]
    here = {n for n in globals() if n.startswith("test_hook_")}
    missing = [s for s in specs if f"test_hook_{s}" not in here]
    assert not missing, f"hooks without a test_hook_* test: {missing}"


def test_hook_register_buckets(register_plugin):
    register_plugin(_contributing("register_buckets", "hook-test-bucket"), "p")
    assert "hook-test-bucket" in plugins.buckets()
    assert plugins.buckets().owner("hook-test-bucket") == "p"


def test_hook_register_data_sources(register_plugin):
    register_plugin(_contributing("register_data_sources", "hook-test-source"), "p")
    assert "hook-test-source" in plugins.data_sources()
    assert {"demo", "csv"} <= set(plugins.data_sources().names())


def test_hook_register_brokers(register_plugin):
    register_plugin(_contributing("register_brokers", "hook-test-broker"), "p")
    assert {"hook-test-broker", "local"} <= set(plugins.brokers().names())


def test_hook_register_notifiers(register_plugin):
    register_plugin(_contributing("register_notifiers", "hook-test-notifier"), "p")
    assert {"hook-test-notifier", "file"} <= set(plugins.notifiers().names())


def test_hook_register_commands(register_plugin):
    class P:
        @hookimpl
        def register_commands(self, cli):
            @cli.command(name="hello-hook")
            @click.argument("who")
            def hello(who):
                """Say hello (added by a plugin)."""
                click.echo(f"hello {who}")

    register_plugin(P(), "p")
    from tsys.cli import cli as root

    root._plugins_loaded = False
    try:
        result = CliRunner().invoke(root, ["hello-hook", "world"])
        assert result.exit_code == 0 and result.output == "hello world\n"
        assert "hello-hook" in CliRunner().invoke(root, ["--help"]).output
    finally:
        root.commands.pop("hello-hook", None)
        root._plugins_loaded = False


class Money:
    def __init__(self, cents):
        self.cents = cents


def test_hook_register_converter_hooks(register_plugin):
    class P:
        @hookimpl
        def register_converter_hooks(self, converter):
            converter.register_unstructure_hook(Money, lambda m: f"{m.cents / 100:.2f} USD")
            converter.register_structure_hook(
                Money, lambda v, _: Money(round(float(v.split()[0]) * 100))
            )

    register_plugin(P(), "p")
    from tsys.serialization import structure, unstructure

    assert unstructure(Money(1234)) == "12.34 USD"
    assert structure("12.34 USD", Money).cents == 1234


def test_hook_after_daily_run(register_plugin, isolated):
    seen = []

    class P:
        @hookimpl
        def after_daily_run(self, run):
            seen.append(run)

    class Broken:
        @hookimpl
        def after_daily_run(self):
            raise RuntimeError("webhook down")

    pm = register_plugin(P(), "p")
    pm.register(Broken(), name="broken-hook")
    from tsys.cli import cli as root

    result = CliRunner().invoke(
        root, ["run-daily", "--demo", "--as-of", "2024-06-28", "--buckets", "sp500", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert len(seen) == 1 and seen[0].as_of == dt.date(2024, 6, 28)
    warnings = json.loads(result.output)["run"]["warnings"]
    assert any("broken-hook" in w and "webhook down" in w for w in warnings)


def test_hook_newsletter_sections(register_plugin):
    from markupsafe import Markup

    from tsys.contracts import DailyRun
    from tsys.report.newsletter import render

    class P:
        @hookimpl
        def newsletter_sections(self, run):
            return [
                {"title": "Options flow", "html": Markup("<b>3 alerts</b>"), "text": "3 alerts"},
                {"title": "Escaped", "html": "<script>x</script>", "text": "plain"},
            ]

    register_plugin(P(), "p")
    run = DailyRun(
        as_of=dt.date(2024, 6, 28),
        created_at=dt.datetime(2024, 6, 28, 20, tzinfo=dt.UTC),
        config_digest="abc",
    )
    (nl,) = render(run)
    assert "Options flow" in nl.html and "<b>3 alerts</b>" in nl.html
    assert "<script>x</script>" not in nl.html
    assert "3 alerts" in nl.text
