"""Benchmark: 100,000 manual trades listed and valued by ``tsys portfolio``.

Inserts N trades (default 100,000) over the demo market's symbols in one transaction (the
store's bulk path), then times, as a user would run them:

- ``store.manual.list()``: the listing alone (reference, measured in the same run),
- ``tsys portfolio --json``: listing + prices from the data source + valuation + JSON,
- ``tsys portfolio``: the same with the 80-column table.

Usage::

    uv run --no-sync python bench/portfolio_100k.py [--n 100000] [--url postgresql://...]

The figure goes in the closing note of the issue.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--url", default=None, help="database URL (default: a temporary SQLite file)")
    args = ap.parse_args()

    from tsys.config import Config
    from tsys.store import open_store
    from tsys.store.manual_trade import TradeInput

    tmp = Path(tempfile.mkdtemp(prefix="tsys-bench-"))
    url = args.url or f"sqlite:///{tmp / 'tsys.db'}"
    env = dict(os.environ, TSYS_DATA_DIR=str(tmp / "data"), TSYS_DATABASE_URL=url)
    cfg_file = tmp / "tsys.toml"
    cfg_file.write_text('[data]\nsource = "demo"\n')
    env["TSYS_CONFIG"] = str(cfg_file)
    os.environ.update(env)

    from tsys.data.sources import open_source

    cfg = Config(data_dir=str(tmp / "data"))
    syms = open_source(cfg.data.source, cfg).symbols()
    d0 = dt.datetime(2023, 1, 3, tzinfo=dt.UTC)
    trades = (
        TradeInput(
            syms[i % len(syms)],
            "buy",
            1 + i % 9,
            10.0 + (i % 97),
            d0 + dt.timedelta(days=i % 300),
            stop=5.0 + (i % 5),
        )
        for i in range(args.n)
    )
    with open_store(url) as store:
        if store.manual.count():
            sys.exit(f"{url} already holds trades; point --url at an empty database")
        t0 = time.perf_counter()
        store.manual.bulk_add(trades)
        t_insert = time.perf_counter() - t0
        t0 = time.perf_counter()
        listed = store.manual.list(with_fills=False)
        t_list = time.perf_counter() - t0
    assert len(listed) == args.n

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

    t_json, out = timed(["portfolio", "--json"])
    t_table, _ = timed(["portfolio"])
    import json

    view = json.loads(out)
    print(f"backend: {url.split(':', 1)[0]}, trades: {args.n:,}, symbols: {len(syms)}")
    print(f"bulk insert (one transaction):   {t_insert:7.2f} s")
    print(f"store listing (reference):       {t_list:7.2f} s")
    print(f"tsys portfolio --json (process): {t_json:7.2f} s  ({t_json / t_list:.1f}x listing)")
    print(f"tsys portfolio table (process):  {t_table:7.2f} s")
    print(
        f"positions valued: {view['totals']['priced']:,} of {view['totals']['positions']:,}; "
        f"market value {view['totals']['market_value']:,.0f}"
    )


if __name__ == "__main__":
    main()
