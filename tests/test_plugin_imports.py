"""Plugins reach tsys only through its front door: ``tsys.api`` (and ``tsys.testing``).

Every other tsys module is internal and may change in any release; a plugin that imports one
could break silently. This walks every module of every plugin package shipped in this repository
(lazy imports inside functions included) and fails on any other ``tsys`` import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

from tsys.cli.scaffold import KINDS, render

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = {"tsys.api", "tsys.testing"}
PACKAGES = sorted(ROOT.glob("plugins/*/src"))


def tsys_imports(tree: ast.AST) -> list[tuple[int, str]]:
    """Every ``tsys`` module an AST imports, with its line (``from tsys import x`` as tsys.x)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "tsys":
                found += [(node.lineno, f"tsys.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.split(".")[0] == "tsys"]


def test_the_plugin_packages_are_found():
    names = {p.parent.name for p in PACKAGES}
    assert {"bucket_sp500", "broker_alpaca", "notifier_email"} <= names


def wrong_imports(sources: Iterable[tuple[object, str]]) -> str:
    """``where:line: module`` for each import of a tsys module a plugin may not use."""
    return "\n".join(
        f"{where}:{line}: {name}"
        for where, text in sources
        for line, name in tsys_imports(ast.parse(text))
        if name not in PUBLIC
    )


@pytest.mark.parametrize("src", PACKAGES, ids=lambda p: p.parent.name)
def test_plugin_imports_only_the_front_door(src):
    wrong = wrong_imports((p.relative_to(ROOT), p.read_text()) for p in sorted(src.rglob("*.py")))
    assert not wrong, "plugins may import only tsys.api and tsys.testing:\n" + wrong


@pytest.mark.parametrize("kind", KINDS)
def test_generated_plugin_imports_only_the_front_door(kind, tmp_path):
    """What `tsys plugin new` writes (the example third-party plugin) keeps the rule too."""
    files = render(kind, "mine", tmp_path).files
    wrong = wrong_imports((rel, files[rel]) for rel in sorted(files) if rel.startswith("src/"))
    assert not wrong, "plugins may import only tsys.api and tsys.testing:\n" + wrong


def test_the_check_sees_lazy_and_module_imports():
    code = (
        "def f():\n    from tsys.store import open_store\nimport tsys.cli\nfrom tsys import api\n"
    )
    found = sorted(tsys_imports(ast.parse(code)))
    assert found == [(2, "tsys.store"), (3, "tsys.cli"), (4, "tsys.api")]
