"""``tsys backtest BUCKET``: a bucket through the simulator, with its benchmark beside it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click
from rich.markup import escape

from tsys.cli._options import (
    amount_option,
    bucket_name,
    data_options,
    file_option,
    json_option,
    param_options,
    parse_date,
)

SPLITS = ("train", "validation", "holdout")


@click.command(name="backtest")
@click.argument("bucket_name", metavar="BUCKET", callback=bucket_name)
@click.option(
    "--start", callback=parse_date, help="First day (YYYY-MM-DD); default: the data's start."
)
@click.option("--end", callback=parse_date, help="Last day (YYYY-MM-DD); default: the data's end.")
@click.option(
    "--split",
    type=click.Choice(SPLITS),
    help="Run on one split of the period (train / validation / holdout). The holdout is sealed: "
    "it needs --allow-holdout and every use is logged.",
)
@click.option("--allow-holdout", is_flag=True, help="Unseal the holdout split (logged).")
@click.option(
    "--walk-forward",
    "walk_forward",
    type=click.IntRange(min=2),
    default=None,
    help="Also report N consecutive out-of-sample windows (walk-forward).",
)
@data_options
@param_options
@amount_option("--cash", help="Starting cash (default: [account] size).")
@click.option(
    "--rebalance",
    type=click.Choice(["daily", "weekly", "monthly"]),
    default="daily",
    show_default=True,
    help="When new positions may be added (exits happen any day).",
)
@file_option(
    "--overrides",
    "overrides_file",
    help="Replay override rules from a JSON file (block, cap, pause with since/until dates, "
    "or the output of `tsys override list --all --json`): see what a rule would have done.",
)
@json_option("Print the full result as JSON.")
@file_option("--report", help="Write a self-contained HTML report (works offline).")
@click.pass_context
def backtest(ctx: click.Context, bucket_name: str, **opts: Any) -> None:
    """Backtest a bucket with realistic fills, costs and capacity, against buy and hold.

    The bucket's signals and the portfolio rules are the ones the daily run uses; decisions at
    a close execute at the next open. Default costs: equities 1 bp fee plus impact slippage,
    crypto 10 bps fee plus a wider spread; fills are capped at 2.5% of a bar's volume.

    \b
    Examples:
      tsys backtest sp500 --source demo --start 2015-01-01 --end 2019-12-31
      tsys backtest crypto --shared-data --split train --report crypto.html
      tsys backtest sp500 --param mode=etf --param atr_stop=4 --json
      tsys backtest sp500 --shared-data --params ~/tsys-data/params/sp500.json
      tsys backtest sp500 --source demo --overrides rules.json

    \b
    rules.json replays discretionary rules on the bars they hold on, e.g.
      [{"kind": "block", "target": "XLE", "since": "2020-03-02", "until": "2020-06-30"},
       {"kind": "cap", "target": "equity", "share": 0.5, "since": "2022-01-03"}]
    """
    from tsys import plugins
    from tsys.cli import load_config
    from tsys.cli._options import open_data, resolve_cli_params

    config = load_config(ctx)
    bucket = plugins.buckets().get(bucket_name)

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from tsys.backtest.bucket import backtest_bucket

    err = Console(stderr=True)
    hub = open_data(config, opts["source"], opts["path"], opts["shared_data"])
    pset = resolve_cli_params(bucket, config, hub, opts["params_file"], opts["param_items"])
    params = pset.params
    rules: tuple[Any, ...] = ()
    if opts["overrides_file"] is not None:
        from tsys.backtest.replay import read_rules

        registry = plugins.buckets()
        known = {n: registry.get(n).asset_class.value for n in registry.names()}
        rules = read_rules(
            opts["overrides_file"], buckets=known, default_class=bucket.asset_class.value
        )
    windows = _windows(hub, bucket, config, opts, err)
    split = opts["split"]
    results = []
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=opts["as_json"] and not err.is_terminal,
    ) as bar:
        task = bar.add_task(f"{bucket.name}", total=len(windows))
        for label, w_start, w_end in windows:

            def step(msg: str, label: str = label) -> None:
                bar.update(task, description=f"{bucket.name} {label}: {msg}")

            results.append(
                (
                    label,
                    backtest_bucket(
                        bucket,
                        hub,
                        config,
                        params=params,
                        start=w_start,
                        end=w_end,
                        split=split if label == "full" else f"{split or 'period'} {label}",
                        cash=opts["cash"],
                        rebalance=opts["rebalance"],
                        progress=step,
                        rules=rules,
                    ),
                )
            )
            bar.advance(task)
    main = results[0][1]
    payload = main.to_json()
    payload["param_set"] = pset.to_json()
    if len(results) > 1:
        payload["walk_forward"] = [
            {
                "window": label,
                "start": r.start.isoformat(),
                "end": r.end.isoformat(),
                "metrics": r.to_json()["metrics"],
                "benchmark_metrics": r.to_json()["benchmark_metrics"],
            }
            for label, r in results[1:]
        ]
    if opts["report"] is not None:
        _write_report(payload, opts["report"], config, hub, err)
    if opts["as_json"]:
        click.echo(json.dumps(payload, indent=2))
        return
    _print_table(payload, Console())


def _write_report(payload: dict[str, Any], report: str, config: Any, hub: Any, err: Any) -> None:
    """The HTML report where it is asked for, and its payload in the data dir (listed there)."""
    from tsys.report.backtest import keep_copy, write_report
    from tsys.workspace import workspace

    out = write_report(payload, report)
    kept = keep_copy(payload, out, workspace(config, demo=bool(hub.synthetic)).root)
    err.print(f"report written to {escape(str(out))} (listed from {escape(str(kept))})")


def _windows(
    hub: Any, bucket: Any, config: Any, opts: dict[str, Any], err: Any
) -> list[tuple[str, dt.date, dt.date]]:
    """The main window (the period or one split of it) and any walk-forward test windows, from
    the command's ``--start``, ``--end``, ``--split``, ``--allow-holdout`` and ``--walk-forward``.

    Splits are 60 / 20 / 20 of the benchmark's sessions in the period (train, validation,
    holdout; :class:`tsys.backtest.splits.Splits`); the holdout is sealed and every use is
    logged under the data dir.
    """
    from tsys.backtest import splits as sp
    from tsys.workspace import workspace

    root = workspace(config, demo=bool(hub.synthetic)).root
    from tsys.backtest.bucket import period_sessions

    index = period_sessions(hub, bucket, opts["start"], opts["end"])
    split, walk_forward = opts["split"], opts["walk_forward"]
    if split is not None:
        cut = sp.Splits.from_fractions(index)
        mask = cut.mask(
            index,
            split,
            allow_holdout=opts["allow_holdout"],
            data_dir=root,
            what=f"tsys backtest {bucket.name} --split holdout",
            config=config.digest(),
        )
        index = index[mask]
        if split == "holdout":
            err.print(
                f"[yellow]holdout unsealed for {bucket.name} "
                f"({index[0].date()}..{index[-1].date()}); this use is logged in "
                f"{root}[/]"
            )
    out = [("full", index[0].date(), index[-1].date())]
    if walk_forward:
        for k, (_train, test) in enumerate(sp.walk_forward(index, walk_forward), 1):
            out.append((f"fold {k}/{walk_forward}", index[test[0]].date(), index[test[-1]].date()))
    return out


def _print_table(payload: dict[str, Any], console: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from tsys.format import figure as fmt
    from tsys.report.backtest import METRICS

    title = f"{payload['bucket']} {payload['start']} to {payload['end']}"
    if payload.get("split"):
        title += f" ({payload['split']})"
    if payload.get("synthetic"):
        title += " [SYNTHETIC DATA]"
    console.print(f"[bold]{escape(title)}[/]", soft_wrap=True)
    if payload.get("param_set"):  # which parameter set ran: file, hash, digest, never cut
        console.print(escape(payload["param_set"]["label"]), soft_wrap=True)
    table = Table()
    table.add_column("metric")
    table.add_column(payload["bucket"], justify="right")
    table.add_column(f"{payload.get('benchmark') or 'benchmark'} B&H", justify="right")
    m, b = payload["metrics"], payload.get("benchmark_metrics") or {}
    for key, label, kind in METRICS:
        if key in m or key in b:
            table.add_row(label, fmt(m.get(key), kind), fmt(b.get(key), kind))
    console.print(table)
    for w in payload.get("walk_forward", []):
        wm = w["metrics"]
        console.print(
            f"{w['window']}: {w['start']}..{w['end']} CAGR {fmt(wm.get('cagr'), 'pct')} "
            f"Sharpe {fmt(wm.get('sharpe'), 'ratio')} max DD {fmt(wm.get('max_drawdown'), 'pct')}"
        )
    for o in payload.get("plan", {}).get("overrides", []):
        console.print(
            escape(f"override {o['id']} replayed: {o['rule']}, in force on {o['bars']} bars"),
            soft_wrap=True,
        )
    console.print(f"costs: {escape(str(payload['costs']))}")
    if "cash_rate" in payload:
        from tsys.format import cash_interest

        rate, interest = payload["cash_rate"], payload["interest"]
        console.print(escape(cash_interest(rate, interest, payload["trading_pnl"])))
    for w in payload.get("warnings", [])[:5]:
        console.print(f"[yellow]warning:[/] {escape(str(w))}")
