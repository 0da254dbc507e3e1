"""A demo world for the dashboard tests: three demo sessions traded on the paper account, and a
real dashboard server on a loopback port (uvicorn in a thread), fetched with httpx."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time

import pytest
from click.testing import CliRunner

from tsys.testing.isolation import isolate

DAYS = ("2024-03-12", "2024-03-13", "2024-03-14")  # consecutive NYSE sessions; sp500 buys on 1


def tsys(*args: str, ok: bool = True):
    """Run the CLI in-process; the parsed JSON (``--json`` commands) or the result."""
    from tsys.cli import cli

    res = CliRunner().invoke(cli, list(args))
    if ok:
        assert res.exit_code == 0, res.output
        if "--json" in args:
            return json.loads(res.output)
    return res


@contextlib.contextmanager
def running(config, *, host: str = "127.0.0.1", token: str | None = None):
    """A dashboard server on ``host`` (any free port): (base URL, guard)."""
    from tsys.dashboard import bind, make_server, url_of
    from tsys.dashboard.app import build_app
    from tsys.dashboard.security import guard_for
    from tsys.dashboard.state import Dashboard

    guard, _ = guard_for(host, token)
    sock = bind(host, 0)
    server = make_server(build_app(Dashboard(config, guard)), sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the dashboard did not start"
        time.sleep(0.05)
    try:
        yield url_of(sock).rstrip("/"), guard
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="package")
def world(tmp_path_factory):
    """Three demo days with --paper in a fresh data dir, and the configuration they used."""
    mp = pytest.MonkeyPatch()
    root = isolate(mp, tmp_path_factory.mktemp("dashboard"))
    for day in DAYS:
        tsys("run-daily", "--demo", "--paper", "--buckets", "sp500", "--as-of", day, "--json")
    from tsys.config import load_config

    yield {"root": root, "config": load_config(None)}
    mp.undo()


@pytest.fixture(scope="package")
def server(world):
    with running(world["config"]) as (url, guard):
        yield {"url": url, "guard": guard, **world}


@pytest.fixture
def client(server):
    import httpx

    with httpx.Client(base_url=server["url"], timeout=120) as c:
        yield c


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def data_values(html: str, attr: str) -> dict[str, float]:
    """``attr="KEY" data-value="V"`` pairs of a page as floats."""
    return {
        k: float(v)
        for k, v in re.findall(rf'{attr}="([^"]+)" data-value="([^"]*)"', html)
        if v != ""
    }
