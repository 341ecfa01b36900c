"""Metamorphic checks: what the input calls its identifier kinds changes no cluster, and
dropping optional columns or tables degrades gracefully (docs/quality.md, family c)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmarks.variants import VARIANTS, renamed_kind
from graph_store.embedded import EmbeddedStore
from linker.evidence.identifiers import address_kinds, shaped_kinds
from linker.pipeline import link
from linker.scoring.evaluate import evaluate
from synth import generate_world, write_world

pytestmark = pytest.mark.xdist_group("world")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("base")
    write_world(generate_world(3000, seed=6), out)
    return out


@pytest.fixture(scope="module")
def base_run(base: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return link(base, EmbeddedStore(tmp_path_factory.mktemp("base-out"))).run.accounts


def _variant(base: Path, tmp_path: Path, name: str) -> Path:
    world = tmp_path / name
    VARIANTS[name](base, world, 6)
    return world


def test_renaming_every_kind_changes_no_cluster(
    base: Path, base_run: pd.DataFrame, tmp_path: Path
) -> None:
    world = _variant(base, tmp_path, "renamed_kinds")
    kinds = set(pd.read_parquet(world / "signals.parquet")["kind"])
    assert not kinds & {"payment", "device", "ip", "phone", "email"}
    result = link(world, EmbeddedStore(tmp_path / "out"))
    renamed = result.run.accounts
    cols = ["account_id", "cluster_id", "flagged", "risk"]
    pd.testing.assert_frame_equal(renamed[cols], base_run[cols])
    roles = result.run.meta["kind_roles"]
    assert roles[renamed_kind("ip")] == "address"
    assert roles[renamed_kind("payment")] == "instrument"


@pytest.mark.parametrize("name", ["no_ts", "no_ip_info", "no_org"])
def test_dropping_optional_inputs_degrades_gracefully(
    base: Path, base_run: pd.DataFrame, tmp_path: Path, name: str
) -> None:
    world = _variant(base, tmp_path, name)
    result = link(world, EmbeddedStore(tmp_path / "out"))
    assert result.dataset.labels is not None
    ev = evaluate(result.run.accounts, result.dataset.labels)
    full = evaluate(base_run, result.dataset.labels)
    assert ev["precision"] >= 0.9, ev
    assert ev["recall"] >= min(0.8, full["recall"] - 0.1), ev


def test_kinds_are_told_by_their_values() -> None:
    signals = pd.DataFrame(
        {
            "kind": ["addr"] * 4 + ["tel"] * 4 + ["mail"] * 4 + ["card"] * 4,
            "value": [
                *(" 10.0.0.1", "2001:db8::1", "192.168.1.7", "8.8.8.8"),
                *("+1 (555) 010-9999", "+44 20 7946 0000", "555-0100-222", "+4930123456"),
                *("A@x.org", "b@y.com", "c.d@z.net", "e@f.io"),
                *("pm_1", "pm_2", "10.0.0.1", "pm_3"),
            ],
        }
    )
    assert address_kinds(signals, 0.9) == ["addr"]
    assert shaped_kinds(signals, 0.9) == {"tel": "phone", "mail": "email"}
