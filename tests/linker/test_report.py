"""The analyst's workspace: `clusters` and `explain` on a linked world from the embedded
store (from Neo4j: tests/neo4j/test_explain.py); reasons traceable to features in
run.json; pictures that replace an earlier run's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from graph_store.base import RunTables
from graph_store.embedded import EmbeddedStore
from linker.cli import app
from linker.masking import mask_identifier
from linker.report.explain import explain, list_clusters
from linker.report.investigate import ClusterFilter, cluster_evidence, edge_kinds
from linker.report.outputs import cluster_picture_path
from synth import generate_world, write_world

WORLD_ACCOUNTS = 1500
WORLD_SEED = 5
PNG = b"\x89PNG\r\n\x1a\n"


def _cli(*args: str) -> Any:
    res = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return res


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report-world")
    write_world(generate_world(WORLD_ACCOUNTS, WORLD_SEED), root)
    return root


@pytest.fixture(scope="module")
def linked(world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results directory holding the world's run (linked through the CLI)."""
    out = tmp_path_factory.mktemp("report-out")
    res = _cli("link", str(world), "--out", str(out))
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def run(linked: Path) -> RunTables:
    stored = EmbeddedStore(linked).latest_run()
    assert stored is not None
    return stored


def _flagged_cluster(run: RunTables) -> str:
    return str(run.clusters[run.clusters["flagged"]].iloc[0]["cluster_id"])


def test_reasons_are_traceable_to_features_in_run_json(run: RunTables) -> None:
    recorded = run.meta["reason_features"]
    assert set(recorded) == set(run.clusters["cluster_id"])
    assert "reason_features" not in run.clusters  # the table keeps the texts alone
    for row in run.clusters.to_dict("records"):
        texts = [r["text"] for r in recorded[row["cluster_id"]]]
        assert texts == list(row["reasons"])
        for reason in recorded[row["cluster_id"]]:
            for name, value in reason["features"].items():
                if name == "linked_members":
                    assert value == row["size"] - row["n_attached"], reason
                elif isinstance(value, str):
                    assert row[name] == value, reason
                else:
                    assert value == pytest.approx(row[name], abs=1e-4), (name, reason)


def test_template_examples_recorded_for_shared_families(run: RunTables) -> None:
    named = {
        item["value"]
        for items in run.meta["cluster_identifiers"].values()
        for item in items
        if item["kind"] == "prompt_template"
    }
    assert named and set(run.meta["template_examples"]) == named


@pytest.mark.parametrize(
    "which",
    [
        ClusterFilter(),
        ClusterFilter(flagged=True),
        ClusterFilter(flagged=False, min_size=3),
        ClusterFilter(min_risk=0.2, max_size=50),
    ],
    ids=["all", "flagged", "unflagged-3+", "risk0.2-size50"],
)
def test_cluster_filters(linked: Path, run: RunTables, which: ClusterFilter) -> None:
    _, selected = list_clusters(linked, which)
    c = run.clusters
    keep = pd.Series(True, index=c.index)
    if which.flagged is not None:
        keep &= c["flagged"] == which.flagged
    if which.min_risk is not None:
        keep &= c["risk"] >= which.min_risk
    if which.min_size is not None:
        keep &= c["size"] >= which.min_size
    if which.max_size is not None:
        keep &= c["size"] <= which.max_size
    assert set(selected["cluster_id"]) == set(c.loc[keep, "cluster_id"])
    assert selected["risk"].is_monotonic_decreasing


def test_clusters_command(linked: Path, run: RunTables) -> None:
    res = _cli("clusters", str(linked), "--flagged", "--limit", "0")
    assert res.exit_code == 0, res.output
    flagged = run.clusters[run.clusters["flagged"]]
    for cid in flagged["cluster_id"]:
        assert cid in res.output
    text = " ".join(res.output.split())
    assert f"{len(flagged):,} match, {len(run.clusters):,} in the run" in text
    res = _cli("clusters", str(linked), "--min-risk", "2")
    assert res.exit_code == 0 and "no cluster of run" in res.output


def test_explain_a_cluster(linked: Path, run: RunTables, world: Path) -> None:
    cid = _flagged_cluster(run)
    res = _cli("explain", cid, str(linked), "--members", "5")
    assert res.exit_code == 0, res.output
    out = res.output
    for reason in run.meta["reason_features"][cid]:
        assert reason["text"][:40] in out
    assert "from: " in out and "Shared identifiers" in out and "signups:" in out
    shared = [i for i in run.meta["cluster_identifiers"][cid] if i["kind"] != "prompt_template"]
    for item in shared:  # masked by default: the raw value never shows, the masked one does
        assert item["value"] not in out
        assert mask_identifier(item["kind"], item["value"]) in out
    picture = cluster_picture_path(linked, run.run_id, cid)
    assert picture.read_bytes().startswith(PNG)
    assert f"picture: {picture}" in out.replace("\n", "")
    shown = _cli("explain", cid, str(linked), "--show-values", "--no-picture")
    assert shown.exit_code == 0 and all(i["value"] in shown.output for i in shared[:3])


def test_shared_identifiers_counted_against_the_input(run: RunTables, world: Path) -> None:
    """Oracle: members and accounts-in-all per shared value, from the raw signals."""
    from linker.ingest import normalise
    from linker.report.activity import read_activity

    cid = _flagged_cluster(run)
    activity, note = read_activity(EmbeddedStore(Path("unused")), run.meta, world)
    assert activity is not None, note
    evidence = cluster_evidence(run, cid, activity, note, show_values=True)
    signals = pd.read_parquet(world / "signals.parquet")
    signals["kind"] = normalise.canonical_kind(signals["kind"])
    signals["value"] = normalise.canonical_values(signals["kind"], signals["value"])
    members = set(run.accounts.loc[run.accounts["cluster_id"] == cid, "account_id"])
    for row in evidence.shared.to_dict("records"):
        if row["kind"] == "ip_prefix":  # derived by the linker, not in the input
            assert pd.isna(row["all_accounts"])
            continue
        users = set(
            signals.loc[
                (signals["kind"] == row["kind"]) & (signals["value"] == row["value"]),
                "account_id",
            ]
        )
        assert len(users & members) == row["members"], row
        assert len(users) == row["all_accounts"], row
    assert evidence.has_activity and evidence.members["created_at"].notna().all()
    kinds = edge_kinds(run.edges)
    assert (kinds.sum(axis=1) == run.edges["n_shared"]).all()


def test_explain_an_account(linked: Path, run: RunTables) -> None:
    cid = _flagged_cluster(run)
    account = str(run.accounts.loc[run.accounts["cluster_id"] == cid, "account_id"].iloc[0])
    found = explain(linked, account)
    assert found.cluster is not None and found.cluster.focus == account
    assert found.account is not None and found.account.identifiers is not None
    assert (found.account.links["cluster_id"] == cid).any()
    res = _cli("explain", account, str(linked), "--no-picture")
    assert res.exit_code == 0 and f"Account {account}" in res.output and "◀" in res.output
    alone = run.accounts.loc[run.accounts["cluster_id"].isna(), "account_id"].iloc[0]
    res = _cli("explain", str(alone), str(linked))
    assert res.exit_code == 0, res.output
    assert "in no cluster" in res.output and "no picture" in res.output


def test_explain_refuses_an_unknown_target_in_one_line(linked: Path, tmp_path: Path) -> None:
    res = _cli("explain", "c_nothing", str(linked))
    assert res.exit_code == 2
    assert "no cluster or account 'c_nothing'" in res.output
    assert len(res.output.strip().splitlines()) == 1
    res = _cli("clusters", str(tmp_path))
    assert res.exit_code == 2 and "no run in" in res.output


def test_without_the_input_explain_says_how_to_get_the_timeline(
    run: RunTables, linked: Path, tmp_path: Path
) -> None:
    out = tmp_path / "copy"
    shutil.copytree(linked, out)
    meta = json.loads((out / "run.json").read_text())
    (out / "run.json").write_text(json.dumps({**meta, "input": str(tmp_path / "gone")}))
    found = explain(out, _flagged_cluster(run), picture=False)
    assert found.cluster is not None and not found.cluster.has_activity
    assert "pass --data DIR" in found.cluster.activity_note


def test_a_new_run_leaves_no_stale_pictures(world: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _cli("link", str(world), "--out", str(out)).exit_code == 0
    first = EmbeddedStore(out).latest_run()
    assert first is not None
    cid = _flagged_cluster(first)
    old = explain(out, cid).picture
    assert old is not None and old.is_file()
    (out / "risk.png").write_bytes(PNG)  # as `demo` leaves it
    assert _cli("link", str(world), "--out", str(out)).exit_code == 0
    assert not old.exists() and not (out / "risk.png").exists()
    second = EmbeddedStore(out).latest_run()
    assert second is not None and second.run_id != first.run_id
    new = explain(out, _flagged_cluster(second)).picture
    assert new is not None and new.parent.name == second.run_id
    assert [p.name for p in (out / "explain").iterdir()] == [second.run_id]


def test_cluster_picture_is_the_same_every_time(linked: Path, run: RunTables) -> None:
    cid = _flagged_cluster(run)
    first = explain(linked, cid).picture
    assert first is not None
    before = first.read_bytes()
    again = explain(linked, cid).picture
    assert again == first and again.read_bytes() == before


def test_run_picture_with_and_without_labels(run: RunTables, world: Path, tmp_path: Path) -> None:
    from linker.report.plots import plot_run
    from linker.scoring.evaluate import evaluate

    labels = pd.read_parquet(world / "labels.parquet")
    ev = evaluate(run.accounts, labels)
    for path, args in (
        (tmp_path / "labelled.png", (labels, ev)),
        (tmp_path / "plain.png", (None, None)),
    ):
        assert plot_run(run, args[0], path, args[1]).read_bytes().startswith(PNG)


def test_masking_is_the_apis() -> None:
    masking = pytest.importorskip("api.masking")
    samples = [
        ("email", "alice@example.com"),
        ("ip", "203.0.113.7"),
        ("ip_prefix", "2001:db8::/48"),
        ("phone", "+15551234567"),
        ("payment", "pm_0123456789abcdef"),
        ("device", "abc"),
    ]
    for kind, value in samples:
        assert mask_identifier(kind, value) == masking.mask_identifier(kind, value)
