"""``tsys ml``: train a bucket's meta-model, judge it walk-forward, report on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tsys.cli._options import bucket_history_options, file_option, json_option


@click.group(name="ml")
def ml() -> None:
    """Meta-labelling: a model that filters (or sizes) a bucket's entries.

    \b
    Needs the optional extra: pip install "tsys[ml]" (the workspace installs it).
    A model is trained on the triple-barrier outcomes of the bucket's own entries (stop,
    target and time stop under the simulator's fill rules, after costs), on point-in-time
    features, with purged and embargoed cross-validation, uniqueness weights and calibration.
    It is switched on for a bucket only when the walk-forward shows that it improves the
    bucket out of sample ([buckets.NAME] ml = "filter" or "size" in tsys.toml uses it).
    """


@ml.command(name="train")
@bucket_history_options
@click.option("--folds", type=click.IntRange(min=2), default=4, show_default=True,
              help="Walk-forward test folds of the judgement.")  # fmt: skip
@click.option("--mode", type=click.Choice(["filter", "size"]), default="filter",
              show_default=True, help="How the judged model is applied.")  # fmt: skip
@click.option("--embargo", type=click.IntRange(min=0), default=None,
              help="Bars between each in-sample end and its test start (default: the "
              "longest holding window).")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-judge", "no_judge", is_flag=True,
              help="Train the model only (skip the walk-forward with vs without).")  # fmt: skip
@json_option("Print the result as JSON.")
@click.pass_context
def train(ctx: click.Context, bucket_name: str, **opts: Any) -> None:
    """Train BUCKET's meta-model on all its history and judge it walk-forward.

    \b
    The walk-forward (same folds with and without the model, beside buy and hold and the
    simple anchors, same simulator and costs) trains one model per fold on that fold's
    in-sample entries only. The model is switched on only when it adds Sharpe out of sample,
    wins most folds and its kept entries earned more than its dropped ones (t >= 2).
    The final model (all history) is saved under <data dir>/ml/BUCKET/ with its data
    fingerprint, features, training window and scores; the daily run loads it.

    \b
    Examples:
      tsys ml train sp500 --shared-data
      tsys ml train planted --source demo --folds 3 --json
    """
    from tsys import plugins
    from tsys.cli import load_config
    from tsys.cli._options import open_data, resolve_cli_params
    from tsys.ml import require, store
    from tsys.research.lab import Lab
    from tsys.research.loop import fold_windows, longest_holding
    from tsys.research.meta import MetaSpec, compare, train_current
    from tsys.workspace import workspace

    require()
    config = load_config(ctx)
    bucket = plugins.buckets().get(bucket_name)
    hub = open_data(config, opts["source"], opts["path"], opts["shared_data"])
    pset = resolve_cli_params(bucket, config, hub, opts["params_file"], opts["param_items"])
    home = workspace(config, demo=bool(hub.synthetic)).root
    say = _say(opts["as_json"])
    say(f"loading {bucket.name} data")
    lab = Lab(bucket, hub, config, start=opts["start"], end=opts["end"], values=pset.values)
    spec = MetaSpec(mode=opts["mode"], train=_train_spec(opts["seed"]))
    say(f"training on {lab.index[0].date()}..{lab.index[-1].date()} ({lab.n_bars} bars)")
    model = train_current(lab, pset.values, spec.train)
    path = store.save(model, home, bucket.name)
    judgement = None
    if not opts["no_judge"]:
        embargo = opts["embargo"]
        if embargo is None:
            embargo = longest_holding(bucket, pset.values)
        windows = fold_windows(lab.n_bars, opts["folds"], embargo)
        judgement = compare(lab, windows, [pset.values] * len(windows), spec, progress=say)
        judgement["bucket"] = bucket.name
        judgement["data_fingerprint"] = lab.fingerprint
        judgement["synthetic"] = bool(lab.bars.synthetic or hub.synthetic)
        _save_judgement(home, bucket.name, judgement)
        store.set_decision(home, bucket.name, {**judgement["decision"], "mode": spec.mode})
    if opts["as_json"]:
        out = {"model_file": str(path), "model": store.public_meta(model), "judgement": judgement}
        click.echo(json.dumps(_json_ready(out), indent=2))
        return
    _print(bucket.name, model, path, judgement)


@ml.command(name="report")
@click.argument("bucket_name", metavar="BUCKET")
@click.option("--demo", is_flag=True, help="Read the demo data dir's model.")
@file_option("--html", help="Write the page here (default: <data dir>/ml/BUCKET/report.html).")
@click.pass_context
def report(ctx: click.Context, bucket_name: str, demo: bool, html: str | None) -> None:
    """Write the HTML report of BUCKET's current model and its walk-forward judgement.

    \b
    Calibration curve, precision/recall against the threshold, feature importance, and the
    walk-forward out of sample with vs without the model beside the anchors.

    \b
    Example:
      tsys ml report sp500
    """
    from tsys.cli import load_config
    from tsys.errors import ConfigError
    from tsys.ml import report as ml_report
    from tsys.ml import store
    from tsys.workspace import workspace

    config = load_config(ctx)
    home = workspace(config, demo=demo).root
    meta = store.current_meta(home, bucket_name)
    if meta is None:
        raise ConfigError(
            f"no ML model for {bucket_name} in {home}",
            hint=f"tsys ml train {bucket_name} (add --demo for the demo data dir)",
        )
    jpath = store.model_dir(home, bucket_name) / "judgement.json"
    judgement = json.loads(jpath.read_text()) if jpath.exists() else None
    out = Path(html) if html else store.model_dir(home, bucket_name) / "report.html"
    ml_report.write(out, bucket_name, meta, judgement)
    click.echo(str(out))


def _train_spec(seed: int) -> Any:
    from tsys.ml.model import TrainSpec

    return TrainSpec(seed=seed)


def _say(quiet: bool) -> Any:
    from rich.console import Console

    err = Console(stderr=True)

    def say(msg: str) -> None:
        if not quiet:
            err.print(msg)

    return say


def _json_ready(x: Any) -> Any:
    from tsys.serialization import json_ready

    return json_ready(x)


def _save_judgement(home: Path, bucket: str, judgement: dict[str, Any]) -> None:
    from tsys.files import write_json
    from tsys.ml import store

    write_json(store.model_dir(home, bucket) / "judgement.json", _json_ready(judgement))


def _print(bucket: str, model: Any, path: Path, j: dict[str, Any] | None) -> None:
    from rich.console import Console

    from tsys.cli._table import metrics_table
    from tsys.format import figure as fmt

    con = Console()
    s = model.scores
    con.print(
        f"[bold]{bucket}[/] meta-model: {s['n_events']} entries, out-of-fold AUC "
        f"{fmt(s['oof_auc'], 'ratio')}, base rate {fmt(s['base_rate'], 'pct')}, threshold "
        f"{fmt(model.threshold, 'ratio')}; top features: {', '.join(list(model.importance)[:5])}"
    )
    con.print(f"saved {path}", soft_wrap=True)
    if j is None:
        return
    rows = [
        (f"{bucket} with ML ({j['mode']})", j["with_ml"]),
        (f"{bucket} without ML", j["without_ml"]),
    ]
    rows += [(a["label"], a) for a in j["anchors"]]
    keys = ("sharpe", "cagr", "max_drawdown", "trades", "entry_precision")
    title = f"walk-forward out of sample {j['start']}..{j['end']}, after costs"
    con.print(metrics_table(title, rows, keys))
    d = j["decision"]
    verdict = "[green]ML ON[/]" if d["ml_on"] else "[red]ML OFF[/]"
    con.print(f"{verdict}: {'; '.join(d['reasons'])}")
    con.print(pbo_line(j.get("pbo")))
    secs = ", ".join(f"{f['train_seconds']:.1f}" for f in j["folds"])
    con.print(f"training seconds per fold: {secs}")


def pbo_line(p: dict[str, Any] | None) -> str:
    """PBO without vs with the model, on the same out-of-sample rows and CSCV blocks."""
    from tsys.format import figure as fmt

    if not p or not p.get("blocks"):
        return "PBO: too few out-of-sample sessions for CSCV"

    def one(x: dict[str, Any] | None) -> str:
        if x is None:
            return "n/a (one configuration)"
        return f"{fmt(x['pbo'], 'p')} over {x['n_configs']} columns"

    return (
        f"PBO (CSCV, {p['blocks']} blocks of the {p['periods']} out-of-sample sessions): "
        f"without ML {one(p['without_ml'])}, with ML {one(p['with_ml'])}"
    )
