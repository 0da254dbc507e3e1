"""Render the newsletter in headless Chromium at a 600 px mail viewport; nothing may overflow."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import attrs
import pytest

from tsys.contracts import NewsItem
from tsys.report.newsletter import render

from .conftest import make_run

REPO = Path(__file__).resolve().parents[3]
PROBE = (
    "<script>document.body.insertAdjacentHTML('beforeend', "
    "'<pre id=\"tsys-scroll-width\">' + document.documentElement.scrollWidth + '</pre>');"
    "</script>"
)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")


def _run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=600,2000",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)


def _scroll_width(tmp_path: Path, html: str) -> int:
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    out = _run_chromium(tmp_path, "--dump-dom", page.as_uri())
    found = re.search(r'id="tsys-scroll-width">(\d+)<', out.stdout)
    assert found, f"Chromium printed no width; stderr: {out.stderr[-2000:]}"
    return int(found.group(1))


def _stress_run():
    """The fixture run with hostile text and long unbroken words and links."""
    run = make_run(hostile=True)
    sp, *rest = run.buckets
    plan = sp.plans[0]
    sig = attrs.evolve(
        plan.allocation.signal,
        news=(
            *plan.allocation.signal.news,
            NewsItem(title="A" * 150, url="https://news.test/" + "x" * 300),
        ),
        rationale=("z" * 200, "momentum"),
    )
    plan = attrs.evolve(plan, allocation=attrs.evolve(plan.allocation, signal=sig))
    sp = attrs.evolve(sp, plans=(plan, *sp.plans[1:]), warnings=("w" * 250,))
    return attrs.evolve(run, buckets=(sp, *rest))


def test_newsletter_fits_a_600px_viewport(tmp_path, isolated_plugins):
    (nl,) = render(_stress_run())
    width = _scroll_width(tmp_path, nl.html)
    assert 0 < width <= 600, f"the newsletter is {width}px wide in a 600px viewport"

    page = tmp_path / "newsletter.html"
    page.write_text(nl.html, encoding="utf-8")
    shot = tmp_path / "newsletter-600.png"
    out = _run_chromium(tmp_path, f"--screenshot={shot}", page.as_uri())
    assert shot.is_file() and shot.stat().st_size > 10_000, out.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("TSYS_SAVE_SCREENSHOT"):
        target = REPO / "bench" / "out" / "newsletter-600.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)


def test_overflow_probe_can_fail(tmp_path):
    # The check above is only worth something if a too-wide page is caught.
    wide = "<html><body><table style='width:900px'><tr><td>x</td></tr></table></body></html>"
    assert _scroll_width(tmp_path, wide) > 600
