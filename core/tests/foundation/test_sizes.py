"""Size limits: no module over 600 lines, no function over 120 (core and the plugins).

The Cython kernel (``sim/_fill.pyx``) and its pure-Python reference (``sim/reference.py``) are
the simulator's two implementations and exempt: they keep the fill rules in one readable loop
each, side by side. Nothing else is exempt: there is no list of pending exceptions.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
MODULE_LINES = 600
FUNCTION_LINES = 120
SIMULATOR = {"core/src/tsys/sim/_fill.pyx", "core/src/tsys/sim/reference.py"}


def sources() -> list[Path]:
    core = ROOT / "core" / "src"
    return sorted([*core.rglob("*.py"), *core.rglob("*.pyx"), *ROOT.glob("plugins/*/src/**/*.py")])


def oversize(path: Path) -> list[str]:
    """What in one file is over a limit (empty: nothing)."""
    text = path.read_text(encoding="utf-8")
    found = []
    lines = len(text.splitlines())
    if lines > MODULE_LINES:
        found.append(f"module of {lines} lines")
    if path.suffix == ".py":
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > FUNCTION_LINES:
                    found.append(f"{node.name} (line {node.lineno}) of {length} lines")
    return found


def test_modules_and_functions_are_within_limits():
    over = {}
    for path in sources():
        rel = path.relative_to(ROOT).as_posix()
        if rel in SIMULATOR:
            continue
        if found := oversize(path):
            over[rel] = found
    assert not over, "over the size limits:\n" + "\n".join(f"{k}: {v}" for k, v in over.items())


def test_the_measure_counts_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(FUNCTION_LINES))
    path = tmp_path / "m.py"
    path.write_text(f"def long():\n{body}\n")
    assert oversize(path) == [f"long (line 1) of {FUNCTION_LINES + 1} lines"]
