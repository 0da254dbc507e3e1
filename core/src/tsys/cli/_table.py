"""Tables that fit the terminal without cutting ids, symbols or amounts.

:func:`fit_table` builds a rich table whose value columns never wrap or truncate: when the
table is wider than the terminal, the one text column (a reason, a note) wraps at word
boundaries down to its minimum width, then the lowest-value columns are left out (and named,
so the reader knows where to look: ``--json`` has everything).
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

#: Width of a table printed to a pipe or a file (no terminal to measure).
PIPE_WIDTH = 80


@attrs.frozen
class Column:
    """One column of :func:`fit_table`.

    ``drop`` ranks a column that may be left out when the table is too wide (lowest first;
    None: always shown). ``wrap`` marks the text column that may wrap at word boundaries,
    down to ``min_width`` characters.
    """

    header: str
    justify: str = "left"
    drop: int | None = None
    wrap: bool = False
    min_width: int = 16


def terminal_width() -> int:
    """The terminal's width, or :data:`PIPE_WIDTH` when standard output is not a terminal."""
    if not sys.stdout.isatty():
        return PIPE_WIDTH
    try:
        return max(40, os.get_terminal_size().columns)
    except OSError:
        return PIPE_WIDTH


def _build(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    keep: list[int],
    *,
    squeeze: bool = False,
    **kw: Any,
) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(**kw)
    for i in keep:
        c = columns[i]
        table.add_column(
            c.header,
            justify=c.justify,  # type: ignore[arg-type]
            no_wrap=not c.wrap,
            overflow="fold",
            max_width=c.min_width if c.wrap and squeeze else None,
        )
    for row in rows:
        # Text (not markup): a headline holding "[...]" must print as written.
        table.add_row(*(Text(str(row[i])) for i in keep))
    return table


def natural_width(table: Any) -> int:
    """The width ``table`` takes when nothing has to wrap."""
    from rich.console import Console

    console = Console(width=10_000, file=io.StringIO())
    return console.measure(table).maximum


def fit_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    width: int,
    **table_kw: Any,
) -> tuple[Any, int, list[str]]:
    """A rich ``Table`` of ``rows``, the width to print it at, and the headers left out.

    Columns are dropped lowest ``drop`` first, only while the table cannot fit ``width`` with
    its text column wrapped to its minimum width; the other cells are never cut. When even
    the narrowest table is wider than ``width``, it is printed at its own width (the terminal
    wraps the lines) rather than cut.
    """
    keep = list(range(len(columns)))
    droppable = sorted((c.drop, i) for i, c in enumerate(columns) if c.drop is not None)
    left_out: list[str] = []
    while True:
        need = natural_width(_build(columns, rows, keep, squeeze=True, **table_kw))
        if need <= width or not droppable:
            return _build(columns, rows, keep, **table_kw), max(width, need), left_out
        _, i = droppable.pop(0)
        keep.remove(i)
        left_out.append(columns[i].header)


#: The header and :func:`tsys.format.figure` format of each metric of :func:`metrics_table`.
METRIC_COLUMNS: dict[str, tuple[str, str]] = {
    "cagr": ("CAGR", "pct"),
    "sharpe": ("Sharpe", "ratio"),
    "max_drawdown": ("max DD", "pct"),
    "exposure": ("exposure", "pct"),
    "trades": ("trades", "int"),
    "entry_precision": ("entry precision", "pct"),
}


def metrics_table(
    title: str, rows: Sequence[tuple[str, Mapping[str, Any]]], keys: Sequence[str]
) -> Any:
    """A rich ``Table`` of named rows of metrics: a column per key of :data:`METRIC_COLUMNS`,
    in the order given, each cell in its format (n/a when the row lacks it)."""
    from rich.table import Table

    from tsys.format import figure

    table = Table(title=title)
    table.add_column("")
    for key in keys:
        table.add_column(METRIC_COLUMNS[key][0], justify="right")
    for name, metrics in rows:
        table.add_row(name, *(figure(metrics.get(k), METRIC_COLUMNS[k][1]) for k in keys))
    return table
