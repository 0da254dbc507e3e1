"""Configuration: file lookup, validation with paths, environment overrides, secrets."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tsys.cli import cli
from tsys.config import STARTER, config_from_dict, load_config
from tsys.errors import ConfigError


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("TSYS_CONFIG", raising=False)
    for k in list(__import__("os").environ):
        if k.startswith("TSYS__"):
            monkeypatch.delenv(k)


def test_defaults_without_a_file():
    cfg = load_config()
    assert cfg.source_path is None
    assert cfg.account.size == 100_000.0
    assert cfg.bucket("anything").enabled is True


def test_starter_file_is_valid_and_documented(tmp_path):
    (tmp_path / "tsys.toml").write_text(STARTER)
    cfg = load_config()
    assert cfg.buckets["sp500"].capital_share == 0.6
    assert cfg.source_path.endswith("tsys.toml")


def test_invalid_value_names_the_path(tmp_path):
    (tmp_path / "tsys.toml").write_text('[buckets.sp500]\nmax_positions = "ten"\n')
    with pytest.raises(ConfigError) as info:
        load_config()
    assert "$.buckets.sp500.max_positions" in str(info.value)


def test_unknown_key_is_an_error():
    with pytest.raises(ConfigError, match="max_positons"):
        config_from_dict({"buckets": {"sp500": {"max_positons": 3}}})


def test_out_of_range_fraction():
    with pytest.raises(ConfigError, match="capital_share"):
        config_from_dict({"buckets": {"sp500": {"capital_share": 1.5}}})


def test_corrupt_toml(tmp_path):
    (tmp_path / "tsys.toml").write_text("[account\nsize=1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config()


def test_secrets_in_the_file_are_refused(tmp_path):
    (tmp_path / "tsys.toml").write_text('[notifiers.email]\npassword = "hunter2"\n')
    with pytest.raises(ConfigError) as info:
        load_config()
    assert "environment only" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("TSYS__ACCOUNT__SIZE", "50000")
    monkeypatch.setenv("TSYS__BUCKETS__CRYPTO__ENABLED", "false")
    cfg = load_config()
    assert cfg.account.size == 50_000
    assert cfg.buckets["crypto"].enabled is False


def test_digest_is_stable_and_sensitive():
    a = config_from_dict({})
    b = config_from_dict({})
    c = config_from_dict({"account": {"size": 1}})
    assert a.digest() == b.digest() != c.digest()


def test_config_show_redacts_secrets(monkeypatch):
    monkeypatch.setenv("ALPACA_API_SECRET", "s3cr3t-value")
    result = CliRunner().invoke(cli, ["config", "show", "--json"])
    assert result.exit_code == 0, result.output
    assert "s3cr3t-value" not in result.output
    assert json.loads(result.output)["secrets"]["ALPACA_API_SECRET"] == "set (redacted)"


def test_config_init_writes_and_refuses_overwrite(tmp_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["config", "init"]).exit_code == 0
    assert (tmp_path / "tsys.toml").read_text() == STARTER
    again = runner.invoke(cli, ["config", "init"])
    assert again.exit_code == 3 and "already exists" in again.output


def test_bad_config_exit_code_and_no_traceback(tmp_path):
    (tmp_path / "tsys.toml").write_text("[account]\nsize = -5\n")
    result = CliRunner().invoke(cli, ["config", "show"])
    assert result.exit_code == 3
    assert "Traceback" not in result.output
    assert "$.account.size" in result.output
