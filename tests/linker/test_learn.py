"""Learning from verdicts (linker/learn): proximity from seeds, the calibrated model,
label sources, and cluster verdicts that stick over runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve
from typer.testing import CliRunner

from graph_store.embedded import EmbeddedStore
from linker.cli import app
from linker.evidence.projection import Projection
from linker.learn import learn
from linker.learn.labels import gather_labels, table_verdicts
from linker.learn.propagate import build_walk, propagate, seed_paths
from linker.learn.sticky import cluster_verdicts
from linker.masking import mask_free_text, mask_identifier
from linker.pipeline import link
from linker.settings import settings_from_dict
from linker.settings.learn import LearnSettings
from synth import generate_world, write_world

pytestmark = pytest.mark.xdist_group("world")


def _projection(
    holders: dict[tuple[str, str], list[int]], n_accounts: int, p: dict[str, float] | None = None
) -> Projection:
    """A projection whose identifiers (kind, value) are held by the given accounts, with
    weight ``p[kind]`` (default 1)."""
    keys = list(holders)
    identifiers = pd.DataFrame(
        {
            "kind": [k for k, _ in keys],
            "value": [v for _, v in keys],
            "degree": [len(holders[k]) for k in keys],
            "p": [(p or {}).get(k, 1.0) for k, _ in keys],
            "supernode": False,
        }
    )
    rows = [(a, i) for i, k in enumerate(keys) for a in holders[k]]
    memberships = pd.DataFrame(rows, columns=["account", "ident"]).assign(strength=1.0)
    accounts = pd.Index([f"acc{i}" for i in range(n_accounts)])
    return Projection(
        accounts, identifiers, memberships, pd.DataFrame(columns=["a", "b", "weight"])
    )


def proj_holders(n: int) -> list[tuple[tuple[str, str], list[int]]]:
    return [(("card", "pm_1111"), [0, 1]), (("ip", "10.0.0.1"), list(range(1, n)))]


@pytest.mark.parametrize("hub_size", [150, 1000])
def test_a_seed_two_hops_from_a_hub_does_not_spread_through_it(hub_size: int) -> None:
    """Seed 0 shares a card with account 1; account 1 sits behind a carrier address with
    ``hub_size`` strangers. Account 1 is close to the seed; the strangers are not, both
    below the degree cut (150: the hub's share is split among its holders) and above it
    (1000: the hub carries nothing)."""
    n = 2 + hub_size
    # weights as the linkage gives them: a card near full, a wide address discounted
    proj = _projection(
        {("card", "pm_1111"): [0, 1], ("ip", "10.0.0.1"): list(range(1, n))},
        n,
        {"card": 0.8, "ip": 0.25 * (3 / hub_size) ** 0.4},
    )
    settings = LearnSettings()
    walk = build_walk(proj, settings)
    seeds = np.zeros(n, dtype=bool)
    seeds[0] = True
    prox = propagate(walk, seeds, settings)
    assert prox[1] > 0.3
    assert prox[2:].max() < 0.02 * prox[1]  # about 1 / hub_size of it
    # the same hub at full weight still passes next to nothing to each stranger
    flat = propagate(build_walk(_projection(dict(proj_holders(n)), n), settings), seeds, settings)
    assert flat[2:].max() < 0.05 * flat[1]
    paths = seed_paths(proj, walk, seeds)
    assert (
        paths[1]
        == f"shares card {mask_identifier('card', 'pm_1111')} with 1 confirmed sybil account"
    )
    assert all(p == "" or "which shares" in p for p in paths[2:])


def test_proximity_falls_with_distance_and_is_zero_without_a_path() -> None:
    """A chain 0-1-2-3 by cards, and 4-5 apart: closer accounts are closer."""
    proj = _projection(
        {("card", "a"): [0, 1], ("card", "b"): [1, 2], ("card", "c"): [2, 3], ("dev", "d"): [4, 5]},
        6,
    )
    seeds = np.array([True, False, False, False, False, False])
    prox = propagate(build_walk(proj, LearnSettings()), seeds, LearnSettings())
    assert prox[1] > prox[2] > prox[3] > 0
    assert prox[4] == prox[5] == 0
    paths = seed_paths(proj, build_walk(proj, LearnSettings()), seeds)
    b, a = mask_identifier("card", "b"), mask_identifier("card", "a")
    assert (
        paths[2]
        == f"shares card {b} with acc1, which shares card {a} with 1 confirmed sybil account"
    )


def test_a_cluster_verdict_lapses_when_membership_changes_substantially() -> None:
    """Jaccard of the recorded and the current members: 3 of 4 kept holds, 2 of 8 lapses."""
    verdict = pd.DataFrame(
        [
            {
                "target_type": "cluster",
                "target_id": "c1",
                "label": "benign",
                "author": "ana",
                "reason": "office",
                "created_at": pd.Timestamp("2026-01-01", tz="UTC"),
            }
        ]
    )
    previous = {
        "c1": {
            "label": "benign",
            "created_at": pd.Timestamp("2026-01-01", tz="UTC").isoformat(),
            "members": ["a", "b", "c", "d"],
        }
    }
    settings = LearnSettings()

    def state(members: list[str]) -> pd.Series:
        accounts = pd.DataFrame({"account_id": members, "cluster_id": "c1"})
        frame, baselines = cluster_verdicts(verdict, accounts, previous, settings)
        assert baselines["c1"]["members"] == ["a", "b", "c", "d"]  # kept from the first run
        return frame.iloc[0]

    kept = state(["a", "b", "c", "e"])
    assert kept["holds"] and kept["jaccard"] == pytest.approx(3 / 5) and kept["n_new"] == 1
    moved = state(["a", "b", "e", "f", "g", "h"])
    assert not moved["holds"] and moved["jaccard"] == pytest.approx(2 / 8)


def test_gather_labels_latest_wins_across_sources(tmp_path: Path) -> None:
    """The file, the input table and the API's labels.jsonl merged by time."""
    (tmp_path / "labels.jsonl").write_text(
        json.dumps(
            {
                "target_type": "account",
                "target_id": "a1",
                "label": "benign",
                "author": "ana",
                "reason": "checked",
                "created_at": "2026-06-01T00:00:00+00:00",
            }
        )
        + "\n"
    )
    given = tmp_path / "given.csv"
    pd.DataFrame(
        {"account_id": ["a1", "a2"], "label": ["sybil", "sybil"], "created_at": ["2026-05-01"] * 2}
    ).to_csv(given, index=False)
    table = pd.DataFrame({"account_id": ["a2", "a3"], "label": ["benign", "sybil"]})
    got = gather_labels(
        tmp_path, EmbeddedStore(tmp_path / "s"), given, table, datetime(2026, 7, 1, tzinfo=UTC)
    ).set_index("target_id")
    assert got.loc["a1", "label"] == "benign" and got.loc["a1", "source"] == "labels.jsonl"
    assert got.loc["a2", "label"] == "benign" and got.loc["a2", "source"] == "input"
    assert got.loc["a3", "source"] == "input" and len(got) == 3


def test_learn_settings_load_from_toml_and_refuse_bad_values() -> None:
    s = settings_from_dict({"learn": {"c_grid": [0.5, 2], "threshold": 0.7}})
    assert s.learn.c_grid == (0.5, 2.0) and s.learn.threshold == 0.7
    with pytest.raises(Exception, match="c_grid"):
        settings_from_dict({"learn": {"c_grid": ["a"]}})
    with pytest.raises(Exception, match="restart"):
        LearnSettings(restart=1.5)
    for name in ("threshold", "keep_flag_risk", "flag_precision"):
        with pytest.raises(Exception, match=name):
            LearnSettings(**{name: 1.5})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("learnworld")
    write_world(generate_world(5000, seed=3), out)
    return out, pd.read_parquet(out / "labels.parquet")


@pytest.fixture(scope="module")
def unsupervised(world, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("free")
    return link(world[0], EmbeddedStore(out), out_dir=out)


def _half(labels: pd.DataFrame, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(len(labels)) < 0.5


def test_no_labels_gives_the_unsupervised_tables(unsupervised) -> None:  # type: ignore[no-untyped-def]
    """learn() with no verdict leaves the tables as they were, column for column."""
    acc, cl = unsupervised.run.accounts.copy(), unsupervised.run.clusters.copy()
    empty = table_verdicts(acc.head(0).assign(label=[]), "x", datetime.now(tz=UTC))
    learned = learn(unsupervised.projection, acc, cl, empty.assign(source=[]), {}, LearnSettings())
    pd.testing.assert_frame_equal(acc, unsupervised.run.accounts)
    pd.testing.assert_frame_equal(cl, unsupervised.run.clusters)
    assert learned.model is None and learned.report == {}
    assert unsupervised.run.meta["labels"] == {"n": 0, "sources": {}, "as_of": None}


@pytest.fixture(scope="module")
def half_given(world, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    data, labels = world
    tmp = tmp_path_factory.mktemp("half")
    give = _half(labels)
    labels[give][["account_id", "label"]].to_csv(tmp / "given.csv", index=False)
    out = tmp / "out"
    return link(data, EmbeddedStore(out), out_dir=out, labels_file=tmp / "given.csv"), give


def test_half_the_labels_lift_the_hidden_half(world, unsupervised, half_given) -> None:  # type: ignore[no-untyped-def]
    from linker.scoring.evaluate import evaluate

    _, labels = world
    result, give = half_given
    hidden = labels[~give]
    free = evaluate(unsupervised.run.accounts, hidden)
    got = evaluate(result.run.accounts, hidden)
    assert got["average_precision"] >= max(free["average_precision"], 0.98)
    assert got["recall_at_precision_0.95"] >= free["recall_at_precision_0.95"]
    meta = result.run.meta
    assert meta["labels"]["sources"]["file"]["n"] == int(give.sum())
    assert meta["learning"]["model"]["validation"]["n_labels"] == int(give.sum())
    assert (Path(meta["input"]).exists()) and meta["settings"]["learn"]["threshold"] == 0.75


def test_calibration_on_held_out_labels_is_near_the_diagonal(world, half_given) -> None:  # type: ignore[no-untyped-def]
    """Risk 0.9 means about 9 in 10: on the hidden half, every risk bin with at least 100
    accounts has a confirmed share within 0.1 of its mean risk. (A bin's share is a
    sample: with 100 accounts two standard errors are at most 0.1, with 30 they are up to
    0.18. On 2026-12-01 the 48-account bin 0.1-0.2 had mean risk 0.173 and 3 sybil
    accounts, 0.0625, two standard errors off, at this tree and at 5f2ca4f alike.)"""
    _, labels = world
    result, give = half_given
    joined = result.run.accounts.merge(labels[~give], on="account_id")
    y, p = (joined["label"] == "sybil").to_numpy(int), joined["risk"].to_numpy(float)
    bins = np.minimum((p * 10).astype(int), 9)
    counts = np.bincount(bins, minlength=10)
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="uniform")
    full = counts[counts > 0] >= 100
    assert full.sum() >= 2  # the curve has both ends
    assert np.abs(observed - predicted)[full].max() <= 0.1


def test_flags_need_three_to_one_odds_or_an_unsupervised_flag(unsupervised, half_given) -> None:  # type: ignore[no-untyped-def]
    """An unlabelled account is flagged at the model's threshold (never below
    ``threshold``, 0.75), or when the unsupervised path flagged it and its calibrated
    risk stays at least ``keep_flag_risk`` (0.5); a flag held at even odds is not a flag."""
    result, _ = half_given
    acc = result.run.accounts.set_index("account_id")
    free = unsupervised.run.accounts.set_index("account_id")["flagged"].reindex(acc.index)
    threshold = result.run.meta["learning"]["model"]["flag_threshold"]
    assert threshold is not None and threshold >= 0.75
    mine = acc[acc["analyst_label"].isna()]
    expected = (mine["risk"] >= threshold) | (free[mine.index] & (mine["risk"] >= 0.5))
    assert (mine["flagged"] == expected).all()
    assert not mine.loc[mine["flagged"], "risk"].lt(0.5).any()


def test_the_model_does_not_use_the_own_risk_on_its_own(half_given) -> None:  # type: ignore[no-untyped-def]
    """The own risk is a part of the unsupervised risk; as a feature of its own it let a
    model on few labels flag benign accounts whose own risk no labelled benign account
    had."""
    result, _ = half_given
    model = result.run.meta["learning"]["model"]
    assert "own_risk" not in model["features"] and "unsupervised_risk" in model["features"]


def test_reasons_name_the_features_and_the_path(half_given) -> None:  # type: ignore[no-untyped-def]
    result, _ = half_given
    acc = result.run.accounts
    flagged = acc[acc["flagged"] & acc["analyst_label"].isna()]
    assert len(flagged) and (flagged["learned_reasons"].str.len() > 0).all()
    assert flagged["learned_reasons"].str.contains("raised it").all()
    near = acc[acc["proximity_sybil"] >= 0.5]
    assert near["proximity_path"].str.contains("confirmed sybil").all()
    assert (acc["risk"].between(0, 1)).all()


def test_a_cleared_cluster_stays_cleared_over_a_rerun(world, unsupervised, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A benign verdict on a flagged cluster: the next run records its members, and the
    run after that still clears it (same members, so the verdict holds)."""
    data, _ = world
    run = unsupervised.run
    target = run.clusters.loc[run.clusters["flagged"], "cluster_id"].iloc[0]
    out = tmp_path / "out"
    EmbeddedStore(out).write_run(run)
    verdict = {
        "target_type": "cluster",
        "target_id": target,
        "label": "benign",
        "author": "ana",
        "reason": "a school, bursar pays by card 4111 1111 1111 1234",
        "created_at": "2026-02-01T00:00:00+00:00",
    }
    (out / "labels.jsonl").write_text(json.dumps(verdict) + "\n")
    for _ in range(2):
        again = link(data, EmbeddedStore(out), out_dir=out).run
        row = again.clusters.set_index("cluster_id").loc[target]
        assert not row["flagged"] and row["reasons"][0].startswith("analyst verdict: benign")
        # the analyst's words reach every reader of the reasons: the card is masked
        assert "***1234" in row["reasons"][0] and "4111" not in row["reasons"][0]
        members = again.accounts[again.accounts["cluster_id"] == target]
        assert not members["flagged"].any()
        assert again.meta["verdict_baselines"][target]["members"] == sorted(members["account_id"])


def test_a_confirmed_clusters_new_members_rise(world, unsupervised, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A sybil verdict whose recorded members are most of the cluster: the members the
    analyst did not see are flagged, with the reason."""
    data, _ = world
    run = unsupervised.run
    sizes = run.accounts.groupby("cluster_id").size()
    target = sizes[sizes >= 10].index[0]
    members = sorted(run.accounts.loc[run.accounts["cluster_id"] == target, "account_id"])
    seen, unseen = members[:-2], members[-2:]
    out = tmp_path / "out"
    EmbeddedStore(out).write_run(run)
    when = "2026-02-01T00:00:00+00:00"
    run.meta["verdict_baselines"] = {
        target: {"label": "sybil", "created_at": when, "members": seen}
    }
    EmbeddedStore(out).write_run(run)
    verdict = {
        "target_type": "cluster",
        "target_id": target,
        "label": "sybil",
        "author": "bo",
        "reason": "takedown",
        "created_at": when,
    }
    (out / "labels.jsonl").write_text(json.dumps(verdict) + "\n")
    again = link(data, EmbeddedStore(out), out_dir=out).run.accounts.set_index("account_id")
    assert again.loc[members, "flagged"].all()
    assert (
        again.loc[unseen, "label_influence"]
        .str.contains(f"joined cluster {target} after it was confirmed sybil by bo")
        .all()
    )


def test_too_few_labels_fall_back_to_the_unsupervised_risk(
    world, unsupervised, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    data, labels = world
    few = pd.concat(
        [labels[labels["label"] == "sybil"].head(5), labels[labels["label"] == "benign"].head(5)]
    )
    few[["account_id", "label"]].to_csv(tmp_path / "few.csv", index=False)
    result = link(data, EmbeddedStore(tmp_path / "o"), labels_file=tmp_path / "few.csv")
    assert result.run.meta["learning"]["model"] is None
    assert "fewer than 20" in result.run.meta["learning"]["fallback"]
    free = unsupervised.run.accounts.set_index("account_id")["risk"]
    got = result.run.accounts.set_index("account_id")
    unlabelled = got["analyst_label"].isna()
    pd.testing.assert_series_equal(got.loc[unlabelled, "risk"], free[unlabelled[unlabelled].index])


def test_link_labels_option_reports_a_bad_file_in_one_line(world, tmp_path: Path) -> None:
    data, _ = world
    bad = tmp_path / "bad.csv"
    bad.write_text("account_id,label\nacc1,maybe\n")
    result = CliRunner().invoke(
        app, ["link", str(data), "--out", str(tmp_path / "o"), "--labels", str(bad)]
    )
    assert result.exit_code != 0
    assert "bad.csv" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 2


def test_link_learns_from_the_input_labels_only_when_asked(world, tmp_path: Path) -> None:
    """The input's labels table is evaluation data unless --learn-from-input-labels; with
    it, the run learns from it and the terminal shows the model's validation."""
    data, labels = world
    plain = CliRunner().invoke(app, ["link", str(data), "--out", str(tmp_path / "a")])
    assert plain.exit_code == 0, plain.output
    assert json.loads((tmp_path / "a" / "run.json").read_text())["labels"]["n"] == 0
    args = ["link", str(data), "--out", str(tmp_path / "b"), "--learn-from-input-labels"]
    learned = CliRunner().invoke(app, args)
    assert learned.exit_code == 0, learned.output
    meta = json.loads((tmp_path / "b" / "run.json").read_text())
    assert meta["labels"]["sources"]["input"]["n"] == len(labels)
    assert meta["settings"]["learn"]["input_labels"] is True
    assert "calibrated model (boosting, max_leaf_nodes=" in learned.output  # 5,000 labels
    assert (tmp_path / "b" / "risk_model.joblib").is_file()
    assert not (tmp_path / "a" / "risk_model.joblib").exists()


def test_a_projection_without_its_columns_is_refused() -> None:
    """The evidence stage's hand-off is checked where it is built."""
    from linker.errors import LinkerError

    proj = _projection({("card", "x"): [0, 1]}, 2)
    with pytest.raises(LinkerError, match="projection: edges lacks column 'b'"):
        Projection(proj.accounts, proj.identifiers, proj.memberships, pd.DataFrame(columns=["a"]))
    with pytest.raises(LinkerError, match="projection: memberships lacks column 'ident'"):
        Projection(
            proj.accounts, proj.identifiers, proj.memberships.drop(columns="ident"), proj.edges
        )


def test_free_text_masks_what_looks_like_an_identifier() -> None:
    text = "card 4111-1111-1111-1234, bob@example.com at 203.0.113.7, phone +44 7700 900123"
    masked = mask_free_text(text)
    assert masked == "card ***1234, b***@example.com at 203.0.x.x, phone ***23"
    assert mask_free_text("office 2001:db8:85a3::8a2e:370:7334") == "office 2001:0db8:x:x:x:x:x:x"
    assert mask_free_text("card 4111.1111.1111.1111 or 4111  1111  1111  1112") == (
        "card ***1111 or ***1112"
    )
    # what a reviewer needs stays: small numbers, dates, times and the linker's own ids
    kept = "ticket 42 on 2026-02-01 12:30 (2026-02-01T12:30:00Z), acc_00012345 in c_20260201a"
    assert mask_free_text(kept) == kept


def test_accounts_the_model_scores_alike_are_ordered_by_their_unsupervised_risk() -> None:
    from linker.learn.model import FEATURES, fit

    rng = np.random.default_rng(4)
    n = 1200
    y = (rng.random(n) < 0.15).astype(int)
    features = pd.DataFrame({name: rng.random(n) for name in FEATURES})
    features["cluster_sybil_share"] = np.where(y == 1, 0.9, 0.1) * (rng.random(n) < 0.9)
    features["unsupervised_risk"] = np.clip(0.2 + 0.3 * y + rng.normal(0, 0.2, n), 0, 1)
    fitted = fit(features, y, LearnSettings(model="boosting"))
    score = fitted.raw.decision_function(features[list(fitted.features)])
    risk = fitted.predict(features)
    frame = pd.DataFrame({"score": score, "risk": risk, "u": features["unsupervised_risk"]})
    tied = frame.groupby("score").filter(lambda g: len(g) >= 20)
    assert len(tied) > n / 4  # trees give whole regions one score
    for _, group in tied.groupby("score"):
        ordered = group.sort_values("u")
        assert ordered["risk"].is_monotonic_increasing
        assert ordered["risk"].iloc[-1] > ordered["risk"].iloc[0]
    calibrated = fitted.calibrator.predict(score)
    assert np.abs(risk - calibrated).max() <= LearnSettings().tie_break
