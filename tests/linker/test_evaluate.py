"""Evaluation figures against labels, the baselines, and the `evaluate` command."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import precision_recall_curve
from typer.testing import CliRunner

from linker.cli import app
from linker.scoring.baselines import connected_components_recipe, louvain_unweighted
from linker.scoring.evaluate import evaluate, recall_at_precision


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_recall_at_precision_matches_the_curve(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.random(300) < 0.3
    score = np.round(np.where(truth, rng.random(300) + 0.3, rng.random(300)), 2)
    precision, recall, _ = precision_recall_curve(truth, score)
    for target in (0.8, 0.95, 0.99):
        ok = precision >= target
        expected = float(recall[ok].max()) if ok.any() else 0.0
        assert recall_at_precision(truth, score, target) == pytest.approx(expected)


def test_figures_of_a_known_run() -> None:
    accounts = pd.DataFrame(
        {
            "account_id": list("abcdef"),
            "flagged": [True, True, True, False, False, False],
            "risk": [0.9, 0.8, 0.7, 0.6, 0.2, 0.1],
            "cluster_id": ["c1", "c1", "c2", None, None, None],
        }
    )
    labels = pd.DataFrame(
        {
            "account_id": list("abcdef"),
            "label": ["sybil", "sybil", "benign", "sybil", "benign", "benign"],
            "campaign_id": ["k1", "k1", None, "k2", None, None],
            "tier": ["hydra", "hydra", None, "sloppy", None, None],
            "group": ["campaign", "campaign", "company", "campaign", "solo", "solo"],
        }
    )
    ev = evaluate(accounts, labels)
    assert (ev["true_positives"], ev["false_positives"]) == (2, 1)
    assert ev["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert ev["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert ev["recall_at_precision_0.95"] == pytest.approx(2 / 3, abs=1e-4)
    assert ev["roc_auc"] == pytest.approx(8 / 9, abs=1e-4)
    assert ev["campaign_ari"] == 1.0  # k1 -> c1, k2 alone
    assert ev["recall_by_tier"]["sloppy"]["recall"] == 0.0
    assert ev["flagged_by_group"]["company"]["flagged_share"] == 1.0


def _signals(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["account_id", "kind", "value"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_connected_components_recipe_matches_networkx(seed: int) -> None:
    rng = np.random.default_rng(seed)
    accounts = pd.Index([f"a{i:03d}" for i in range(120)])
    rows = [
        (accounts[int(a)], kind, f"{kind}{int(v)}")
        for kind, n_values in (("payment", 60), ("device", 40), ("ip", 3))
        for a, v in zip(rng.integers(0, 120, 150), rng.integers(0, n_values, 150), strict=True)
    ]
    signals = _signals(rows).drop_duplicates()
    got = connected_components_recipe(accounts, signals, max_shared=10, min_size=3)
    graph = nx.Graph()
    graph.add_nodes_from(accounts)
    for _, group in signals.groupby(["kind", "value"]):
        members = sorted(set(group["account_id"]))
        if 2 <= len(members) <= 10:
            graph.add_edges_from(itertools.pairwise(members))
    expected = {a for comp in nx.connected_components(graph) if len(comp) >= 3 for a in comp}
    assert set(got.loc[got["flagged"], "account_id"]) == expected
    assert (got.loc[~got["flagged"], "risk"] == 0).all()


def test_louvain_baseline_separates_two_rings() -> None:
    accounts = pd.Index([f"a{i}" for i in range(12)])
    rows = [(f"a{i}", "payment", f"card{i // 6}") for i in range(12)]
    rows.append(("a5", "device", "d-bridge"))
    rows.append(("a6", "device", "d-bridge"))
    got = louvain_unweighted(accounts, _signals(rows))
    assert got["flagged"].all()
    assert got.loc[got["account_id"].isin(["a0", "a1"]), "cluster_id"].nunique() == 1
    assert got.loc[got["account_id"].isin(["a0", "a11"]), "cluster_id"].nunique() == 2


def test_evaluate_command_with_baselines(tmp_path: Path) -> None:
    from synth import generate_world, write_world

    world, out = tmp_path / "world", tmp_path / "out"
    write_world(generate_world(1500, seed=4), world)
    runner = CliRunner()
    assert runner.invoke(app, ["link", str(world), "--out", str(out)]).exit_code == 0
    labels = next(world.glob("labels.*"))
    res = runner.invoke(
        app, ["evaluate", str(out), "--labels", str(labels), "--baselines"], env={"COLUMNS": "200"}
    )
    assert res.exit_code == 0, res.output
    assert "evaluation.json" in res.output
    report = json.loads((out / "evaluation.json").read_text())
    assert set(report["methods"]) == {"sybil-linker", "connected_components", "louvain_unweighted"}
    for figures in report["methods"].values():
        assert 0 <= figures["precision"] <= 1 and 0 <= figures["average_precision"] <= 1
    assert (out / "evaluation-pr.png").stat().st_size > 10_000
    assert (out / "evaluation-risk.png").stat().st_size > 10_000


def test_evaluate_command_names_a_bad_labels_file(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text("{}")
    bad = tmp_path / "labels.csv"
    bad.write_text("account_id,label\na,maybe\n")
    res = CliRunner().invoke(app, ["evaluate", str(tmp_path), "--labels", str(bad)])
    assert res.exit_code == 2
    assert "error:" in res.output
