"""tsys.api, the plugins' front door: every name resolves, the typed names match, it stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import tsys.api as api


@pytest.mark.parametrize("name", api.__all__)
def test_every_exported_name_resolves(name):
    assert getattr(api, name) is not None


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'open_store'"):
        api.open_store  # noqa: B018


def test_type_checking_imports_match_the_exports():
    tree = ast.parse(Path(api.__file__).read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If))  # if TYPE_CHECKING:
    typed: dict[str, str] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom)
        for alias in node.names:
            typed[alias.name] = node.module
    exported = {name: module for module, names in api._EXPORTS.items() for name in names}
    exported |= {name: module.rpartition(".")[0] for name, module in api._MODULES.items()}
    assert typed == exported


def test_importing_the_hook_marker_does_not_load_pandas():
    code = "import sys; from tsys.api import hookimpl; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_registered_plugin_is_listed_for_the_block_only():
    from tsys.testing import registered_plugin

    class Mine:
        @api.hookimpl
        def after_daily_run(self):
            pass

    with registered_plugin(Mine(), "mine"):
        assert "mine" in {p["name"] for p in api.list_plugins()}
    assert "mine" not in {p["name"] for p in api.list_plugins()}
