"""API keys: the keys file, 401/403 on every protected route, revocation, refusing to
start without keys."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.errors import ApiConfigError
from api.keys import create_key, list_keys, revoke_key
from api.masking import mask_identifier
from api.settings import ApiSettings
from graph_store.base import GraphStore
from tests.api.conftest import auth

LABEL = {"target_type": "account", "target_id": "ring0", "label": "sybil", "author": "x"}

#: (method, path, json body, scope needed) of every protected route
PROTECTED = [
    ("GET", "/v1/accounts/ring0/risk", None, "risk:read"),
    ("POST", "/v1/accounts/risk", {"account_ids": ["ring0"]}, "risk:read"),
    ("GET", "/v1/clusters", None, "risk:read"),
    ("GET", "/v1/clusters/{ring}", None, "risk:read"),
    ("POST", "/v1/labels", LABEL, "labels:write"),
]
ROUTE_IDS = [f"{m} {p}" for m, p, _, _ in PROTECTED]


def _call(
    client: TestClient, method: str, path: str, body: object, ring: str, headers: dict[str, str]
) -> httpx.Response:
    return client.request(method, path.format(ring=ring), json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "scope"), PROTECTED, ids=ROUTE_IDS)
def test_no_key_or_a_bad_key_is_401(
    client: TestClient, ring_cluster: str, method: str, path: str, body: object, scope: str
) -> None:
    for headers in ({}, auth("garbage"), auth("sl_000000000000_wrong"), auth("")):
        response = _call(client, method, path, body, ring_cluster, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(("method", "path", "body", "scope"), PROTECTED, ids=ROUTE_IDS)
def test_scopes(
    client: TestClient,
    keys: dict[str, str],
    ring_cluster: str,
    method: str,
    path: str,
    body: object,
    scope: str,
) -> None:
    wrong = "labeller" if scope == "risk:read" else "analyst"
    denied = _call(client, method, path, body, ring_cluster, headers=auth(keys[wrong]))
    assert denied.status_code == 403
    assert denied.json()["error"] == {
        "code": "forbidden",
        "message": f"this API key lacks the scope {scope!r}",
        "field": None,
    }
    allowed = _call(client, method, path, body, ring_cluster, headers=auth(keys["admin"]))
    assert allowed.status_code in (200, 201)


def test_a_key_with_a_forged_secret_is_refused(client: TestClient, keys: dict[str, str]) -> None:
    real = keys["reader"]
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    assert client.get("/v1/clusters", headers=auth(forged)).status_code == 401


def test_revoked_key_stops_working_without_a_restart(
    client: TestClient, keys: dict[str, str], keys_file: Path
) -> None:
    assert client.get("/v1/clusters", headers=auth(keys["reader"])).status_code == 200
    reader = next(k for k in list_keys(keys_file) if k.name == "reader")
    revoke_key(keys_file, reader.key_id)
    assert client.get("/v1/clusters", headers=auth(keys["reader"])).status_code == 401
    assert client.get("/v1/clusters", headers=auth(keys["admin"])).status_code == 200


def test_keys_file_holds_hashes_only_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "keys.json"
    record, key = create_key(path, "soc-bot", ["risk:read", "risk:read", "labels:write"])
    assert key.startswith(f"sl_{record.key_id}_") and len(key) > 50
    assert record.scopes == ("risk:read", "labels:write")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert key not in text and key.split("_", 2)[2] not in text
    assert json.loads(text)["keys"][0]["key_sha256"] == record.key_sha256


def test_list_and_revoke(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first, _ = create_key(path, "one", ["risk:read"])
    second, _ = create_key(path, "two", ["labels:write"])
    assert [k.key_id for k in list_keys(path)] == [first.key_id, second.key_id]
    revoked = revoke_key(path, first.key_id)
    assert not revoked.active and revoked.revoked_at
    assert [k.active for k in list_keys(path)] == [False, True]
    assert revoke_key(path, first.key_id).revoked_at == revoked.revoked_at


@pytest.mark.parametrize(
    ("name", "scopes", "message"),
    [("x", ["admin"], "unknown scope 'admin'"), ("x", [], "at least one scope"),
     (" ", ["risk:read"], "non-empty --name")],
    ids=["unknown-scope", "no-scope", "blank-name"],
)  # fmt: skip
def test_bad_key_requests(tmp_path: Path, name: str, scopes: list[str], message: str) -> None:
    with pytest.raises(ApiConfigError, match=message):
        create_key(tmp_path / "keys.json", name, scopes)


def test_revoking_an_unknown_key_fails(tmp_path: Path) -> None:
    create_key(tmp_path / "keys.json", "one", ["risk:read"])
    with pytest.raises(ApiConfigError, match="no key with id 'nope'"):
        revoke_key(tmp_path / "keys.json", "nope")


def test_malformed_keys_file_is_refused(tmp_path: Path, store: GraphStore) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{not json")
    settings = ApiSettings(results_dir=tmp_path, keys_file=path)
    with pytest.raises(ApiConfigError, match="unreadable or malformed"):
        create_app(settings, store)


def test_refuses_to_start_without_keys(tmp_path: Path, store: GraphStore) -> None:
    settings = ApiSettings(results_dir=tmp_path, keys_file=tmp_path / "none.json")
    with pytest.raises(ApiConfigError, match=r"no active API key .* --insecure-no-auth"):
        create_app(settings, store)


def test_refuses_to_start_when_every_key_is_revoked(tmp_path: Path, store: GraphStore) -> None:
    record, _ = create_key(tmp_path / "keys.json", "one", ["risk:read"])
    revoke_key(tmp_path / "keys.json", record.key_id)
    settings = ApiSettings(results_dir=tmp_path, keys_file=tmp_path / "keys.json")
    with pytest.raises(ApiConfigError, match="no active API key"):
        create_app(settings, store)


def test_insecure_mode_serves_every_scope_without_a_key(
    make_client: Callable[..., TestClient], store: GraphStore, tmp_path: Path
) -> None:
    client = make_client(store, insecure_no_auth=True, keys_file=tmp_path / "none.json")
    assert client.get("/v1/accounts/ring0/risk").status_code == 200
    label = client.post("/v1/labels", json=LABEL)
    assert label.status_code == 201 and label.json()["key_id"] == "insecure-no-auth"
    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize(
    ("kind", "value", "masked"),
    [
        ("payment", "4111111111111111", "***1111"),
        ("payment", "card-R", "***"),
        ("device", "fp-9f8e7d6c5b4a", "***5b4a"),
        ("email", "ringleader@example.com", "r***@example.com"),
        ("email", "@example.com", "***@example.com"),
        ("phone", "+447700900123", "***23"),
        ("ip", "203.0.113.77", "203.0.x.x"),
        ("ip_prefix", "203.0.113.0/24", "203.0.x.x/24"),
        ("ip", "2001:db8::1", "2001:0db8:x:x:x:x:x:x"),
        ("ip", "not-an-ip-address", "***ress"),
        ("prompt_template", "t_5f2a9c", "***"),
    ],
)
def test_mask_identifier(kind: str, value: str, masked: str) -> None:
    assert mask_identifier(kind, value) == masked
