"""The counting progress bar of the long commands (optimise, research, neighbourhood scan)."""

from __future__ import annotations

from typing import Any


def count_bar(console: Any, *, disable: bool = False, elapsed: bool = True) -> Any:
    """A rich progress bar on ``console``: description, bar, ``done/total`` and (with
    ``elapsed``) the time so far. Use it as a context manager, as :class:`rich.progress.Progress`.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns: list[Any] = ["[progress.description]{task.description}", BarColumn()]
    columns.append(MofNCompleteColumn())
    if elapsed:
        columns.append(TimeElapsedColumn())
    return Progress(*columns, console=console, disable=disable)
