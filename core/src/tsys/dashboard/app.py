"""The Starlette app: routes, the page renderer and the error boundary of the dashboard.

GET routes are plain functions (Starlette runs them in its thread pool); POST routes read the
form, check its CSRF token, then run the write in the thread pool under one lock, so two
requests of this server never write at the same time (the store's transaction and the trade's
version guard against other processes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from tsys.dashboard.security import GuardMiddleware
from tsys.dashboard.state import Dashboard, exc_status
from tsys.errors import TsysError


def form_of(body: bytes) -> dict[str, str]:
    """An urlencoded form body as a dict (the last value of a repeated field wins)."""
    return {
        k: v[-1]
        for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()
    }


def build_app(dash: Dashboard) -> Any:
    """The ASGI app of ``dash``."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from tsys.dashboard import forms, pages

    def get(fn: Callable[[Dashboard, Any], Any]) -> Callable[[Any], Any]:
        def endpoint(request: Any) -> Any:
            try:
                return fn(dash, request)
            except TsysError as exc:
                return dash.page(
                    request, "error.html.j2", "Error", status=exc_status(exc), error=exc
                )

        return endpoint

    def post(fn: Callable[[Dashboard, Any, dict[str, str]], Any]) -> Callable[[Any], Any]:
        async def endpoint(request: Any) -> Any:
            form = form_of(await request.body())
            if not dash.guard.csrf_ok(form.get("csrf")):
                return PlainTextResponse(
                    "403: the form's CSRF token is missing or wrong; reload the page and retry",
                    status_code=403,
                )

            def locked() -> Any:
                with dash.write_lock:
                    return fn(dash, request, form)

            try:
                return await run_in_threadpool(locked)
            except TsysError as exc:
                return dash.page(
                    request, "error.html.j2", "Error", status=exc_status(exc), error=exc
                )

        return endpoint

    routes = [
        Route("/", get(pages.today)),
        Route("/portfolio", get(pages.portfolio)),
        Route("/paper", get(pages.paper)),
        Route("/paper/report", get(pages.paper_report)),
        Route("/research", get(pages.research)),
        Route("/research/{kind}/{name}", get(pages.research_report)),
        Route("/runs", get(pages.runs)),
        Route("/runs/diff", get(pages.runs_diff)),
        Route("/runs/{day}/newsletter", get(pages.newsletter)),
        Route("/trades", get(forms.trades_page)),
        Route("/trades", post(forms.add), methods=["POST"]),
        Route("/trades/export.{kind}", get(forms.export)),
        Route("/trades/import", post(forms.import_), methods=["POST"]),
        Route("/trades/{tid}", get(forms.trade_page)),
        Route("/trades/{tid}/edit", post(forms.edit), methods=["POST"]),
        Route("/trades/{tid}/close", post(forms.close), methods=["POST"]),
        Route("/trades/{tid}/delete", post(forms.delete), methods=["POST"]),
        Route("/trades/{tid}/undelete", post(forms.undelete), methods=["POST"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(GuardMiddleware, guard=dash.guard)])
