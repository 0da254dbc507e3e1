"""The ``sp500-members`` data source: S&P 500 constituents without a key.

It downloads the public-domain constituents CSV of the ``datasets/s-and-p-500-companies``
project (the file ``../shared/data/meta`` was taken from: ``Symbol,Security,GICS Sector,...``),
keeps each day's copy in its cache folder as ``constituents_YYYY-MM-DD.csv`` (the date it was
fetched, recorded in the name and in ``fetched.json``), and so accumulates, day by day, a
point-in-time history of the index: :meth:`MembershipSource.universe` answers an as-of date
with the newest copy taken on or before it. A copy is fetched at most once per day; when the
download fails, the newest cached copy is used and the run says so.

Membership before the first copy is not known (no survivorship-free history is invented):
the first copy also answers the few days before it (``lead_days``, default 7, for a run whose
as-of is the previous session) and says so; earlier dates get ``None``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any, ClassVar, Self

import attrs

from tsys.data.source import DataSource, Fundamentals, SourceContext
from tsys.errors import DataError
from tsys.options import above, at_least, http_url

#: The public-domain constituents list (Open Data Commons PDDL), updated by its maintainers.
DEFAULT_URL = (
    "https://raw.githubusercontent.com/datasets/s-and-p-500-companies/main/data/constituents.csv"
)
PREFIX = "constituents_"


@attrs.frozen
class MembershipOptions:
    """``[data.options.sp500-members]``."""

    url: str = attrs.field(default=DEFAULT_URL, validator=http_url())
    timeout: float = attrs.field(default=20.0, validator=above(0))
    #: Days before the first cached copy that it still answers (with a note).
    lead_days: int = attrs.field(default=7, validator=at_least(0))


@attrs.frozen
class Snapshot:
    day: dt.date
    path: Path


class MembershipSource(DataSource):
    """Point-in-time ``universe("sp500")`` and GICS sectors from the public constituents list."""

    name: ClassVar[str] = "sp500-members"
    options_class: ClassVar[type] = MembershipOptions
    provides: ClassVar[frozenset[str]] = frozenset({"universe", "fundamentals"})

    def __init__(self, options: MembershipOptions, ctx: SourceContext) -> None:
        self.options = options
        self.ctx = ctx
        self.folder = Path(ctx.cache_dir)
        self._fetched_for: dt.date | None = None
        self._rows: dict[Path, list[dict[str, str]]] = {}
        #: Why the last answer was what it was (shown by the bucket and ``tsys data universe``).
        self.last_reason: str | None = None

    @classmethod
    def from_config(cls, options: dict[str, Any], ctx: SourceContext) -> Self:
        opts = cls.options_from(options)
        return cls(opts, ctx)

    def describe(self) -> str:
        return f"sp500-members {self.options.url}"

    # ------------------------------------------------------------------ the copies
    def snapshots(self) -> list[Snapshot]:
        """The cached copies, oldest first."""
        out = []
        for f in self.folder.glob(f"{PREFIX}*.csv"):
            try:
                out.append(Snapshot(dt.date.fromisoformat(f.stem[len(PREFIX) :]), f))
            except ValueError:
                continue
        return sorted(out, key=lambda s: s.day)

    def refresh(self, today: dt.date | None = None) -> Snapshot | None:
        """Fetch today's copy unless it is cached; the newest copy (None: there is none)."""
        today = today or self.ctx.as_of or dt.datetime.now(dt.UTC).date()
        have = self.snapshots()
        if have and have[-1].day >= today:
            return have[-1]
        if self._fetched_for == today:  # one attempt per run
            return have[-1] if have else None
        self._fetched_for = today
        try:
            text = self._download()
            rows = _parse(text)
        except DataError as exc:
            if have:
                self.ctx.warn(
                    f"sp500-members: {exc.message}; using the copy of {have[-1].day.isoformat()}"
                )
                return have[-1]
            self.ctx.warn(f"sp500-members: {exc.message}; S&P 500 membership unknown")
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{PREFIX}{today.isoformat()}.csv"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        self._rows[path] = rows
        meta = {
            "url": self.options.url,
            "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "for_day": today.isoformat(),
            "members": len(rows),
        }
        (self.folder / "fetched.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return Snapshot(today, path)

    def _download(self) -> str:
        import urllib.error
        import urllib.request

        req = urllib.request.Request(self.options.url, headers={"User-Agent": "tsys"})
        try:
            with urllib.request.urlopen(req, timeout=self.options.timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:
            raise DataError(f"the constituents list answered HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DataError(f"the constituents list could not be fetched ({reason})") from None
        try:
            return body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DataError("the constituents list is not UTF-8 text") from None

    def _read(self, snap: Snapshot) -> list[dict[str, str]]:
        if snap.path not in self._rows:
            try:
                self._rows[snap.path] = _parse(snap.path.read_text(encoding="utf-8"))
            except (OSError, DataError) as exc:
                self.ctx.warn(f"sp500-members: {snap.path} unreadable ({exc}); skipped")
                self._rows[snap.path] = []
        return self._rows[snap.path]

    # ------------------------------------------------------------------ answers
    def universe(self, name: str, as_of: dt.date) -> list[str] | None:
        if name != "sp500":
            return None
        self.refresh()
        snaps = [s for s in self.snapshots() if self._read(s)]
        if not snaps:
            self.last_reason = "no copy of the constituents list"
            return None
        before = [s for s in snaps if s.day <= as_of]
        if before:
            snap = before[-1]
            self.last_reason = f"S&P 500 members as listed on {snap.day.isoformat()}"
        elif (snaps[0].day - as_of).days <= self.options.lead_days:
            snap = snaps[0]
            self.last_reason = (
                f"S&P 500 members as listed on {snap.day.isoformat()}, "
                f"{(snap.day - as_of).days} day(s) after {as_of.isoformat()}"
            )
        else:
            self.last_reason = (
                f"membership on {as_of.isoformat()} is not known: the first copy of the "
                f"list is from {snaps[0].day.isoformat()}"
            )
            return None
        return sorted({_symbol(r["Symbol"]) for r in self._read(snap)})

    def fundamentals(self, symbols: list[str]) -> dict[str, Fundamentals] | None:
        snap = self.refresh()
        if snap is None:
            return None
        rows = {_symbol(r["Symbol"]): r for r in self._read(snap)}
        out = {}
        for s in symbols:
            r = rows.get(s)
            if r is not None:
                out[s] = Fundamentals(
                    symbol=s, name=r.get("Security") or None, sector=r.get("GICS Sector") or None
                )
        return out


def _symbol(raw: str) -> str:
    """``BRK.B`` as the bars sources spell it (``BRK-B``)."""
    return raw.strip().upper().replace(".", "-")


def _parse(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "Symbol" not in reader.fieldnames:
        raise DataError("the constituents list has no Symbol column (is the URL right?)")
    rows = [r for r in reader if (r.get("Symbol") or "").strip()]
    if len(rows) < 400:
        raise DataError(
            f"the constituents list has {len(rows)} rows; an S&P 500 list has about 500"
        )
    return rows
