"""Issue 22, membership: the keyless ``sp500-members`` source downloads the public constituents
CSV (here from a loopback server speaking plain HTTP, as raw.githubusercontent.com does),
caches one copy a day under its recorded date, keeps the point-in-time history it accumulates,
and says why it answers what it answers."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from werkzeug import Response

from tsys.cli import cli
from tsys.data.membership import MembershipSource
from tsys.data.source import SourceContext

HEADER = (
    "Symbol,Security,GICS Sector,GICS Sub-Industry,Headquarters Location,Date added,CIK,Founded"
)


def listing(*extra: str, n: int = 500, drop: str | None = None) -> str:
    rows = [HEADER]
    names = [f"S{i:03d}" for i in range(n)] + list(extra)
    for i, s in enumerate(names):
        if s != drop:
            rows.append(f'{s},Co {i},Financials,Banks,"Town, State",2000-01-01,{i},1900')
    return "\n".join(rows) + "\n"


class Server:
    def __init__(self, httpserver):
        self.body = listing("BRK.B")
        self.status = 200
        self.calls = 0
        httpserver.expect_request("/constituents.csv").respond_with_handler(self.handle)
        self.url = httpserver.url_for("/constituents.csv")

    def handle(self, request):
        self.calls += 1
        return Response(self.body, status=self.status, content_type="text/csv")


@pytest.fixture
def server(httpserver):
    return Server(httpserver)


def make(server, tmp_path, day: dt.date) -> MembershipSource:
    ctx = SourceContext(cache_dir=tmp_path / "sp500-members", as_of=day)
    return MembershipSource.from_config({"url": server.url, "timeout": 2}, ctx)


def test_fetches_once_a_day_and_records_the_date(server, tmp_path):
    d1 = dt.date(2024, 6, 3)
    src = make(server, tmp_path, d1)
    members = src.universe("sp500", d1)
    assert len(members) == 501 and "BRK-B" in members  # spelt as the bars sources spell it
    assert server.calls == 1
    assert src.universe("sp500", d1) == members and server.calls == 1
    again = make(server, tmp_path, d1)  # another run the same day: the cached copy
    assert again.universe("sp500", d1) == members and server.calls == 1
    meta = json.loads((tmp_path / "sp500-members" / "fetched.json").read_text())
    assert meta["for_day"] == "2024-06-03" and meta["members"] == 501
    assert (tmp_path / "sp500-members" / "constituents_2024-06-03.csv").is_file()
    assert src.last_reason == "S&P 500 members as listed on 2024-06-03"
    assert src.fundamentals(["BRK-B", "NOPE"])["BRK-B"].sector == "Financials"


def test_history_accumulates_point_in_time(server, tmp_path):
    d1, d2 = dt.date(2024, 6, 3), dt.date(2024, 6, 24)
    make(server, tmp_path, d1).universe("sp500", d1)
    server.body = listing("BRK.B", "NEWCO", drop="S000")  # an index change
    src = make(server, tmp_path, d2)
    now = src.universe("sp500", d2)
    assert "NEWCO" in now and "S000" not in now and server.calls == 2
    # the earlier day still answers with the copy of that day, not today's list
    then = src.universe("sp500", dt.date(2024, 6, 10))
    assert "S000" in then and "NEWCO" not in then
    assert src.last_reason == "S&P 500 members as listed on 2024-06-03"
    # a few days before the first copy: that copy, saying so; long before: unknown
    near = src.universe("sp500", dt.date(2024, 5, 31))
    assert near == then and "3 day(s) after 2024-05-31" in src.last_reason
    assert src.universe("sp500", dt.date(2023, 1, 3)) is None
    assert "not known" in src.last_reason
    assert src.universe("nasdaq100", d2) is None


def test_a_failed_download_uses_the_last_copy_and_says_so(server, tmp_path):
    d1, d2 = dt.date(2024, 6, 3), dt.date(2024, 6, 4)
    make(server, tmp_path, d1).universe("sp500", d1)
    server.status = 503
    src = make(server, tmp_path, d2)
    assert len(src.universe("sp500", d2)) == 501
    assert any("HTTP 503" in w and "copy of 2024-06-03" in w for w in src.ctx.warnings)
    src.universe("sp500", d2)
    assert server.calls == 2  # one attempt per run, not one per question


def test_no_copy_and_no_list_is_unknown_not_an_error(server, tmp_path):
    server.body = "<html>not found</html>"
    src = make(server, tmp_path, dt.date(2024, 6, 3))
    assert src.universe("sp500", dt.date(2024, 6, 3)) is None
    assert any("no Symbol column" in w for w in src.ctx.warnings)
    server.body = listing(n=20)
    src = make(server, tmp_path, dt.date(2024, 6, 4))
    assert src.universe("sp500", dt.date(2024, 6, 4)) is None
    assert any("20 rows" in w for w in src.ctx.warnings)


def test_data_universe_command_reads_it(server, isolated):
    (isolated / "tsys.toml").write_text(
        f'[data]\nsource = "demo"\n[data.options.sp500-members]\nurl = "{server.url}"\n'
    )
    res = CliRunner().invoke(
        cli, ["data", "universe", "sp500", "--source", "sp500-members", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert "BRK-B" in out["members"] and server.calls == 1
    assert out["why"].startswith("S&P 500 members as listed on")
