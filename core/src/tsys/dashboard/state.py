"""What every request of the dashboard shares: the configuration, the store, the page renderer.

Also the small helpers of every page: paging of long tables and the HTTP status of a refusal.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator
from typing import Any

import attrs

from tsys.dashboard.security import Guard
from tsys.errors import TsysError

#: (path, label) of the navigation bar, in order.
NAV = (
    ("/", "Today"),
    ("/portfolio", "Portfolio"),
    ("/paper", "Paper"),
    ("/trades", "Manual trades"),
    ("/research", "Research"),
    ("/runs", "Runs"),
)
#: Rows per page of the long tables (positions, trades).
PAGE_SIZE = 50


@attrs.define
class Dashboard:
    """What every request shares: the configuration, its workspace and the guard."""

    config: Any
    guard: Guard
    write_lock: threading.Lock = attrs.field(factory=threading.Lock)

    @property
    def ws(self) -> Any:
        from tsys.workspace import workspace

        return workspace(self.config)

    @contextlib.contextmanager
    def store(self) -> Iterator[Any]:
        from tsys.store import open_store

        with open_store(self.ws.store_url) as store:
            yield store

    def page(self, request: Any, template: str, title: str, status: int = 200, **ctx: Any) -> Any:
        """An HTML page of ``dashboard/<template>``, secrets scrubbed."""
        from starlette.responses import HTMLResponse

        from tsys import redact
        from tsys.report.html import render

        html = render(
            f"dashboard/{template}",
            title=title,
            nav=NAV,
            path=request.url.path,
            synthetic=self.ws.demo,
            csrf=self.guard.csrf,
            **ctx,
        )
        return HTMLResponse(redact.scrub(html), status_code=status)


def exc_status(exc: TsysError) -> int:
    """The HTTP status of a refused request: 409 for a stale form, 404 for a missing thing,
    400 for what the user typed."""
    from tsys.store.manual_version import StaleTrade

    if isinstance(exc, StaleTrade):
        return 409
    if exc.message.startswith("no "):
        return 404
    return 400


def page_number(request: Any) -> int:
    try:
        return max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        return 1


def paginate(rows: list[Any], page: int) -> tuple[list[Any], dict[str, int]]:
    """One page of ``rows`` and the pager's figures (page, pages, rows)."""
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    page = min(page, pages)
    start = (page - 1) * PAGE_SIZE
    return rows[start : start + PAGE_SIZE], {"page": page, "pages": pages, "rows": len(rows)}
