"""Fitting the unsupervised risk weights (linker/scoring/fit.py): recovers weights that
made the data, keeps every weight's sign, holds what clusters cannot inform, and a
strong prior returns the hand-set weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from linker.scoring.fit import cluster_rows, fit_weights
from linker.scoring.model import score
from linker.settings import RiskSettings

HAND = {"bias": -1.0, "a": 1.0, "b": -1.0, "instrument_excess": 6.0}


def _clusters(true: dict[str, float], n: int = 4000, seed: int = 0):  # type: ignore[no-untyped-def]
    """Clusters of 50 members whose sybil count is binomial in the true model."""
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame({"a": rng.random(n) * 4, "b": rng.random(n) * 4})
    z = true["bias"] + true["a"] * rows["a"] + true["b"] * rows["b"]
    members = np.full(n, 50.0)
    sybil = rng.binomial(50, 1 / (1 + np.exp(-z))).astype(float)
    return rows, sybil, members


def test_the_fit_recovers_the_weights_that_made_the_data() -> None:
    true = {"bias": -2.0, "a": 2.5, "b": -0.7}
    fitted = fit_weights(*_clusters(true), HAND, prior=0.0)
    for name, value in true.items():
        assert fitted[name] == pytest.approx(value, abs=0.1)
    assert fitted["instrument_excess"] == 6.0  # held: clusters do not inform it


def test_a_weight_keeps_the_sign_of_the_hand_set_one() -> None:
    """Data where ``b`` raises the risk: its weight stops at zero, it does not turn
    positive (a benign sign turned by correlated features reads wrong)."""
    fitted = fit_weights(*_clusters({"bias": -2.0, "a": 1.0, "b": 1.5}), HAND, prior=0.0)
    assert fitted["b"] == 0.0
    assert fitted["a"] > 0.5 and fitted["bias"] > -2.0  # the bias takes up b's mean effect


def test_a_strong_prior_returns_the_hand_set_weights() -> None:
    data = _clusters({"bias": -2.0, "a": 2.5, "b": -0.7})
    loose, tight = fit_weights(*data, HAND, prior=0.0), fit_weights(*data, HAND, prior=1e4)
    assert abs(loose["a"] - HAND["a"]) > 1.0
    assert tight["a"] == pytest.approx(HAND["a"], abs=0.01)
    assert tight["b"] == pytest.approx(HAND["b"], abs=0.01)


def test_cluster_rows_count_labelled_members_and_read_features_as_the_model_does() -> None:
    settings = RiskSettings()
    clusters = pd.DataFrame(
        {"cluster_id": ["c1", "c2"], "size": [10.0, 3.0], "hosting_share": [0.9, 0.1]}
    )
    accounts = pd.DataFrame(
        {"account_id": ["x", "y", "z", "w", "v"], "cluster_id": ["c1", "c1", "c2", None, "c2"]}
    )
    labels = pd.DataFrame(
        {"account_id": ["x", "y", "z", "w"], "label": ["sybil", "benign", "sybil", "sybil"]}
    )
    rows, sybil, members = cluster_rows(clusters, accounts, labels, settings)
    assert list(rows.index) == ["c1", "c2"]
    assert sybil.tolist() == [1.0, 1.0] and members.tolist() == [2.0, 1.0]  # v unlabelled
    assert rows.loc["c1", "size_log"] == pytest.approx(1.0)
    # the design reproduces the score: bias plus weighted design values
    w = settings.weights
    z = w["bias"] + sum(w[c] * rows[c] for c in rows.columns)
    expected = score(clusters.set_index("cluster_id"), settings)
    assert np.allclose(1 / (1 + np.exp(-z)), expected.to_numpy())
