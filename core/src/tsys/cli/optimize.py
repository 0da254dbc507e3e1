"""``tsys optimize BUCKET``: tune a bucket's parameters with Optuna, out of sample."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import attrs
import click

from tsys import format as fmt
from tsys.cli._options import (
    check_bucket_name,
    data_choice,
    data_options,
    file_option,
    json_option,
    objective_option,
    param_options,
    study_period_options,
)
from tsys.cli._progress import count_bar
from tsys.files import write_json
from tsys.paramsets import file_hash
from tsys.workspace import workspace

DEFAULT_FACTORY = "tsys.optimize.bucket:bucket_evaluator"


def _seconds_option(name: str, default: float, help: str) -> Any:
    """A worker's liveness timing (``--heartbeat``, ``--grace``): seconds, at least one."""
    return click.option(
        name, type=click.FloatRange(min=1), default=default, show_default=True, help=help
    )


def _at_once_option(name: str, help: str) -> Any:
    """How many at once (``--jobs``, ``--batch``): at least one, one by default."""
    return click.option(name, type=click.IntRange(min=1), default=1, show_default=True, help=help)


@click.command(name="optimize")
@click.argument("bucket_name", metavar="BUCKET")
@click.option("--trials", type=click.IntRange(min=1), default=None, help="Trials this run adds.")
@click.option(
    "--timeout", type=click.FloatRange(min=0, min_open=True), default=None, help="Seconds to run."
)
@_at_once_option(
    "--jobs",
    "Worker processes on this machine, sharing the study's storage (on Linux forked "
    "once the data is loaded).",
)
@_at_once_option(
    "--batch",
    "Trials asked together (Optuna ask-and-tell) and simulated in one pass over the "
    "shared prices; each trial is scored and told as if alone. The sampler draws a batch's "
    "trials before it learns any of their results, so a study in batches explores other "
    "points than one trial at a time (1, the default), even with the same --seed.",
)
@click.option("--study", "study_name", default=None, help="Study name (default tsys-BUCKET-...).")
@click.option(
    "--storage",
    default=None,
    help="Database URL of the study (default sqlite:///<data dir>/optuna.db). A "
    "postgresql://user@host/db URL lets processes on many machines join one study.",
)
@objective_option("What to maximise on the out-of-sample window(s), after costs.")
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
@file_option("--output", help="Params file to write (default <data dir>/params/BUCKET.json).")
@_seconds_option("--heartbeat", 30.0, "Seconds between a worker's heartbeats.")
@_seconds_option(
    "--grace", 90.0, "Seconds without a heartbeat before a trial is marked failed and retried."
)
@data_options
@param_options
@click.option(
    "--accept-worse",
    is_flag=True,
    help="Write the best parameters found even when they score below the current ones "
    "(trial 0); without it nothing is written in that case.",
)
@study_period_options(
    "Use only the first N symbols (alphabetically) plus the benchmark: quick studies."
)
@json_option("Print the result as JSON.")
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

    Trial 0 is always the current parameters (--params FILE, else [buckets.NAME] params_file,
    else <data dir>/params/BUCKET.json, else the defaults; --param KEY=VALUE on top): the
    parameters the study does not search keep their current values, and a result that scores
    below the current parameters is not written unless you pass --accept-worse.

    A study is keyed by the bucket, the split and a fingerprint of the data (source, symbols,
    sessions, prices) and of the fixed parameters: trials on the demo market never mix with
    trials on real data, and the trial count the deflated Sharpe uses is the study's own.
    Stopping and running the same command again resumes the study (same --study/--storage).

    \b
    Examples:
      tsys optimize sp500 --source demo --trials 40
      tsys optimize sp500 --shared-data --params my.json --param mode=etf --trials 20
      tsys optimize crypto --shared-data --trials 30 --walk-forward 4 --jobs 2
      tsys optimize sp500 --source demo --trials 64 --batch 8
      tsys optimize sp500 --storage postgresql://me@db:5432/tsys --study a1 --trials 50
      (run the last line on as many machines as you like: they share the study)
    """
    from tsys.cli import load_config
    from tsys.optimize.storage import default_storage_url, redact
    from tsys.optimize.study import (
        baseline_point,
        build_evaluator,
        collect,
        params_document,
        study_key,
    )

    config = load_config(ctx)
    if opts["trials"] is None and opts["timeout"] is None:
        opts["trials"] = 50
    chosen = data_choice(opts["source"], opts["path"], opts["shared_data"])
    if opts["shared_data"] is None:
        opts["source"] = chosen
    ws = workspace(config, source=chosen)
    bucket_name, kwargs, pset = _evaluator_kwargs(ctx, bucket_name, config, ws, opts)
    spec = _study_spec(config, opts, kwargs, opts["storage"] or default_storage_url(ws.root))
    ev = build_evaluator(spec)
    key = study_key(ev)
    mode = "pareto" if opts["multi_objective"] else opts["objective"]
    split = f"wf{opts['walk_forward']}" if opts["walk_forward"] else "validation"
    study_name = opts["study_name"] or f"tsys-{bucket_name}-{mode}-{split}-{key}"
    spec = attrs.evolve(spec, study=study_name, data_key=key)
    from rich.console import Console

    err = Console(stderr=True)
    err.print(f"study {study_name!r} in {redact(spec.storage)}", markup=False, highlight=False)
    if pset is not None:
        err.print(f"trial 0 evaluates the current {pset.label()}", markup=False, highlight=False)
    study = _run_with_progress(spec, ev, opts, err, f"{bucket_name} trials")
    outcome = collect(spec, study, baseline_point(ev))
    if outcome.best_params is None:
        from tsys.errors import StrategyError

        raise StrategyError(
            f"no feasible trial in study {study_name!r} ({outcome.n_complete} complete, "
            f"{outcome.n_total} in all): every one broke a constraint "
            f"({spec.constraints.describe()})",
            hint="run more trials or relax --max-drawdown/--min-trades/--max-turnover",
        )
    _check_not_worse(outcome, spec, pset, opts["accept_worse"], err)
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
    doc["started_from"] = None if pset is None else pset.to_json()
    doc["accepted_worse"] = outcome.worse_than_baseline
    cfg = getattr(ev, "config", None)  # a toy --objective-module may have none
    doc["cash_rate"] = None if cfg is None else cfg.account.cash_rate
    out = Path(opts["output"] or ws.params_file(bucket_name))
    write_json(out, doc, default=_json_default)
    written = {"output": str(out), "output_sha256": file_hash(out)}
    if opts["as_json"]:
        click.echo(json.dumps({**doc, **written}, indent=2, default=_json_default))
        return
    _print(doc, sensitivity, out)


def _evaluator_kwargs(
    ctx: click.Context, bucket_name: str, config: Any, ws: Any, opts: dict[str, Any]
) -> tuple[str, dict[str, Any], Any]:
    """The checked bucket name, the evaluator's arguments and the current parameter set
    (None for an ``--objective-module``, which optimises a name that is no installed bucket)."""
    from tsys.errors import ConfigError

    if opts["objective_module"]:
        if opts["params_file"] or opts["param_items"]:
            raise ConfigError("--params/--param need an installed bucket, not --objective-module")
        kwargs = json.loads(opts["objective_kwargs"] or "{}")
        kwargs.setdefault("name", bucket_name)
        return bucket_name, kwargs, None
    # A usage error (exit 2) with the did-you-mean; checked here, not in a callback,
    # because --objective-module optimises a name that is no installed bucket.
    bucket_name = check_bucket_name(ctx, bucket_name)
    pset = _starting_point(bucket_name, config, ws, opts)
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
        "base_params": pset.values,
    }
    return bucket_name, kwargs, pset


def _study_spec(config: Any, opts: dict[str, Any], kwargs: dict[str, Any], storage: str) -> Any:
    """The study's settings (its name and data key are added once the data is loaded)."""
    from tsys.optimize.evaluate import Constraints
    from tsys.optimize.study import StudySpec

    max_dd = opts["max_drawdown"]
    return StudySpec(
        study=opts["study_name"] or "",
        storage=storage,
        factory=opts["objective_module"] or DEFAULT_FACTORY,
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
        batch=opts["batch"],
    )


def _run_with_progress(spec: Any, ev: Any, opts: dict[str, Any], err: Any, what: str) -> Any:
    from tsys.optimize.study import run_study

    with count_bar(err, disable=opts["as_json"] and not err.is_terminal) as bar:
        task = bar.add_task(what, total=opts["trials"])

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        return run_study(
            spec,
            n_trials=opts["trials"],
            timeout=opts["timeout"],
            jobs=opts["jobs"],
            progress=progress,
            evaluator=ev,
        )


def _starting_point(bucket_name: str, config: Any, ws: Any, opts: dict[str, Any]) -> Any:
    """The current parameter set in the study's workspace: what trial 0 evaluates."""
    from tsys import plugins
    from tsys.paramsets import parse_assignments, resolve_params

    return resolve_params(
        plugins.buckets().get(bucket_name),
        config,
        params_file=opts["params_file"],
        overrides=parse_assignments(opts["param_items"]),
        data_home=ws.root,
    )


def _check_not_worse(outcome: Any, spec: Any, pset: Any, accept_worse: bool, err: Any) -> None:
    """Refuse (unless ``accept_worse``) to write parameters that score below trial 0's."""
    from tsys.errors import StrategyError

    what = "the current parameters" if pset is None else f"the current {pset.label()}"
    if outcome.baseline_number is None:
        err.print(
            f"note: {what} did not complete a trial; the result is not compared with them",
            markup=False,
        )
        return
    if not outcome.scores_below_baseline:
        return
    metric = "calmar" if spec.multi_objective else spec.objective
    text = (
        f"the best parameters found (trial #{outcome.best_number}, {metric} "
        f"{outcome.best_rank:.3f}) score BELOW {what} (trial #{outcome.baseline_number}, "
        f"{metric} {outcome.baseline_rank:.3f})"
    )
    if not outcome.worse_than_baseline:
        err.print(
            f"note: {text}, but the current parameters break a constraint "
            f"({spec.constraints.describe()}), so the best set that keeps them all is written",
            markup=False,
        )
        return
    if not accept_worse:
        raise StrategyError(
            text + "; nothing was written",
            hint="run more trials, or pass --accept-worse to write them anyway",
        )
    err.print(f"WARNING: {text}; written anyway because of --accept-worse", markup=False)


def _abs(p: Any) -> Any:
    """A folder (or list of folders) made absolute, for workers started elsewhere."""
    if isinstance(p, list):
        return [_abs(x) for x in p]
    return None if p is None else str(Path(p).expanduser().resolve())


def _json_default(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return str(x)


def _sensitivity(spec: Any, ev: Any, params: dict[str, Any], outcome: Any, err: Any) -> Any:
    from tsys.optimize.evaluate import summarise
    from tsys.optimize.sensitivity import scan

    metric = "calmar" if spec.multi_objective else spec.objective

    def objective(p: dict[str, Any]) -> float:
        folds = [ev.evaluate(p, k) for k in range(ev.n_folds)]
        return summarise(folds, ev.periods_per_year).objective(metric)

    many = None
    if spec.batch > 1:  # every neighbour's bucket step, then one simulation pass per batch
        from tsys.optimize.batch import score_many

        many = score_many(ev, metric, spec.batch)
    base = outcome.best_metrics.get(metric)
    with count_bar(err, elapsed=False) as bar:
        task = bar.add_task("neighbourhood scan", total=None)
        return scan(
            params,
            ev.search_space(),
            objective,
            base_objective=base,
            progress=lambda i, n: bar.update(task, completed=i, total=n),
            many=many,
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
    if doc.get("cash_rate"):
        con.print(
            f"figures include interest on idle cash at {doc['cash_rate']:.2%}/yr ([account] "
            "cash_rate); `tsys backtest` reports it apart from trading PnL"
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
    if doc["baseline_trial"] is not None:
        con.print(
            f"trial #{doc['baseline_trial']} evaluated the current parameters: "
            f"{doc['objective']} {fmt.param_value(doc['baseline_value'])}"
            + ("" if doc["baseline_feasible"] else " (breaks a constraint)")
        )
    con.print(f"params written to {out} (sha256 {file_hash(out)})", markup=False, highlight=False)
