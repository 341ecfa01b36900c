"""The run cache: refresh at most every N seconds, atomic swaps (no answer mixes two
runs), failures keep the old run; the snapshot against slow references."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.cache import RunCache
from api.snapshot import build_snapshot, evidence_counts
from graph_store.base import RunTables
from graph_store.embedded import EmbeddedStore
from tests.api.conftest import auth
from tests.api.synthetic import constant_run


class CountingStore:
    """A store wrapper counting full reads, optionally failing."""

    def __init__(self, run: RunTables | None):
        self.run = run
        self.reads = 0
        self.fail = False

    def latest_run(self) -> RunTables | None:
        self.reads += 1
        if self.fail:
            raise ConnectionError("store down")
        return self.run

    def latest_run_id(self) -> str | None:
        if self.fail:
            raise ConnectionError("store down")
        return self.run.run_id if self.run is not None else None

    def write_run(self, run: RunTables) -> None:
        self.run = run

    def previous_assignment(self) -> pd.DataFrame | None:
        return None

    def close(self) -> None:
        pass


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_store_is_checked_at_most_every_interval() -> None:
    store, clock = CountingStore(constant_run("A", 0.2)), FakeClock()
    cache = RunCache(store, refresh_seconds=5, clock=clock)
    first = cache.refresh()
    assert first is not None and first.run_id == "A" and store.reads == 1
    store.write_run(constant_run("B", 0.8))
    for _ in range(100):
        assert cache.refresh() is first
    assert store.reads == 1
    clock.now += 5
    assert cache.refresh() is not None and cache.refresh().run_id == "B"  # type: ignore[union-attr]
    assert store.reads == 2


def test_same_run_id_keeps_the_snapshot() -> None:
    """The store's latest_run_id (in the protocol) says nothing changed: the run is not
    read again."""
    store, clock = CountingStore(constant_run("A", 0.2)), FakeClock()
    cache = RunCache(store, refresh_seconds=1, clock=clock)
    first = cache.refresh()
    clock.now += 1
    assert cache.refresh() is first and store.reads == 1


def test_a_failing_store_keeps_the_old_run_and_records_the_error() -> None:
    store, clock = CountingStore(constant_run("A", 0.2)), FakeClock()
    cache = RunCache(store, refresh_seconds=1, clock=clock)
    first = cache.refresh()
    store.fail = True
    clock.now += 1
    assert cache.refresh() is first
    assert cache.last_error == "ConnectionError: store down"
    store.fail = False
    clock.now += 1
    cache.refresh()
    assert cache.last_error is None


def test_requests_answer_from_the_cache_in_the_background(tmp_path: Path) -> None:
    store, clock = CountingStore(constant_run("A", 0.2)), FakeClock()
    cache = RunCache(store, refresh_seconds=10, clock=clock)
    assert cache.current() is None  # nothing loaded: current() never blocks on the store
    cache.refresh()
    store.write_run(constant_run("B", 0.8))
    clock.now += 10
    assert cache.current().run_id == "A"  # type: ignore[union-attr]  # check started
    deadline = time.monotonic() + 5
    while cache.snapshot.run_id != "B" and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.01)
    assert cache.snapshot.run_id == "B"  # type: ignore[union-attr]


class SlowStore(CountingStore):
    """A store whose reads wait until ``release`` is set."""

    def __init__(self, run: RunTables | None):
        super().__init__(run)
        self.release = threading.Event()
        self.reading = threading.Event()

    def latest_run(self) -> RunTables | None:
        self.reading.set()
        self.release.wait(10)
        return super().latest_run()


def test_close_waits_for_a_running_check_and_starts_no_more() -> None:
    store, clock = SlowStore(constant_run("A", 0.2)), FakeClock()
    cache = RunCache(store, refresh_seconds=10, clock=clock)
    store.release.set()
    cache.refresh()
    store.release.clear()
    store.reading.clear()
    store.write_run(constant_run("B", 0.8))
    clock.now += 10
    cache.current()  # starts a background check, which blocks in the store
    assert store.reading.wait(5)
    assert cache.close(timeout=0.05) is False  # still running: reported, not abandoned
    store.release.set()
    assert cache.close(timeout=5) is True
    reads = store.reads
    clock.now += 100
    assert cache.current().run_id == "B"  # type: ignore[union-attr]  # serves the last run
    time.sleep(0.05)
    assert store.reads == reads  # closed: no new check started


def test_readyz_is_503_when_the_store_fails(
    make_client: Callable[..., TestClient], keys: dict[str, str]
) -> None:
    store = CountingStore(constant_run("A", 0.2))
    client = make_client(store)
    assert client.get("/readyz").status_code == 200
    store.fail = True
    response = client.get("/readyz")
    assert response.status_code == 503
    message = response.json()["error"]["message"]
    assert message.startswith("store unreachable since ") and "store down" not in message
    assert "serving the last good run A" in message
    # the last good run is still served
    assert client.get("/v1/accounts/acct_001/risk", headers=auth(keys["reader"])).status_code == 200


RISK = {"A": 0.2, "B": 0.8}


def _check_consistent(kind: str, body: dict[str, object], expected: dict[str, float]) -> str:
    """Every value of one answer belongs to the run the answer names; returns it."""
    run_id = str(body["run_id"])
    want = expected[run_id]
    if kind == "account":
        assert (body["risk"], body["cluster_risk"]) == (want, want), body
        assert body["reasons"] == [f"reason of {run_id}"], body
    elif kind == "batch":
        for result in body["results"]:  # type: ignore[attr-defined]
            assert result["run_id"] == run_id and result["risk"] == want, body
    else:
        assert body["risk"] == want and body["reasons"] == [f"reason of {run_id}"], body
        assert all(m["risk"] == want for m in body["members"]["items"]), body  # type: ignore[index]
    return run_id


def test_no_answer_mixes_two_runs(
    make_client: Callable[..., TestClient], keys: dict[str, str], tmp_path: Path
) -> None:
    """Runs alternate between all-0.2 and all-0.8 risks while threads hammer the API."""
    store = EmbeddedStore(tmp_path / "store")
    store.write_run(constant_run("run-0", 0.2))
    expected = {"run-0": 0.2}
    client = make_client(store)
    headers = auth(keys["reader"])
    requests = [
        ("account", "GET", "/v1/accounts/acct_007/risk", None),
        (
            "batch",
            "POST",
            "/v1/accounts/risk",
            {"account_ids": [f"acct_{i:03d}" for i in range(40)]},
        ),
        ("cluster", "GET", "/v1/clusters/c_001", None),
    ]
    seen: set[str] = set()
    failures: list[BaseException] = []
    stop = threading.Event()

    def hammer() -> None:
        try:
            while not stop.is_set():
                for kind, method, path, body in requests:
                    response = client.request(method, path, json=body, headers=headers)
                    assert response.status_code == 200, response.text
                    seen.add(_check_consistent(kind, response.json(), expected))
        except BaseException as err:
            failures.append(err)
            stop.set()

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for n in range(1, 7):
            run_id, risk = f"run-{n}", (0.8 if n % 2 else 0.2)
            expected[run_id] = risk
            store.write_run(constant_run(run_id, risk))
            deadline = time.monotonic() + 10
            while run_id not in seen and not stop.is_set() and time.monotonic() < deadline:
                time.sleep(0.005)
            assert run_id in seen or stop.is_set(), f"{run_id} never served"
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    if failures:
        raise failures[0]
    assert seen == set(expected)


def _random_run(seed: int) -> RunTables:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 60))
    run = constant_run(f"r{seed}", 0.5, n_accounts=n + 10, cluster_size=int(rng.integers(2, 7)))
    acc = run.accounts.assign(
        risk=rng.uniform(0, 1, len(run.accounts)).round(6),
        own_risk=rng.uniform(0, 0.45, len(run.accounts)).round(6),
        attached=(rng.uniform(0, 1, len(run.accounts)) < 0.2) & run.accounts["cluster_id"].notna(),
    )
    cl = run.clusters.assign(
        risk=rng.uniform(0, 1, len(run.clusters)),
        reasons=pd.Series(
            [
                [f"r{i}-{k}" for k in range(int(rng.integers(0, 5)))]
                for i in range(len(run.clusters))
            ],
            dtype=object,
        ),
    )
    return RunTables(run.run_id, acc, cl, run.edges, run.meta)


def _reference_answer(run: RunTables, account_id: str) -> dict[str, object]:
    """Slow, obvious reference: look the account and its cluster up row by row (rounded
    as numpy rounds, like the pipeline)."""
    row = run.accounts.set_index("account_id").loc[account_id]
    cid = row["cluster_id"]
    cluster: pd.Series | None = (
        None if pd.isna(cid) else run.clusters.set_index("cluster_id").loc[cid]
    )
    return {
        "account_id": account_id,
        "run_id": run.run_id,
        "risk": float(np.round(row["risk"], 4)),
        "own_risk": float(np.round(row["own_risk"], 4)),
        "attached": bool(row["attached"]),
        "flagged": bool(row["flagged"]),
        "cluster_id": None if cluster is None else cid,
        "cluster_risk": None if cluster is None else float(np.round(cluster["risk"], 4)),
        "cluster_size": None if cluster is None else int(cluster["size"]),
        "reasons": [] if cluster is None else list(cluster["reasons"])[:3],
    }


@pytest.mark.parametrize("seed", range(6), ids=lambda s: f"seed={s}")
def test_account_answers_match_a_slow_reference(seed: int) -> None:
    run = _random_run(seed)
    snapshot = build_snapshot(run)
    for account_id in run.accounts["account_id"]:
        assert json.loads(snapshot.account_json[account_id]) == _reference_answer(run, account_id)
    order = [c for c in snapshot.cluster_order]
    assert order == list(run.clusters.sort_values("risk", ascending=False)["cluster_id"])
    # member pages carry each member's attached flag
    flags = run.accounts.set_index("account_id")["attached"]
    for cid, entry in snapshot.clusters.items():
        page = snapshot.members(entry, 0, 10_000)
        assert {m["account_id"]: m["attached"] for m in page} == flags[
            (run.accounts["cluster_id"] == cid).to_numpy()
        ].to_dict()


def test_runs_without_the_attached_column_read_as_not_attached() -> None:
    run = _random_run(1)
    old = RunTables(run.run_id, run.accounts.drop(columns="attached"), run.clusters, run.edges)
    snapshot = build_snapshot(old)
    assert not any(json.loads(v)["attached"] for v in snapshot.account_json.values())


@pytest.mark.parametrize("seed", range(4), ids=lambda s: f"seed={s}")
def test_evidence_strings_parse_to_the_ev_columns(seed: int) -> None:
    rng = np.random.default_rng(seed)
    counts = pd.DataFrame(
        {f"ev_{k}": rng.integers(0, 3, 50).astype(np.int64) for k in ("device", "ip", "payment")}
    )
    evidence = [
        " ".join(f"{str(c)[3:]}:{v}" for c, v in row.items() if v > 0)
        for row in counts.to_dict("records")
    ]
    edges = pd.DataFrame({"a": "x", "b": "y", "evidence": evidence})
    parsed = evidence_counts(edges)
    nonzero = [c for c in counts.columns if counts[c].any()]
    pd.testing.assert_frame_equal(
        parsed.reindex(columns=nonzero).astype(np.int64), counts[nonzero], check_names=False
    )


def test_snapshot_of_an_empty_run() -> None:
    run = constant_run("empty", 0.1, n_accounts=10)
    empty = RunTables("empty", run.accounts, run.clusters.iloc[0:0], run.edges.iloc[0:0], {})
    snapshot = build_snapshot(empty)
    assert len(snapshot.account_json) == 10 and len(snapshot.clusters) == 0
    assert list(snapshot.select_clusters(0, None, 1)) == []


def test_odd_values_become_null_rather_than_invalid_json() -> None:
    run = constant_run("odd", 0.3)
    clusters = run.clusters.assign(density=[np.inf, np.nan, 0.5] + [1.0] * (len(run.clusters) - 3))
    meta = {
        "cluster_identifiers": {
            "c_000": [
                {"kind": "payment", "value": "4111111111111111", "accounts": float("nan")},
                {"kind": "device", "value": "d1", "accounts": 3.0},
                {"kind": "email"},  # no value: skipped
            ],
            "c_001": "not a list",
        }
    }
    snapshot = build_snapshot(RunTables("odd", run.accounts, clusters, run.edges, meta))
    assert snapshot.clusters["c_000"].features["density"] is None
    assert snapshot.clusters["c_001"].features["density"] is None
    assert dict(snapshot.clusters["c_000"].identifier_values) == {
        "payment": (("4111111111111111", None),),
        "device": (("d1", 3),),
    }
    assert dict(snapshot.clusters["c_001"].identifier_values) == {}
