"""``tsys research BUCKET``: walk-forward optimisation judged out of sample against anchors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from tsys.cli._options import (
    bucket_history_options,
    file_option,
    json_option,
    objective_option,
    pass_on,
)
from tsys.cli._progress import count_bar


@click.command(name="research")
@bucket_history_options
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True,
              help="Out-of-sample test folds.")  # fmt: skip
@click.option("--trials", type=click.IntRange(min=1), default=20, show_default=True,
              help="New Optuna trials per optimisation (each fold, then the final one).")  # fmt: skip
@objective_option("What each in-sample optimisation maximises.")
@click.option("--embargo", type=click.IntRange(min=0), default=None,
              help="Bars between each in-sample end and its test start (default: the longest "
              "holding window, the top of the bucket's time-stop range).")  # fmt: skip
@click.option("--max-drawdown", type=click.FloatRange(0, 1), default=None,
              help="Constraint on each trial (default: [validation] max_drawdown).")  # fmt: skip
@click.option("--min-trades", type=click.IntRange(min=0), default=10, show_default=True,
              help="Constraint on each trial.")  # fmt: skip
@click.option("--min-exposure", type=click.FloatRange(0, 1), default=None,
              help="Constraint: mean share invested (default: the bucket's mandate).")  # fmt: skip
@click.option("--max-cagr-lag", type=click.FloatRange(min=0), default=None,
              help="Constraint: CAGR at most this far below the benchmark's (default: the "
              "bucket's mandate).")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--blocks", type=click.IntRange(min=2), default=16, show_default=True,
              help="CSCV blocks for the probability of backtest overfitting (even).")  # fmt: skip
@click.option("--random-backtests", type=click.IntRange(min=10), default=200, show_default=True)
@click.option("--ml", "ml", type=click.Choice(["filter", "size"]), default=None,
              help="Also judge a meta-model (tsys[ml]) on the same folds: each fold's model is "
              "trained in sample on the fold's chosen parameters; with vs without ML out of "
              "sample, beside the same anchors.")  # fmt: skip
@file_option("--html", help="Write the HTML report here (it is also saved under the data dir).")
@json_option("Print the report as JSON.")
@click.option("--write-defaults", "write_defaults", default=None, is_flag=False, flag_value="",
              metavar="[FILE]", help="Ship the final parameters as the bucket's defaults: "
              "params.json inside its package, or FILE.")  # fmt: skip
@click.pass_context
def research(ctx: click.Context, bucket_name: str, **opts: Any) -> None:
    """Research BUCKET honestly: anchored walk-forward, optimised in sample only.

    \b
    The bucket's whole history is cut into an initial in-sample stretch and --folds test
    folds. For each fold an Optuna study runs on the bars before it (minus an embargo of at
    least the longest holding window), every trial held to the bucket's mandate (exposure
    floor, CAGR lag behind the benchmark, drawdown and trade limits); the centre of the best
    plateau, not the single best trial, trades the fold. The current parameters are
    configuration 0. The test folds, traded as one account, are compared with buy and hold,
    10-month SMA timing, 12-month momentum, the 50/200 trend filter and an equal-weight
    universe (plus dual momentum for equities), all through the same simulator and costs.

    \b
    Reported: the probability of backtest overfitting (CSCV) with the performance
    degradation and probability of loss, the deflated Sharpe with the real number of
    configurations tried, the random-entry test, and the gates ([validation] in tsys.toml,
    plus "beats the benchmark and the best anchor"). The report is saved under
    <data dir>/research/ (JSON and HTML); tsys validate quotes it for the same parameters.

    \b
    Examples:
      tsys research sp500 --shared-data
      tsys research crypto --shared-data --trials 40 --html crypto.html
      tsys research sp500 --source demo --folds 5 --trials 5 --json
      tsys research crypto --shared-data --ml filter
    """
    from tsys import plugins
    from tsys.cli import load_config
    from tsys.cli._options import open_data, resolve_cli_params
    from tsys.workspace import workspace

    config = load_config(ctx)
    bucket = plugins.buckets().get(bucket_name)
    hub = open_data(config, opts["source"], opts["path"], opts["shared_data"])
    pset = resolve_cli_params(bucket, config, hub, opts["params_file"], opts["param_items"])
    home = workspace(config, demo=bool(hub.synthetic)).root
    report = _run(bucket, hub, config, pset, opts)
    out = _save(report, home)
    html = Path(opts["html"]) if opts["html"] else out.with_suffix(".html")
    from tsys.report.research import write_report

    write_report(report, html)
    shipped = None
    if opts["write_defaults"] is not None:
        shipped = _ship(bucket, report, opts["write_defaults"])
    if opts["as_json"]:
        extra = {"saved_to": str(out), "html": str(html), "defaults_written_to": shipped}
        click.echo(json.dumps({**report, **extra}, indent=2))
        return
    _print(report, out, html, shipped)


def _run(bucket: Any, hub: Any, config: Any, pset: Any, opts: dict[str, Any]) -> dict[str, Any]:
    from rich.console import Console

    from tsys.optimize.evaluate import Constraints
    from tsys.paramsets import mandate_of
    from tsys.research.lab import Lab
    from tsys.research.loop import ResearchSpec, research

    err = Console(stderr=True)
    mandate = mandate_of(bucket, config)
    max_dd = opts["max_drawdown"]
    spec = ResearchSpec(
        **pass_on(
            opts, "folds", "trials", "objective", "embargo", "seed", "blocks", "random_backtests"
        ),
        constraints=Constraints(
            max_drawdown=config.validation.max_drawdown if max_dd is None else max_dd,
            min_trades=opts["min_trades"] or None,
            min_exposure=_pick(opts["min_exposure"], mandate.min_exposure),
            max_cagr_lag=_pick(opts["max_cagr_lag"], mandate.max_cagr_lag),
        ),
    )
    quiet = opts["as_json"] and not err.is_terminal
    with err.status(f"loading {bucket.name} data", spinner="dots") if not quiet else _Null():
        lab = Lab(bucket, hub, config, start=opts["start"], end=opts["end"], values=pset.values)
    if not quiet:
        err.print(
            f"{bucket.name}: {lab.index[0].date()}..{lab.index[-1].date()} ({lab.n_bars} bars, "
            f"{lab.bars.shape[1]} symbols), data {lab.fingerprint}"
            + (" [SYNTHETIC]" if hub.synthetic else "")
        )
        err.print(pset.label())
    with count_bar(err, disable=quiet) as bar:
        task = bar.add_task(f"{bucket.name} research", total=None)

        def progress(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=f"{bucket.name} {what}")

        report = research(lab, spec, pset.values, progress=progress)
        if opts["ml"]:
            bar.update(task, description=f"{bucket.name} meta-model on the same folds")
            report["ml"] = _ml(lab, report, opts["ml"])
    report["parameter_set"] = pset.to_json()
    return report


def _ml(lab: Any, report: dict[str, Any], mode: str) -> dict[str, Any]:
    """The meta-model judged on the research's own folds and chosen parameters."""
    from tsys.ml import require
    from tsys.research.loop import fold_windows
    from tsys.research.meta import MetaSpec, compare
    from tsys.serialization import json_ready

    require()
    windows = fold_windows(lab.n_bars, report["spec"]["folds"], report["spec"]["embargo_bars"])
    chosen = [f["chosen_params"] for f in report["folds"]]
    got = compare(lab, windows, chosen, MetaSpec(mode=mode))
    got["curves"] = {k: got["curves"][k] for k in ("dates", "with_ml", "without_ml")}
    return json_ready(got)


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def _pick(option: Any, default: Any) -> Any:
    return default if option is None else option


def report_path(home: Path, bucket: str, digest: str) -> Path:
    """Where a research report for the final parameter digest is saved."""
    return home / "research" / f"{bucket}-{digest}.json"


def _save(report: dict[str, Any], home: Path) -> Path:
    from tsys.files import write_json

    out = report_path(home, report["bucket"], report["final"]["chosen_digest"])
    write_json(out, report)
    return out


def _ship(bucket: Any, report: dict[str, Any], target: str) -> str:
    from tsys.research.shipped import defaults_document, package_params_path, write_defaults

    if target == "":
        if report["synthetic"]:
            from tsys.errors import ConfigError

            raise ConfigError(
                "refusing to ship defaults researched on synthetic data",
                hint="research on real data, or pass --write-defaults FILE to write elsewhere",
            )
        path = package_params_path(bucket)
    else:
        path = Path(target)
    write_defaults(path, defaults_document(report))
    return str(path)


def _print(r: dict[str, Any], out: Path, html: Path, shipped: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from tsys.cli._table import metrics_table
    from tsys.cli.validate import gates_table
    from tsys.format import figure as fmt

    con = Console()
    verdict = "[green]PASSED[/]" if r["passed"] else "[red]FAILED[/]"
    oos = r["out_of_sample"]
    con.print(
        f"[bold]{r['bucket']}[/] walk-forward out of sample {oos['start']}..{oos['end']}: "
        f"{verdict}" + (" [SYNTHETIC DATA]" if r["synthetic"] else "")
    )
    rows = [(r["bucket"], oos["metrics"])] + [(a["label"], a["metrics"]) for a in r["anchors"]]
    keys = ("cagr", "sharpe", "max_drawdown", "exposure", "trades")
    con.print(metrics_table("out of sample, same simulator and costs", rows, keys))
    if "cash_rate" in r:
        from tsys.format import cash_interest

        text = cash_interest(r["cash_rate"], oos.get("interest"), oos.get("trading_pnl"))
        con.print(escape(f"out of sample, {text}"), soft_wrap=True)
    f = Table(title="folds")
    for c in ("fold", "test", "configs", "IS Sharpe", "OOS Sharpe", "OOS CAGR"):
        f.add_column(c, justify="right")
    for x in r["folds"]:
        f.add_row(
            str(x["fold"]),
            f"{x['test']['start']}..{x['test']['end']}",
            f"{x['configurations']} ({x['feasible']} ok)",
            fmt(x["in_sample_figures"]["sharpe"], "ratio"),
            fmt(x["out_of_sample"]["sharpe"], "ratio"),
            fmt(x["out_of_sample"]["cagr"], "pct"),
        )
    con.print(f)
    p = r["pbo"] or {}
    con.print(
        f"PBO {fmt(p.get('pbo'), 'p')} (degradation slope {fmt(p.get('degradation_slope'), 'ratio')}"
        f", probability of loss {fmt(p.get('prob_loss'), 'p')}); deflated Sharpe "
        f"{fmt(r['deflated']['deflated_sharpe'], 'p')} over {r['trials']['distinct_configurations']}"
        f" configurations; random-entry p {fmt(r['random_entry'].get('p_value'), 'p')}"
    )
    con.print(gates_table(r["gates"]))
    if r.get("ml"):
        m = r["ml"]
        w, wo, d = m["with_ml"], m["without_ml"], m["decision"]
        con.print(
            f"meta-model ({m['mode']}), same folds: Sharpe {fmt(w['sharpe'], 'ratio')} with vs "
            f"{fmt(wo['sharpe'], 'ratio')} without, CAGR {fmt(w['cagr'], 'pct')} vs "
            f"{fmt(wo['cagr'], 'pct')}, trades {fmt(w['trades'], 'int')} vs "
            f"{fmt(wo['trades'], 'int')}: ML {'ON' if d['ml_on'] else 'OFF'} ("
            + "; ".join(d["reasons"])
            + ")"
        )
        from tsys.cli.ml import pbo_line

        con.print(pbo_line(m.get("pbo")))
    fin = r["final"]
    changed = ", ".join(f"{k}={param_text(v)}" for k, v in fin["changed_from_current"].items())
    con.print(escape(f"final parameters (set {fin['chosen_digest']}): {changed or 'unchanged'}"))
    con.print(
        f"{r['trials']['distinct_configurations']} configurations, "
        f"{r['runtime_seconds']:.0f} s; report {out} and {html}",
        soft_wrap=True,  # paths are never broken
    )
    if shipped:
        con.print(escape(f"defaults written to {shipped}"), soft_wrap=True)


def param_text(value: object) -> str:
    """A parameter value as the final-parameters line shows it: a choice or flag as itself
    (``rule=both``, ``ask_only=False``), a number as a figure."""
    from tsys.format import figure

    if isinstance(value, bool | str) or value is None:
        return str(value)
    return figure(value)
