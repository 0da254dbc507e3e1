"""``tsys optimize BUCKET``: tune a bucket's parameters with Optuna, out of sample."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from tsys import format as fmt
from tsys.cli._options import check_bucket_name, data_options
from tsys.files import write_json
from tsys.workspace import workspace

DEFAULT_FACTORY = "tsys.optimize.bucket:bucket_evaluator"


@click.command(name="optimize")
@click.argument("bucket_name", metavar="BUCKET")
@click.option("--trials", type=click.IntRange(min=1), default=None, help="Trials this run adds.")
@click.option(
    "--timeout", type=click.FloatRange(min=0, min_open=True), default=None, help="Seconds to run."
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes on this machine, sharing the study's storage.",
)
@click.option("--study", "study_name", default=None, help="Study name (default tsys-BUCKET-...).")
@click.option(
    "--storage",
    default=None,
    help="Database URL of the study (default sqlite:///<data dir>/optuna.db). A "
    "postgresql://user@host/db URL lets processes on many machines join one study.",
)
@click.option(
    "--objective",
    type=click.Choice(["sharpe", "cagr", "calmar"]),
    default="sharpe",
    show_default=True,
    help="What to maximise on the out-of-sample window(s), after costs.",
)
@click.option(
    "--multi-objective",
    is_flag=True,
    help="Maximise return and minimise drawdown together; report the Pareto front.",
)
@click.option(
    "--walk-forward",
    "walk_forward",
    type=click.IntRange(min=2),
    default=None,
    help="Score on N walk-forward test windows inside train+validation instead of the "
    "validation split; hopeless trials are pruned after early windows.",
)
@click.option(
    "--max-drawdown",
    type=click.FloatRange(0, 1),
    default=None,
    help="Constraint: the deepest drawdown allowed, as a positive fraction (0.35: no worse "
    "than -35%; default [validation] max_drawdown).",
)
@click.option(
    "--min-trades", type=click.IntRange(min=0), default=10, show_default=True, help="Constraint."
)
@click.option(
    "--max-turnover",
    type=click.FloatRange(min=0),
    default=None,
    help="Constraint: annual turnover (traded value / 2 / equity), e.g. 12.",
)
@click.option("--no-prune", is_flag=True, help="Evaluate every fold of every trial.")
@click.option(
    "--sensitivity/--no-sensitivity",
    default=True,
    show_default=True,
    help="Scan the neighbourhood of the best trial (two backtests per parameter).",
)
@click.option("--seed", type=int, default=None, help="Sampler seed (worker k uses seed + k).")
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Params file to write (default <data dir>/params/BUCKET.json).",
)
@click.option(
    "--heartbeat",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds between a worker's heartbeats.",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=1),
    default=90.0,
    show_default=True,
    help="Seconds without a heartbeat before a trial is marked failed and retried.",
)
@data_options
@click.option("--start", default=None, help="First session of the period (YYYY-MM-DD).")
@click.option("--end", default=None, help="Last session of the period (YYYY-MM-DD).")
@click.option(
    "--max-symbols",
    type=click.IntRange(min=1),
    default=None,
    help="Use only the first N symbols (alphabetically) plus the benchmark: quick studies.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--objective-module", default=None, hidden=True)
@click.option("--objective-kwargs", default=None, hidden=True)
@click.pass_context
def optimize(ctx: click.Context, bucket_name: str, **opts: Any) -> None:
    """Tune BUCKET's parameters with Optuna, judged out of sample after realistic costs.

    Each trial draws parameters from the bucket's declared search space, backtests them (same
    signals, portfolio rules and simulator as the daily run) on the validation split, or on
    --walk-forward N windows, and scores the result. Trials that break a constraint (maximum
    drawdown, minimum trades, maximum turnover) are infeasible and never chosen. The holdout
    split is never evaluated here. The best feasible parameters, the study name and the trial
    count go to a params file that [buckets.NAME] params_file can point at.

    Stopping and running the same command again resumes the study (same --study/--storage).

    \b
    Examples:
      tsys optimize sp500 --source demo --trials 40
      tsys optimize crypto --shared-data --trials 30 --walk-forward 4 --jobs 2
      tsys optimize sp500 --storage postgresql://me@db:5432/tsys --study a1 --trials 50
      (run the last line on as many machines as you like: they share the study)
    """
    from tsys.cli import load_config
    from tsys.errors import ConfigError
    from tsys.optimize.evaluate import Constraints
    from tsys.optimize.storage import default_storage_url, redact
    from tsys.optimize.study import StudySpec, collect, params_document, run_study

    config = load_config(ctx)
    if opts["trials"] is None and opts["timeout"] is None:
        opts["trials"] = 50
    if opts["shared_data"] is not None and (opts["source"] or opts["path"]):
        raise ConfigError("--shared-data already chooses the data; drop --source/--path")
    if opts["path"] is not None and opts["source"] is None:
        opts["source"] = "csv"
    factory = opts["objective_module"] or DEFAULT_FACTORY
    if opts["objective_module"]:
        kwargs = json.loads(opts["objective_kwargs"] or "{}")
        kwargs.setdefault("name", bucket_name)
    else:
        # A usage error (exit 2) with the did-you-mean; checked here, not in a callback,
        # because --objective-module optimises a name that is no installed bucket.
        bucket_name = check_bucket_name(ctx, bucket_name)
        kwargs = {
            "bucket": bucket_name,
            "config_path": config.source_path,
            "source": opts["source"],
            "path": _abs(opts["path"]),
            "shared_data": _abs(opts["shared_data"]),
            "walk_forward": opts["walk_forward"] or 0,
            "start": opts["start"],
            "end": opts["end"],
            "max_symbols": opts["max_symbols"],
        }
    ws = workspace(config, source="csv" if opts["shared_data"] is not None else opts["source"])
    storage = opts["storage"] or default_storage_url(ws.root)
    mode = "pareto" if opts["multi_objective"] else opts["objective"]
    split = f"wf{opts['walk_forward']}" if opts["walk_forward"] else "validation"
    study_name = opts["study_name"] or f"tsys-{bucket_name}-{mode}-{split}"
    max_dd = opts["max_drawdown"]
    spec = StudySpec(
        study=study_name,
        storage=storage,
        factory=factory,
        factory_kwargs=kwargs,
        objective=opts["objective"],
        multi_objective=opts["multi_objective"],
        constraints=Constraints(
            max_drawdown=config.validation.max_drawdown if max_dd is None else max_dd,
            min_trades=opts["min_trades"] or None,
            max_turnover=opts["max_turnover"],
        ),
        prune=not opts["no_prune"],
        heartbeat=opts["heartbeat"],
        grace=opts["grace"],
        seed=opts["seed"],
    )
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    err = Console(stderr=True)
    err.print(f"study {study_name!r} in {redact(storage)}")
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        disable=opts["as_json"] and not err.is_terminal,
    ) as bar:
        task = bar.add_task(f"{bucket_name} trials", total=opts["trials"])

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        study = run_study(
            spec,
            n_trials=opts["trials"],
            timeout=opts["timeout"],
            jobs=opts["jobs"],
            progress=progress,
        )
    outcome = collect(spec, study)
    if outcome.best_params is None:
        from tsys.errors import StrategyError

        raise StrategyError(
            f"no feasible trial in study {study_name!r} ({outcome.n_complete} complete, "
            f"{outcome.n_total} in all): every one broke a constraint "
            f"({spec.constraints.describe()})",
            hint="run more trials or relax --max-drawdown/--min-trades/--max-turnover",
        )
    from tsys.optimize.study import build_evaluator

    ev = build_evaluator(spec)
    params = {**ev.defaults(), **outcome.best_params}
    sensitivity = None
    if opts["sensitivity"]:
        sensitivity = _sensitivity(spec, ev, params, outcome, err)
    doc = params_document(
        bucket_name,
        outcome,
        params,
        ev.split,
        sensitivity=None if sensitivity is None else sensitivity.to_json(),
    )
    doc["constraints"] = spec.constraints.describe()
    out = Path(opts["output"] or ws.params_file(bucket_name))
    write_json(out, doc, default=_json_default)
    if opts["as_json"]:
        click.echo(json.dumps({**doc, "output": str(out)}, indent=2, default=_json_default))
        return
    _print(doc, sensitivity, out)


def _abs(p: str | None) -> str | None:
    return None if p is None else str(Path(p).expanduser().resolve())


def _json_default(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return str(x)


def _sensitivity(spec: Any, ev: Any, params: dict[str, Any], outcome: Any, err: Any) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress

    from tsys.optimize.evaluate import summarise
    from tsys.optimize.sensitivity import scan

    metric = "calmar" if spec.multi_objective else spec.objective

    def objective(p: dict[str, Any]) -> float:
        folds = [ev.evaluate(p, k) for k in range(ev.n_folds)]
        return summarise(folds, ev.periods_per_year).objective(metric)

    base = outcome.best_metrics.get(metric)
    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), console=err
    ) as bar:
        task = bar.add_task("neighbourhood scan", total=None)
        return scan(
            params,
            ev.search_space(),
            objective,
            base_objective=base,
            progress=lambda i, n: bar.update(task, completed=i, total=n),
        )


def _print(doc: dict[str, Any], sensitivity: Any, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    m = doc["metrics"]
    con.print(
        f"[bold]{doc['bucket']}[/]: best trial #{doc['best_trial']} of {doc['n_trials']} complete "
        f"({doc['n_trials_total']} in all) in study {doc['study']!r}, split {doc['split']}"
    )
    con.print(
        f"{doc['objective']} {doc['value']:.3f} | Sharpe {m['sharpe']:.2f}  CAGR {m['cagr']:.1%}  "
        f"max DD {m['max_drawdown']:.1%}  trades {m['n_trades']:.0f}  "
        f"turnover {m['turnover']:.1f}/yr"
    )
    if doc["pareto_front"]:
        t = Table(title="Pareto front (CAGR vs max drawdown)")
        for c in ("trial", "CAGR", "max DD", "Sharpe"):
            t.add_column(c, justify="right")
        for p in doc["pareto_front"]:
            t.add_row(
                str(p["number"]),
                fmt.figure(p["cagr"], "pct"),
                fmt.figure(p["max_drawdown"], "pct"),
                fmt.figure(p["sharpe"], "ratio"),
            )
        con.print(t)
    if sensitivity is not None:
        t = Table(title="Neighbourhood of the chosen point")
        for c in ("parameter", "down", "obj", "chosen", "up", "obj"):
            t.add_column(c, justify="right")
        for row in sensitivity.table():
            name = row["param"]
            if "other" in row:
                alt = ", ".join(f"{v}: {o:.3f}" for v, o in row["other"])
                t.add_row(name, alt, "", str(doc["params"][name]), "", "")
                continue
            t.add_row(
                name,
                fmt.param_value(row.get("down")),
                fmt.param_value(row.get("down_objective")),
                fmt.param_value(doc["params"][name]),
                fmt.param_value(row.get("up")),
                fmt.param_value(row.get("up_objective")),
            )
        con.print(t)
        con.print(
            f"robustness: neighbours' mean / best = {sensitivity.ratio:.2f}; "
            f"mean - 1 sd = {sensitivity.robust_value:.3f} (best {sensitivity.base_objective:.3f})"
        )
    con.print(f"params written to {out}")
