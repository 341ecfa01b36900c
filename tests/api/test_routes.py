"""Every route against the real app over a store holding a real linked run."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.pagination import encode_cursor
from api.settings import ApiSettings
from graph_store.base import GraphStore, RunTables
from graph_store.embedded import EmbeddedStore
from tests.api.conftest import RING_CARD, auth


def _row(frame: pd.DataFrame, column: str, value: str) -> pd.Series:
    row = frame.set_index(column).loc[value]
    assert isinstance(row, pd.Series), f"{value!r} is not unique in {column}"
    return row


def test_account_risk_of_a_ring_member(
    client: TestClient, keys: dict[str, str], linked_run: RunTables, ring_cluster: str
) -> None:
    response = client.get("/v1/accounts/ring3/risk", headers=auth(keys["reader"]))
    assert response.status_code == 200
    body = response.json()
    account = _row(linked_run.accounts, "account_id", "ring3")
    cluster = _row(linked_run.clusters, "cluster_id", ring_cluster)
    assert body == {
        "account_id": "ring3",
        "run_id": linked_run.run_id,
        "risk": pytest.approx(float(account["risk"])),
        "own_risk": pytest.approx(float(account["own_risk"])),
        "attached": bool(account["attached"]),
        "flagged": bool(account["flagged"]),
        "cluster_id": ring_cluster,
        "cluster_risk": pytest.approx(float(cluster["risk"])),
        "cluster_size": 8,
        "reasons": list(cluster["reasons"])[:3],
    }


def test_account_in_no_cluster(client: TestClient, keys: dict[str, str]) -> None:
    body = client.get("/v1/accounts/solo2/risk", headers=auth(keys["reader"])).json()
    assert body["cluster_id"] is None and body["cluster_risk"] is None
    assert body["cluster_size"] is None and body["reasons"] == [] and body["flagged"] is False
    assert body["risk"] == body["own_risk"]


def test_unknown_account_is_404(client: TestClient, keys: dict[str, str]) -> None:
    response = client.get("/v1/accounts/nobody/risk", headers=auth(keys["reader"]))
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": "no account 'nobody' in the current run",
            "field": None,
        }
    }


def test_batch_reports_unknown_ids_and_drops_duplicates(
    client: TestClient, keys: dict[str, str], linked_run: RunTables
) -> None:
    ids = ["ring0", "ghost", "fam1", "ring0", "solo0"]
    response = client.post(
        "/v1/accounts/risk", json={"account_ids": ids}, headers=auth(keys["reader"])
    )
    assert response.status_code == 200
    body = response.json()
    assert body["run_id"] == linked_run.run_id
    assert [r["account_id"] for r in body["results"]] == ["ring0", "fam1", "solo0"]
    assert body["not_found"] == ["ghost"]
    single = client.get("/v1/accounts/fam1/risk", headers=auth(keys["reader"])).json()
    assert body["results"][1] == single


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"account_ids": [f"a{i}" for i in range(1001)]}, "body.account_ids"),
        ({"account_ids": []}, "body.account_ids"),
        ({"account_ids": [""]}, "body.account_ids.0"),
        ({"account_ids": ["a"], "extra": 1}, "body.extra"),
        ({}, "body.account_ids"),
        (None, "body"),
    ],
    ids=["1001-ids", "empty", "empty-id", "extra-field", "missing-field", "no-body"],
)
def test_malformed_batch_is_422_naming_the_field(
    client: TestClient, keys: dict[str, str], payload: object, field: str
) -> None:
    response = client.post("/v1/accounts/risk", json=payload, headers=auth(keys["reader"]))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert response.json()["error"]["field"] == field


def test_batch_of_1000_is_accepted(client: TestClient, keys: dict[str, str]) -> None:
    ids = ["ring0", *(f"x{i}" for i in range(999))]
    body = client.post(
        "/v1/accounts/risk", json={"account_ids": ids}, headers=auth(keys["reader"])
    ).json()
    assert len(body["results"]) == 1 and len(body["not_found"]) == 999


def _reference_shared_kinds(run: RunTables, cluster_id: str) -> dict[str, tuple[int, int]]:
    """Slow, obvious reference: loop over the edges of the cluster."""
    members = set(run.accounts.loc[run.accounts["cluster_id"] == cluster_id, "account_id"])
    out: dict[str, tuple[int, set[str]]] = {}
    for edge in run.edges.to_dict("records"):
        if edge["a"] not in members or edge["b"] not in members:
            continue
        for col in (c for c in run.edges.columns if c.startswith("ev_")):
            if edge[col] > 0:
                links, accounts = out.get(col[3:], (0, set()))
                out[col[3:]] = (links + 1, accounts | {edge["a"], edge["b"]})
    return {kind: (links, len(accounts)) for kind, (links, accounts) in out.items()}


def test_cluster_detail(
    client: TestClient, keys: dict[str, str], linked_run: RunTables, ring_cluster: str
) -> None:
    response = client.get(f"/v1/clusters/{ring_cluster}", headers=auth(keys["reader"]))
    assert response.status_code == 200
    body = response.json()
    row = _row(linked_run.clusters, "cluster_id", ring_cluster)
    assert body["run_id"] == linked_run.run_id
    assert (body["size"], body["flagged"]) == (8, bool(row["flagged"]))
    assert body["risk"] == pytest.approx(float(row["risk"]))
    assert body["reasons"] == list(row["reasons"])
    assert body["features"]["density"] == pytest.approx(float(row["density"]), abs=1e-4)
    assert "reasons" not in body["features"] and "risk" not in body["features"]
    shared = {s["kind"]: (s["links"], s["accounts"]) for s in body["shared_identifiers"]}
    expected = _reference_shared_kinds(linked_run, ring_cluster)
    assert {k: v for k, v in shared.items() if v != (0, 0)} == expected
    assert expected["payment"] == (28, 8)  # 8 accounts on one card: every pair linked
    assert body["members"]["total"] == 8


def test_member_pages_cover_every_member_once(
    client: TestClient, keys: dict[str, str], linked_run: RunTables, ring_cluster: str
) -> None:
    url, seen, cursor = f"/v1/clusters/{ring_cluster}", [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get(url, params=params, headers=auth(keys["reader"])).json()["members"]
        seen += [m["account_id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"ring{i}" for i in range(8)] and len(seen) == 8
    by_offset = client.get(url, params={"limit": 3, "offset": 3}, headers=auth(keys["reader"]))
    assert [m["account_id"] for m in by_offset.json()["members"]["items"]] == seen[3:6]


def test_identifier_values_are_masked_without_identifiers_read(
    client: TestClient, keys: dict[str, str], ring_cluster: str
) -> None:
    def values(role: str) -> dict[str, list[dict[str, object]]]:
        body = client.get(f"/v1/clusters/{ring_cluster}", headers=auth(keys[role])).json()
        return {s["kind"]: s["values"] for s in body["shared_identifiers"]}

    masked, clear = values("reader"), values("analyst")
    assert masked["payment"] == [{"value": "***1111", "accounts": 8, "masked": True}]
    assert masked["email"][0]["value"] == "r***@example.com"
    assert clear["payment"] == [{"value": RING_CARD, "accounts": 8, "masked": False}]
    assert clear["device"][0]["value"] == "dev-R0"
    assert RING_CARD not in json.dumps(masked)


def test_values_are_the_ones_the_linker_recorded(
    client: TestClient, keys: dict[str, str], linked_run: RunTables
) -> None:
    family = str(_row(linked_run.accounts, "account_id", "fam0")["cluster_id"])
    assert linked_run.meta["cluster_identifiers"][family] == [
        {"kind": "payment", "value": "card-F", "accounts": 3}
    ]
    body = client.get(f"/v1/clusters/{family}", headers=auth(keys["analyst"])).json()
    assert body["shared_identifiers"] == [
        {
            "kind": "payment",
            "links": 3,
            "accounts": 3,
            "values": [{"value": "card-F", "accounts": 3, "masked": False}],
        }
    ]


def test_cluster_without_recorded_values_has_empty_values(
    make_client: Callable[..., TestClient],
    keys: dict[str, str],
    linked_run: RunTables,
    tmp_path: Path,
) -> None:
    # a run written before the linker recorded values
    meta = {k: v for k, v in linked_run.meta.items() if k != "cluster_identifiers"}
    store = EmbeddedStore(tmp_path / "old")
    store.write_run(replace(linked_run, meta=meta))
    family = str(_row(linked_run.accounts, "account_id", "fam0")["cluster_id"])
    body = make_client(store).get(f"/v1/clusters/{family}", headers=auth(keys["analyst"]))
    assert body.json()["shared_identifiers"] == [
        {"kind": "payment", "links": 3, "accounts": 3, "values": []}
    ]


def test_unknown_cluster_is_404(client: TestClient, keys: dict[str, str]) -> None:
    response = client.get("/v1/clusters/c_nope", headers=auth(keys["reader"]))
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "no cluster 'c_nope' in the current run"


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"limit": 0}, 422, "validation_error"),
        ({"limit": 1001}, 422, "validation_error"),
        ({"offset": -1}, 422, "validation_error"),
        ({"cursor": "not-a-cursor!"}, 422, "validation_error"),
        ({"cursor": encode_cursor("another-run", 0), "offset": 1}, 422, "validation_error"),
        ({"cursor": encode_cursor("another-run", 2)}, 409, "stale_cursor"),
    ],
    ids=["limit-0", "limit-1001", "offset-neg", "bad-cursor", "cursor-and-offset", "stale"],
)
def test_bad_paging_of_members(
    client: TestClient,
    keys: dict[str, str],
    ring_cluster: str,
    params: dict[str, object],
    status: int,
    code: str,
) -> None:
    response = client.get(
        f"/v1/clusters/{ring_cluster}", params=params, headers=auth(keys["reader"])
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["field"].startswith("query.")


def test_cluster_list_sorted_and_filtered(
    client: TestClient, keys: dict[str, str], linked_run: RunTables, ring_cluster: str
) -> None:
    def ids(**params: object) -> list[str]:
        body = client.get("/v1/clusters", params=params, headers=auth(keys["reader"])).json()
        assert body["run_id"] == linked_run.run_id
        return [c["cluster_id"] for c in body["items"]]

    everything = client.get("/v1/clusters", headers=auth(keys["reader"])).json()
    risks = [c["risk"] for c in everything["items"]]
    assert risks == sorted(risks, reverse=True) and everything["total"] == len(linked_run.clusters)
    assert ids(min_size=5) == [ring_cluster]
    flagged = set(linked_run.clusters.loc[linked_run.clusters["flagged"], "cluster_id"])
    assert set(ids(flagged=True)) == flagged
    assert set(ids(flagged=False)).isdisjoint(flagged)
    top = float(linked_run.clusters["risk"].max())
    assert ids(min_risk=top) == [str(_row_max(linked_run))]
    assert ids(min_risk=1.0) == []


def _row_max(run: RunTables) -> str:
    return str(run.clusters.sort_values("risk", ascending=False)["cluster_id"].iloc[0])


def test_cluster_list_pages(client: TestClient, keys: dict[str, str]) -> None:
    first = client.get("/v1/clusters", params={"limit": 1}, headers=auth(keys["reader"])).json()
    assert len(first["items"]) == 1 and first["total"] == 2 and first["next_cursor"]
    second = client.get(
        "/v1/clusters",
        params={"limit": 1, "cursor": first["next_cursor"]},
        headers=auth(keys["reader"]),
    ).json()
    assert second["offset"] == 1 and second["next_cursor"] is None
    assert second["items"][0]["cluster_id"] != first["items"][0]["cluster_id"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"min_risk": 2}, "query.min_risk"), ({"min_size": 0}, "query.min_size"),
     ({"flagged": "maybe"}, "query.flagged"), ({"min_risc": 0.9}, "query.min_risc")],
    ids=["min-risk", "min-size", "flagged", "misspelt"],
)  # fmt: skip
def test_bad_cluster_filters_are_422(
    client: TestClient, keys: dict[str, str], params: dict[str, object], field: str
) -> None:
    response = client.get("/v1/clusters", params=params, headers=auth(keys["reader"]))
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


def test_label_is_stored_durably_and_returned(
    client: TestClient,
    keys: dict[str, str],
    ring_cluster: str,
    linked_run: RunTables,
    tmp_path: Path,
) -> None:
    label = {
        "target_type": "cluster",
        "target_id": ring_cluster,
        "label": "sybil",
        "author": "a.analyst",
        "reason": "one card, two devices, eight accounts",
    }
    response = client.post("/v1/labels", json=label, headers=auth(keys["labeller"]))
    assert response.status_code == 201
    record = response.json()
    assert record.items() >= label.items()
    assert record["id"].startswith("lbl_") and record["run_id"] == linked_run.run_id
    assert record["created_at"]
    client.post(
        "/v1/labels",
        json={**label, "target_type": "account", "target_id": "fam0", "label": "benign"},
        headers=auth(keys["admin"]),
    )
    lines = (tmp_path / "results" / "labels.jsonl").read_text().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0]) == record
    assert json.loads(lines[1])["label"] == "benign"


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"label": "maybe"}, 422, "body.label"),
        ({"target_type": "device"}, 422, "body.target_type"),
        ({"author": "  "}, 422, "body.author"),
        ({"target_id": "ghost"}, 404, None),
    ],
    ids=["bad-label", "bad-target-type", "blank-author", "unknown-target"],
)
def test_bad_labels(
    client: TestClient,
    keys: dict[str, str],
    tmp_path: Path,
    change: dict[str, str],
    status: int,
    field: str | None,
) -> None:
    label = {"target_type": "account", "target_id": "ring0", "label": "sybil", "author": "x"}
    response = client.post("/v1/labels", json={**label, **change}, headers=auth(keys["labeller"]))
    assert response.status_code == status
    assert response.json()["error"]["field"] == field
    assert not (tmp_path / "results" / "labels.jsonl").exists()


def test_health_needs_no_key(client: TestClient, linked_run: RunTables) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["run_id"] == linked_run.run_id
    assert ready.json()["accounts"] == len(linked_run.accounts)


def test_readyz_is_503_until_the_store_holds_a_run(
    make_client: Callable[..., TestClient],
    empty_store: GraphStore,
    linked_run: RunTables,
    keys: dict[str, str],
) -> None:
    client = make_client(empty_store)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_ready"
    risk = client.get("/v1/accounts/ring0/risk", headers=auth(keys["reader"]))
    assert risk.status_code == 503
    empty_store.write_run(linked_run)
    assert client.get("/readyz").status_code == 200
    assert client.get("/v1/accounts/ring0/risk", headers=auth(keys["reader"])).status_code == 200


def test_metrics_need_a_key_unless_public(
    make_client: Callable[..., TestClient], store: GraphStore, keys: dict[str, str]
) -> None:
    client = make_client(store)
    client.get("/v1/accounts/ring0/risk", headers=auth(keys["reader"]))
    assert client.get("/metrics").status_code == 401
    text = client.get("/metrics", headers=auth(keys["labeller"])).text
    assert 'route="/v1/accounts/{account_id}/risk"' in text
    assert "ring0" not in text  # ids never become label values
    assert "sybil_api_request_duration_seconds_bucket" in text
    public = make_client(store, metrics_public=True)
    assert public.get("/metrics").status_code == 200


class BrokenSink:
    """A label sink whose disk is gone."""

    def append(self, record: object) -> None:
        raise OSError("disk full")


def test_wrong_method_and_unknown_route_use_the_error_shape(client: TestClient) -> None:
    wrong = client.delete("/healthz")
    assert wrong.status_code == 405
    assert wrong.json() == {
        "error": {
            "code": "method_not_allowed",
            "message": "method DELETE is not allowed on /healthz",
            "field": None,
        }
    }
    missing = client.get("/v2/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no route GET /v2/nothing"


def test_a_crash_is_500_in_the_error_shape(
    settings: ApiSettings, store: GraphStore, keys: dict[str, str]
) -> None:
    app = create_app(settings, store, label_sink=BrokenSink())
    with TestClient(app, raise_server_exceptions=False) as client:
        label = {"target_type": "account", "target_id": "ring0", "label": "sybil", "author": "x"}
        response = client.post("/v1/labels", json=label, headers=auth(keys["labeller"]))
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "code": "internal_error",
            "message": "internal error; the server log has the details",
            "field": None,
        }
    }


def test_interactive_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"] == "Sybil Linker cluster-risk API"
