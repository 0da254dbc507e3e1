"""tsys.files: atomic writes keep the old file on failure and leave no temp file behind."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsys.errors import TsysError
from tsys.files import append_line, atomic_write_bytes, atomic_write_text, csv_text, write_json


def test_atomic_write_creates_folders_and_replaces(tmp_path):
    target = tmp_path / "a" / "b" / "f.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.txt"]


def test_failed_replace_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"old")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(TsysError, match=r"cannot write .*f\.bin: No space left on device"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_a_file_where_a_folder_must_go_is_a_tsys_error(tmp_path):
    (tmp_path / "runs").write_text("not a folder")
    with pytest.raises(TsysError, match="cannot write"):
        atomic_write_text(tmp_path / "runs" / "run.json", "{}")
    with pytest.raises(TsysError, match="cannot write"):
        append_line(tmp_path / "runs" / "history.jsonl", "{}")


def test_write_json_is_json_dumps_plus_newline(tmp_path):
    doc = {"b": 1.5, "a": [1, "x"], "when": object()}
    write_json(tmp_path / "d.json", doc, default=lambda o: "obj")
    assert (tmp_path / "d.json").read_text() == json.dumps(
        doc, indent=2, default=lambda o: "obj"
    ) + "\n"
    write_json(tmp_path / "s.json", {"b": 1, "a": 2}, indent=None, sort_keys=True)
    assert (tmp_path / "s.json").read_text() == '{"a": 2, "b": 1}\n'


def test_append_line_appends(tmp_path):
    path = tmp_path / "h" / "history.jsonl"
    append_line(path, "1")
    append_line(path, "2")
    assert path.read_text() == "1\n2\n"


cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@given(st.lists(st.tuples(cells, cells), max_size=6))
def test_csv_text_round_trips_through_the_csv_module(rows):
    import csv
    import io

    table = csv_text(("x", "y"), [{"x": a, "y": b} for a, b in rows])
    back = list(csv.DictReader(io.StringIO(table, newline="")))
    cr = [
        (a.replace("\r\n", "\n").replace("\r", "\n"), b.replace("\r\n", "\n").replace("\r", "\n"))
        for a, b in rows
    ]
    assert [(r["x"], r["y"]) for r in back] == cr
    assert table.startswith("x,y\n")


def test_csv_text_missing_keys_are_empty():
    assert csv_text(("a", "b"), [{"a": 1}]) == "a,b\n1,\n"
