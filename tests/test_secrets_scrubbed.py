"""Issue 21.3: no secret leaves tsys, whatever a plugin or a vendor echoes back.

Every secret is set to a marker; a data source echoes them (as a misbehaving Alpaca error body
does: the request headers, an ``?apikey=`` URL, a database URL with a password holding ``@``)
into an error, a log line and stdout; then every byte tsys writes (every file under the test
folder), prints (stdout, stderr), logs and sends (every SMTP message, decoded) is searched for
every marker and its escaped forms.
"""

from __future__ import annotations

import email
import json
import logging
import os
import re
import sys
from email import policy
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from e2e_smtp import PASSWORD, email_config, start_smtp

from tsys import redact
from tsys.cli import cli
from tsys.errors import DataError
from tsys.hookspecs import hookimpl

AS_OF = "2024-06-28"
MARKERS = {
    "ALPACA_API_KEY": "PKMARKERalpacakey0001",
    "ALPACA_API_SECRET": "MARKERalpacasecret/+=0002",
    "ALPHAVANTAGE_API_KEY": "MARKERavkey0003",
    "COINGECKO_API_KEY": "CG-MARKERcgkey0004",
    "UNUSUAL_WHALES_API_TOKEN": "MARKERuwtoken0005",
    "TSYS_SMTP_PASSWORD": PASSWORD,
}
DB_PASSWORD = "MARKER@db:pass0006"  # an '@' and a ':' inside the password
ENV_PASSWORD = "MARKERenvpassword0007"

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def _echo_of_secrets() -> str:
    """What a vendor error body that echoes the request looks like."""
    body = {
        "message": "forbidden",
        "request": {
            "headers": {
                "APCA-API-KEY-ID": os.environ["ALPACA_API_KEY"],
                "APCA-API-SECRET-KEY": os.environ["ALPACA_API_SECRET"],
                "Authorization": "Bearer " + os.environ["UNUSUAL_WHALES_API_TOKEN"],
                "x-cg-pro-api-key": os.environ["COINGECKO_API_KEY"],
            },
            "url": "https://www.alphavantage.co/query?function=NEWS&apikey="
            + os.environ["ALPHAVANTAGE_API_KEY"],
        },
        "db": "postgresql://tsys:" + DB_PASSWORD + "@db.example:5432/tsys",
        "smtp": "AUTH PLAIN user " + os.environ["TSYS_SMTP_PASSWORD"],
    }
    return json.dumps(body)


class _Leaky:
    """``leaky``: the demo market, but the crypto bars fail with an error echoing every secret."""

    @hookimpl
    def register_data_sources(self, register):
        from tsys.data.demo import DemoSource

        class LeakySource(DemoSource):
            name = "leaky"

            def bars(self, symbols, *args, **kwargs):
                if any("USD" in s for s in symbols):
                    logging.getLogger("leaky").warning("request failed: %s", _echo_of_secrets())
                    print("debug echo:", _echo_of_secrets())
                    raise DataError("vendor said: " + _echo_of_secrets())
                return super().bars(symbols, *args, **kwargs)

        register(LeakySource)


@pytest.fixture
def leaky_plugin(register_plugin):
    register_plugin(_Leaky(), "leaky-test-plugin")


@pytest.fixture
def secrets_env(isolated, monkeypatch):
    for name, value in MARKERS.items():
        monkeypatch.setenv(name, value)
    return isolated


def _forms(secret: str) -> set[str]:
    """The marker and every escaped form it could leave in (its long tail catches '@' leaks)."""
    tail = secret.split("@")[-1] if "@" in secret else secret
    return {secret, quote(secret, safe=""), json.dumps(secret)[1:-1], tail}


def _all_secrets() -> list[str]:
    return [*MARKERS.values(), DB_PASSWORD, ENV_PASSWORD]


def _leaks(text: str) -> list[str]:
    return [s for s in _all_secrets() for f in _forms(s) if f in text]


def _files_leaking(root: Path) -> list[str]:
    bad = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes().decode("utf-8", errors="replace")
            if _leaks(data):
                bad.append(f"{path.relative_to(root)}: {_leaks(data)}")
    return bad


def _decoded(content: bytes) -> str:
    msg = email.message_from_bytes(content, policy=policy.default)
    parts = [str(msg["Subject"]), content.decode("utf-8", "replace")]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


def test_full_run_and_error_paths_leak_no_secret(secrets_env, leaky_plugin, caplog):
    """Every secret set to a marker; grep every byte written, printed, logged and sent."""
    tmp = secrets_env
    ctl, handler, _auth, port = start_smtp()
    outputs = []
    try:
        (tmp / "tsys.toml").write_text('[data]\nsource = "leaky"\n\n' + email_config(port))
        runner = CliRunner()

        def run(*args, env=None):
            result = runner.invoke(cli, list(args), env=env)
            outputs.append(f"$ tsys {' '.join(args)}\n{result.output}")
            return result

        with caplog.at_level(logging.INFO):
            daily = run("run-daily", "--as-of", AS_OF, "--paper")
            assert daily.exit_code == 10, daily.output  # crypto failed, sp500 delivered
            assert "vendor said" in daily.output and redact.MASK in daily.output
            assert handler.messages, "the newsletter was sent"
            run("runs", "list")
            run("runs", "show", AS_OF)
            run("newsletter", "preview", "--as-of", AS_OF)
            run("newsletter", "send", "--as-of", AS_OF)
            run("config", "show", env={"TSYS__NOTIFIERS__EMAIL__PASSWORD": ENV_PASSWORD})
            run("config", "show", "--json", env={"TSYS__NOTIFIERS__EMAIL__PASSWORD": ENV_PASSWORD})
            bad_db = f"postgresql://tsys:{DB_PASSWORD}@127.0.0.1:1/tsys?password={ENV_PASSWORD}"
            failed = run("trades", "list", env={"TSYS_DATABASE_URL": bad_db})
            assert failed.exit_code == 7, failed.output
            run("trades", "list", "--debug", env={"TSYS_DATABASE_URL": bad_db})
    finally:
        ctl.stop()
    printed = "\n".join(outputs)
    assert _leaks(printed) == [], printed
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "request failed" in logged and _leaks(logged) == []
    sent = "\n".join(_decoded(m["content"]) for m in handler.messages)
    assert "vendor said" in sent and _leaks(sent) == []
    assert _files_leaking(tmp) == []
    # and the files that hold the run's story were written (the grep saw them)
    run_dir = tmp / "data" / "runs" / AS_OF
    for name in ("run.json", "summary.txt", "newsletter.html", "newsletter.txt"):
        assert "vendor said" in (run_dir / name).read_text(), name


def test_config_show_masks_password_from_environment(isolated, monkeypatch):
    """Regression: TSYS__NOTIFIERS__EMAIL__PASSWORD was printed by `config show`."""
    monkeypatch.setenv("TSYS__NOTIFIERS__EMAIL__PASSWORD", ENV_PASSWORD)
    for args in (["config", "show"], ["config", "show", "--json"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert ENV_PASSWORD not in result.output and "password" in result.output


@pytest.mark.parametrize("key", ["api-key", "pass", "auth", "credentials", "x_token", "Secret"])
def test_secret_looking_keys_in_the_file_are_refused(isolated, key):
    """Regression: keys named api-key, pass, auth, credentials were accepted and echoed."""
    (isolated / "tsys.toml").write_text(f'[notifiers.email]\n"{key}" = "{ENV_PASSWORD}"\n')
    result = CliRunner().invoke(cli, ["config", "show"])
    assert result.exit_code == 3, result.output
    assert "looks like a secret" in result.output and ENV_PASSWORD not in result.output


def test_postgres_url_with_at_in_password_and_query_password(isolated, monkeypatch):
    """Regression: '?password=' was printed whole, and a password with '@' leaked its tail."""
    url = "postgresql://tsys:p@ss-TAIL-secret@127.0.0.1:1/db?sslmode=disable&password=QPASS99"
    monkeypatch.setenv("TSYS_DATABASE_URL", url)
    (isolated / "tsys.toml").write_text('[data]\nsource = "csv"\npath = "."\n')
    result = CliRunner().invoke(cli, ["trades", "list"])
    assert result.exit_code == 7, result.output
    assert "127.0.0.1" in result.output
    for leak in ("ss-TAIL-secret", "QPASS99"):
        assert leak not in result.output


def test_redact_url_examples():
    assert redact.redact_url("postgresql://u:p@ss@h:5/d") == "postgresql://u:***@h:5/d"
    assert (
        redact.redact_url("postgresql://h/d?sslmode=require&password=x&apikey=y")
        == "postgresql://h/d?sslmode=require&password=***&apikey=***"
    )
    assert redact.redact_url("sqlite:////tmp/tsys.db") == "sqlite:////tmp/tsys.db"
    assert redact.redact_url("https://user@h/p") == "https://user@h/p"


@pytest.mark.parametrize(
    "key", ["password", "api-key", "APCA-API-SECRET-KEY", "auth", "credentials", "pass", "token"]
)
def test_secret_looking_keys(key):
    assert redact.is_secret_key(key)


@pytest.mark.parametrize("key", ["author", "authors", "passed", "bypass", "symbol", "keywords"])
def test_ordinary_keys(key):
    assert not redact.is_secret_key(key)


_password = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Zs"), blacklist_characters="/?#\"'<>"
    ),
    min_size=4,
    max_size=30,
).filter(lambda s: s.strip() == s and "@" not in s[:1])


@given(password=_password, user=st.from_regex(r"[a-z]{1,8}", fullmatch=True))
def test_no_url_password_survives_redaction(password, user):
    """Invariant: whatever the password (with '@', ':', unicode), no part of it after ':' stays."""
    url = f"postgresql://{user}:{password}@db.example:5432/tsys"
    out = redact.redact_url(url)
    assert out == f"postgresql://{user}:***@db.example:5432/tsys"
    text = redact.scrub(f"cannot connect to {url}: refused")
    assert password not in text


@given(
    secret=st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        min_size=redact.MIN_SECRET_LENGTH,
    ).filter(lambda s: s.strip()),
    before=st.text(max_size=20),
    after=st.text(max_size=20),
)
def test_known_secret_value_never_survives(secret, before, after):
    """Invariant: a configured secret is masked in any text, raw or URL/JSON/HTML escaped."""
    import html

    old = os.environ.get("TSYS_SMTP_PASSWORD")
    os.environ["TSYS_SMTP_PASSWORD"] = secret
    try:
        for form in (secret, quote(secret, safe=""), json.dumps(secret)[1:-1], html.escape(secret)):
            assert form not in redact.scrub(before + form + after) or form in (before + after)
    finally:
        if old is None:
            del os.environ["TSYS_SMTP_PASSWORD"]
        else:
            os.environ["TSYS_SMTP_PASSWORD"] = old


@given(
    key=st.sampled_from(["password", "api_key", "apikey", "secret", "token", "auth", "pass"]),
    value=st.from_regex(r"[A-Za-z0-9_/+=.-]{6,30}", fullmatch=True).filter(
        # a bare number after "key:" is kept (a JSON number); after "key=" it is masked too
        lambda s: re.fullmatch(r"-?\d+(?:\.\d+)?", s) is None
    ),
    style=st.sampled_from(["{k}={v}", "{k}: {v}", '"{k}": "{v}"', "'{k}': '{v}'", "{k} = {v}"]),
)
def test_secret_looking_key_value_is_masked(key, value, style):
    """Invariant: the value after a secret-looking key is masked though no one configured it."""
    text = "before " + style.format(k=key, v=value) + " after"
    assert value not in redact.scrub(text)


def test_scrub_keeps_json_valid():
    doc = json.dumps({"password": "hunter22", "passed": True, "token": 12, "n": "ok"})
    assert json.loads(redact.scrub(doc)) == {
        "password": "***",
        "passed": True,
        "token": 12,
        "n": "ok",
    }


def test_numeric_password_after_equals_is_masked():
    assert "00000" not in redact.scrub("password=-00000 token=12345678")
    assert json.loads(redact.scrub(json.dumps({"token": 12})))["token"] == 12


_KEYISH = st.text(
    alphabet=st.sampled_from(list("pasPASwdWDsecrtTokenKauthcldiypvKIY_-.0 \"':=\u212a\u0130")),
    max_size=40,
)


@given(key=_KEYISH)
def test_every_secret_key_passes_the_quick_check(key):
    """Invariant: scrub's quick check never rules out text holding a secret-looking key."""
    if redact.is_secret_key(key):
        assert redact._may_hold_secret_key(key)
        assert redact._may_hold_secret_key(f'{{"x": 1, {key}: 2}}')


@given(text=_KEYISH)
def test_quick_check_skips_only_text_without_key_values_to_mask(text):
    """Invariant: when the quick check rules text out, the key-value masking changes nothing."""
    if not redact._may_hold_secret_key(text):
        assert redact._KEY_VALUE.sub(redact._mask_key_value, text) == text
