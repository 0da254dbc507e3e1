"""The import layers of tsys: every import points down the order, and no import forms a cycle.

The order is the block under "Layers" in ``docs/architecture.md`` (top first). The test walks
the AST of every module of :mod:`tsys`, imports inside functions included, so a lazy import
cannot hide a back-edge. There is no exceptions list: a new module gets a layer in that document
(a name listed there before its module lands is harmless).

Rules:

- a module imports only modules of its own layer or of layers below it;
- the units of one layer (the names on one line) import each other without a cycle;
- no cycle between modules.

Imports under ``if TYPE_CHECKING:`` are left out: they never run, and naming a type from above
in an annotation is how a lower layer states what it expects without depending on it (the hook
specifications name ``Bucket``, ``Broker`` and ``Notifier``; a repository and its
sub-repositories name each other's types).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

import tsys

SRC = Path(tsys.__file__).resolve().parent
DOC = Path(__file__).resolve().parents[3] / "docs" / "architecture.md"


def modules(src: Path = SRC) -> dict[str, tuple[Path, bool]]:
    """Every module under ``src``: dotted name -> (path, is a package)."""
    out = {}
    for path in sorted(src.rglob("*.py")):
        parts = list(path.relative_to(src.parent).with_suffix("").parts)
        package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if package else parts)] = (path, package)
    return out


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")


def imports(name: str, path: Path, package: bool, known: Iterable[str]) -> list[tuple[int, str]]:
    """(line, imported tsys module) for every import in one module that runs."""
    known = set(known)
    out: list[tuple[int, str]] = []

    def target(dotted: str) -> str:
        while dotted not in known and "." in dotted:
            dotted = dotted.rpartition(".")[0]
        return dotted

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking(child):
                visit(ast.Module(body=child.orelse, type_ignores=[]))
            elif isinstance(child, ast.Import):
                out.extend((child.lineno, target(a.name)) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = name.split(".") if package else name.split(".")[:-1]
                    parts = parts[: len(parts) - child.level + 1]
                    base = ".".join(parts + ([child.module] if child.module else []))
                for a in child.names:
                    full = f"{base}.{a.name}"
                    out.append((child.lineno, target(full if full in known else base)))
            else:
                visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return [(line, mod) for line, mod in out if mod.split(".")[0] == "tsys"]


def layers(doc: Path = DOC) -> list[list[str]]:
    """The layer order written in ``docs/architecture.md``, bottom first."""
    text = doc.read_text(encoding="utf-8")
    block = re.search(r"<!-- layers -->\n```text\n(.*?)```", text, re.S)
    assert block, f"{doc} lost its layers block"
    return [line.split() for line in reversed(block.group(1).splitlines()) if line.strip()]


def unit_of(module: str, units: Iterable[str]) -> str | None:
    """The unit a module belongs to: the longest listed name that is it or contains it."""
    found = [u for u in units if module == u or (u != "tsys" and module.startswith(u + "."))]
    return max(found, key=len) if found else None


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def violations(mods: Mapping[str, tuple[Path, bool]], order: list[list[str]]) -> list[str]:
    """Every import that points up, every unit cycle inside a layer, every module cycle."""
    level = {unit: i for i, names in enumerate(order) for unit in names}
    problems = [f"{m}: no layer in docs/architecture.md" for m in mods if unit_of(m, level) is None]
    module_graph: dict[str, set[str]] = {m: set() for m in mods}
    unit_graph: dict[str, set[str]] = {u: set() for u in level}
    for name, (path, package) in sorted(mods.items()):
        here = unit_of(name, level)
        for line, target in imports(name, path, package, mods):
            there = unit_of(target, level)
            if here is None or there is None or target == name:
                continue
            if level[there] > level[here]:
                problems.append(f"{name}:{line} imports {target}: {there} is above {here}")
            elif here != there:
                unit_graph[here].add(there)
            module_graph[name].add(target)
    problems += [f"units import each other: {' <-> '.join(c)}" for c in cycles(unit_graph)]
    problems += [f"import cycle: {' <-> '.join(c)}" for c in cycles(module_graph)]
    return list(dict.fromkeys(problems))


def test_every_import_points_down_and_none_forms_a_cycle():
    problems = violations(modules(), layers())
    assert not problems, "\n".join(problems)


def test_every_unit_has_one_place():
    units = [u for names in layers() for u in names]
    assert len(units) == len(set(units)), "a unit is listed twice in docs/architecture.md"


def test_nothing_but_the_entry_point_imports_the_cli():
    mods = modules()
    users = {
        name
        for name, (path, package) in mods.items()
        for _, target in imports(name, path, package, mods)
        if unit_of(target, ["tsys.cli"]) and not unit_of(name, ["tsys.cli"])
    }
    assert users <= {"tsys.__main__"}


@pytest.fixture
def tiny(tmp_path):
    """A package ``tsys`` of four modules for the checker's own tests."""
    src = tmp_path / "tsys"
    (src / "low").mkdir(parents=True)
    (src / "__init__.py").write_text("")
    (src / "low" / "__init__.py").write_text("from . import base\n")
    (src / "low" / "base.py").write_text("")
    (src / "high.py").write_text("from tsys.low.base import x\n")

    def write(**files: str) -> dict[str, tuple[Path, bool]]:
        for module, text in files.items():
            (src / f"{module.replace('.', '/')}.py").write_text(text)
        return modules(src)

    return write


ORDER = [["tsys"], ["tsys.low"], ["tsys.high"]]


def test_checker_accepts_downward_imports(tiny):
    assert violations(tiny(high="from tsys.low import base\n"), ORDER) == []


def test_checker_finds_a_lazy_upward_import(tiny):
    mods = tiny(high="", **{"low.base": "def f():\n    from tsys import high\n"})
    assert violations(mods, ORDER) == [
        "tsys.low.base:2 imports tsys.high: tsys.high is above tsys.low"
    ]


def test_checker_finds_a_cycle(tiny):
    cyclic = tiny(**{"low.base": "import tsys.low\n"})
    assert violations(cyclic, ORDER) == ["import cycle: tsys.low <-> tsys.low.base"]


def test_checker_leaves_out_imports_for_type_checkers_only(tiny):
    text = (
        "import typing\nif typing.TYPE_CHECKING:\n    import tsys.low\n    from tsys import high\n"
    )
    assert violations(tiny(**{"low.base": text}), ORDER) == []


def test_checker_wants_a_layer_for_every_module(tiny):
    mods = tiny(extra="")
    assert violations(mods, ORDER) == ["tsys.extra: no layer in docs/architecture.md"]
