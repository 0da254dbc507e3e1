"""Benchmark: 100,000 manual trades imported, listed and valued by ``tsys portfolio``.

In a temporary data dir on the demo market, writes N trades (default 100,000, over every demo
symbol, a third of them partly closed) as an import CSV, then times, as a user would run them:

- parsing the file and ``import_trades`` (validation, duplicate check, the multi-row inserts,
  one transaction) into the empty store,
- ``store.manual.list(with_fills=False)`` and ``store.manual.book(today)`` in process,
- ``tsys portfolio --json`` and ``tsys portfolio`` (the 80-column table) as processes, twice:
  the first values the book from the demo market (generated, then kept in the workspace's
  cache), the second reads the kept answer.

References measured in the same run: the plain ``sqlite3`` read of every position row, and a
process that only imports ``tsys.cli`` (the interpreter's and imports' share of each command).

Usage::

    uv run --no-sync python bench/portfolio_100k.py [--n 100000] [--url postgresql://...]

With ``--url`` the import and listing run on that database (e.g. PostgreSQL; it must hold no
manual trades) and the commands are left out (the demo sandbox's store is always SQLite).
Figures and ratios are printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--url", default=None, help="database URL (default: the demo sandbox's)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="tsys-bench-"))
    cfg_file = tmp / "tsys.toml"
    cfg_file.write_text('[data]\nsource = "demo"\n')
    env = dict(os.environ, TSYS_DATA_DIR=str(tmp / "data"), TSYS_CONFIG=str(cfg_file))
    env.pop("TSYS_DATABASE_URL", None)
    os.environ.update(env)

    from tsys.config import load_config
    from tsys.data.sources import open_source
    from tsys.store import open_store
    from tsys.store.manual_files import parse_file
    from tsys.workspace import workspace

    cfg = load_config(None)
    url = args.url or workspace(cfg).store_url
    syms = open_source(cfg.data.source, cfg).symbols()
    lines = ["ref,action,symbol,side,quantity,price,date,fee,stop"]
    d0 = dt.date(2023, 1, 3)
    for i in range(args.n):
        day = d0 + dt.timedelta(days=i % 300)
        lines.append(
            f"T{i},open,{syms[i % len(syms)]},buy,{1 + i % 9},{10.0 + (i % 97)},{day},0,"
            f"{5.0 + (i % 5)}"
        )
        if i % 3 == 0:
            lines.append(f"T{i},close,,,0.5,{12.0 + i % 89},{day + dt.timedelta(days=20)},0.1,")
    text = "\n".join(lines) + "\n"
    with open_store(url) as store:
        if store.manual.count():
            sys.exit(f"{url} already holds trades; point --url at an empty database")
        t0 = time.perf_counter()
        parsed = parse_file("bench.csv", text)
        t_parse = time.perf_counter() - t0
        t0 = time.perf_counter()
        ids, _ = store.manual.import_trades(parsed)
        t_import = time.perf_counter() - t0
        t0 = time.perf_counter()
        listed = store.manual.list(with_fills=False)
        t_list = time.perf_counter() - t0
        t0 = time.perf_counter()
        held, closed = store.manual.book(dt.datetime.now(dt.UTC))
        t_book = time.perf_counter() - t0
    assert len(ids) == len(listed) == args.n
    print(f"backend: {url.split(':', 1)[0]}, trades: {args.n:,}, symbols: {len(syms)}")
    if url.startswith("sqlite"):
        t0 = time.perf_counter()
        with sqlite3.connect(url.removeprefix("sqlite:///")) as con:
            con.execute("SELECT * FROM manual_positions").fetchall()
        t_ref = time.perf_counter() - t0
        print(f"reference: plain sqlite3 read of the rows:  {t_ref:7.3f} s")
    print(f"parse the CSV ({len(text) / 1e6:.1f} MB):               {t_parse:7.2f} s")
    print(f"import_trades (validate + insert, one txn): {t_import:7.2f} s")
    print(f"store listing, no fills:                    {t_list:7.2f} s")
    print(f"store book as of now ({len(held):,} open, {len(closed):,} closed): {t_book:7.2f} s")
    if args.url:
        return

    def timed(cmd: list[str]) -> tuple[float, str]:
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", "from tsys.cli import main; main()", *cmd],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return time.perf_counter() - t, out.stdout

    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tsys.cli"], env=env, check=True)
    t_bare = time.perf_counter() - t0
    print(f"reference: a process importing tsys.cli:    {t_bare:7.2f} s")
    for label in ("first of the day (demo market generated)", "again (kept market answer)"):
        t_json, out = timed(["portfolio", "--json"])
        t_table, _ = timed(["portfolio"])
        print(
            f"{label}: tsys portfolio --json {t_json:6.2f} s ({t_json / t_bare:.1f}x the bare "
            f"process, {len(out) / 1e6:.0f} MB), table {t_table:6.2f} s"
        )


if __name__ == "__main__":
    main()
