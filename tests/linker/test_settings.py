"""Settings as data: TOML in, the CLI on top, unknown keys refused, everything in run.json."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest
from typer.testing import CliRunner

from linker.cli import _link_settings, app
from linker.errors import LinkerError
from linker.settings import (
    LinkSettings,
    PromptSettings,
    RiskSettings,
    load_settings,
    settings_from_dict,
)


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text)
    return path


def test_a_partial_file_changes_only_what_it_names(tmp_path: Path) -> None:
    path = _toml(
        tmp_path,
        "use_prompts = false\n"
        "[risk]\nthreshold = 0.7\nmin_lift = 3\n"
        "[risk.weights]\nbias = -2.5\n"
        "[linkage.kind_weight]\nwallet = 0.7\n"
        "[community]\nmethod = 'louvain'\n",
    )
    settings = load_settings(path)
    default = LinkSettings()
    assert settings.risk.threshold == 0.7 and settings.risk.min_lift == 3.0
    assert settings.risk.weights["bias"] == -2.5
    assert settings.risk.weights["hosting_share"] == default.risk.weights["hosting_share"]
    assert settings.linkage.kind_weight["wallet"] == 0.7
    assert settings.linkage.kind_weight["instrument"] == default.linkage.kind_weight["instrument"]
    assert settings.community.method == "louvain" and not settings.use_prompts
    assert settings.prompt == default.prompt


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[risk]\nthresold = 0.7\n", "unknown key 'thresold'"),
        ("[riskk]\nthreshold = 0.7\n", "unknown key 'riskk'"),
        ("[risk]\nthreshold = 'high'\n", "expected a number"),
        ("[risk.weights]\nnew_feature = 1.0\n", "unknown feature 'new_feature'"),
        ("[community]\nmethod = 3\n", "expected a string"),
        ("use_prompts = 1\n", "expected true or false"),
        ("[risk\n", "not valid TOML"),
    ],
)
def test_a_bad_file_is_refused_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = _toml(tmp_path, text)
    with pytest.raises(LinkerError, match=message):
        load_settings(path)


def test_round_trip_through_run_json_shape() -> None:
    changed = settings_from_dict({"risk": {"threshold": 0.6, "participant_quantile": 0.2}})
    again = settings_from_dict(json.loads(json.dumps(changed.to_dict(), default=list)))
    assert again.risk == changed.risk
    assert again.linkage == changed.linkage


def test_every_risk_bar_is_a_recorded_setting() -> None:
    recorded = LinkSettings().to_dict()["risk"]
    for f in fields(RiskSettings):
        assert f.name in recorded


def test_cli_options_override_the_file(tmp_path: Path) -> None:
    path = _toml(tmp_path, "[risk]\nthreshold = 0.7\n[community]\nresolution = 2.0\n")
    settings = _link_settings(path, threshold=0.4, resolution=None)
    assert settings.risk.threshold == 0.4
    assert settings.community.resolution == 2.0


def test_engine_options_set_the_engine_section(tmp_path: Path) -> None:
    path = _toml(tmp_path, '[engine]\nspark_master = "spark://h:7077"\nspark_partitions = 64\n')
    settings = _link_settings(path, engine="spark", spark_communities="propagation")
    assert settings.engine.name == "spark"
    assert settings.engine.spark_master == "spark://h:7077"
    assert settings.engine.spark_partitions == 64
    assert settings.engine.spark_communities == "propagation"
    assert _link_settings(None).engine.name == "embedded"


@pytest.mark.parametrize(
    ("options", "message"),
    [({"engine": "flink"}, "engine must be one of"), ({"spark_communities": "x"}, "spark_comm")],
)
def test_an_unknown_engine_is_refused(options: dict[str, str], message: str) -> None:
    with pytest.raises(LinkerError, match=message):
        _link_settings(None, **options)


def test_link_records_the_file_settings_in_run_json(tmp_path: Path) -> None:
    data = tmp_path / "w"
    data.mkdir()
    rows = "".join(f"a{i},2026-01-0{1 + i % 9}T00:00:00Z\n" for i in range(6))
    (data / "accounts.csv").write_text("account_id,created_at\n" + rows)
    (data / "signals.csv").write_text(
        "account_id,kind,value\n" + "".join(f"a{i},payment,card{i // 3}\n" for i in range(6))
    )
    path = _toml(tmp_path, "[risk]\nmin_concentration = 0.07\n[linkage]\nmin_edge_weight = 0.3\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["link", str(data), "--out", str(out), "--config", str(path)])
    assert res.exit_code == 0, res.output
    meta = json.loads((out / "run.json").read_text())
    assert meta["settings"]["risk"]["min_concentration"] == 0.07
    assert meta["settings"]["linkage"]["min_edge_weight"] == 0.3


def test_cli_names_the_bad_settings_file(tmp_path: Path) -> None:
    path = _toml(tmp_path, "[linkage]\nmax_degre = 10\n")
    res = CliRunner().invoke(app, ["link", str(tmp_path), "--config", str(path)])
    assert res.exit_code == 2
    assert str(path) in res.output and "max_degre" in res.output


@pytest.mark.parametrize(
    "make",
    [
        lambda: RiskSettings(held_instrument_share=1.5),
        lambda: RiskSettings(volume_quantile=-0.1),
        lambda: RiskSettings(resample_coverage=0.0),
        lambda: PromptSettings(resample_full_sends=1.0),
    ],
)
def test_out_of_range_detection_constants_are_refused_in_one_line(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LinkerError, match="must be in"):
        make()
