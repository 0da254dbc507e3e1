"""The dashboard in a real browser: Playwright driving Debian's Chromium.

Every page loads on the demo world with the SYNTHETIC banner and fits a 390 px phone without
horizontal scrolling (screenshots at 1280 and 390 px; saved under ``bench/out/`` with
``TSYS_SAVE_SCREENSHOT=1``); a manual trade added through the form shows in the portfolio with
the totals of ``tsys portfolio --json``; half of it is closed, it is deleted and the delete is
undone, each checked against the command line.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .conftest import data_values, tsys
from .test_routes import PAGES

REPO = Path(__file__).resolve().parents[2]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("CI must have Debian's chromium (.ci/run installs it with apt)")
    pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def _save(png: bytes, name: str) -> None:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("TSYS_SAVE_SCREENSHOT"):
        target = REPO / "bench" / "out" / f"dashboard-{name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(png)


def test_every_page_fits_a_desktop_and_a_phone(browser, server):
    for width in (1280, 390):
        page = browser.new_page(viewport={"width": width, "height": 900})
        for path in PAGES:
            resp = page.goto(server["url"] + path)
            assert resp is not None and resp.status == 200, path
            assert page.locator("#synthetic-banner").is_visible(), path
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"{path} is {scroll}px wide in a {width}px viewport"
            name = (path.strip("/").replace("/", "-") or "today") + f"-{width}"
            _save(page.screenshot(full_page=True), name)
        page.close()


def test_the_overflow_check_can_fail(browser):
    page = browser.new_page(viewport={"width": 390, "height": 900})
    page.set_content("<table style='width:900px'><tr><td>x</td></tr></table>")
    assert page.evaluate("document.documentElement.scrollWidth") > 390
    page.close()


def _totals(page) -> dict[str, float]:
    return data_values(page.content(), "data-total")


def test_a_manual_trade_through_the_browser(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server["url"] + "/trades")
    form = page.locator("#add-form")
    form.locator("input[name=symbol]").fill("XLP")
    form.locator("select[name=side]").select_option("buy")
    form.locator("input[name=qty]").fill("20")
    form.locator("input[name=price]").fill("70")
    form.locator("input[name=date]").fill("2024-03-12")
    form.locator("input[name=stop]").fill("63")
    form.locator("input[name=tags]").fill("browser")
    page.locator("#add-button").click()
    page.wait_for_url("**/trades/M-*")
    assert page.locator("#notice").inner_text() == "trade added"
    tid = page.url.split("/trades/")[1].split("?")[0]

    page.goto(server["url"] + "/portfolio")
    cli = tsys("portfolio", "--json")
    assert any(p["id"] == tid for p in cli["positions"])
    assert page.locator(f'tr[data-id="{tid}"]').count() == 1
    for key, value in _totals(page).items():
        assert value == cli["totals"][key], key

    page.goto(server["url"] + f"/trades/{tid}")
    close = page.locator("#close-form")
    close.locator("input[name=price]").fill("77")
    close.locator("input[name=date]").fill("2024-03-14")
    close.locator("input[name=qty]").fill("10")
    page.locator("#close-button").click()
    page.wait_for_url(f"**/trades/{tid}?done=partial*")
    shown = tsys("trades", "show", tid, "--json")
    assert shown["quantity"] == 10.0 and shown["realized_pnl"] == pytest.approx(70.0)
    assert data_values(page.content(), "data-key")["quantity"] == 10.0

    page.locator("#delete-button").click()
    page.wait_for_url(f"**/trades/{tid}?done=deleted*")
    assert page.locator("#status").inner_text() == "deleted"
    page.goto(server["url"] + "/portfolio")
    assert page.locator(f'tr[data-id="{tid}"]').count() == 0
    assert _totals(page)["positions"] == tsys("portfolio", "--json")["totals"]["positions"]

    page.goto(server["url"] + f"/trades/{tid}")
    page.locator("#undo-button").click()
    page.wait_for_url(f"**/trades/{tid}?done=restored*")
    assert page.locator("#status").inner_text() == "open"
    page.goto(server["url"] + "/portfolio?source=manual&tag=browser")
    cli = tsys("portfolio", "--json")
    mine = [p for p in cli["positions"] if p["id"] == tid]
    assert len(mine) == 1 and mine[0]["quantity"] == 10.0
    assert page.locator(f'tr[data-id="{tid}"]').count() == 1
    for key, value in _totals(page).items():
        assert value == cli["totals"][key], key
    page.close()
