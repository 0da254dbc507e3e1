"""``tsys validate BUCKET``: statistics, stress tests and gates for a bucket's parameters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tsys.cli._options import (
    bucket_name,
    data_choice,
    data_options,
    file_option,
    json_option,
    param_options,
    pass_on,
    study_period_options,
)
from tsys.files import write_json
from tsys.workspace import workspace


@click.command(name="validate")
@click.argument("bucket_name", metavar="BUCKET", callback=bucket_name)
@click.option(
    "--holdout",
    is_flag=True,
    help="Validate on the sealed holdout split instead of train+validation (logged).",
)
@json_option("Print the report as JSON.")
@file_option("--html", help="Write the HTML report here.")
@click.option("--bootstrap", type=click.IntRange(min=50), default=1000, show_default=True)
@click.option("--random-backtests", type=click.IntRange(min=10), default=200, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@data_options
@param_options
@study_period_options("Use only the first N symbols plus the benchmark (as the study did).")
@click.pass_context
def validate(ctx: click.Context, bucket_name: str, **opts: Any) -> None:
    """Validate BUCKET's parameters out of sample and under stress, and apply the gates.

    \b
    Statistics: stationary block bootstrap intervals of Sharpe and CAGR; probabilistic and
    deflated Sharpe ratio (deflated by the study's real number of trials); the drawdown
    distribution over reshuffled trade orders; a p-value against random entries with the
    same trade lengths and sizes.
    Stress: costs x2 and x3, execution one bar late, crash windows in the data, parameters
    moved +-10%, a random half of the universe, an account 10x larger.
    Gates ([validation] in tsys.toml): min_deflated_sharpe, max_drawdown, min_trades,
    max_random_entry_p, min_sharpe_double_costs.

    The report is saved to <data dir>/validation/BUCKET-<params digest>.json, which is what
    `require_validation = true` looks for. The holdout is only evaluated with --holdout, and
    each use is logged. Exit code 0 whether the gates pass or not; read "passed".

    \b
    Examples:
      tsys validate sp500 --shared-data --params params/sp500.json --html sp500.html
      tsys validate crypto --source demo --json
    """
    from rich.console import Console

    from tsys import plugins
    from tsys.cli import load_config
    from tsys.cli._options import resolve_cli_params
    from tsys.optimize.bucket import BucketEvaluator
    from tsys.report.validation import write_report
    from tsys.validate.gates import report_path
    from tsys.validate.suite import run_validation

    config = load_config(ctx)
    bucket = plugins.buckets().get(bucket_name)
    chosen = data_choice(opts["source"], opts["path"], opts["shared_data"])
    if opts["shared_data"] is None:
        opts["source"] = chosen
    ws = workspace(config, source=chosen)
    ev = BucketEvaluator(
        bucket.name,
        config_path=config.source_path,
        **pass_on(opts, "source", "path", "shared_data", "start", "end", "max_symbols"),
    )
    pset = resolve_cli_params(bucket, config, ev.hub, opts["params_file"], opts["param_items"])
    params = pset.values
    err = Console(stderr=True)
    with err.status(f"validating {bucket.name}") as status:
        report = run_validation(
            ev,
            params,
            params_doc=pset.document,
            params_file=pset.path,
            holdout=opts["holdout"],
            n_bootstrap=opts["bootstrap"],
            n_random=opts["random_backtests"],
            seed=opts["seed"],
            progress=lambda m: status.update(f"validating {bucket.name}: {m}"),
        )
    payload = {**report.to_json(), "param_set": pset.to_json()}
    out = report_path(ws.root, bucket.name, params)
    write_json(out, payload)
    if opts["html"]:
        write_report(payload, opts["html"])
    if opts["as_json"]:
        click.echo(json.dumps({**payload, "saved_to": str(out)}, indent=2))
        return
    _print(payload, out, opts["html"])


def _print(p: dict[str, Any], out: Path, html: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from tsys.format import figure as fmt

    con = Console()
    f = p["figures"]
    verdict = "[green]PASSED[/]" if p["passed"] else "[red]FAILED[/]"
    con.print(f"[bold]{p['bucket']}[/] {p['period']} {p['start']}..{p['end']}: {verdict}")
    con.print(p["param_set"]["label"], markup=False, highlight=False, soft_wrap=True)
    con.print(
        f"Sharpe {fmt(f['sharpe'], 'ratio')} (95% {fmt(p['sharpe_ci']['low'], 'ratio')} to "
        f"{fmt(p['sharpe_ci']['high'], 'ratio')}), CAGR {fmt(f['cagr'], 'pct')} "
        f"({fmt(p['cagr_ci']['low'], 'pct')} to {fmt(p['cagr_ci']['high'], 'pct')}), "
        f"max DD {fmt(f['max_drawdown'], 'pct')}, {f['n_trades']} trades"
    )
    if "cash_rate" in p:
        from tsys.format import cash_interest

        text = cash_interest(p["cash_rate"], p["interest"], p["trading_pnl"])
        con.print(text, markup=False, highlight=False, soft_wrap=True)
    con.print(
        f"PSR {fmt(f['psr'], 'p')}, deflated Sharpe {fmt(f['deflated_sharpe'], 'p')} "
        f"({f['n_trials']} trials), random-entry p {fmt(f['random_entry_p'], 'p')}"
    )
    mc = p["drawdown_mc"]
    con.print(
        f"drawdown over reshuffled trades: median {fmt(mc['p50'], 'pct')}, 95% "
        f"{fmt(mc['p95'], 'pct')}, worst {fmt(mc['worst'], 'pct')}"
    )
    t = Table(title="stress")
    for c in ("scenario", "Sharpe", "CAGR", "max DD", "trades"):
        t.add_column(c, justify="right")
    for s in p["stress"]:
        t.add_row(
            s["name"],
            fmt(s["sharpe"], "ratio"),
            fmt(s["cagr"], "pct"),
            fmt(s["max_drawdown"], "pct"),
            str(s["n_trades"]),
        )
    con.print(t)
    for c in p["crashes"]:
        con.print(
            f"{c['window']}: strategy {fmt(c['strategy_return'], 'pct')} "
            f"(DD {fmt(c['strategy_max_drawdown'], 'pct')}), benchmark "
            f"{fmt(c['benchmark_return'], 'pct')}"
        )
    con.print(gates_table(p["gates"]))
    con.print(f"report saved to {out}" + (f"; HTML {html}" if html else ""), markup=False)


def gates_table(gates: list[dict[str, Any]]) -> Any:
    """The gates of a validation or research report as a table: value, rule, pass or FAIL."""
    from rich.table import Table

    from tsys.format import gate_number

    g = Table(title="gates")
    for c in ("gate", "value", "rule", "result"):
        g.add_column(c, justify="right")
    for x in gates:
        g.add_row(
            x["name"],
            gate_number(x["value"]),
            f"{x['rule']} {gate_number(x['threshold'])}",
            "pass" if x["passed"] else "[red]FAIL[/]",
        )
    return g
