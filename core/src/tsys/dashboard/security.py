"""Who may talk to the dashboard: the access token, the CSRF token and the Host check.

- **Access token.** Bound to a loopback address, the dashboard answers the local machine only,
  and needs no token unless one is given. Bound anywhere else, a token is required (given with
  ``--token``, or generated and printed once); every request carries it as ``?token=`` (which
  sets an HttpOnly, SameSite=Strict cookie and redirects to the same page without it), as that
  cookie, or as ``Authorization: Bearer``. Anything else gets 401.
- **CSRF.** A random token made when the server starts is put in every form; a POST without it
  (or with another) is refused with 403 before anything is read or written.
- **Host.** On a loopback address only ``127.0.0.1``, ``localhost`` and ``[::1]`` are accepted
  as the Host header, so a web page elsewhere cannot reach the dashboard by DNS rebinding.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode

import attrs

TOKEN_COOKIE = "tsys_dashboard_token"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def new_token() -> str:
    return secrets.token_urlsafe(24)


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


@attrs.frozen
class Guard:
    """The tokens of one server."""

    csrf: str = attrs.field(factory=new_token, repr=False)
    #: None: no access token (loopback only).
    token: str | None = attrs.field(default=None, repr=False)
    #: Host names accepted in the Host header (empty: any, when a token guards access).
    hosts: frozenset[str] = frozenset()

    def csrf_ok(self, value: str | None) -> bool:
        return bool(value) and hmac.compare_digest(str(value), self.csrf)

    def token_ok(self, value: str | None) -> bool:
        return self.token is None or (bool(value) and hmac.compare_digest(str(value), self.token))


def guard_for(host: str, token: str | None) -> tuple[Guard, str | None]:
    """The guard for a server bound to ``host``, and a token generated for it (None: given or
    not needed). A non-loopback address always gets a token."""
    from tsys import redact

    generated = None
    if token is None and not is_loopback(host):
        token = generated = new_token()
    redact.register(token)  # never on a page, in a log or in an error
    hosts = frozenset(LOOPBACK_HOSTS) if is_loopback(host) and token is None else frozenset()
    return Guard(token=token, hosts=hosts), generated


class GuardMiddleware:
    """ASGI middleware applying the Host check and the access token to every request."""

    def __init__(self, app: Any, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from starlette.requests import Request
        from starlette.responses import PlainTextResponse, RedirectResponse

        request = Request(scope)
        g = self.guard
        if g.hosts and _host_only(request.headers.get("host") or "") not in g.hosts:
            resp = PlainTextResponse("unknown Host header: refused", status_code=400)
            return await resp(scope, receive, send)
        if g.token is not None:
            given = request.query_params.get("token")
            if given is not None and g.token_ok(given):
                pairs = parse_qsl(scope.get("query_string", b"").decode())
                query = urlencode([(k, v) for k, v in pairs if k != "token"])
                target = request.url.path + (f"?{query}" if query else "")
                resp = RedirectResponse(target, status_code=303)
                resp.set_cookie(TOKEN_COOKIE, g.token, httponly=True, samesite="strict")
                return await resp(scope, receive, send)
            auth = request.headers.get("authorization") or ""
            bearer = auth[7:] if auth.lower().startswith("bearer ") else None
            if not (g.token_ok(request.cookies.get(TOKEN_COOKIE)) or g.token_ok(bearer)):
                resp = PlainTextResponse(
                    "401: this dashboard needs its access token: open the address with "
                    "?token=... that `tsys dashboard` printed",
                    status_code=401,
                )
                return await resp(scope, receive, send)
        return await self.app(scope, receive, send)


def _host_only(header: str) -> str:
    """The host of a Host header without its port (``[::1]:8765`` -> ``[::1]``)."""
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header
