"""The daily newsletter: one run rendered as an HTML email (CSS inlined) and its plain text.

Both parts are rendered from the same view model, whose numbers are already formatted by
:mod:`tsys.format`, so the HTML and the text cannot disagree on a figure. Writing and sending them is
:mod:`tsys.report.delivery`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from tsys import format as fmt
from tsys.contracts import (
    Action,
    AssetClass,
    BucketRun,
    DailyRun,
    Intent,
    PositionRecord,
    Side,
    StopKind,
    TradePlan,
)
from tsys.notifiers import Newsletter

DISCLAIMER = (
    "This newsletter is produced by software from market data and rules you configured. It is "
    "not investment advice. Check every figure before you trade; you alone decide and carry "
    "the risk."
)
SYNTHETIC_NOTE = (
    "SYNTHETIC DATA: every price in this run comes from a simulated market. Do not trade on it."
)

_ACTION_TITLES = {
    Action.BUY: "Buy",
    Action.SELL: "Sell",
    Action.HOLD: "Hold",
    Action.WATCH: "Watch",
}


# ------------------------------------------------------------------------------ view model
def _link(url: str) -> str | None:
    # Only web links become clickable: a "javascript:" or "data:" URL from a news feed must
    # never turn into an active link in someone's mail client.
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme in ("http", "https") and parts.netloc:
        return url.strip()
    return None


def _stop_text(plan: TradePlan) -> str:
    stop = plan.stop
    if stop is None:
        return "none"
    if stop.kind is StopKind.FIXED:
        return fmt.price(stop.price)
    text = f"ATR trailing {fmt.number(stop.atr_multiple, 2)}x"
    if stop.price is not None:
        text += f" (now {fmt.price(stop.price)})"
    return text


def _entry_text(plan: TradePlan) -> str:
    if plan.limit_price is not None:
        return f"{plan.entry.value} {fmt.price(plan.limit_price)}"
    return plan.entry.value


def _news(signal: Any) -> list[dict[str, Any]]:
    out = []
    for item in signal.news:
        sentiment = None if item.sentiment is None else fmt.number(item.sentiment, 2, signed=True)
        out.append(
            {
                "title": item.title,
                "url": _link(item.url) if item.url else None,
                "raw_url": item.url,
                "source": item.source,
                "sentiment": sentiment,
            }
        )
    return out


def _plan_row(plan: TradePlan, equity: float | None) -> dict[str, Any]:
    alloc = plan.allocation
    sig = alloc.signal
    constraints = []
    for c in alloc.constraints:
        text = c.name + (f": {c.detail}" if c.detail else "")
        if c.dollars_before is not None and c.dollars_after is not None:
            text += f" ({fmt.money(c.dollars_before)} → {fmt.money(c.dollars_after)})"
        constraints.append(text)
    if alloc.liquidity_flag:
        part = alloc.adv_participation
        constraints.append(
            "liquidity: the order is large for the traded volume"
            + ("" if part is None else f" ({fmt.pct(part, signed=False)} of average volume)")
        )
    row = {
        "action": _ACTION_TITLES[plan.action],
        "symbol": sig.symbol,
        "asset_class": sig.asset_class.value,
        "dollars": fmt.money(alloc.dollars),
        "weight": fmt.pct(alloc.weight, signed=False),
        "quantity": fmt.quantity(alloc.quantity, sig.asset_class.value),
        "unit": ("share" if sig.asset_class is AssetClass.EQUITY else "unit")
        + ("" if alloc.quantity == 1 else "s"),
        "entry": _entry_text(plan),
        "stop": _stop_text(plan),
        "target": fmt.price(plan.take_profit) if plan.take_profit is not None else "none",
        "time_stop": (f"{plan.time_stop_bars} bars" if plan.time_stop_bars is not None else None),
        "score": fmt.score(sig.score),
        "rationale": "; ".join(sig.rationale),
        "news": _news(sig),
        "constraints": constraints,
        "risk_budget": fmt.money(alloc.risk_budget) if alloc.risk_budget else None,
        "equity": equity,
    }
    if plan.action is Action.WATCH:  # nothing is bought: no money, entry, stop or target to show
        row.update(dollars=None, weight=None, quantity=None, unit="", entry=None, stop=None)
        row.update(target=None, time_stop=None)
    return row


def _watch_row(signal: Any) -> dict[str, Any]:
    return {
        "action": "Watch",
        "symbol": signal.symbol,
        "asset_class": signal.asset_class.value,
        "dollars": None,
        "weight": None,
        "quantity": None,
        "unit": "",
        "entry": None,
        "stop": None,
        "target": None,
        "time_stop": None,
        "score": fmt.score(signal.score),
        "rationale": "; ".join(signal.rationale),
        "news": _news(signal),
        "constraints": [],
        "risk_budget": None,
    }


def _bucket_view(b: BucketRun, equity: float | None) -> dict[str, Any]:
    groups: dict[Action, list[dict[str, Any]]] = {a: [] for a in Action}
    planned = set()
    for plan in b.plans:
        groups[plan.action].append(_plan_row(plan, equity))
        planned.add(plan.symbol)
    # A watch signal without a plan still belongs on the watchlist (no money attached).
    for sig in b.signals:
        if sig.intent is Intent.WATCH and sig.symbol not in planned:
            groups[Action.WATCH].append(_watch_row(sig))
            planned.add(sig.symbol)
    if b.validated is None:
        validation = "not checked"
    else:
        validation = "validated" if b.validated else "not validated"
    return {
        "name": b.bucket,
        "version": b.version,
        "asset_class": b.asset_class.value,
        "regime": b.regime or "not reported",
        "parameters": b.param_set.get("label", ""),
        "validated": b.validated,
        "validation": validation,
        "error": b.error,
        "sections": [
            {"title": "Buy", "rows": groups[Action.BUY]},
            {"title": "Sell", "rows": groups[Action.SELL]},
            {"title": "Hold", "rows": groups[Action.HOLD]},
            {"title": "Watch", "rows": groups[Action.WATCH]},
        ],
        "n_buy": len(groups[Action.BUY]),
        "n_sell": len(groups[Action.SELL]),
        "n_hold": len(groups[Action.HOLD]),
        "n_watch": len(groups[Action.WATCH]),
    }


def _exposure(items: dict[str, float], equity: float) -> list[dict[str, str]]:
    # Exposures in PortfolioSnapshot are dollars of market value; the share is of equity.
    rows = []
    for name in sorted(items, key=lambda k: (-abs(items[k]), k)):
        value = items[name]
        rows.append(
            {
                "name": str(name),
                "dollars": fmt.money(value),
                "share": fmt.pct(value / equity, signed=False) if equity > 0 else fmt.MISSING,
            }
        )
    return rows


def _position_risk(p: PositionRecord) -> float | None:
    if p.stop is None:
        return None
    per_unit = p.entry_price - p.stop if p.side is Side.BUY else p.stop - p.entry_price
    return max(0.0, per_unit) * p.quantity


def _portfolio_view(run: DailyRun) -> dict[str, Any] | None:
    snap = run.portfolio
    if snap is None:
        return None
    eq = snap.account_equity
    by_source: dict[str, list[dict[str, Any]]] = {}
    for p in sorted(snap.positions, key=lambda p: (p.source.value, p.bucket, p.symbol)):
        if not p.is_open:
            continue
        risk = _position_risk(p)
        by_source.setdefault(p.source.value, []).append(
            {
                "symbol": p.symbol,
                "bucket": p.bucket or fmt.MISSING,
                "side": p.side.value,
                "quantity": fmt.quantity(p.quantity, p.asset_class.value),
                "entry": fmt.price(p.entry_price),
                "cost": fmt.money(p.entry_price * p.quantity),
                "stop": (fmt.price(p.stop) if p.stop is not None else "none")
                + (" (THROUGH: last close past the stop)" if "through-stop" in p.tags else ""),
                "risk": fmt.money(risk) if risk is not None else "no stop",
            }
        )
    return {
        "equity": fmt.money(eq),
        "cash": fmt.money(snap.cash),
        "open_risk": fmt.money(snap.open_risk),
        "open_risk_share": fmt.pct(snap.open_risk / eq, signed=False) if eq > 0 else fmt.MISSING,
        "by_bucket": _exposure(snap.exposure_by_bucket, eq),
        "by_asset_class": _exposure(snap.exposure_by_asset_class, eq),
        "by_sector": _exposure(snap.exposure_by_sector, eq),
        "sources": [{"source": k, "rows": v} for k, v in by_source.items()],
    }


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _paper_view(run: DailyRun, account: Any) -> dict[str, Any] | None:
    if account is None:
        return None
    orders = [
        {
            "symbol": o.symbol,
            "side": o.side.value,
            "quantity": fmt.quantity(o.quantity, o.asset_class.value),
            "entry": o.entry.value,
            "status": o.status.value.replace("_", " "),
            "filled": fmt.quantity(o.filled_quantity, o.asset_class.value),
        }
        for o in run.orders
    ]

    def money_or_missing(name: str) -> str:
        value = _get(account, name)
        return fmt.MISSING if value is None else fmt.money(value)

    return {
        "broker": str(_get(account, "broker", "") or "paper"),
        "equity": money_or_missing("equity"),
        "cash": money_or_missing("cash"),
        "buying_power": money_or_missing("buying_power"),
        "orders": orders,
    }


def _plugin_sections(run: DailyRun) -> tuple[list[dict[str, Any]], list[str]]:
    """Collect ``newsletter_sections`` from every plugin, one plugin at a time.

    A plugin that fails or returns something malformed loses its section, and the newsletter
    says so in its warnings; it never costs the reader the rest of the email.
    """
    from tsys.plugins import call_hook

    sections: list[dict[str, Any]] = []
    problems: list[str] = []
    for call in call_hook("newsletter_sections", run=run):
        if call.error is not None:
            problems.append(f"a newsletter section is missing: {call.error.message}")
            continue
        ok, bad = _check_sections(call.result, f"plugin {call.plugin!r}")
        sections.extend(ok)
        problems.extend(bad)
    return sections, problems


def _check_sections(result: Any, who: str) -> tuple[list[dict[str, Any]], list[str]]:
    if result is None:
        return [], []
    if isinstance(result, dict) or not isinstance(result, list | tuple):
        return [], [f"{who} returned {type(result).__name__}, expected a list of sections"]
    ok, bad = [], []
    for i, s in enumerate(result):
        keys = ("title", "html", "text")
        if not isinstance(s, dict) or any(not isinstance(s.get(k), str) for k in keys):
            bad.append(f"{who}: section {i} is not {{'title', 'html', 'text'}} strings; skipped")
            continue
        ok.append({k: s[k] for k in keys})
    return ok, bad


def _headline(run: DailyRun, buckets: list[dict[str, Any]]) -> dict[str, Any]:
    n_buy = sum(b["n_buy"] for b in buckets)
    n_sell = sum(b["n_sell"] for b in buckets)
    n_hold = sum(b["n_hold"] for b in buckets)
    n_watch = sum(b["n_watch"] for b in buckets)
    actions = n_buy + n_sell

    def plural(n: int, one: str, many: str) -> str:
        return f"{n} {one if n == 1 else many}"

    summary = (
        f"{plural(actions, 'action', 'actions')}: {plural(n_buy, 'buy', 'buys')}, "
        f"{plural(n_sell, 'sell', 'sells')}; {plural(n_hold, 'hold', 'holds')}, "
        f"{n_watch} to watch"
    )
    return {
        "date": run.as_of.isoformat(),
        "weekday": run.as_of.strftime("%A"),
        "actions": actions,
        "summary": summary,
        "regimes": [{"bucket": b["name"], "regime": b["regime"]} for b in buckets],
    }


def _overrides_view(run: DailyRun) -> list[dict[str, Any]]:
    """The ``tsys override`` rules in force: rule, since, until, reason; a warning on the
    last run that sees a rule (it expires before the next one)."""
    out = []
    for o in run.overrides:
        until = o.get("until")
        until_text = "until removed" if not until else f"until {until[:16].replace('T', ' ')} UTC"
        out.append(
            {
                "id": o.get("id", ""),
                "rule": o.get("rule", ""),
                "since": o.get("since", ""),
                "until": until_text,
                "reason": o.get("reason") or "",
                "by": o.get("by", ""),
                "applied": o.get("applied", True),
                "warning": (
                    f"override {o.get('id')} ({o.get('rule')}) expires {until_text[6:]}: "
                    "this is the last run it applies to"
                    if o.get("expires_next")
                    else ""
                ),
            }
        )
    return out


def build_view(
    run: DailyRun,
    *,
    buckets: Sequence[BucketRun] | None = None,
    extra_sections: Iterable[dict[str, Any]] | None = None,
    paper_account: Any = None,
    plugin_sections: tuple[list[dict[str, Any]], list[str]] | None = None,
) -> dict[str, Any]:
    """Build the template context: every figure already formatted for people."""
    selected = list(run.buckets if buckets is None else buckets)
    names = {b.bucket for b in selected}
    equity = run.portfolio.account_equity if run.portfolio is not None else None
    bucket_views = [_bucket_view(b, equity) for b in selected]
    blockers = [
        {"symbol": x.symbol, "bucket": x.bucket, "kind": x.kind, "reason": x.reason}
        for b in selected
        for x in b.blockers
    ]
    warnings = list(run.warnings)
    for b in selected:
        warnings.extend(f"{b.bucket}: {w}" for w in b.warnings)
    if plugin_sections is None:
        plugin_sections = _plugin_sections(run)
    sections, problems = plugin_sections
    sections = list(sections)
    warnings.extend(problems)
    if extra_sections is not None:
        ok, bad = _check_sections(list(extra_sections), "extra sections")
        sections.extend(ok)
        warnings.extend(bad)
    failures = [
        {
            "plugin": d.plugin,
            "detail": d.detail,
            "at": d.at.strftime("%Y-%m-%d %H:%M %Z").strip() if d.at is not None else "",
        }
        for d in run.deliveries
        if not d.ok
    ]
    overrides = _overrides_view(run)
    warnings.extend(o["warning"] for o in overrides if o["warning"])
    title = f"tsys daily plan for {run.as_of.isoformat()}"
    if buckets is not None and len(names) == 1:
        title += f": {next(iter(names))}"
    return {
        "title": title,
        "synthetic": run.synthetic_data,
        "synthetic_note": SYNTHETIC_NOTE,
        "headline": _headline(run, bucket_views),
        "buckets": bucket_views,
        "blockers": blockers,
        "overrides": overrides,
        "portfolio": _portfolio_view(run),
        "paper": _paper_view(run, paper_account),
        "sections": sections,
        "warnings": warnings,
        "failures": failures,
        "disclaimer": DISCLAIMER,
        "config_digest": run.config_digest,
        "created_at": run.created_at.strftime("%Y-%m-%d %H:%M %Z").strip(),
    }


# -------------------------------------------------------------------------------- rendering
def _subject(view: dict[str, Any], bucket: str | None) -> str:
    head = view["headline"]
    where = f" {bucket}" if bucket is not None else ""
    # Not "[SYNTHETIC]": Python's email folding puts a long subject that starts with "["
    # on a continuation line, and mail clients then show it with a leading space.
    prefix = "SYNTHETIC DATA: " if view["synthetic"] else ""
    return f"{prefix}tsys{where} {head['date']}: {head['summary']}"


def render(
    run: DailyRun,
    *,
    per_bucket: bool = False,
    extra_sections: Iterable[dict[str, Any]] | None = None,
    paper_account: Any = None,
) -> list[Newsletter]:
    """Render the newsletter(s) of a run.

    Parameters
    ----------
    run
        The daily run to describe.
    per_bucket
        Render one newsletter per bucket (each with the merged portfolio) instead of one.
    extra_sections
        More ``{"title", "html", "text"}`` sections, as the ``newsletter_sections`` hook returns.
    paper_account
        The paper account (a :class:`tsys.brokers.AccountState` or a mapping with ``equity``,
        ``cash``, ``buying_power`` and optionally ``broker``), shown with the run's orders.

    Returns
    -------
    list of Newsletter
        One newsletter, or one per bucket; HTML with CSS inlined, and the plain text.
    """
    import css_inline

    from tsys.redact import scrub
    from tsys.report.html import environment

    env = environment()
    html_t = env.get_template("newsletter.html.j2")
    text_t = env.get_template("newsletter.txt.j2")
    extra = None if extra_sections is None else list(extra_sections)
    plugin = _plugin_sections(run)
    groups: list[tuple[str | None, Sequence[BucketRun] | None]]
    if per_bucket and run.buckets:
        groups = [(b.bucket, [b]) for b in run.buckets]
    else:
        groups = [(None, None)]
    out = []
    for bucket, selected in groups:
        view = build_view(
            run,
            buckets=selected,
            extra_sections=extra,
            paper_account=paper_account,
            plugin_sections=plugin,
        )
        html = scrub(css_inline.inline(html_t.render(view)))
        text = scrub(text_t.render(view))
        subject = scrub(_subject(view, bucket))
        out.append(Newsletter(subject=subject, html=html, text=text, bucket=bucket))
    return out
