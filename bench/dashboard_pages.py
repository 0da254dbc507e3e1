"""Benchmark: every dashboard page's server time on the demo world with 10,000 manual trades.

Makes three demo sessions traded on the paper account (``run-daily --demo --paper``) in a
temporary data dir, inserts N manual trades (default 10,000) through the store's bulk path,
then, in a fresh child process each time (nothing of the setup in memory), starts the
dashboard on a loopback port (uvicorn in a thread, as ``tsys dashboard`` runs it, without its
warm-up) and fetches every page: once ("first"), then ``--reps`` times. Prints, per page, the
first time, the median and the worst of the repeats, from request to the last byte (the
server's time plus a loopback round trip), the page's size and the ratio of the median to the
300 ms target. Portfolio's first request builds the merged book (``tsys portfolio``'s view, the
same cost as ``tsys portfolio --json``); later requests reuse it while the manual trades, the
paper account and the runs are unchanged, for two minutes at most.

The child runs twice: the first values the book from the demo market (generating it: the
first valuation of a day) and keeps the market's answer in the workspace's cache
(:mod:`tsys.data.demo_cache`); the second is a restarted dashboard, all pages cold. Reference,
measured in the same run: reading the 10,000 rows with the plain ``sqlite3`` module.

Usage::

    uv run --no-sync python bench/dashboard_pages.py [--n 10000] [--reps 7]

Figures and ratios are printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TARGET_MS = 300.0
PAGES = (
    "/",
    "/portfolio",
    "/portfolio?source=manual&page=100",
    "/paper",
    "/trades",
    "/trades?page=150",
    "/trades/M-000001",
    "/research",
    "/runs",
    "/runs/diff",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        os.chdir(args.child)
        serve_and_time(args.reps)
        return

    tmp = Path(tempfile.mkdtemp(prefix="tsys-bench-dash-"))
    os.chdir(tmp)
    os.environ["TSYS_DATA_DIR"] = str(tmp / "data")
    os.environ["XDG_CONFIG_HOME"] = str(tmp / "xdg")
    for key in ("TSYS_CONFIG", "TSYS_DATABASE_URL"):
        os.environ.pop(key, None)

    from click.testing import CliRunner

    from tsys.cli import cli
    from tsys.config import load_config
    from tsys.store import open_store
    from tsys.store.manual_trade import TradeInput
    from tsys.workspace import workspace

    for day in ("2024-03-12", "2024-03-13", "2024-03-14"):
        res = CliRunner().invoke(
            cli, ["run-daily", "--demo", "--paper", "--buckets", "sp500", "--as-of", day, "--json"]
        )
        if res.exit_code != 0:
            sys.exit(res.output[-2000:])
    cfg = load_config(None)
    syms = ["SPY", "XLK", "XLV", "XLF", "XLY", "XLI", "XLP", "XLE", "XLU", "TLT", "GLD"]
    d0 = dt.datetime(2023, 1, 3, tzinfo=dt.UTC)
    trades = (
        TradeInput(
            syms[i % len(syms)],
            "buy",
            1 + i % 9,
            50.0 + (i % 97),
            d0 + dt.timedelta(days=i % 300),
            stop=20.0 + (i % 5),
            tags=("bench", f"t{i % 7}"),
        )
        for i in range(args.n)
    )
    with open_store(workspace(cfg).store_url) as store:
        store.manual.bulk_add(trades)
        count = store.manual.count()
    url = workspace(cfg).store_url
    print(f"{count} manual trades in {url}")
    t0 = time.perf_counter()
    with sqlite3.connect(url.removeprefix("sqlite:///")) as con:
        n = len(con.execute("SELECT * FROM manual_positions").fetchall())
    ref = (time.perf_counter() - t0) * 1e3
    print(f"reference: plain sqlite3 reads the {n} position rows in {ref:.1f} ms")
    for label in ("fresh process, no demo cache yet", "restarted: fresh process, cache kept"):
        print(f"\n{label}", flush=True)
        child = [sys.executable, __file__, "--reps", str(args.reps), "--child", str(tmp)]
        subprocess.run(child, check=True)
    print(f"(reference read of the rows: {ref:.1f} ms)")


def serve_and_time(reps: int) -> None:
    """Serve the dashboard of the current folder's data and time every page."""
    import httpx

    from tsys.config import load_config
    from tsys.dashboard import bind, make_server, url_of
    from tsys.dashboard.app import build_app
    from tsys.dashboard.security import guard_for
    from tsys.dashboard.state import Dashboard

    cfg = load_config(None)
    guard, _ = guard_for("127.0.0.1", None)
    sock = bind("127.0.0.1", 0)
    server = make_server(build_app(Dashboard(cfg, guard)), sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = url_of(sock).rstrip("/")
    print(
        f"{'page':<36} {'first ms':>9} {'median ms':>10} {'worst ms':>9} {'KiB':>7} "
        f"{'median/300ms':>13}"
    )
    with httpx.Client(base_url=base, timeout=600) as c:
        for path in PAGES:
            t0 = time.perf_counter()
            first = c.get(path)
            cold = (time.perf_counter() - t0) * 1e3
            assert first.status_code == 200, (path, first.status_code, first.text[:300])
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                r = c.get(path)
                times.append((time.perf_counter() - t0) * 1e3)
                assert r.status_code == 200
            med = statistics.median(times)
            print(
                f"{path:<36} {cold:>9.1f} {med:>10.1f} {max(times):>9.1f} {len(r.content) / 1024:>7.1f} "
                f"{med / TARGET_MS:>13.2f}"
            )
    server.should_exit = True
    thread.join(timeout=30)


if __name__ == "__main__":
    main()
