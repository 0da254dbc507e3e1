"""The Manual trades pages: list, add, edit, close, delete and undo, import and export.

Every write is the store call ``tsys trades`` makes (:func:`tsys.store.manual_checks.add_trade`,
``store.manual.edit/close/delete/undelete/import_trades``): the same validation, the same
messages, one transaction. An edit, close or delete carries the version of the trade the form
showed; when the trade changed since (another tab, the command line) the write is refused with
409 and nothing is lost (:mod:`tsys.store.manual_version`).

A refused form is shown again with what was typed and the store's message; a done write
redirects (303) to the trade's page with a notice.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from tsys.dashboard.state import PAGE_SIZE, Dashboard, exc_status, page_number
from tsys.errors import TsysError

#: notice code -> text shown after a redirect.
NOTICES = {
    "added": "trade added",
    "edited": "trade updated",
    "closed": "trade closed",
    "partial": "trade partially closed",
    "deleted": "trade deleted",
    "restored": "trade restored",
    "imported": "trades imported",
}


class FormError(TsysError):
    """A form field that is not a number or a date; nothing was written."""

    exit_code = 2


def number(form: dict[str, str], name: str, label: str) -> float | None:
    """A float field (empty: None), or :class:`FormError` naming the field."""
    text = (form.get(name) or "").strip().replace(",", "")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise FormError(f"{label}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise FormError(f"{label}: {text!r} is not a finite number")
    return value


def when(form: dict[str, str], name: str, what: str) -> Any:
    from tsys.store.manual_files import parse_when

    text = (form.get(name) or "").strip()
    return parse_when(text, what=what) if text else None


def tags_of(form: dict[str, str]) -> list[str]:
    from tsys.store.manual_files import split_tags

    return [t.strip() for t in split_tags((form.get("tags") or "").strip()) if t.strip()]


def _redirect(path: str, notice: str, warnings: list[str] | None = None) -> Any:
    from starlette.responses import RedirectResponse

    url = f"{path}?done={notice}"
    for w in warnings or []:
        url += "&warning=" + quote(w[:300])
    return RedirectResponse(url, status_code=303)


def _notices(request: Any) -> dict[str, Any]:
    q = request.query_params
    return {
        "notice": NOTICES.get(q.get("done") or "", ""),
        "warnings": q.getlist("warning"),
    }


# ------------------------------------------------------------------------------ the list
def _list_page(
    dash: Dashboard, request: Any, *, status: int = 200, error: Any = None, form: Any = None
) -> Any:
    q = request.query_params
    which = q.get("status") or "all"
    tag = q.get("tag") or None
    if which not in ("all", "open", "closed"):
        which = "all"
    from tsys.store.manual_pages import page

    number = page_number(request)
    with dash.store() as store:
        rows, total = page(store, status=which, tag=tag, number=number, size=PAGE_SIZE)
        skipped = list(store.manual.skipped)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    pager = {"page": min(number, pages), "pages": pages, "rows": total}
    return dash.page(
        request,
        "trades.html.j2",
        "Manual trades",
        status=status,
        rows=rows,
        pager=pager,
        which=which,
        tag=tag or "",
        error=error,
        form=form or {},
        skipped=skipped,
        **_notices(request),
    )


def trades_page(dash: Dashboard, request: Any) -> Any:
    return _list_page(dash, request)


def add(dash: Dashboard, request: Any, form: dict[str, str]) -> Any:
    from tsys.store.manual_checks import add_trade
    from tsys.store.manual_trade import TradeInput
    from tsys.symbols import normalise_symbol

    try:
        opened = when(form, "date", "date")
        qty, price = number(form, "qty", "quantity"), number(form, "price", "price")
        missing = [
            label
            for label, value in (
                ("symbol", form.get("symbol", "").strip()),
                ("side", form.get("side")),
                ("quantity", qty),
                ("price", price),
                ("date", opened),
            )
            if value in (None, "")
        ]
        if missing:
            raise FormError(f"missing: {', '.join(missing)}")
        trade = TradeInput(
            symbol=normalise_symbol(form["symbol"].strip()),
            side=form["side"],
            quantity=qty,  # type: ignore[arg-type]
            price=price,  # type: ignore[arg-type]
            opened_at=opened,
            asset_class=form.get("asset_class") or None,
            stop=number(form, "stop", "stop"),
            target=number(form, "target", "target"),
            bucket=(form.get("bucket") or "").strip(),
            tags=tags_of(form),
            notes=form.get("note") or "",
            fee=number(form, "fee", "fee") or 0.0,
        )
        with dash.store() as store:
            rec, warnings = add_trade(store, dash.config, trade)
    except TsysError as exc:
        return _list_page(dash, request, status=exc_status(exc), error=exc, form=form)
    return _redirect(f"/trades/{rec.id}", "added", warnings)


def export(dash: Dashboard, request: Any) -> Any:
    from starlette.responses import Response

    from tsys.store.manual_files import to_csv, to_json

    kind = request.path_params["kind"]
    if kind not in ("csv", "json"):
        raise FormError(f"no export format {kind!r}; use csv or json")
    with dash.store() as store:
        items = store.manual.export()
    text = to_csv(items) if kind == "csv" else to_json(items) + "\n"
    media = "text/csv" if kind == "csv" else "application/json"
    return Response(
        text,
        media_type=media,
        headers={"content-disposition": f'attachment; filename="manual-trades.{kind}"'},
    )


def import_(dash: Dashboard, request: Any, form: dict[str, str]) -> Any:
    from tsys.store.manual_files import parse_file

    kind = form.get("format") or "csv"
    try:
        text = form.get("text") or ""
        if not text.strip():
            raise FormError("nothing to import: paste the CSV or JSON of `tsys trades export`")
        rows = parse_file(f"import.{'json' if kind == 'json' else 'csv'}", text)
        with dash.store() as store:
            store.manual.import_trades(rows, skip_duplicates=bool(form.get("skip_duplicates")))
    except TsysError as exc:
        return _list_page(dash, request, status=exc_status(exc), error=exc, form=form)
    return _redirect("/trades", "imported")


# ------------------------------------------------------------------------------ one trade
def _trade_page(
    dash: Dashboard, request: Any, *, status: int = 200, error: Any = None, form: Any = None
) -> Any:
    from tsys.store.manual_trade import parse_id
    from tsys.store.manual_version import version

    tid = request.path_params["tid"]
    with dash.store() as store:
        rec = store.manual.get(tid, include_deleted=True)
        P = store.models.ManualPosition
        deleted = P.get_by_id(parse_id(tid)).deleted_at
        ver = version(store, tid)
    opening = next((f for f in rec.fills if f.reason == "open"), None)
    return dash.page(
        request,
        "trade.html.j2",
        f"Trade {rec.id}",
        status=status,
        rec=rec,
        opening=opening,
        version=ver,
        deleted=deleted is not None,
        error=error,
        form=form or {},
        **_notices(request),
    )


def trade_page(dash: Dashboard, request: Any) -> Any:
    return _trade_page(dash, request)


def _write(dash: Dashboard, request: Any, form: dict[str, str], action: Any) -> Any:
    """Run ``action(store, tid)`` in one transaction after the version check; a refusal shows
    the trade's page again with the message and what was typed."""
    from tsys.store.manual_version import expect_version

    tid = request.path_params["tid"]
    try:
        with dash.store() as store, store.transaction():
            expect_version(store, tid, form.get("version") or None)
            return action(store, tid)
    except TsysError as exc:
        return _trade_page(dash, request, status=exc_status(exc), error=exc, form=form)


def edit(dash: Dashboard, request: Any, form: dict[str, str]) -> Any:
    def action(store: Any, tid: str) -> Any:
        from tsys.store.manual_checks import level_warnings

        rec = store.manual.get(tid)
        opening = next((f for f in rec.fills if f.reason == "open"), None)
        changes: dict[str, Any] = {
            "stop": number(form, "stop", "stop"),
            "target": number(form, "target", "target"),
            "notes": form.get("note"),
            "tags": tags_of(form) if "tags" in form else None,
            "bucket": form.get("bucket"),
        }
        qty, price = number(form, "qty", "quantity"), number(form, "price", "price")
        opened = when(form, "date", "date")
        if opening is not None:
            changes["quantity"] = qty if qty != opening.quantity else None
            changes["price"] = price if price != opening.price else None
            same_day = opened is not None and opened.date() == opening.timestamp.date()
            changes["opened_at"] = None if same_day else opened
        same = {
            "stop": rec.stop,
            "target": rec.target,
            "notes": rec.notes,
            "tags": list(rec.tags),
            "bucket": rec.bucket,
        }
        changes = {k: v for k, v in changes.items() if v is not None and same.get(k) != v}
        if not changes:
            raise FormError("nothing to change: every field is as stored")
        new = store.manual.edit(tid, **changes)
        warnings = level_warnings(
            new.side.value, new.entry_price, changes.get("stop"), changes.get("target")
        )
        return _redirect(f"/trades/{new.id}", "edited", warnings)

    return _write(dash, request, form, action)


def close(dash: Dashboard, request: Any, form: dict[str, str]) -> Any:
    def action(store: Any, tid: str) -> Any:
        price = number(form, "price", "exit price")
        at = when(form, "date", "close date")
        if price is None or at is None:
            raise FormError(
                "missing: "
                + ", ".join(n for n, v in (("exit price", price), ("close date", at)) if v is None)
            )
        rec = store.manual.close(
            tid,
            price=price,
            at=at,
            quantity=number(form, "qty", "quantity"),
            fee=number(form, "fee", "fee") or 0.0,
        )
        return _redirect(f"/trades/{rec.id}", "closed" if rec.closed_at is not None else "partial")

    return _write(dash, request, form, action)


def delete(dash: Dashboard, request: Any, form: dict[str, str]) -> Any:
    def action(store: Any, tid: str) -> Any:
        rec = store.manual.delete(tid)
        return _redirect(f"/trades/{rec.id}", "deleted")

    return _write(dash, request, form, action)


def undelete(dash: Dashboard, request: Any, form: dict[str, str]) -> Any:
    def action(store: Any, tid: str) -> Any:
        rec = store.manual.undelete(tid)
        return _redirect(f"/trades/{rec.id}", "restored")

    return _write(dash, request, form, action)
