"""Options and parameter callbacks shared by several commands."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import click


def parse_date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    """Click callback: an ISO date, or None when the option was not given."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date like 2019-12-31, got {value!r}") from None


def data_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--source``, ``--path`` and ``--shared-data``: where research commands read bars."""
    f = click.option(
        "--shared-data",
        "shared_data",
        type=click.Path(file_okay=False),
        default=None,
        is_flag=False,
        flag_value="../shared/data",
        help="Use the shared real-data layout (equities, crypto, constituents, news) in DIR "
        "(default ../shared/data).",
    )(f)
    f = click.option(
        "--path",
        "path",
        type=click.Path(file_okay=False),
        default=None,
        help="Folder of per-symbol files for --source csv.",
    )(f)
    return click.option(
        "--source",
        default=None,
        metavar="NAME",
        help="Data source: demo, csv or any installed one (default: [data] source).",
    )(f)
