"""Every hook spec is documented with its exact signature."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from tsys import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
SPECS = [
    name
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(fn, "tsys_spec")
]


def test_there_are_hook_specs():
    assert len(SPECS) >= 8


@pytest.mark.parametrize("name", SPECS)
def test_hook_has_a_docs_heading_with_its_signature(name):
    fn = getattr(hookspecs, name)
    params = ", ".join(inspect.signature(fn).parameters)
    headings = re.findall(r"^### (.+)$", DOCS.read_text(), flags=re.M)
    assert f"{name}({params})" in headings, f"docs/plugins.md needs '### {name}({params})'"
