"""The read-only pages: Today, Portfolio, Paper, Research and Runs.

Each page takes its figures from the function the command line prints them from: the run's
newsletter view (:func:`tsys.report.newsletter.build_view`), ``tsys portfolio``'s view
(:func:`tsys.holdings.load_portfolio`), ``tsys paper report``'s payload
(:func:`tsys.brokers.report.paper_report`), the reports ``tsys research`` and ``tsys validate``
save in the data dir. Nothing here computes a figure of its own.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from tsys.dashboard.state import Dashboard, page_number, paginate
from tsys.errors import ConfigError, DataError

#: Colours of the chart series (the backtest report's palette).
PAPER_COLOUR, REPLAY_COLOUR = "#1f77b4", "#ff7f0e"


def parse_day(text: str | None, what: str = "date") -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{what} {text!r} is not a date; use YYYY-MM-DD") from None


def bars(rows: dict[str, float], equity: float, limit: int = 12) -> list[dict[str, Any]]:
    """Horizontal-bar rows (label, value, share of equity, bar length 0..1) of an exposure."""
    items = list(rows.items())[:limit]
    top = max((abs(v) for _, v in items), default=0.0)
    return [
        {
            "label": k,
            "value": v,
            "share": v / equity if equity > 0 else None,
            "length": abs(v) / top if top > 0 else 0.0,
        }
        for k, v in items
    ]


# ---------------------------------------------------------------------------------- Today
def today(dash: Dashboard, request: Any) -> Any:
    from tsys.report.newsletter import build_view
    from tsys.store.runs import latest_run, list_runs, load_run

    runs_dir = dash.ws.runs_dir
    day = parse_day(request.query_params.get("as_of"), "as_of") or latest_run(runs_dir)
    if day is None:
        return dash.page(request, "today.html.j2", "Today", run=None, runs_dir=str(runs_dir))
    run = load_run(runs_dir, day)
    view = build_view(run)
    return dash.page(
        request,
        "today.html.j2",
        f"Today: {day.isoformat()}",
        run=run,
        view=view,
        days=[d.isoformat() for d in list_runs(runs_dir)[-30:]],
        deliveries=[
            {"plugin": d.plugin, "ok": d.ok, "detail": d.detail, "at": d.at} for d in run.deliveries
        ],
        newsletter=(dash.ws.run_dir(day) / "newsletter.html").is_file(),
        runs_dir=str(runs_dir),
    )


def newsletter(dash: Dashboard, request: Any) -> Any:
    from starlette.responses import HTMLResponse

    from tsys import redact

    day = parse_day(request.path_params["day"])
    path = dash.ws.run_dir(day) / "newsletter.html"  # type: ignore[arg-type]
    if not path.is_file():
        raise DataError(f"no newsletter for {day}", hint="`tsys newsletter preview` writes it")
    return HTMLResponse(redact.scrub(path.read_text(encoding="utf-8")))


# ------------------------------------------------------------------------------ Portfolio
def portfolio(dash: Dashboard, request: Any) -> Any:
    q = request.query_params
    source, tag = q.get("source") or "", q.get("tag") or ""
    with dash.store() as store:
        book = dash.cached("portfolio", _book_key(dash, store), lambda: _book(dash, store))
    view, data, lines, tags_of = book["view"], book["data"], book["lines"], book["tags_of"]
    eq = view.account_equity
    shown = (
        lines
        if not (source or tag)
        else [
            p
            for p in lines
            if (not source or p["source"] == source)
            and (not tag or tag in tags_of.get(p["id"], ()))
        ]
    )
    rows, pager = paginate(shown, page_number(request))
    filtered = None
    if source or tag:
        priced = [p for p in shown if p["market_value"] is not None]
        filtered = {
            "positions": len(shown),
            "market_value": sum(p["market_value"] for p in priced),
            "unrealized_pnl": sum(p["unrealized_pnl"] for p in priced),
            "money_at_risk": sum(p["money_at_risk"] or 0.0 for p in priced),
        }
    exposure = {
        dim: bars(view.exposure.get(dim) or {}, eq)
        for dim in ("source", "bucket", "asset_class", "sector")
    }
    return dash.page(
        request,
        "portfolio.html.j2",
        "Portfolio",
        view=data,
        rows=rows,
        pager=pager,
        source=source,
        tag=tag,
        sources=book["sources"],
        tags=book["tags"],
        filtered=filtered,
        exposure=exposure,
        marks=book["marks"],
    )


def _book(dash: Dashboard, store: Any) -> dict[str, Any]:
    """The merged book of ``tsys portfolio`` and what every visit of the page reads from it."""
    from tsys.holdings import load_portfolio

    view = load_portfolio(dash.config, store=store)
    data = view.to_dict()
    lines = sorted(
        data["positions"],
        key=lambda p: (p["market_value"] is None, -abs(p["market_value"] or 0.0)),
    )
    tags_of = view.tags_by_id()
    return {
        "view": view,
        "data": data,
        "lines": lines,
        "tags_of": tags_of,
        "tags": sorted({t for ts in tags_of.values() for t in ts}),
        "sources": sorted({p["source"] for p in lines}),
        "marks": _paper_marks(dash, store),
    }


def _book_key(dash: Dashboard, store: Any) -> tuple[Any, ...]:
    """What the merged book is built from: the manual trades, the paper account, the runs."""
    from tsys.store.manual_pages import fingerprint
    from tsys.store.runs import latest_run

    day = latest_run(dash.ws.runs_dir)
    run_file = dash.ws.run_dir(day) / "run.json" if day is not None else None
    stamp = run_file.stat().st_mtime_ns if run_file is not None and run_file.exists() else None
    paper = store.paper_record_counts(dash.config.broker.name)
    return fingerprint(store), tuple(sorted(paper.items())), day, stamp, dt.date.today()


def _paper_marks(dash: Dashboard, store: Any) -> dict[str, list[Any]]:
    """The paper account's daily marks (account equity over time)."""
    from tsys.store.paper import StoreOrderLog

    marks = StoreOrderLog(store).marks(dash.config.broker.name)
    return {
        "dates": [m.date.isoformat() for m in marks],
        "equity": [m.equity for m in marks],
        "cash": [m.cash for m in marks],
    }


# ---------------------------------------------------------------------------------- Paper
def _broker(dash: Dashboard, store: Any) -> Any:
    from tsys import plugins
    from tsys.brokers import BrokerContext

    cfg = dash.config
    cls = plugins.brokers().get(cfg.broker.name)
    ctx = BrokerContext(config=cfg, store=store)
    return plugins.plugin_safe(plugins.brokers().owner(cfg.broker.name), cls.from_config)(
        dict(cfg.broker.options), ctx
    )


def _paper_payload(dash: Dashboard, store: Any) -> tuple[dict[str, Any], Any]:
    from tsys.brokers.report import paper_report as build
    from tsys.data.sources import open_hub

    broker = _broker(dash, store)
    return build(broker, data=open_hub(dash.config)), broker


def paper(dash: Dashboard, request: Any) -> Any:
    from tsys.brokers.common import reconcile

    with dash.store() as store:
        payload, broker = _paper_payload(dash, store)
        try:
            rec = reconcile(broker, broker.log).to_dict()
        except Exception as exc:  # a broker that cannot be asked must not hide the report
            rec = {"ok": None, "error": f"{type(exc).__name__}: {exc}", "differences": []}
        orders = []
        for o in sorted(broker.log.orders(broker.name), key=lambda o: o.client_order_id)[::-1]:
            events = broker.log.events(broker.name, client_order_id=o.client_order_id)
            orders.append({"order": o, "events": events})
    drift = payload.get("drift")
    series = []
    if drift:
        series = [
            ("paper", drift["paper_equity"], PAPER_COLOUR),
            ("backtest replay", drift["backtest_equity"], REPLAY_COLOUR),
        ]
    orders_page, pager = paginate(orders, page_number(request))
    return dash.page(
        request,
        "paper.html.j2",
        "Paper",
        p=payload,
        series=series,
        reconcile=rec,
        orders=orders_page,
        pager=pager,
    )


def paper_report(dash: Dashboard, request: Any) -> Any:
    """``tsys paper report --html``, in place."""
    from starlette.responses import HTMLResponse

    from tsys import redact
    from tsys.brokers.report import render_html

    with dash.store() as store:
        payload, _ = _paper_payload(dash, store)
    return HTMLResponse(redact.scrub(render_html(payload)))


# ------------------------------------------------------------------------------- Research
#: kind -> (folder under the workspace, renderer module, what the report is)
REPORT_KINDS = {
    "research": ("research", "tsys.report.research", "walk-forward research"),
    "validation": ("validation", "tsys.report.validation", "validation"),
    "backtest": ("backtest", "tsys.report.backtest", "backtest"),
}


def _report_files(root: Path) -> list[dict[str, Any]]:
    out = []
    for kind, (folder, _, what) in REPORT_KINDS.items():
        for path in sorted((root / folder).glob("*.json")):
            try:
                report = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                out.append(
                    {"kind": kind, "name": path.stem, "what": what, "bucket": "", "headline": "",
                     "modified": None, "error": f"{type(exc).__name__}: {exc}"}
                )  # fmt: skip
                continue
            out.append(
                {
                    "kind": kind,
                    "name": path.stem,
                    "what": what,
                    "bucket": report.get("bucket", ""),
                    "headline": _headline(kind, report),
                    "modified": dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC),
                    "error": None,
                }
            )
    return out


def _headline(kind: str, report: dict[str, Any]) -> str:
    """The verdict, gates and out-of-sample figures of a saved report, as its report shows them.

    Research and validation reports carry ``passed`` and ``gates`` (each with ``passed``);
    their figures are ``out_of_sample.metrics`` (research) and ``figures`` (validation). A
    backtest report (``tsys backtest --report``) has its ``metrics`` and no verdict.
    """
    from tsys import format as fmt

    parts = []
    if kind == "backtest":
        figs = report.get("metrics") or {}
        trades = figs.get("trades", figs.get("trade_count"))
    else:
        word = {True: "PASSED", False: "FAILED"}.get(report.get("passed"), "verdict unknown")
        gates = [g for g in report.get("gates") or [] if isinstance(g, dict)]
        passed = sum(1 for g in gates if g.get("passed") is True)
        parts.append(f"{word}; {passed}/{len(gates)} gates")
        figs = (
            report.get("figures")
            if kind == "validation"
            else (report.get("out_of_sample") or {}).get("metrics")
        ) or {}
        trades = figs.get("n_trades", figs.get("trade_count"))
    parts.append(
        f"Sharpe {fmt.figure(figs.get('sharpe'), 'ratio')}, CAGR {fmt.figure(figs.get('cagr'), 'pct')}"
        f", max drawdown {fmt.figure(figs.get('max_drawdown'), 'pct')}"
        + (f", {fmt.figure(trades, 'int')} trades" if trades is not None else "")
    )
    return "; ".join(parts)


def research(dash: Dashboard, request: Any) -> Any:
    from tsys.store.runs import latest_run, load_run

    runs_dir = dash.ws.runs_dir
    day = latest_run(runs_dir)
    params = []
    if day is not None:
        run = load_run(runs_dir, day)
        params = [
            {
                "bucket": b.bucket,
                "label": b.param_set.get("label", ""),
                "source": b.param_set.get("source", ""),
                "digest": b.param_set.get("digest", ""),
                "validated": b.validated,
            }
            for b in run.buckets
        ]
    return dash.page(
        request,
        "research.html.j2",
        "Research",
        reports=_report_files(dash.ws.root),
        params=params,
        day=day,
        root=str(dash.ws.root),
    )


def research_report(dash: Dashboard, request: Any) -> Any:
    import importlib

    from starlette.responses import HTMLResponse

    from tsys import redact

    kind, name = request.path_params["kind"], request.path_params["name"]
    if kind not in REPORT_KINDS or "/" in name or name.startswith("."):
        raise DataError(f"no report {kind}/{name}")
    folder, module, _ = REPORT_KINDS[kind]
    path = dash.ws.root / folder / f"{name}.json"
    if not path.is_file():
        raise DataError(f"no report {kind}/{name} in {dash.ws.root / folder}")
    report = json.loads(path.read_text(encoding="utf-8"))
    html = importlib.import_module(module).render(report)
    return HTMLResponse(redact.scrub(html))


# ----------------------------------------------------------------------------------- Runs
def _run_row(dash: Dashboard, day: dt.date) -> dict[str, Any]:
    """One row of ``tsys runs list --json``."""
    from tsys.daily.state import run_summary
    from tsys.errors import TsysError

    try:
        return {**run_summary(dash.ws.runs_dir, day), "error": None}
    except TsysError as exc:
        return {"as_of": day.isoformat(), "error": exc.message}


def runs(dash: Dashboard, request: Any) -> Any:
    from tsys.store.runs import list_runs

    days = list_runs(dash.ws.runs_dir)[::-1]
    rows, pager = paginate(days, page_number(request))
    return dash.page(
        request,
        "runs.html.j2",
        "Runs",
        rows=[_run_row(dash, d) for d in rows],
        pager=pager,
        days=[d.isoformat() for d in days],
    )


def diff_plans(old: Any, new: Any) -> list[dict[str, Any]]:
    """What changed between two runs' plans, per (bucket, symbol): added, removed, changed."""
    from tsys import format as fmt

    def index(run: Any) -> dict[tuple[str, str], dict[str, Any]]:
        out = {}
        for b in run.buckets:
            for p in b.plans:
                out[(b.bucket, p.symbol)] = {
                    "action": p.action.value,
                    "quantity": fmt.quantity(
                        p.allocation.quantity, p.allocation.signal.asset_class.value
                    ),
                    "dollars": fmt.money(p.allocation.dollars),
                    "stop": fmt.price(p.stop.price)
                    if p.stop is not None and p.stop.price
                    else "none",
                }
        return out

    a, b = index(old), index(new)
    rows = []
    for key in sorted(set(a) | set(b)):
        before, after = a.get(key), b.get(key)
        if before == after:
            continue
        change = "added" if before is None else "removed" if after is None else "changed"
        rows.append(
            {"bucket": key[0], "symbol": key[1], "change": change, "old": before, "new": after}
        )
    return rows


def runs_diff(dash: Dashboard, request: Any) -> Any:
    from tsys.store.runs import list_runs, load_run

    q = request.query_params
    days = list_runs(dash.ws.runs_dir)
    a = parse_day(q.get("a"), "a") or (days[-2] if len(days) > 1 else None)
    b = parse_day(q.get("b"), "b") or (days[-1] if days else None)
    if a is None or b is None:
        raise DataError("no two runs to compare", hint="run `tsys run-daily` on two days")
    rows = diff_plans(load_run(dash.ws.runs_dir, a), load_run(dash.ws.runs_dir, b))
    return dash.page(
        request,
        "diff.html.j2",
        f"Runs: {a} vs {b}",
        a=a.isoformat(),
        b=b.isoformat(),
        rows=rows,
        days=[d.isoformat() for d in days[::-1]],
    )


def warm(dash: Dashboard) -> None:
    """Build the merged book once, so that the first visit of Portfolio is quick.

    A failure is left for the page itself to show (with its message) when it is visited.
    """
    try:
        with dash.store() as store:
            dash.cached("portfolio", _book_key(dash, store), lambda: _book(dash, store))
    except Exception:  # the page reports it
        return
