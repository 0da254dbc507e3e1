"""tsys.plugins.call_hook: every hook call goes through pluggy, one plugin at a time."""

from __future__ import annotations

import contextlib

import pytest

from tsys import plugins
from tsys.errors import PluginError
from tsys.hookspecs import hookimpl
from tsys.testing.isolation import plugins_registered


@pytest.fixture
def use():
    """Make the given (name, plugin) pairs the only plugins besides the built-ins."""
    with contextlib.ExitStack() as stack:
        yield lambda *named: stack.enter_context(plugins_registered(*named, load_entrypoints=False))


class Records:
    def __init__(self, seen):
        self.seen = seen

    @hookimpl
    def after_daily_run(self, run):
        self.seen.append(("records", run))


class Counts:  # takes fewer arguments than the spec: pluggy leaves ``run`` out
    def __init__(self, seen):
        self.seen = seen

    @hookimpl
    def after_daily_run(self):
        self.seen.append(("counts", None))


class Breaks:
    @hookimpl
    def after_daily_run(self, run):
        raise RuntimeError("webhook down")


def test_a_failing_plugin_is_contained_with_one_warning(use):
    seen = []
    use(("records", Records(seen)), ("breaks", Breaks()), ("counts", Counts(seen)))
    calls = plugins.call_hook("after_daily_run", run="the run")
    # pluggy's order: the last registered first; the failure did not stop the plugin after it
    assert [c.plugin for c in calls] == ["counts", "breaks", "records"]
    assert seen == [("counts", None), ("records", "the run")]
    assert plugins.hook_warnings(calls) == [
        "plugin 'breaks' failed in after_daily_run: RuntimeError: webhook down"
    ]
    (failed,) = [c for c in calls if c.error is not None]
    assert isinstance(failed.error, PluginError) and failed.result is None


def test_the_daily_run_hook_turns_a_failure_into_one_run_warning(use):
    from tsys.daily.delivery import after_daily_run

    seen = []
    use(("records", Records(seen)), ("breaks", Breaks()))
    assert after_daily_run("the run") == [
        "plugin 'breaks' failed in after_daily_run: RuntimeError: webhook down"
    ]
    assert seen == [("records", "the run")]


def test_not_contained_the_failure_is_raised_naming_plugin_and_hook(use):
    use(("breaks", Breaks()))
    with pytest.raises(PluginError, match=r"plugin 'breaks' failed in after_daily_run"):
        plugins.call_hook("after_daily_run", contain=False, run=None)


def test_tryfirst_and_return_values_come_through_pluggy(use):
    class Late:
        @hookimpl
        def newsletter_sections(self, run):
            return [{"title": "late", "html": "", "text": ""}]

    class Early:
        @hookimpl(tryfirst=True)
        def newsletter_sections(self, run):
            return None

    use(("early", Early()), ("late", Late()))
    calls = plugins.call_hook("newsletter_sections", run=None)
    assert [(c.plugin, c.result) for c in calls] == [
        ("early", None),
        ("late", [{"title": "late", "html": "", "text": ""}]),
    ]


def test_a_newsletter_section_failure_costs_only_that_section(use):
    import datetime as dt

    from tsys.contracts import DailyRun
    from tsys.report.newsletter import _plugin_sections

    class Good:
        @hookimpl
        def newsletter_sections(self):
            return [{"title": "Flow", "html": "<b>x</b>", "text": "x"}]

    class Bad:
        @hookimpl
        def newsletter_sections(self, run):
            raise KeyError("feed")

    use(("good", Good()), ("bad", Bad()))
    run = DailyRun(
        as_of=dt.date(2024, 6, 28),
        created_at=dt.datetime(2024, 6, 28, 20, tzinfo=dt.UTC),
        config_digest="abc",
    )
    sections, problems = _plugin_sections(run)
    assert [s["title"] for s in sections] == ["Flow"]
    assert problems == [
        "a newsletter section is missing: plugin 'bad' failed in newsletter_sections: "
        "KeyError: 'feed'"
    ]


def test_registries_register_through_the_one_caller_with_the_owner(use):
    class Named:
        name = "hook-caller-notifier"

    class Registers:
        @hookimpl
        def register_notifiers(self, register):
            register(Named)

    use(("mine", Registers()))
    assert plugins.notifiers().owner("hook-caller-notifier") == "mine"


def test_trace_env_var_traces_every_hook_call(use, monkeypatch, capsys):
    monkeypatch.setenv("TSYS_TRACE_PLUGINS", "1")
    use(("records", Records([])))
    plugins.call_hook("after_daily_run", run="traced-run")
    err = capsys.readouterr().err
    assert "after_daily_run" in err and "traced-run" in err and "finish" in err


def test_without_the_env_var_nothing_is_traced(use, monkeypatch, capsys):
    monkeypatch.delenv("TSYS_TRACE_PLUGINS", raising=False)
    use(("records", Records([])))
    plugins.call_hook("after_daily_run", run="quiet-run")
    assert "quiet-run" not in capsys.readouterr().err
