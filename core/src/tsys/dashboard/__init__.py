"""``tsys dashboard``: the local web dashboard over the same data dir, store and config as the CLI.

A small Starlette app served by uvicorn. Every page is built by the functions the command line
uses (the merged positions of :func:`tsys.holdings.load_portfolio`, the runs on disk, the
paper report of :mod:`tsys.brokers.report`, the manual-trades repository of :mod:`tsys.store`)
and rendered by the one jinja environment of :mod:`tsys.report.html`, charts included (inline
SVG): no JavaScript, no CDN, nothing to build, and it works offline.

Safety (see :mod:`tsys.dashboard.security`): it binds to 127.0.0.1 unless told otherwise;
binding elsewhere needs an access token that every request carries; every form carries a CSRF
token; every page is passed through :func:`tsys.redact.scrub`; every write goes through the
store's own validation in one transaction, and an edit made from a stale form is refused
(:mod:`tsys.store.manual_version`).

Layer: a front end like the command line, above everything it shows (holdings, daily runs,
brokers, store, report) and below ``tsys.cli``, which starts it.
"""

from __future__ import annotations

import socket
from typing import Any

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def make_server(app: Any, sock: socket.socket) -> Any:
    """A uvicorn server for ``app`` on an already bound socket (quiet: warnings only)."""
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    return uvicorn.Server(config)  # captures Ctrl-C only when run from the main thread


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"
