"""What every request of the dashboard shares: the configuration, the store, the page renderer.

Also the small helpers of every page: paging of long tables and the HTTP status of a refusal.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
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
#: A cached view (the merged portfolio) is rebuilt at least this often (new prices).
CACHE_SECONDS = 120.0


@attrs.define
class Dashboard:
    """What every request shares: the configuration, its workspace and the guard."""

    config: Any
    guard: Guard
    write_lock: threading.Lock = attrs.field(factory=threading.Lock)
    #: name -> (key, monotonic time, value) of :meth:`cached`.
    _cache: dict[str, tuple[Any, float, Any]] = attrs.field(factory=dict)

    def cached(self, name: str, key: Any, build: Any, *, ttl: float = CACHE_SECONDS) -> Any:
        """``build()``, reused while ``key`` is unchanged and for at most ``ttl`` seconds.

        The key names the state a value was built from (e.g. the store's fingerprint), so a
        write shows at once; the time limit picks up what no key sees (new prices).
        """
        hit = self._cache.get(name)
        now = time.monotonic()
        if hit is not None and hit[0] == key and now - hit[1] < ttl:
            return hit[2]
        value = build()
        self._cache[name] = (key, time.monotonic(), value)  # (a slow build is not stale at once)
        return value

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
