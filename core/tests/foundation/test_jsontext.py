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


@given(
    st.lists(_text, min_size=1, max_size=5, unique=True).flatmap(
        lambda keys: st.tuples(
            st.just(keys),
            st.lists(st.tuples(*[_scalar for _ in keys]), max_size=5),
        )
    ),
    st.booleans(),
)
def test_rows_as_columns_are_written_as_their_dicts(keys_rows, nested):
    """Rows (a list of flat objects held as columns) is the text of its list of dicts."""
    from tsys.jsontext import Rows

    keys, rows = keys_rows
    table = Rows(
        keys, [[r[j] for r in rows] for j in range(len(keys))] if rows else [[]] * len(keys)
    )
    dicts = [dict(zip(keys, r, strict=True)) for r in rows]
    assert table.dicts() == dicts
    doc, plain = (
        ({"positions": table, "n": 1}, {"positions": dicts, "n": 1}) if nested else (table, dicts)
    )
    assert dumps_indented(doc) == json.dumps(plain, indent=2)


def test_rows_with_a_nested_value_fall_back():
    from tsys.jsontext import Rows

    table = Rows(["a", "b"], [[1, [2, 3]], ["x", {"y": None}]])
    assert dumps_indented({"rows": table}) == json.dumps({"rows": table.dicts()}, indent=2)
