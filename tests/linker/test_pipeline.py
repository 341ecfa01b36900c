"""End to end: generated worlds through `link`, the CLI, stable ids across runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from graph_store.embedded import EmbeddedStore
from linker.cli import app
from linker.pipeline import link
from linker.scoring.evaluate import evaluate
from synth import generate_world, write_world

pytestmark = pytest.mark.xdist_group("world")


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    write_world(generate_world(5000, seed=2), out)
    return out


@pytest.fixture(scope="module")
def first_run(world_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("out")
    return out, link(world_dir, EmbeddedStore(out), out_dir=out)


def test_precision_and_recall_floors_on_a_generated_world(first_run) -> None:  # type: ignore[no-untyped-def]
    """Regression floors on a 5,000-account world, seed 2 (measured 0.985 / 0.952 with
    requirements.lock since template skeletons are on: a 19-account campaign merges
    into developers' cluster, docs/prompts.md; 0.991 / 0.993 before). Seed 2 is one of
    the seeds the constants were chosen on, so these are regression floors, not
    quality figures (docs/linkage.md)."""
    _, result = first_run
    ev = evaluate(result.run.accounts, result.dataset.labels)
    assert ev["precision"] >= 0.95
    assert ev["recall"] >= 0.95


def test_no_benign_group_above_two_percent_flagged(first_run) -> None:  # type: ignore[no-untyped-def]
    """Was a strict xfail (issue 13, mixed clusters): developers on popular device
    fingerprints land in a campaign's cluster and, sharing a device inside it, carried
    its card reuse and the two kinds together as well (11 of 270 flagged, 4.1%). A
    member carries only the reuse of the kinds it shares (measured 2 of 270, 0.7%; 5 of
    270, 1.85%, since template skeletons are on: docs/prompts.md)."""
    _, result = first_run
    ev = evaluate(result.run.accounts, result.dataset.labels)
    over = {g: v["flagged_share"] for g, v in ev["flagged_by_group"].items()}
    assert max(over.values()) <= 0.02, over


def test_outputs_have_the_documented_columns(first_run) -> None:  # type: ignore[no-untyped-def]
    out, result = first_run
    accounts = pd.read_parquet(out / "accounts.parquet")
    clusters = pd.read_parquet(out / "clusters.parquet")
    edges = pd.read_parquet(out / "edges.parquet")
    assert list(accounts.columns[:4]) == ["account_id", "cluster_id", "risk", "flagged"]
    assert accounts["risk"].between(0, 1).all()
    assert {"cluster_id", "size", "risk", "flagged", "reasons", "density"} <= set(clusters)
    assert (clusters["size"] >= 2).all()
    assert clusters.loc[clusters["flagged"], "reasons"].map(len).min() >= 1
    assert {"a", "b", "weight", "evidence"} <= set(edges)
    meta = result.run.meta
    assert {"ingest", "projection", "communities", "risk"} <= set(meta["timings_s"])
    assert (out / "rejected.csv").exists() and (out / "run.json").exists()


def test_run_records_the_values_each_cluster_shares(first_run) -> None:  # type: ignore[no-untyped-def]
    _, result = first_run
    recorded = result.run.meta["cluster_identifiers"]
    accounts, signals = result.run.accounts, result.dataset.signals
    flagged = result.run.clusters.loc[result.run.clusters["flagged"], "cluster_id"]
    assert len(flagged) and all(cid in recorded for cid in flagged)
    checked = 0
    for cid in flagged[:10]:
        members = set(accounts.loc[accounts["cluster_id"] == cid, "account_id"])
        per_kind: dict[str, int] = {}
        for item in recorded[cid]:
            per_kind[item["kind"]] = per_kind.get(item["kind"], 0) + 1
            if item["kind"] in ("ip_prefix", "prompt_template"):
                continue  # derived identifiers: not in the signals table
            users = signals.loc[
                (signals["kind"] == item["kind"]) & (signals["value"] == item["value"]),
                "account_id",
            ]
            assert item["accounts"] == len(members & set(users)) >= 2
            checked += 1
        assert max(per_kind.values()) <= 3  # the top 3 values per kind
    assert checked > 0


def test_rerun_on_the_same_input_gives_the_same_ids(
    world_dir: Path, first_run, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _, result = first_run
    again = link(world_dir, EmbeddedStore(tmp_path), out_dir=tmp_path)
    pd.testing.assert_frame_equal(
        result.run.accounts.reset_index(drop=True), again.run.accounts.reset_index(drop=True)
    )


def test_cluster_ids_survive_new_data(world_dir: Path, first_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """New data: 3% of accounts leave. Clusters that keep most members keep their ids."""
    _, result = first_run
    shrunk = tmp_path / "world"
    shrunk.mkdir()
    accounts = pd.read_parquet(world_dir / "accounts.parquet")
    gone = set(accounts["account_id"].sample(frac=0.03, random_state=1))
    for name in ("accounts", "signals", "prompts", "labels"):
        frame = pd.read_parquet(world_dir / f"{name}.parquet")
        frame[~frame["account_id"].isin(gone)].to_parquet(shrunk / f"{name}.parquet")
    pd.read_parquet(world_dir / "ip_info.parquet").to_parquet(shrunk / "ip_info.parquet")
    store_dir = tmp_path / "store"
    EmbeddedStore(store_dir).write_run(result.run)  # the previous run
    new = link(shrunk, EmbeddedStore(store_dir)).run.clusters
    old = result.run.clusters
    big_old = set(old.loc[old["size"] >= 10, "cluster_id"])
    kept = big_old & set(new["cluster_id"])
    assert len(kept) >= 0.8 * len(big_old)


def test_cli_generate_validate_and_a_corrupt_row(tmp_path: Path) -> None:
    runner = CliRunner()
    world = tmp_path / "w"
    res = runner.invoke(
        app, ["generate", str(world), "--accounts", "400", "--seed", "5", "--format", "csv"]
    )
    assert res.exit_code == 0, res.output
    ok = runner.invoke(app, ["validate", str(world)])
    assert ok.exit_code == 0 and "all rows valid" in ok.output
    lines = (world / "signals.csv").read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    row = lines[5].rstrip("\n").split(",")
    row[header.index("ts")] = "not-a-time"
    lines[5] = ",".join(row) + "\n"
    (world / "signals.csv").write_text("".join(lines))
    bad = runner.invoke(app, ["validate", str(world)])
    assert bad.exit_code == 0
    assert "signals.csv row 5, column 'ts'" in bad.output.replace("\n", "")
    rejected = pd.read_csv(world / "_validation" / "rejected.csv")
    assert rejected.loc[0, "row"] == 5 and rejected.loc[0, "column"] == "ts"


@pytest.mark.parametrize("columns", ["20", "80", "400"])
def test_cli_link_fails_clearly_on_a_missing_table(tmp_path: Path, columns: str) -> None:
    """One line naming the whole path, whatever the terminal's width."""
    deep = tmp_path / ("a-rather-long-folder-name-" * 4) / "world"
    deep.mkdir(parents=True)
    (deep / "accounts.csv").write_text("account_id,created_at\na,2026-01-01\n")
    res = CliRunner().invoke(
        app, ["link", str(deep), "--out", str(tmp_path / "o")], env={"COLUMNS": columns}
    )
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1, res.output
    assert "required table 'signals' not found" in lines[0]
    assert str(deep) in lines[0]


def test_cli_validate_says_how_many_problems_it_did_not_print(tmp_path: Path) -> None:
    rows = "".join(f"bad{i},not-a-date\n" for i in range(7))
    good = "".join(f"ok{i},2026-01-01\n" for i in range(3))
    (tmp_path / "accounts.csv").write_text("account_id,created_at\n" + good + rows)
    (tmp_path / "signals.csv").write_text("account_id,kind,value\n")
    res = CliRunner().invoke(app, ["validate", str(tmp_path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "7 problems" in res.output
    assert "and 2 more" in res.output


def test_analyst_labels_are_used_by_the_next_run(
    world_dir: Path, first_run, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _, result = first_run
    clusters = result.run.clusters
    flagged_cluster = clusters.loc[clusters["flagged"], "cluster_id"].iloc[0]
    calm = result.run.accounts[~result.run.accounts["flagged"]]["account_id"].iloc[0]
    out = tmp_path / "out"
    EmbeddedStore(out).write_run(result.run)  # the previous run, so cluster ids carry over
    lines = [
        {
            "target_type": "cluster",
            "target_id": flagged_cluster,
            "label": "benign",
            "author": "ana",
            "reason": "a school district",
        },
        {
            "target_type": "account",
            "target_id": calm,
            "label": "benign",
            "author": "bo",
            "reason": "x",
        },
        {
            "target_type": "account",
            "target_id": calm,
            "label": "sybil",
            "author": "bo",
            "reason": "seen in a takedown",
        },
    ]
    (out / "labels.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    run = link(world_dir, EmbeddedStore(out), out_dir=out).run
    members = run.accounts[run.accounts["cluster_id"] == flagged_cluster]
    assert len(members) > 0 and not members["flagged"].any()
    row = run.clusters.set_index("cluster_id").loc[flagged_cluster]
    assert not row["flagged"] and row["reasons"][0].startswith("analyst verdict: benign (ana")
    assert run.accounts.set_index("account_id").loc[calm, "flagged"]  # latest verdict wins
    assert run.meta["analyst_verdicts_applied"] == 2


def test_signals_without_the_optional_ts_column_link(world_dir: Path, tmp_path: Path) -> None:
    """``ts`` is optional in the data contract: without it the time evidence says
    nothing, the run completes and still finds the campaigns (measured on this world:
    precision 0.96, recall 0.97)."""
    data = tmp_path / "world"
    shutil.copytree(world_dir, data)
    for path in data.glob("signals.*"):
        pd.read_parquet(path).drop(columns=["ts"]).to_parquet(path)
    out = tmp_path / "out"
    result = link(data, EmbeddedStore(out), out_dir=out)
    assert result.dataset.signals["first_ts"].isna().all()
    ev = evaluate(result.run.accounts, result.dataset.labels)
    assert ev["precision"] >= 0.9
    assert ev["recall"] >= 0.9
