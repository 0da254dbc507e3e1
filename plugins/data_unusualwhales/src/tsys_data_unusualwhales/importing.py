"""``tsys options import FILE``: alerts from a CSV or JSON export, normalised like fetched ones.

JSON: a list of alerts, or the API's wrapping ``{"data": [...]}``, or one alert per line (the
websocket's frames ``["flow-alerts", {...}]`` included). CSV: a header row with the API's field
names (``ticker, option_chain, created_at, total_premium, ...``) or tsys's own flow columns
(``timestamp, symbol, option_type, premium, volume, open_interest, rule``).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from tsys.api import DataError, OptionAlerts
from tsys_data_unusualwhales.normalize import SessionCalendar
from tsys_data_unusualwhales.sync import SyncReport, normalize_all

IMPORT_SOURCE = "import"


def read_items(path: Path) -> list[Any]:
    """The raw alerts of an export file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if path.suffix.lower() == ".csv" or (text[:1] not in "[{" and "," in text.splitlines()[0]):
        rows = list(csv.DictReader(text.splitlines()))
        return [{k.strip(): v for k, v in r.items() if k is not None} for r in rows]
    try:
        data = json.loads(text)
    except ValueError:
        data = None
        items = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except ValueError:
                raise DataError(f"{path} line {n} is not JSON") from None
    else:
        items = data if isinstance(data, list) else [data]
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        items = data["data"]
    out = []
    for item in items:
        if isinstance(item, list) and len(item) == 2 and isinstance(item[1], dict):
            item = item[1]  # a websocket frame [channel, payload]
        out.append(item)
    return out


def import_file(path: Path, alerts: OptionAlerts) -> SyncReport:
    """Store the alerts of ``path`` (each once); malformed rows are counted, not fatal."""
    import datetime as dt

    items = read_items(path)
    report = SyncReport(newer_than=dt.datetime.min.replace(tzinfo=dt.UTC))
    report.received = len(items)
    got = normalize_all(items, source=IMPORT_SOURCE, calendar=SessionCalendar(), report=report)
    report.stored = alerts.add(got)
    if got:
        report.oldest = min(a.created_at for a in got)
        report.newest = max(a.created_at for a in got)
    report.stopped = f"imported {path.name}"
    return report
