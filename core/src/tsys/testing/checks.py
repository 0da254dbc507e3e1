"""Running a contract suite: every check once, each result kept, every failure listed at once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs


@attrs.frozen
class CheckResult:
    """One check of a contract suite: passed or not, and what it found or why it failed."""

    name: str
    ok: bool
    detail: str = ""


def run_checks(
    checks: Mapping[str, Callable[..., str]],
    args: tuple[Any, ...],
    *,
    subject: str,
    skip: Iterable[str] = (),
) -> list[CheckResult]:
    """Call every check not in ``skip`` with ``args``; raise AssertionError naming ``subject``
    and listing each failed check, else return the results (all ok)."""
    skipped = set(skip)
    results = []
    for name, fn in checks.items():
        if name in skipped:
            continue
        try:
            results.append(CheckResult(name, True, fn(*args)))
        except AssertionError as exc:
            results.append(CheckResult(name, False, str(exc) or type(exc).__name__))
    failed = [r for r in results if not r.ok]
    if failed:
        raise AssertionError(
            f"{subject} fails its contract:\n"
            + "\n".join(f"  {r.name}: {r.detail}" for r in failed)
        )
    return results
