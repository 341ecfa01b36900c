"""The API over a run that learned from analysts' labels (docs/learning.md): the account
answer carries the calibrated risk with the unsupervised one, the proximity to confirmed
accounts with its (masked) path, the learned reasons and the labels that influenced it;
clusters and members carry their verdicts. Both stores, the real app, a real run made
by ``link`` with a labels file and a cluster verdict posted to the API's labels.jsonl."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.schemas import AccountRisk, ClusterDetail, ClusterPage
from graph_store.base import LEARNED_ACCOUNT_COLUMNS, GraphStore, RunTables
from graph_store.embedded import EmbeddedStore
from linker.pipeline import link
from linker.settings import settings_from_dict
from tests.api.conftest import RING_CARD, _world, auth

#: the account answer's fields in a run without labels
CORE_FIELDS = {
    "account_id",
    "run_id",
    "risk",
    "own_risk",
    "attached",
    "flagged",
    "cluster_id",
    "cluster_risk",
    "cluster_size",
    "reasons",
}
SYBIL = [f"ring{i}" for i in range(4)]
BENIGN = [f"solo{i}" for i in range(5)]
RING_PATH = "shares payment ***1111 with 4 confirmed sybil accounts"


@dataclass(frozen=True)
class Learned:
    """A run that learned from labels, and the label-free run before it."""

    run: RunTables
    free: RunTables
    ring: str  # the ring's cluster id
    family: str  # the family's cluster id, cleared by a verdict


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> Learned:
    """The test world linked once without labels, then with half the ring confirmed
    sybil and the loners benign (``--labels FILE``) and the family's cluster cleared
    through the API's labels.jsonl. A handful of labels: the settings let the model fit
    on 3 per class with 2 folds."""
    root = tmp_path_factory.mktemp("learned")
    data, out = _world(root / "in"), root / "out"
    free = link(data, EmbeddedStore(out), out_dir=out).run
    cluster_of = free.accounts.set_index("account_id")["cluster_id"]
    family = str(cluster_of["fam0"])
    verdict = {
        "target_type": "cluster",
        "target_id": family,
        "label": "benign",
        "author": "ana",
        "reason": "a family",
        "created_at": "2026-03-01T12:00:00Z",
    }
    (out / "labels.jsonl").write_text(json.dumps(verdict) + "\n")
    labels = pd.DataFrame({"account_id": SYBIL + BENIGN, "label": ["sybil"] * 4 + ["benign"] * 5})
    labels.to_csv(root / "labels.csv", index=False)
    settings = settings_from_dict({"learn": {"min_labels_per_class": 3, "folds": 2}})
    run = link(data, EmbeddedStore(out), settings, out_dir=out, labels_file=root / "labels.csv")
    assert run.run.meta["learning"]["model"] is not None  # a model was fitted
    return Learned(run.run, free, str(cluster_of["ring0"]), family)


@pytest.fixture
def learned_client(
    make_client: Callable[..., TestClient], empty_store: GraphStore, learned: Learned
) -> TestClient:
    """The app over each store kind holding the learned run."""
    empty_store.write_run(learned.run)
    return make_client(empty_store)


def _get(client: TestClient, key: str, path: str) -> dict[str, Any]:
    response = client.get(path, headers=auth(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _expected(value: Any) -> Any:
    """A table cell as the API shows it: numbers to 4 places, missing or empty: None."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), 4) if isinstance(value, float) else str(value)


def _get_free(learned: Learned, account: str) -> float:
    """The account's risk in the run without labels."""
    return float(learned.free.accounts.set_index("account_id").loc[account, "risk"])


def test_every_account_answer_carries_the_run_s_learned_columns(
    learned_client: TestClient, keys: dict[str, str], learned: Learned
) -> None:
    accounts = learned.run.accounts
    ids = accounts["account_id"].tolist()
    response = learned_client.post(
        "/v1/accounts/risk", json={"account_ids": ids}, headers=auth(keys["reader"])
    )
    results = {r["account_id"]: r for r in response.json()["results"]}
    assert set(results) == set(ids)
    for row in accounts.to_dict("records"):
        body = results[row["account_id"]]
        AccountRisk.model_validate(body)  # conforms to the documented schema
        assert set(body) == CORE_FIELDS | set(LEARNED_ACCOUNT_COLUMNS)
        for column in LEARNED_ACCOUNT_COLUMNS:
            assert body[column] == _expected(row[column]), (row["account_id"], column)
        assert body["risk"] == pytest.approx(row["risk"], abs=5e-5)  # the API gives 4 decimals
    # the single answer is the batch's
    assert _get(learned_client, keys["reader"], "/v1/accounts/ring5/risk") == results["ring5"]


def test_an_unlabelled_ring_member_is_close_to_the_confirmed_ones(
    learned_client: TestClient, keys: dict[str, str], learned: Learned
) -> None:
    body = _get(learned_client, keys["reader"], "/v1/accounts/ring5/risk")
    before = _get_free(learned, "ring5")
    assert body["unsupervised_risk"] == pytest.approx(before)
    assert body["risk"] != body["unsupervised_risk"]  # calibrated on the labels
    assert body["proximity_sybil"] > 0.3 and body["proximity_benign"] == 0.0
    assert body["proximity_path"] == RING_PATH
    assert body["analyst_label"] is None
    assert body["label_influence"] == RING_PATH  # influenced by the confirmed accounts
    assert "raised it" in body["learned_reasons"]


def test_labelled_accounts_say_which_verdict(
    learned_client: TestClient, keys: dict[str, str], learned: Learned
) -> None:
    ring0 = _get(learned_client, keys["reader"], "/v1/accounts/ring0/risk")
    assert ring0["analyst_label"] == "sybil" and ring0["flagged"] is True
    assert ring0["label_influence"].startswith("sybil verdict by labels.csv (file)")
    fam1 = _get(learned_client, keys["reader"], "/v1/accounts/fam1/risk")
    assert fam1["analyst_label"] == "benign" and fam1["flagged"] is False
    assert fam1["label_influence"] == (
        f"benign verdict by ana on cluster {learned.family} on 2026-03-01"
    )
    assert fam1["reasons"][0] == "analyst verdict: benign (ana: a family)"
    solo = _get(learned_client, keys["reader"], "/v1/accounts/solo3/risk")
    assert solo["analyst_label"] == "benign" and solo["proximity_path"] is None


def test_clusters_carry_their_unsupervised_risk_and_verdict(
    learned_client: TestClient, keys: dict[str, str], learned: Learned
) -> None:
    listed = _get(learned_client, keys["reader"], "/v1/clusters")
    ClusterPage.model_validate(listed)
    items = {c["cluster_id"]: c for c in listed["items"]}
    table = learned.run.clusters.set_index("cluster_id")
    for cid in (learned.ring, learned.family):
        assert items[cid]["unsupervised_risk"] == pytest.approx(table.loc[cid, "unsupervised_risk"])
    assert items[learned.family]["analyst_label"] == "benign"
    assert items[learned.ring]["analyst_label"] is None
    free = learned.free.clusters.set_index("cluster_id")
    assert items[learned.ring]["unsupervised_risk"] == pytest.approx(free.loc[learned.ring, "risk"])

    detail = _get(learned_client, keys["reader"], f"/v1/clusters/{learned.ring}")
    ClusterDetail.model_validate(detail)
    assert detail["analyst_label"] is None and "unsupervised_risk" in detail
    assert not {"analyst_label", "unsupervised_risk"} & set(detail["features"])
    members = {m["account_id"]: m for m in detail["members"]["items"]}
    assert {members[a]["analyst_label"] for a in SYBIL} == {"sybil"}
    assert members["ring6"]["analyst_label"] is None
    assert members["ring6"]["proximity_sybil"] > 0.3
    family = _get(learned_client, keys["reader"], f"/v1/clusters/{learned.family}")
    assert {m["analyst_label"] for m in family["members"]["items"]} == {"benign"}


def test_readers_never_see_an_identifier_value(
    learned_client: TestClient, keys: dict[str, str], learned: Learned
) -> None:
    """The path and the influence are masked for every caller (the unmasked values are
    not in the run): no shared value longer than a masked tail appears in any account
    answer, nor in any cluster answer of a key without identifiers:read."""
    secrets = [RING_CARD, "ringleader@example.com", "ringleader"]
    ids = learned.run.accounts["account_id"].tolist()
    for role in ("reader", "analyst"):
        text = learned_client.post(
            "/v1/accounts/risk", json={"account_ids": ids}, headers=auth(keys[role])
        ).text
        assert "***1111" in text  # the path is there, masked
        assert not [s for s in secrets if s in text], role
    clusters = learned.run.clusters["cluster_id"].tolist()
    reader = "".join(
        learned_client.get(f"/v1/clusters/{c}", headers=auth(keys["reader"])).text for c in clusters
    )
    assert not [s for s in secrets if s in reader]
    analyst = learned_client.get(f"/v1/clusters/{learned.ring}", headers=auth(keys["analyst"]))
    assert RING_CARD in analyst.text  # the scope still reveals the cluster's shared values


def test_a_run_without_labels_answers_as_before(
    client: TestClient, keys: dict[str, str], linked_run: RunTables, ring_cluster: str
) -> None:
    assert not set(LEARNED_ACCOUNT_COLUMNS) & set(linked_run.accounts.columns)
    body = _get(client, keys["reader"], "/v1/accounts/ring0/risk")
    assert set(body) == CORE_FIELDS
    listed = _get(client, keys["reader"], "/v1/clusters")
    assert {k for item in listed["items"] for k in item} == {
        "cluster_id",
        "size",
        "risk",
        "flagged",
        "reasons",
    }
    detail = _get(client, keys["reader"], f"/v1/clusters/{ring_cluster}")
    assert "analyst_label" not in detail and "unsupervised_risk" not in detail
    member_keys = {k for m in detail["members"]["items"] for k in m}
    assert member_keys == {"account_id", "risk", "own_risk", "attached"}


def test_the_openapi_document_lists_the_learned_fields(
    learned_client: TestClient,
) -> None:
    schemas = learned_client.get("/openapi.json").json()["components"]["schemas"]
    account = schemas["AccountRisk"]
    assert set(LEARNED_ACCOUNT_COLUMNS) <= set(account["properties"])
    assert not set(LEARNED_ACCOUNT_COLUMNS) & set(account["required"])
    assert "learned from analysts' labels" in account["properties"]["proximity_path"]["description"]
    assert any("proximity_path" in example for example in account["examples"])
    for name in ("ClusterSummary", "ClusterDetail", "Member"):
        props = schemas[name]["properties"]
        assert {"unsupervised_risk", "analyst_label"} <= set(props), name
        assert not {"unsupervised_risk", "analyst_label"} & set(schemas[name]["required"])


def test_a_learned_column_null_everywhere_is_null_in_the_answers(
    make_client: Callable[..., TestClient], tmp_path: Path, keys: dict[str, str], learned: Learned
) -> None:
    """A run whose verdicts named no account still has the columns: they answer null."""
    accounts = learned.run.accounts.assign(analyst_label=None, label_influence="")
    meta = {"run_id": "all-null"}
    run = RunTables("all-null", accounts, learned.run.clusters, learned.run.edges, meta)
    store = EmbeddedStore(tmp_path / "nulls")
    store.write_run(run)
    body = _get(make_client(store), keys["reader"], "/v1/accounts/ring0/risk")
    assert body["analyst_label"] is None and body["label_influence"] is None
    assert body["proximity_sybil"] == _expected(
        accounts.set_index("account_id").loc["ring0", "proximity_sybil"]
    )


def test_texts_from_analysts_are_encoded_not_pasted(
    make_client: Callable[..., TestClient], tmp_path: Path, keys: dict[str, str], learned: Learned
) -> None:
    """An author's name ends up in label_influence: quotes, newlines and non-ASCII text
    come back as they were, in valid JSON."""
    hostile = 'benign verdict by ana"},"risk":1,"x":"\n\u2028 é </script>'
    accounts = learned.run.accounts.copy()
    accounts.loc[accounts["account_id"] == "ring0", "label_influence"] = hostile
    meta = {"run_id": "hostile"}
    store = EmbeddedStore(tmp_path / "hostile")
    store.write_run(RunTables("hostile", accounts, learned.run.clusters, learned.run.edges, meta))
    client = make_client(store)
    body = _get(client, keys["reader"], "/v1/accounts/ring0/risk")
    assert body["label_influence"] == hostile
    assert body["risk"] == _expected(accounts.set_index("account_id").loc["ring0", "risk"])
