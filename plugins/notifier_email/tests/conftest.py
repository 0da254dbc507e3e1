"""Real SMTP servers on loopback (aiosmtpd), trustme certificates, and a small daily run."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading

import pytest

from tsys import plugins
from tsys.contracts import (
    Allocation,
    Blocker,
    BucketRun,
    DailyRun,
    NewsItem,
    PortfolioSnapshot,
    Signal,
    StopRule,
    TradePlan,
)
from tsys.testing.smtp import start_server

TS = dt.datetime(2024, 5, 3, 20, 0, tzinfo=dt.UTC)


def _plan(symbol, bucket, asset, action, dollars, weight, qty, stop, news=()):
    sig = Signal(
        symbol=symbol,
        asset_class=asset,
        timestamp=TS,
        side="sell" if action == "sell" else "buy",
        intent="exit_next_open" if action == "sell" else "enter_next_open",
        score=0.75,
        bucket=bucket,
        strategy_version="1",
        rationale=(f"{symbol} rationale",),
        news=news,
    )
    return TradePlan(
        allocation=Allocation(signal=sig, dollars=dollars, weight=weight, quantity=qty),
        action=action,
        entry="MOO",
        client_order_id=f"id-{symbol}",
        valid_until=TS,
        stop=None if stop is None else StopRule(kind="fixed", price=stop),
    )


def _bucket_run(bucket, asset, regime, plans, **more):
    """A bucket's run on TS whose signals are its plans' own."""
    return BucketRun(
        bucket=bucket,
        version="1",
        asset_class=asset,
        as_of=TS.date(),
        regime=regime,
        signals=tuple(p.allocation.signal for p in plans),
        plans=plans,
        **more,
    )


def make_run() -> DailyRun:
    spy = _plan(
        "AAPL",
        "sp500",
        "equity",
        "buy",
        12345.67,
        0.1234567,
        45,
        180.5,
        news=(NewsItem(title="Apple beats", url="https://news.test/aapl"),),
    )
    xom = _plan("XOM", "sp500", "equity", "sell", 5432.1, 0.054321, 46, None)
    btc = _plan("BTC-USD", "crypto", "crypto", "buy", 7654.32, 0.0765432, 0.12345678, 58000.0)
    return DailyRun(
        as_of=dt.date(2024, 5, 3),
        created_at=TS,
        config_digest="feedface",
        buckets=(
            _bucket_run(
                "sp500",
                "equity",
                "risk-on",
                (spy, xom),
                blockers=(Blocker(symbol="TSLA", bucket="sp500", reason="earnings in 2 days"),),
            ),
            _bucket_run("crypto", "crypto", "neutral", (btc,), validated=False),
        ),
        portfolio=PortfolioSnapshot(
            as_of=TS,
            account_equity=100000.0,
            cash=80000.0,
            exposure_by_bucket={"sp500": 12345.67},
            open_risk=432.1,
        ),
        synthetic_data=True,
    )


@pytest.fixture
def run() -> DailyRun:
    return make_run()


@pytest.fixture(autouse=True)
def isolated_plugins():
    """Only the built-ins and this plugin: other workspace plugins cannot interfere."""
    import tsys_notifier_email

    pm = plugins.build_plugin_manager(load_entrypoints=False)
    pm.register(tsys_notifier_email, name="notifier-email")
    plugins.reset_plugin_manager(pm)
    yield pm
    plugins.reset_plugin_manager(None)


@pytest.fixture(scope="session")
def ca():
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


@pytest.fixture(scope="session")
def server_ssl(ca):
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    return ctx


@pytest.fixture(scope="session")
def ca_file(ca, tmp_path_factory):
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def smtp_server():
    """Start aiosmtpd Controllers on free loopback ports; stop them after the test."""
    started = []

    def start(handler=None, **kwargs):
        ctl, handler, port = start_server(handler, **kwargs)
        started.append(ctl)
        return ctl, handler, port

    yield start
    for ctl in started:
        ctl.stop()


class DroppingServer:
    """A TCP server that accepts each connection and closes it at once (a dropped link)."""

    def __init__(self, *, silent: bool = False) -> None:
        self.silent = silent  # keep the socket open but never answer (a hung server)
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            if self.silent:
                self._held.append(conn)
            else:
                conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(2)
        for c in self._held:
            c.close()
        self.sock.close()


@pytest.fixture
def dropping_server():
    servers = []

    def make(**kw):
        s = DroppingServer(**kw)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()
