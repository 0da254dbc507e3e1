"""The CSV and JSON formats of manual trades: ``tsys trades export`` and ``tsys trades import``.

Parsing never writes: :func:`parse_file` turns a file into ``(row number, trade or errors)``
pairs that :meth:`tsys.store.manual.ManualTrades.import_trades` stores in one transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from typing import Any

from tsys.store.manual_trade import CloseInput, InvalidTrade, TradeInput, clean_tags
from tsys.symbols import normalise_symbol

EXPORT_COLUMNS = (
    "ref",
    "action",
    "symbol",
    "side",
    "asset_class",
    "quantity",
    "price",
    "date",
    "fee",
    "stop",
    "target",
    "bucket",
    "tags",
    "notes",
)
_ALIASES = {"qty": "quantity", "note": "notes", "tag": "tags", "id": "ref"}


# ---------------------------------------------------------------------------- file formats
def parse_when(text: str, *, what: str = "date") -> dt.datetime:
    """Parse ``YYYY-MM-DD`` (midnight UTC) or an ISO datetime (naive = UTC)."""
    s = str(text).strip()
    try:
        if len(s) == 10:
            d = dt.date.fromisoformat(s)
            return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)
        value = dt.datetime.fromisoformat(s)
    except ValueError:
        raise InvalidTrade(f"{what} {s!r} is not a date; use YYYY-MM-DD") from None
    value = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    try:
        value.astimezone(dt.UTC)
    except OverflowError:
        raise InvalidTrade(f"{what} {s!r} is out of range; check the year") from None
    return value


def _fmt_when(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat()


def to_json(trades: Sequence[TradeInput]) -> str:
    """The JSON export: ``{"schema_version": 1, "trades": [...]}``."""
    items = []
    for t in trades:
        items.append(
            {
                "symbol": t.symbol,
                "side": t.side,
                "asset_class": t.asset_class,
                "quantity": t.quantity,
                "price": t.price,
                "date": _fmt_when(t.opened_at),
                "fee": t.fee,
                "stop": t.stop,
                "target": t.target,
                "bucket": t.bucket,
                "tags": list(t.tags),
                "notes": t.notes,
                "closes": [
                    {
                        "quantity": c.quantity,
                        "price": c.price,
                        "date": _fmt_when(c.at),
                        "fee": c.fee,
                    }
                    for c in t.closes
                ],
            }
        )
    return json.dumps({"schema_version": 1, "trades": items}, indent=2)


def to_csv(trades: Sequence[TradeInput]) -> str:
    """The CSV export: one ``open`` row per trade, then one ``close`` row per close."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    w.writeheader()
    for i, t in enumerate(trades, start=1):
        ref = f"T{i}"
        w.writerow(
            {
                "ref": ref,
                "action": "open",
                "symbol": t.symbol,
                "side": t.side,
                "asset_class": t.asset_class or "",
                "quantity": repr(t.quantity),
                "price": repr(t.price),
                "date": _fmt_when(t.opened_at),
                "fee": repr(t.fee),
                "stop": "" if t.stop is None else repr(t.stop),
                "target": "" if t.target is None else repr(t.target),
                "bucket": t.bucket,
                "tags": join_tags(t.tags),
                "notes": t.notes,
            }
        )
        for c in t.closes:
            w.writerow(
                {
                    "ref": ref,
                    "action": "close",
                    "symbol": t.symbol,
                    "quantity": repr(c.quantity),
                    "price": repr(c.price),
                    "date": _fmt_when(c.at),
                    "fee": repr(c.fee),
                }
            )
    return buf.getvalue()


def join_tags(tags: Sequence[str]) -> str:
    """Tags in one CSV cell: ``;`` between them, ``\\;`` and ``\\\\`` inside one."""
    return ";".join(t.replace("\\", "\\\\").replace(";", "\\;") for t in tags)


def split_tags(cell: str) -> list[str]:
    """The tags of a CSV cell written by :func:`join_tags` (or typed by hand: ``a;b``).

    A backslash escapes only ``;`` and itself, so an older export's ``a\\b`` stays as it was.
    """
    if cell == "":
        return []
    out, cur, i = [], [], 0
    while i < len(cell):
        c = cell[i]
        if c == "\\" and cell[i + 1 : i + 2] in (";", "\\"):
            cur.append(cell[i + 1])
            i += 2
            continue
        if c == ";":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


def parse_file(name: str, text: str) -> list[tuple[int, TradeInput | list[str]]]:
    """Parse an import file (CSV or JSON by extension) into numbered trades or row errors."""
    lower = name.lower()
    if lower.endswith(".json"):
        return _parse_json(text)
    if lower.endswith(".csv"):
        return _parse_csv(text)
    raise InvalidTrade(f"cannot tell the format of {name}: expected a .csv or .json file")


def _float_field(
    row: dict[str, Any], key: str, errors: list[str], *, required: bool
) -> float | None:
    raw = row.get(key)
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        if required:
            errors.append(f"{key} is missing")
        return None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    try:
        return float(str(raw).replace(",", ""))
    except ValueError:
        errors.append(f"{key} must be a number, got {raw!r}")
        return None


def _when_field(row: dict[str, Any], key: str, errors: list[str]) -> dt.datetime | None:
    raw = row.get(key)
    if raw is None or str(raw).strip() == "":
        errors.append(f"{key} is missing")
        return None
    try:
        return parse_when(str(raw), what=key)
    except InvalidTrade as exc:
        errors.append(exc.message)
        return None


def _trade_from_mapping(
    row: dict[str, Any], closes: Sequence[CloseInput]
) -> TradeInput | list[str]:
    errors: list[str] = []
    symbol = str(row.get("symbol") or "").strip()
    if not symbol:
        errors.append("symbol is missing")
    side = str(row.get("side") or "").strip().lower()
    if not side:
        errors.append("side is missing")
    qty = _float_field(row, "quantity", errors, required=True)
    price = _float_field(row, "price", errors, required=True)
    fee = _float_field(row, "fee", errors, required=False) or 0.0
    stop = _float_field(row, "stop", errors, required=False)
    target = _float_field(row, "target", errors, required=False)
    when = _when_field(row, "date", errors)
    tags_raw = row.get("tags") or []
    tags = tags_raw if isinstance(tags_raw, list) else split_tags(str(tags_raw))
    ac = str(row.get("asset_class") or "").strip().lower() or None
    if errors:
        return errors
    assert qty is not None and price is not None and when is not None
    return TradeInput(
        symbol=normalise_symbol(symbol),
        side=side,
        quantity=qty,
        price=price,
        opened_at=when,
        asset_class=ac,
        stop=stop,
        target=target,
        bucket=str(row.get("bucket") or ""),
        tags=tuple(clean_tags(tags)),
        notes=str(row.get("notes") or ""),
        fee=fee,
        closes=tuple(closes),
    )


def _normalise_keys(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if k is None:
            continue
        key = str(k).strip().lower()
        out[_ALIASES.get(key, key)] = v
    return out


def _parse_csv(text: str) -> list[tuple[int, TradeInput | list[str]]]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        raise InvalidTrade("the CSV file is empty; expected a header row")
    headers = {_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in reader.fieldnames}
    missing = {"symbol", "side", "quantity", "price", "date"} - headers
    if missing:
        raise InvalidTrade(
            f"the CSV header lacks {', '.join(sorted(missing))}",
            hint="columns: " + ",".join(EXPORT_COLUMNS) + " (ref/action optional)",
        )
    opens: list[tuple[int, dict[str, Any]]] = []
    closes: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    refs: dict[str, int] = {}
    bad: list[tuple[int, list[str]]] = []
    for rowno, raw in enumerate(reader, start=2):
        row = _normalise_keys(raw)
        action = str(row.get("action") or "open").strip().lower()
        ref = str(row.get("ref") or "").strip()
        if action == "open":
            if ref:
                if ref in refs:
                    bad.append((rowno, [f"ref {ref!r} already used by row {refs[ref]}"]))
                    continue
                refs[ref] = rowno
            opens.append((rowno, row))
        elif action == "close":
            if not ref:
                bad.append((rowno, ["a close row needs the ref of its open row"]))
            else:
                closes.setdefault(ref, []).append((rowno, row))
        else:
            bad.append((rowno, [f"action must be 'open' or 'close', got {action!r}"]))
    for ref, rows in closes.items():
        if ref not in refs:
            for rowno, _ in rows:
                bad.append((rowno, [f"close refers to ref {ref!r}, which no open row has"]))
    out: list[tuple[int, TradeInput | list[str]]] = list(bad)
    for rowno, row in opens:
        ref = str(row.get("ref") or "").strip()
        close_inputs, errors = _closes_from_rows(closes.get(ref, []) if ref else [])
        if errors:
            out.append((rowno, errors))
            continue
        out.append((rowno, _trade_from_mapping(row, close_inputs)))
    out.sort(key=lambda x: x[0])
    return out


def _closes_from_rows(
    rows: Sequence[tuple[int, dict[str, Any]]],
) -> tuple[list[CloseInput], list[str]]:
    closes, errors = [], []
    for rowno, row in rows:
        errs: list[str] = []
        q = _float_field(row, "quantity", errs, required=True)
        p = _float_field(row, "price", errs, required=True)
        f = _float_field(row, "fee", errs, required=False) or 0.0
        at = _when_field(row, "date", errs)
        if errs:
            errors += [f"close (row {rowno}): {e}" for e in errs]
        else:
            closes.append(CloseInput(q, p, at, f))
    return closes, errors


def _parse_json(text: str) -> list[tuple[int, TradeInput | list[str]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidTrade(f"the JSON file is not valid JSON: {exc}") from None
    if isinstance(data, dict):
        items = data.get("trades")
    else:
        items = data
    if not isinstance(items, list):
        raise InvalidTrade('expected a JSON list of trades, or {"trades": [...]}')
    out: list[tuple[int, TradeInput | list[str]]] = []
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            out.append((i, [f"expected an object, got {type(item).__name__}"]))
            continue
        row = _normalise_keys(item)
        raw_closes = row.get("closes") or []
        if not isinstance(raw_closes, list):
            out.append((i, ["closes must be a list"]))
            continue
        close_inputs, errors = _closes_from_rows(
            [
                (j, _normalise_keys(c))
                for j, c in enumerate(raw_closes, start=1)
                if isinstance(c, dict)
            ]
        )
        if errors:
            out.append((i, errors))
            continue
        out.append((i, _trade_from_mapping(row, close_inputs)))
    return out
