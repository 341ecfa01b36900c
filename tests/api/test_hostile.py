"""Hostile callers, against the embedded and the Neo4j store (the ``client`` fixture
runs every test on both): odd and revoked keys, wrong scopes, oversized and deeply
nested bodies, Cypher-looking strings in every parameter, path traversal in ids. Each is
refused with the documented status and error body; nothing of the store (its errors,
its server, a stack trace) reaches a response, and the store holds exactly what it held
before. Identifier values never reach a key without ``identifiers:read``.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.keys import list_keys, revoke_key
from api.schemas import MAX_BATCH, MAX_BODY_BYTES, MAX_ID_LENGTH
from api.settings import ApiSettings
from graph_store.base import GraphStore, RunTables
from tests.api.conftest import RING_CARD, auth

#: strings that would do harm if a value were ever pasted into Cypher (or a path)
CYPHER = [
    "x'}) DETACH DELETE n //",
    '"}) MATCH (m) DETACH DELETE m RETURN 1 //',
    "` MATCH (n) DETACH DELETE n WITH 1 AS x MATCH (y",
    "$rows }) CALL db.clearQueryCaches() //",
    "ring0' OR 1=1 --",
    "CALL apoc.periodic.iterate('MATCH (n) RETURN n','DETACH DELETE n',{})",
    "\\u0027}) DETACH DELETE n",
]
TRAVERSAL = [
    "../../../../etc/passwd",
    "..%2F..%2Frun.json",
    "....//....//run.json",
    "..\\..\\run.json",
    "%2e%2e%2f%2e%2e%2faccounts.parquet",
    "/etc/passwd",
    "run.json\x00.png",
    "~/.config/sybil-linker/api-keys.json",
]
HOSTILE = CYPHER + TRAVERSAL
#: what a response must never show: the store's or the server's insides
LEAKS = [
    "Traceback",
    'File "',
    "neo4j.",
    "bolt://",
    "neo4j://",
    "Neo4jError",
    "ServiceUnavailable",
    "CypherSyntaxError",
    "pyarrow",
    ".parquet",
    "api-keys.json",
    "/root/",
    "/tmp/",
]
#: identifier values of the test world (tests/api/conftest.py)
WORLD_VALUES = [
    RING_CARD,
    "ringleader@example.com",
    "dev-R0",
    "dev-R1",
    "card-F",
    *(f"d-solo{i}" for i in range(5)),
]


def _quote(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def _check_error(
    response: httpx.Response, status: int, code: str, sent: str = ""
) -> dict[str, Any]:
    """The response is ``status`` with the documented error body of ``code`` and shows
    nothing of the store (beyond the caller's own ``sent`` value); returns the error."""
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["code"] == code, body
    _check_no_leak(response, sent)
    return dict(body["error"])


def _check_no_leak(response: httpx.Response, sent: str = "") -> None:
    text = response.text
    for echo in {sent, json.dumps(sent)[1:-1], urllib.parse.unquote(sent)} - {""}:
        text = text.replace(echo, "")  # an error may quote what the caller sent
    for leak in LEAKS:
        assert leak not in text, (leak, response.text[:500])


def fingerprint(store: GraphStore) -> str:
    """Everything the store holds, as one digest (files, or Neo4j's counts and run)."""
    counts = getattr(store, "counts", None)
    if counts is not None:
        return json.dumps([counts(), store.latest_run_id()], sort_keys=True)
    root = Path(store.root)  # type: ignore[attr-defined]
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def untouched(client: TestClient, store: GraphStore) -> Iterator[None]:
    """The test leaves the store exactly as it found it."""
    before = fingerprint(store)
    yield
    assert fingerprint(store) == before


# --- keys -----------------------------------------------------------------------------

ODD_KEYS = [
    "sl_" + "a" * 10_000,
    "sl_x'}) DETACH DELETE n //_secret",
    "sl_../../keys_secret",
    "sl_ünïcødé_🔑",
    "sl__",
    "sl_000000000000_" + "A" * 43,
    " sl_padded ",
]


@pytest.mark.parametrize("key", ODD_KEYS, ids=range(len(ODD_KEYS)))
def test_odd_keys_are_401(client: TestClient, key: str, untouched: None) -> None:
    headers = {"X-API-Key": key.encode("utf-8")}  # raw bytes: not every key is ASCII
    for path in ("/v1/clusters", "/v1/accounts/ring0/risk", "/metrics"):
        _check_error(client.get(path, headers=headers), 401, "unauthorized")


def test_a_revoked_key_is_401_on_every_route(
    client: TestClient, keys: dict[str, str], keys_file: Path, ring_cluster: str
) -> None:
    admin = next(k for k in list_keys(keys_file) if k.name == "admin")
    revoke_key(keys_file, admin.key_id)
    headers = auth(keys["admin"])
    label = {"target_type": "account", "target_id": "ring0", "label": "sybil", "author": "x"}
    for method, path, body in [
        ("GET", "/v1/accounts/ring0/risk", None),
        ("POST", "/v1/accounts/risk", {"account_ids": ["ring0"]}),
        ("GET", "/v1/clusters", None),
        ("GET", f"/v1/clusters/{ring_cluster}", None),
        ("POST", "/v1/labels", label),
        ("GET", "/metrics", None),
    ]:
        response = client.request(method, path, json=body, headers=headers)
        _check_error(response, 401, "unauthorized")


def test_a_key_for_one_scope_reaches_nothing_else(
    client: TestClient, keys: dict[str, str], ring_cluster: str
) -> None:
    labeller = auth(keys["labeller"])
    for path in ("/v1/clusters", f"/v1/clusters/{ring_cluster}", "/v1/accounts/ring0/risk"):
        _check_error(client.get(path, headers=labeller), 403, "forbidden")
    label = {"target_type": "account", "target_id": "ring0", "label": "sybil", "author": "x"}
    response = client.post("/v1/labels", json=label, headers=auth(keys["analyst"]))
    _check_error(response, 403, "forbidden")


# --- bodies ---------------------------------------------------------------------------


def _post(
    client: TestClient, path: str, content: bytes | Iterator[bytes], key: str
) -> httpx.Response:
    headers = {**auth(key), "Content-Type": "application/json"}
    return client.post(path, content=content, headers=headers)


@pytest.mark.parametrize("path", ["/v1/accounts/risk", "/v1/labels"])
def test_an_oversized_body_is_413_before_it_is_read(
    client: TestClient, keys: dict[str, str], path: str, untouched: None
) -> None:
    huge = b'{"account_ids": ["' + b"x" * (MAX_BODY_BYTES + 1) + b'"]}'
    error = _check_error(_post(client, path, huge, keys["admin"]), 413, "too_large")
    assert error["field"] == "body" and f"{MAX_BODY_BYTES:,} bytes" in error["message"]

    def streamed() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"account_ids": ["'
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"y" * 65536
        yield b'"]}'

    _check_error(_post(client, path, streamed(), keys["admin"]), 413, "too_large")


def test_the_largest_valid_batch_fits_under_the_limit(
    client: TestClient, keys: dict[str, str]
) -> None:
    ids = [f"{i:06d}" + "\u00e9" * (MAX_ID_LENGTH - 6) for i in range(MAX_BATCH)]
    body = json.dumps({"account_ids": ids}).encode()  # ensure_ascii: every é is \\u00e9
    assert len(body) <= MAX_BODY_BYTES
    response = _post(client, "/v1/accounts/risk", body, keys["reader"])
    assert response.status_code == 200 and len(response.json()["not_found"]) == MAX_BATCH


NESTED = {
    "list": b"[" * 100_000 + b"]" * 100_000,
    "in-field": b'{"account_ids": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "objects": b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
    "unclosed": b'{"account_ids": ' + b"[" * 200_000,
    "not-json": b"\xff\xfe<xml/>",
    "empty": b"",
}


@pytest.mark.parametrize("name", list(NESTED))
def test_deeply_nested_or_broken_json_is_422(
    client: TestClient, keys: dict[str, str], name: str, untouched: None
) -> None:
    for path in ("/v1/accounts/risk", "/v1/labels"):
        error = _check_error(
            _post(client, path, NESTED[name], keys["admin"]), 422, "validation_error"
        )
        assert error["field"] is not None and error["field"].startswith("body")


# --- Cypher-looking strings and traversal in every parameter --------------------------


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_ids_in_paths_are_not_found(
    client: TestClient, keys: dict[str, str], value: str, untouched: None
) -> None:
    headers = auth(keys["admin"])
    for template in ("/v1/accounts/{}/risk", "/v1/clusters/{}"):
        response = client.get(template.format(_quote(value)), headers=headers)
        # an id that decodes to one with a '/' matches no route: 404 either way
        _check_error(response, 404, "not_found", value)


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_strings_in_query_parameters_are_422(
    client: TestClient, keys: dict[str, str], ring_cluster: str, value: str, untouched: None
) -> None:
    headers = auth(keys["admin"])
    for path, name in [
        ("/v1/clusters", "min_risk"),
        ("/v1/clusters", "flagged"),
        ("/v1/clusters", "min_size"),
        ("/v1/clusters", "limit"),
        ("/v1/clusters", "offset"),
        ("/v1/clusters", "cursor"),
        (f"/v1/clusters/{ring_cluster}", "limit"),
        (f"/v1/clusters/{ring_cluster}", "cursor"),
        ("/v1/clusters", value[:40] or "x"),  # as a parameter name, too
    ]:
        response = client.get(path, params={name: value}, headers=headers)
        error = _check_error(response, 422, "validation_error", value)
        assert error["field"] == f"query.{name}", error


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_strings_in_bodies(
    client: TestClient,
    keys: dict[str, str],
    settings: ApiSettings,
    value: str,
    untouched: None,
) -> None:
    headers = auth(keys["admin"])
    batch = client.post(
        "/v1/accounts/risk", json={"account_ids": [value, "ring0"]}, headers=headers
    )
    assert batch.status_code == 200
    assert batch.json()["not_found"] == [value]
    assert [r["account_id"] for r in batch.json()["results"]] == ["ring0"]
    _check_no_leak(batch, value)

    label = {"target_type": "account", "target_id": value, "label": "sybil", "author": "x"}
    _check_error(client.post("/v1/labels", json=label, headers=headers), 404, "not_found", value)
    for field in ("target_type", "label"):
        response = client.post("/v1/labels", json={**label, field: value}, headers=headers)
        _check_error(response, 422, "validation_error", value)
    # free text is stored as it is, as data: the label file holds it verbatim
    label = {**label, "target_id": "ring0", "author": value, "reason": value}
    stored = client.post("/v1/labels", json=label, headers=headers)
    assert stored.status_code == 201, stored.text
    lines = settings.labels_file.read_text().splitlines()
    record = json.loads(lines[-1])
    assert (record["author"], record["reason"]) == (value.strip(), value)


def test_a_label_id_cannot_escape_the_results_directory(
    client: TestClient, keys: dict[str, str], settings: ApiSettings, tmp_path: Path
) -> None:
    headers = auth(keys["admin"])
    for target in TRAVERSAL:
        label = {"target_type": "cluster", "target_id": target, "label": "benign", "author": "x"}
        response = client.post("/v1/labels", json=label, headers=headers)
        _check_error(response, 404, "not_found", target)
    written = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert not any(p.name in ("passwd", "run.json.png") for p in written)
    assert not settings.labels_file.exists()  # nothing was recorded


# --- identifier values ------------------------------------------------------------------


def _crawl(client: TestClient, key: str, run: RunTables) -> str:
    """Every answer the API gives about the run, concatenated: every account, one batch
    of all of them, every page of clusters, every cluster with every page of members."""
    headers = auth(key)
    texts = []
    ids = list(run.accounts["account_id"])
    texts += [client.get(f"/v1/accounts/{_quote(a)}/risk", headers=headers).text for a in ids]
    texts.append(client.post("/v1/accounts/risk", json={"account_ids": ids}, headers=headers).text)
    page = client.get("/v1/clusters", params={"limit": 1}, headers=headers).json()
    texts.append(json.dumps(page))
    while page["next_cursor"]:
        page = client.get(
            "/v1/clusters", params={"cursor": page["next_cursor"], "limit": 1}, headers=headers
        ).json()
        texts.append(json.dumps(page))
    for cluster_id in run.clusters["cluster_id"]:
        detail = client.get(f"/v1/clusters/{cluster_id}", params={"limit": 1}, headers=headers)
        assert detail.status_code == 200
        texts.append(detail.text)
        cursor = detail.json()["members"]["next_cursor"]
        while cursor:
            more = client.get(
                f"/v1/clusters/{cluster_id}", params={"cursor": cursor, "limit": 1}, headers=headers
            )
            texts.append(more.text)
            cursor = more.json()["members"]["next_cursor"]
    return "\n".join(texts)


def test_identifier_values_never_reach_a_key_without_identifiers_read(
    client: TestClient, keys: dict[str, str], linked_run: RunTables
) -> None:
    masked = _crawl(client, keys["reader"], linked_run)
    shown = [value for value in WORLD_VALUES if value in masked]
    assert shown == [], f"identifier values shown to a risk:read key: {shown}"
    # the control: the same crawl with identifiers:read does show them
    revealed = _crawl(client, keys["analyst"], linked_run)
    assert RING_CARD in revealed and "ringleader@example.com" in revealed
