"""``tsys dashboard`` over HTTP: a real server on loopback, a real client, the CLI's figures.

Every page answers on the demo world with the SYNTHETIC banner; the figures on the pages are
the ones ``--json`` prints (the same functions make both); writes go through the store's
validation with the CLI's messages; CSRF, the access token and the Host check refuse what they
must; a stale edit is refused and loses nothing; secrets never reach a page.
"""

from __future__ import annotations

import re

import pytest

from .conftest import DAYS, csrf_of, data_values, running, tsys

PAGES = ("/", "/portfolio", "/paper", "/trades", "/research", "/runs", "/runs/diff")


def test_every_page_answers_with_the_synthetic_banner(client):
    for path in PAGES:
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:500])
        assert 'id="synthetic-banner"' in r.text, path
        assert "SYNTHETIC DATA" in r.text
    for path in ("/paper/report", f"/runs/{DAYS[-1]}/newsletter"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "SYNTHETIC" in r.text


def test_today_shows_the_latest_runs_plans(client):
    run = tsys("runs", "show", "--json")
    html = client.get("/").text
    assert f"{run['as_of']}" in html
    for b in run["buckets"]:
        assert f'id="bucket-{b["bucket"]}"' in html
        for plan in b["plans"]:
            assert f"<b>{plan['allocation']['signal']['symbol']}</b>" in html
    older = client.get(f"/?as_of={DAYS[0]}")
    assert older.status_code == 200 and f"{DAYS[0]}" in older.text
    bad = client.get("/?as_of=yesterday")
    assert bad.status_code == 400 and "is not a date" in bad.text


def test_portfolio_figures_equal_the_cli_json(client):
    cli = tsys("portfolio", "--json")
    html = client.get("/portfolio").text
    totals = data_values(html, "data-total")
    for key in ("positions", "market_value", "gross_exposure", "unrealized_pnl", "money_at_risk"):
        assert totals[key] == cli["totals"][key], key
    assert cli["totals"]["positions"] >= 1, "the demo paper account should hold something"
    for p in cli["positions"]:
        row = re.search(rf'<tr data-id="{re.escape(p["id"])}".*?</tr>', html, re.S)
        assert row, p["id"]
        mv = re.search(r'data-col="market_value" data-value="([^"]*)"', row.group(0)).group(1)
        assert (float(mv) if mv else None) == p["market_value"]
    for dim, rows in cli["exposure"].items():
        table = re.search(rf'data-dim="{dim}">(.*?)</table>', html, re.S).group(1)
        assert [float(v) for v in re.findall(r'data-value="([^"]+)"', table)] == [
            r["value"] for r in rows.values()
        ]


def test_paper_figures_equal_the_paper_report_json(client):
    cli = tsys("paper", "report", "--json")
    html = client.get("/paper").text
    got = data_values(html, "data-key")
    assert got["cash"] == cli["cash"]
    assert got["equity"] == cli["equity"]
    assert cli["drift"] is not None
    assert got["final_drift"] == cli["drift"]["final_drift"]
    orders = tsys("paper", "orders", "--json")
    for o in orders:
        assert o["order"]["client_order_id"] in html
    assert 'id="reconcile"' in html and "match the record" in html


def test_runs_list_and_diff(client):
    rows = tsys("runs", "list", "--json")
    html = client.get("/runs").text
    assert re.findall(r'<tr data-day="([^"]+)"', html) == [r["as_of"] for r in rows][::-1]
    diff = client.get(f"/runs/diff?a={DAYS[0]}&b={DAYS[1]}")
    assert diff.status_code == 200
    assert 'id="diff"' in diff.text or 'id="no-diff"' in diff.text


def _add(client, **fields):
    page = client.get("/trades").text
    form = {"csrf": csrf_of(page), **fields}
    return client.post("/trades", data=form)


def test_manual_trade_add_close_delete_undo_through_the_forms(client):
    r = _add(
        client,
        symbol="xlk",
        side="buy",
        qty="10",
        price="100",
        date="2024-03-12",
        stop="90",
        tags="dash;tech",
        note="from the dashboard",
    )
    assert r.status_code == 303, r.text[:800]
    tid = re.search(r"/trades/(M-\d+)", r.headers["location"]).group(1)
    shown = tsys("trades", "show", tid, "--json")
    assert (
        shown["symbol"] == "XLK" and shown["quantity"] == 10.0 and shown["tags"] == ["dash", "tech"]
    )

    page = client.get(f"/trades/{tid}").text
    assert "trade added" not in page  # the notice comes with the redirect only
    version = re.search(r'name="version" value="([^"]+)"', page).group(1)
    close = client.post(
        f"/trades/{tid}/close",
        data={"csrf": csrf_of(page), "version": version, "form": "close", "price": "110",
              "date": "2024-03-13", "qty": "5"},
    )  # fmt: skip
    assert close.status_code == 303, close.text[:800]
    shown = tsys("trades", "show", tid, "--json")
    assert shown["quantity"] == 5.0 and shown["realized_pnl"] == pytest.approx(50.0)
    page = client.get(f"/trades/{tid}").text
    assert data_values(page, "data-key")["quantity"] == 5.0

    cli = tsys("portfolio", "--json")
    html = client.get("/portfolio?source=manual").text
    assert data_values(html, "data-total")["realized_pnl"] == cli["totals"]["realized_pnl"]
    assert f'data-id="{tid}"' in html

    version = re.search(r'name="version" value="([^"]+)"', page).group(1)
    gone = client.post(f"/trades/{tid}/delete", data={"csrf": csrf_of(page), "version": version})
    assert gone.status_code == 303
    assert tsys("trades", "show", tid, ok=False).exit_code != 0
    page = client.get(f"/trades/{tid}").text
    assert 'id="undo-button"' in page
    version = re.search(r'name="version" value="([^"]+)"', page).group(1)
    back = client.post(f"/trades/{tid}/undelete", data={"csrf": csrf_of(page), "version": version})
    assert back.status_code == 303
    assert tsys("trades", "show", tid, "--json")["quantity"] == 5.0


def test_a_refused_trade_shows_the_clis_message_and_keeps_the_form(client):
    before = len(tsys("trades", "list", "--json"))
    r = _add(client, symbol="XLV", side="buy", qty="-3", price="50", date="2024-03-12")
    assert r.status_code == 400
    cli = tsys("trades", "add", "XLV", "--side", "buy", "--qty", "-3", "--price", "50",
               "--date", "2024-03-12", ok=False)  # fmt: skip
    assert cli.exit_code == 2
    message = cli.output.split("Error: ", 1)[1].splitlines()[0]
    assert message in r.text
    assert 'value="XLV"' in r.text  # what was typed is kept
    wrong_stop = _add(client, symbol="XLV", side="buy", qty="3", price="50", date="2024-03-12",
                      stop="60")  # fmt: skip
    assert wrong_stop.status_code == 400 and "stop" in wrong_stop.text
    not_a_number = _add(
        client, symbol="XLV", side="buy", qty="three", price="50", date="2024-03-12"
    )
    assert not_a_number.status_code == 400
    assert "quantity: &#39;three&#39; is not a number" in not_a_number.text
    assert len(tsys("trades", "list", "--json")) == before


def test_a_stale_edit_is_refused_and_nothing_is_lost(client):
    r = _add(client, symbol="XLF", side="buy", qty="4", price="40", date="2024-03-12", stop="35")
    tid = re.search(r"/trades/(M-\d+)", r.headers["location"]).group(1)
    tab1 = client.get(f"/trades/{tid}").text
    tab2 = client.get(f"/trades/{tid}").text
    v1 = re.search(r'name="version" value="([^"]+)"', tab1).group(1)
    v2 = re.search(r'name="version" value="([^"]+)"', tab2).group(1)
    assert v1 == v2
    first = client.post(f"/trades/{tid}/edit",
                        data={"csrf": csrf_of(tab1), "version": v1, "form": "edit", "stop": "36"})  # fmt: skip
    assert first.status_code == 303, first.text[:800]
    second = client.post(f"/trades/{tid}/edit",
                         data={"csrf": csrf_of(tab2), "version": v2, "form": "edit", "stop": "37"})  # fmt: skip
    assert second.status_code == 409
    assert "changed elsewhere" in second.text and 'value="37"' in second.text
    assert tsys("trades", "show", tid, "--json")["stop"] == 36.0
    # the command line's edit makes an open form stale too
    page = client.get(f"/trades/{tid}").text
    v3 = re.search(r'name="version" value="([^"]+)"', page).group(1)
    tsys("trades", "edit", tid, "--stop", "38")
    third = client.post(f"/trades/{tid}/edit",
                        data={"csrf": csrf_of(page), "version": v3, "form": "edit", "stop": "39"})  # fmt: skip
    assert third.status_code == 409
    assert tsys("trades", "show", tid, "--json")["stop"] == 38.0


def test_a_post_without_the_csrf_token_is_refused(client):
    before = len(tsys("trades", "list", "--json"))
    fields = {"symbol": "XLE", "side": "buy", "qty": "1", "price": "10", "date": "2024-03-12"}
    assert client.post("/trades", data=fields).status_code == 403
    assert client.post("/trades", data={**fields, "csrf": "guess"}).status_code == 403
    assert len(tsys("trades", "list", "--json")) == before


def test_a_foreign_host_header_is_refused(client):
    assert client.get("/", headers={"host": "attacker.example"}).status_code == 400
    assert client.get("/", headers={"host": "localhost:1"}).status_code == 200


def test_a_token_guards_every_request_and_never_reaches_a_page(world):
    import httpx

    token = "dash-token-0123456789"
    with running(world["config"], token=token) as (url, _):
        with httpx.Client(base_url=url, timeout=120) as c:
            assert c.get("/").status_code == 401
            assert c.get("/trades?token=wrong").status_code == 401
            r = c.get("/trades?token=" + token + "&status=open")
            assert r.status_code == 303 and r.headers["location"] == "/trades?status=open"
            page = c.get("/trades?status=open")  # the cookie carries it now
            assert page.status_code == 200 and token not in page.text
        with httpx.Client(base_url=url, timeout=120) as c:
            bearer = c.get("/runs", headers={"authorization": f"Bearer {token}"})
            assert bearer.status_code == 200


def test_off_loopback_a_token_is_generated():
    from tsys.dashboard.security import guard_for

    guard, generated = guard_for("0.0.0.0", None)
    assert generated and guard.token == generated and not guard.hosts
    guard, generated = guard_for("127.0.0.1", None)
    assert generated is None and guard.token is None and "localhost" in guard.hosts


def test_secrets_never_reach_a_page(client, monkeypatch):
    secret = "s3cr3t-smtp-pass-word"
    monkeypatch.setenv("TSYS_SMTP_PASSWORD", secret)
    r = _add(client, symbol="XLU", side="buy", qty="1", price="60", date="2024-03-12",
             note=f"pw {secret}")  # fmt: skip
    tid = re.search(r"/trades/(M-\d+)", r.headers["location"]).group(1)
    for path in (f"/trades/{tid}", "/trades", "/portfolio"):
        assert secret not in client.get(path).text, path


def test_export_is_the_clis_export(client):
    r = client.get("/trades/export.csv")
    assert r.status_code == 200
    assert r.text == tsys("trades", "export", "--format", "csv").output


def test_import_through_the_form_is_all_or_nothing(client):
    page = client.get("/trades").text
    before = len(tsys("trades", "list", "--json"))
    good = "symbol,side,quantity,price,date\nXLB,buy,3,80,2024-03-12\nXLC,sell,2,60,2024-03-12\n"
    bad = good + "XLRE,buy,-1,40,2024-03-12\n"
    refused = client.post(
        "/trades/import", data={"csrf": csrf_of(page), "format": "csv", "text": bad}
    )
    assert refused.status_code == 400 and "import refused, nothing was written" in refused.text
    assert "row 4" in refused.text
    assert len(tsys("trades", "list", "--json")) == before
    done = client.post(
        "/trades/import", data={"csrf": csrf_of(page), "format": "csv", "text": good}
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/trades?done=imported")
    assert len(tsys("trades", "list", "--json")) == before + 2
    again = client.post("/trades/import", data={"csrf": csrf_of(page), "text": good})
    assert again.status_code == 400 and "duplicate" in again.text


def test_research_lists_the_reports_of_the_data_dir(client, server):
    from tsys.workspace import workspace

    folder = workspace(server["config"]).root / "validation"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sp500-broken.json").write_text("{not json", encoding="utf-8")
    html = client.get("/research").text
    assert "sp500-broken" in html and "unreadable" in html
    assert 'id="params"' in html and "sp500" in html
    assert client.get("/research/validation/none-such").status_code == 404
    assert client.get("/research/elsewhere/x").status_code == 404
    assert client.get("/research/validation/..%2F..%2Fetc").status_code == 404
