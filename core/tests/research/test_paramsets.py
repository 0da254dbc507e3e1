"""One parameter story: the resolver's order, paths, hashes and errors."""

from __future__ import annotations

import hashlib
import json

import pytest
from research_market import PlantedBucket

from tsys.config import BucketConfig, Config, DataConfig
from tsys.errors import ConfigError
from tsys.paramsets import mandate_of, params_digest, parse_assignments, resolve_params


def _config(tmp_path, **bucket):
    # a real-data configuration (the demo source would put the workspace in <data>/demo)
    return Config(
        data_dir=str(tmp_path / "data"),
        data=DataConfig(source="csv"),
        buckets={"planted": BucketConfig(**bucket)},
    )


def test_defaults_when_nothing_is_set(tmp_path):
    got = resolve_params(PlantedBucket(), _config(tmp_path))
    assert got.origin == "defaults" and got.path is None and got.file_sha256 is None
    assert got.values == {"threshold": 1.8, "hold": 10, "window": 20}
    assert got.digest == params_digest(got.values)
    assert got.label() == f"parameters: bucket defaults, set {got.digest}"


def test_order_cli_file_then_config_file_then_data_dir(tmp_path):
    cfg = _config(tmp_path, params_file="params/mine.json")
    pdir = tmp_path / "data" / "params"
    pdir.mkdir(parents=True)
    (pdir / "planted.json").write_text(json.dumps({"bucket": "planted", "params": {"hold": 5}}))
    # a relative params_file resolves against the data dir, not the current folder
    mine = pdir / "mine.json"
    mine.write_text(json.dumps({"params": {"hold": 7}, "n_trials": 12}))
    got = resolve_params(PlantedBucket(), cfg)
    assert got.origin == "params_file" and got.path == str(mine) and got.values["hold"] == 7
    assert got.file_sha256 == hashlib.sha256(mine.read_bytes()).hexdigest()[:12]
    assert got.document["n_trials"] == 12
    cli = tmp_path / "cli.json"
    cli.write_text(json.dumps({"threshold": 2.2}))  # a bare mapping works too
    got = resolve_params(PlantedBucket(), cfg, params_file=cli)
    assert got.origin == "--params" and got.values["threshold"] == 2.2 and got.values["hold"] == 10
    got = resolve_params(PlantedBucket(), _config(tmp_path))
    assert got.origin == "data dir" and got.values["hold"] == 5


def test_config_params_then_cli_overrides_lie_on_top(tmp_path):
    cfg = _config(tmp_path, params={"hold": 3, "window": 30})
    got = resolve_params(PlantedBucket(), cfg, overrides=parse_assignments(["hold=4"]))
    assert got.values["hold"] == 4 and got.values["window"] == 30
    assert got.overrides == {"hold": "4", "window": 30}
    assert "with hold=4, window=30" in got.label()


def test_demo_workspace_keeps_its_own_files(tmp_path):
    real = tmp_path / "data" / "params"
    real.mkdir(parents=True)
    (real / "planted.json").write_text(json.dumps({"params": {"hold": 5}}))
    got = resolve_params(PlantedBucket(), _config(tmp_path), data_home=tmp_path / "data" / "demo")
    assert got.origin == "defaults"  # the real file never reaches a synthetic run
    demo = Config(data_dir=str(tmp_path / "data"))  # the demo source: <data>/demo is the home
    assert resolve_params(PlantedBucket(), demo).origin == "defaults"
    (tmp_path / "data" / "demo" / "params").mkdir(parents=True)
    (tmp_path / "data" / "demo" / "params" / "planted.json").write_text('{"hold": 6}')
    got = resolve_params(PlantedBucket(), demo)
    assert got.origin == "data dir" and got.values["hold"] == 6


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"bucket": "crypto", "params": {}}), "holds parameters for 'crypto'"),
        (json.dumps({"params": {"hodl": 3}}), "hodl \\(did you mean hold\\?\\)"),
        (json.dumps({"params": {"hold": 99}}), "invalid parameters"),
        (json.dumps([1, 2]), "JSON object"),
    ],
)
def test_bad_files_say_which_file_and_what(tmp_path, content, message):
    f = tmp_path / "p.json"
    f.write_text(content)
    with pytest.raises(ConfigError, match=message):
        resolve_params(PlantedBucket(), _config(tmp_path), params_file=f)


def test_missing_files_name_the_resolved_path(tmp_path):
    cfg = _config(tmp_path, params_file="params/none.json")
    with pytest.raises(ConfigError, match=r"resolves to .*data/params/none\.json"):
        resolve_params(PlantedBucket(), cfg)
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_params(PlantedBucket(), _config(tmp_path), params_file=tmp_path / "x.json")
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_assignments(["hold"])


def test_mandate_from_bucket_and_config():
    from tsys.buckets import Mandate

    class Mandated(PlantedBucket):
        mandate = Mandate(min_exposure=0.6, max_cagr_lag=0.05)

    assert mandate_of(Mandated(), Config()) == Mandate(0.6, 0.05)
    cfg = Config(buckets={"planted": BucketConfig(min_exposure=0.4)})
    assert mandate_of(Mandated(), cfg) == Mandate(0.4, 0.05)
    assert mandate_of(PlantedBucket(), Config()) == Mandate()


def test_param_choices_route_files_and_values_to_their_buckets(tmp_path):
    from tsys.paramsets import ParamChoices

    named = tmp_path / "named.json"
    named.write_text(json.dumps({"bucket": "planted", "params": {"hold": 4}}))
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"hold": 6}))
    got = ParamChoices.from_cli([str(named)], ["planted.hold=5", "other.x=1"], None)
    assert got.files == {"planted": str(named)}
    assert got.overrides == {"planted": {"hold": "5"}, "other": {"x": "1"}}
    with pytest.raises(ConfigError, match="does not include"):
        got.check(["planted"])
    # one bucket: a bare file and KEY=VALUE belong to it
    one = ParamChoices.from_cli([str(bare)], ["hold=7"], ["planted"])
    assert one.files == {"planted": str(bare)} and one.overrides == {"planted": {"hold": "7"}}
    assert one.resolve(PlantedBucket(), _config(tmp_path), tmp_path).values["hold"] == 7
    with pytest.raises(ConfigError, match="which bucket it is for"):
        ParamChoices.from_cli([str(bare)], [], ["planted", "other"])
    with pytest.raises(ConfigError, match="not 'other'"):
        ParamChoices.from_cli([str(named)], [], ["other"])
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    with pytest.raises(ConfigError, match="not valid JSON"):
        ParamChoices.from_cli([str(broken)], [], None)
