"""Reading one price file (CSV or Parquet) into rows, or saying exactly why it cannot be read.

An empty, binary, UTF-16, semicolon-separated or header-less file, or a folder named like a
price file, raises :class:`UnreadableFile` (a :class:`~tsys.errors.DataError`) that names the
file and the reason; the CSV source skips that symbol with a warning and goes on.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsys.errors import DataError

_SNIFF_BYTES = 8192
_HINT = "expected comma-separated UTF-8 text with a header like date,open,high,low,close,volume"


class UnreadableFile(DataError):
    """A price file that cannot be read as a table of bars (the reason in words)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path} {reason}", hint=_HINT)
        self.path = Path(path)
        self.reason = reason


def _sniff(path: Path) -> None:
    """Refuse what pandas would misread or fail on with an unhelpful message."""
    if path.is_dir():
        raise UnreadableFile(path, "is a folder, not a file")
    try:
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise UnreadableFile(path, f"cannot be opened: {exc.strerror or exc}") from exc
    if not head.strip():
        raise UnreadableFile(path, "is empty")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableFile(path, "is UTF-16 text; save it as UTF-8")
    if b"\x00" in head:
        raise UnreadableFile(path, "is binary, not a CSV text file")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the sniff boundary
            raise UnreadableFile(path, "is not UTF-8 text") from exc
        text = head[: exc.start].decode("utf-8")
    header = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    if ";" in header and "," not in header:
        raise UnreadableFile(path, "uses ';' between fields; tsys reads comma-separated files")
    if "," not in header and "\t" in header:
        raise UnreadableFile(path, "uses tabs between fields; tsys reads comma-separated files")


def read_price_file(path: Path) -> pd.DataFrame:
    """Read one price file into a frame with columns ``date`` + OHLCV (float, unvalidated).

    The frame's index is the row's position in the file (line = index + 2). A file that cannot
    be read as a price table raises :class:`UnreadableFile` naming the file and the reason.
    """
    path = Path(path)
    parquet = path.suffix.lower() in (".parquet", ".pq")
    if not parquet:
        _sniff(path)
    try:
        if parquet:
            df = pd.read_parquet(path)
            if isinstance(df.index, pd.DatetimeIndex):
                df = df.reset_index()
        else:
            df = pd.read_csv(path, encoding="utf-8")
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise UnreadableFile(path, f"cannot be parsed: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # pyarrow's errors and the like
        raise UnreadableFile(path, f"cannot be read: {type(exc).__name__}: {exc}") from exc
    cols = {str(c).strip().lower().replace("_", " "): c for c in df.columns}
    date_col = next(
        (cols[k] for k in ("date", "datetime", "timestamp", "time", "index") if k in cols), None
    )
    missing = [f for f in ("open", "high", "low", "close") if f not in cols]
    if date_col is None or missing:
        lacking = ", ".join((["date"] if date_col is None else []) + missing)
        raise UnreadableFile(path, f"lacks column(s) {lacking}")
    # The text is kept so that a date that does not parse can be shown as written.
    out = pd.DataFrame({"date": _parse_dates(df[date_col]), "date_text": df[date_col].astype(str)})
    for f in ("open", "high", "low", "close"):
        out[f] = pd.to_numeric(df[cols[f]], errors="coerce").astype(np.float64).to_numpy()
    if "volume" in cols:
        out["volume"] = pd.to_numeric(df[cols["volume"]], errors="coerce").to_numpy(np.float64)
    else:
        out["volume"] = np.nan
    adj_key = next((k for k in ("adj close", "adjclose", "adjusted close") if k in cols), None)
    if adj_key is not None:
        adj = pd.to_numeric(df[cols[adj_key]], errors="coerce").to_numpy(np.float64)
        close = out["close"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(close > 0, adj / close, np.nan)
        for f in ("open", "high", "low", "close"):
            out[f] = out[f].to_numpy() * factor
    return out


def _parse_dates(col: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(col):
        s = col
    else:
        try:
            with warnings.catch_warnings():  # a garbage column is named by the rules, not warned
                warnings.filterwarnings("ignore", "Could not infer format", UserWarning)
                s = pd.to_datetime(col, errors="coerce")
        except (ValueError, TypeError):
            # Mixed UTC offsets (yfinance across DST): keep each row's own wall-clock date.
            s = pd.Series([pd.Timestamp(x) if _parsable(x) else pd.NaT for x in col])
            s = pd.Series([x.tz_localize(None) if x is not pd.NaT and x.tzinfo else x for x in s])
            s = pd.to_datetime(s, errors="coerce")
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_localize(None)
    return s.dt.normalize()


def _parsable(x: Any) -> bool:
    try:
        pd.Timestamp(x)
    except (ValueError, TypeError):
        return False
    return True
