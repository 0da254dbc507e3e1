"""tsys.jsontext.dumps_indented is json.dumps(obj, indent=2), byte for byte."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from tsys.jsontext import dumps_indented

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12
) | st.sampled_from(["}", "},\n    {", '"', "\\", "é", "\n", ""])
_scalar = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | _text
)
_flat = st.dictionaries(_text, _scalar, max_size=6)
_json = st.recursive(
    _scalar | st.lists(_flat, max_size=4),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(_text, inner, max_size=4)
        | st.lists(_flat, max_size=4)
    ),
    max_leaves=30,
)


@given(_json)
def test_same_text_as_json_dumps_indent_2(obj):
    assert dumps_indented(obj) == json.dumps(obj, indent=2)


@given(st.dictionaries(_text, st.lists(_flat, min_size=1, max_size=5), max_size=3))
def test_lists_of_flat_objects_inside_objects(obj):
    doc = {"positions": obj, "totals": {"n": 1, "x": 1.5}, "warnings": ["a"]}
    assert dumps_indented(doc) == json.dumps(doc, indent=2)


def test_non_string_keys_and_tuples_fall_back():
    doc = {"a": [{1: 2}, {"b": (1, 2)}], "t": (1, [2]), "n": {}}
    assert dumps_indented(doc) == json.dumps(doc, indent=2)
