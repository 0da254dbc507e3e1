"""Issue 21.9: user text is printed as written, never read as rich markup.

A bucket, note or tag like ``[/X]`` made `trades list` and `portfolio` exit 1 with a
MarkupError, and ``[link=...]`` became a terminal hyperlink. Every command that shows user
text is run with markup-looking values, and the tables are checked over arbitrary text.
"""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from tsys.cli import cli
from tsys.cli._table import Column, fit_table

MARKUP = [
    "[/X]",
    "[link=https://evil.example]click[/link]",
    "[bold red]loud",
    "[/]",
    "[@click=app.quit]q",
    "\\[x]",
    "[",
]


@pytest.mark.parametrize("text", MARKUP)
def test_commands_print_user_text_as_written(isolated, text):
    run = CliRunner()
    add = run.invoke(
        cli,
        ["trades", "add", "SPY", "--side", "buy", "--qty", "2", "--price", "400",
         "--date", "2024-06-03", "--bucket", text, "--note", text, "--tag", text],
    )  # fmt: skip
    assert add.exit_code == 0, add.output
    for args in (["trades", "list"], ["trades", "list", "--tag", text], ["portfolio"]):
        res = run.invoke(cli, args)
        assert res.exit_code == 0, (args, res.output)
        assert "MarkupError" not in res.output and "Traceback" not in res.output
    shown = run.invoke(cli, ["trades", "show", "M-1"])
    assert shown.exit_code == 0 and shown.output.count(text) >= 3, shown.output
    portfolio = run.invoke(cli, ["portfolio"])
    assert text in portfolio.output  # the bucket column and the exposure line, literally
    assert "\x1b]8;" not in portfolio.output  # no terminal hyperlink


@given(
    cells=st.lists(
        st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=30),
        min_size=3,
        max_size=3,
    )
)
def test_tables_render_any_text_literally(cells):
    """Invariant: whatever a cell holds, the table shows it and never raises."""
    columns = [Column("a"), Column("b", wrap=True), Column("c")]
    table, width, _ = fit_table(columns, [cells], width=400)
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, highlight=False).print(table)
    text = out.getvalue()
    for cell in cells:
        for word in cell.split():
            if word.isprintable():
                assert word in text
