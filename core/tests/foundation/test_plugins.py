"""Plugin discovery, escape hatches, registries and the safe wrapper."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from tsys import plugins
from tsys.cli import cli
from tsys.errors import PluginError
from tsys.hookspecs import hookimpl


def _fake_dist(root: Path, dist: str, ep_name: str, module: str, source: str) -> None:
    """Install a plugin the way pip would, as far as importlib.metadata can tell."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-9.9.9.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 9.9.9\n")
    (info / "entry_points.txt").write_text(f"[tsys]\n{ep_name} = {module}\n")


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for mod in [m for m in sys.modules if m.startswith("tsysfake_")]:
        del sys.modules[mod]
    plugins.set_strict(False)
    plugins.reset_plugin_manager()


GOOD = """
from tsys.hookspecs import hookimpl

class FakeNotifier:
    name = "fake-notifier"

@hookimpl
def register_notifiers(register):
    register(FakeNotifier)
"""


def test_builtins_registered_through_the_manager():
    pm = plugins.build_plugin_manager(load_entrypoints=False)
    names = {pm.get_name(p) for p in pm.get_plugins()}
    assert set(plugins.BUILTINS) <= names


def test_entry_point_plugin_is_discovered_and_listed(site):
    _fake_dist(site, "tsys-fake-good", "fake-good", "tsysfake_good", GOOD)
    plugins.reset_plugin_manager()
    listed = {p["name"]: p for p in plugins.list_plugins()}
    assert listed["fake-good"]["package"] == "tsys-fake-good"
    assert listed["fake-good"]["version"] == "9.9.9"
    assert listed["fake-good"]["hooks"] == ["register_notifiers"]
    assert "fake-notifier" in plugins.notifiers()


def test_broken_plugin_is_reported_and_skipped(site, capsys):
    _fake_dist(
        site, "tsys-fake-broken", "fake-broken", "tsysfake_broken", "raise RuntimeError('boom')\n"
    )
    _fake_dist(site, "tsys-fake-good", "fake-good", "tsysfake_good", GOOD)
    plugins.reset_plugin_manager()
    pm = plugins.get_plugin_manager()
    assert pm.get_plugin("fake-good") is not None
    assert pm.get_plugin("fake-broken") is None
    assert any(n == "fake-broken" and "boom" in m for n, m in plugins.load_failures)
    assert "fake-broken" in capsys.readouterr().err


def test_broken_plugin_is_fatal_when_strict(site):
    _fake_dist(
        site, "tsys-fake-broken", "fake-broken", "tsysfake_broken", "raise RuntimeError('boom')\n"
    )
    plugins.set_strict(True)
    plugins.reset_plugin_manager()
    with pytest.raises(PluginError, match=r"fake-broken.*boom"):
        plugins.get_plugin_manager()


def test_misspelled_hook_fails_loudly(site):
    source = (
        "from tsys.hookspecs import hookimpl\n@hookimpl\ndef register_bucket(register):\n    pass\n"
    )
    _fake_dist(site, "tsys-fake-typo", "fake-typo", "tsysfake_typo", source)
    plugins.set_strict(True)
    plugins.reset_plugin_manager()
    with pytest.raises(PluginError, match="register_bucket"):
        plugins.get_plugin_manager()


def test_allow_list_and_deny_list(site, monkeypatch):
    _fake_dist(site, "tsys-fake-good", "fake-good", "tsysfake_good", GOOD)
    monkeypatch.setenv("TSYS_LOAD_PLUGINS", "")
    plugins.reset_plugin_manager()
    assert plugins.get_plugin_manager().get_plugin("fake-good") is None
    monkeypatch.setenv("TSYS_LOAD_PLUGINS", "fake-good")
    plugins.reset_plugin_manager()
    assert plugins.get_plugin_manager().get_plugin("fake-good") is not None
    monkeypatch.delenv("TSYS_LOAD_PLUGINS")
    monkeypatch.setenv("TSYS_DISABLE_PLUGINS", "fake-good,tsys.notifiers.builtin")
    plugins.reset_plugin_manager()
    pm = plugins.get_plugin_manager()
    assert pm.get_plugin("fake-good") is None
    assert pm.get_plugin("tsys.notifiers.builtin") is None


def test_plugins_command_json(site):
    _fake_dist(site, "tsys-fake-good", "fake-good", "tsysfake_good", GOOD)
    plugins.reset_plugin_manager()
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    names = [p["name"] for p in data["plugins"]]
    assert "tsys.data.builtin" in names and "fake-good" in names


class _Thing:
    def __init__(self, name):
        self.name = name


def test_registry_rejects_duplicates_and_suggests():
    reg = plugins.Registry("bucket")
    reg.register(_Thing("sp500"), owner="a")
    with pytest.raises(PluginError, match="two plugins register the bucket 'sp500': a and b"):
        reg.register(_Thing("sp500"), owner="b")
    with pytest.raises(PluginError) as info:
        reg.get("sp50")
    assert "known: sp500" in str(info.value) and "did you mean 'sp500'" in str(info.value)
    with pytest.raises(PluginError, match="without a 'name'"):
        reg.register(object(), owner="c")


def test_duplicate_across_plugins_is_reported():
    class Dup:
        @hookimpl
        def register_notifiers(self, register):
            register(_Thing("file"))

    pm = plugins.build_plugin_manager(load_entrypoints=False)
    pm.register(Dup(), name="dup")
    plugins.reset_plugin_manager(pm)
    try:
        with pytest.raises(PluginError, match="two plugins register the notifier 'file'"):
            plugins.notifiers()
    finally:
        plugins.reset_plugin_manager()


def test_plugin_exception_names_the_plugin():
    class Bad:
        @hookimpl
        def register_brokers(self, register):
            raise ZeroDivisionError("oops")

    pm = plugins.build_plugin_manager(load_entrypoints=False)
    pm.register(Bad(), name="bad-plugin")
    plugins.reset_plugin_manager(pm)
    try:
        with pytest.raises(PluginError, match=r"'bad-plugin'.*ZeroDivisionError: oops"):
            plugins.brokers()
    finally:
        plugins.reset_plugin_manager()


def test_impl_may_take_fewer_arguments():
    seen = []

    class Lean:
        @hookimpl
        def after_daily_run(self):
            seen.append(True)

    pm = plugins.build_plugin_manager(load_entrypoints=False)
    pm.register(Lean(), name="lean")
    pm.hook.after_daily_run(run=None)
    assert seen == [True]
