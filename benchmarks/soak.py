"""Soak test of the cluster-risk API on loopback: a fixed request rate for a fixed time
while new runs land, every answer checked against the run it names.

    python benchmarks/soak.py [--seconds 300] [--rate 500] [--accounts 100000] [--swaps 4]

One uvicorn process serves the API (127.0.0.1, a free port, the embedded store,
``refresh_seconds`` 1). A second process generates the load: open loop (request i is
due at start + i / rate, whatever the earlier ones did; latency is measured from that
time, so a stall is not hidden), raw HTTP/1.1 over keep-alive connections, a fixed mix
of the API's read routes. Meanwhile this process writes ``--swaps`` new runs into the
store at even intervals, the way ``link`` does.

Every run is a variant of one synthetic run (the same accounts and clusters) whose
risks differ and whose reasons name it, so an answer that mixed two runs shows: the
loader recomputes each run from its seed and checks every value of every answer
against the run the answer names (account risk, cluster, cluster risk and reasons;
every result of a batch; a cluster's risk, size, reasons and every member's risk; every
item of a list). An error is a transport error, a timeout or any status but 200.

Writes benchmarks/results/soak.json and prints a markdown section (docs/reliability.md).
Loopback only; bounded in time (``--seconds``) and count (``rate x seconds`` requests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from api.keys import create_key  # noqa: E402
from benchmarks.api_bench import synthetic_run  # noqa: E402
from graph_store.base import RunTables  # noqa: E402
from graph_store.embedded import EmbeddedStore  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "soak.json"
HOST = "127.0.0.1"
SEED = 20260416
#: share of each kind of request (the rest of the mix is fixed by SEED)
MIX = {"account": 0.60, "batch": 0.15, "cluster": 0.15, "list": 0.05, "ready": 0.05}
BATCH = 20
PAGE = 20
TIMEOUT_S = 30.0


# ---------------------------------------------------------------- the runs


def run_variant(base: RunTables, index: int) -> RunTables:
    """Run ``soak-<index>``: ``base`` with every cluster's risk scaled by a factor of
    its own and a first reason naming the run (rounded as the API rounds)."""
    factor = 1.0 - 0.15 * index
    clusters = base.clusters.copy()
    clusters["risk"] = (clusters["risk"] * factor).round(4)
    clusters["flagged"] = clusters["risk"] >= 0.5
    run_id = f"soak-{index}"
    clusters["reasons"] = [[f"{run_id}: variant reason", *r] for r in clusters["reasons"]]
    accounts = base.accounts.copy()
    cluster_risk = accounts["cluster_id"].map(
        dict(zip(clusters["cluster_id"], clusters["risk"], strict=True))
    )
    accounts["risk"] = np.maximum(cluster_risk.fillna(0).to_numpy(), accounts["own_risk"]).round(4)
    accounts["flagged"] = accounts["cluster_id"].map(
        dict(zip(clusters["cluster_id"], clusters["flagged"], strict=True))
    )
    accounts["flagged"] = accounts["flagged"].fillna(False).astype(bool)
    meta = {**base.meta, "run_id": run_id}
    return replace(base, run_id=run_id, accounts=accounts, clusters=clusters, meta=meta)


@dataclass
class Expected:
    """What every answer about one run must say."""

    risk: np.ndarray  # by account number
    cluster_of: np.ndarray  # cluster id or None, by account number
    cluster_risk: dict[str, float]
    cluster_size: dict[str, int]
    reasons: dict[str, list[str]]
    members: dict[str, list[int]] = field(default_factory=dict)


def expected_of(run: RunTables) -> Expected:
    acc = run.accounts
    numbers = acc["account_id"].str.slice(5).astype(int).to_numpy()
    risk = np.empty(len(acc))
    risk[numbers] = acc["risk"].to_numpy()
    ids = [c if isinstance(c, str) else None for c in acc["cluster_id"].tolist()]  # NaN: none
    cluster_of = np.empty(len(acc), dtype=object)
    cluster_of[numbers] = ids
    clusters = run.clusters
    members: dict[str, list[int]] = {}
    for number, cid in zip(numbers.tolist(), ids, strict=True):
        if cid is not None:
            members.setdefault(cid, []).append(number)
    return Expected(
        risk=risk,
        cluster_of=cluster_of,
        cluster_risk=dict(zip(clusters["cluster_id"], clusters["risk"].astype(float), strict=True)),
        cluster_size=dict(zip(clusters["cluster_id"], clusters["size"].astype(int), strict=True)),
        reasons=dict(zip(clusters["cluster_id"], clusters["reasons"], strict=True)),
        members=members,
    )


def all_runs(accounts: int, swaps: int) -> list[RunTables]:
    base = synthetic_run(accounts, seed=SEED)
    return [run_variant(base, i) for i in range(swaps + 1)]


# ---------------------------------------------------------------- checking answers


def _close(a: Any, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) < 1e-9


class Checker:
    """Checks each answer against the run it names; counts what does not match."""

    def __init__(self, runs: list[RunTables]):
        self.expected = {run.run_id: expected_of(run) for run in runs}
        self.mixed = 0
        self.examples: list[str] = []

    def _bad(self, kind: str, body: Any) -> None:
        self.mixed += 1
        if len(self.examples) < 5:
            self.examples.append(f"{kind}: {json.dumps(body)[:300]}")

    def account_ok(self, exp: Expected, item: dict[str, Any]) -> bool:
        number = int(str(item["account_id"])[5:])
        cid = exp.cluster_of[number]
        if not _close(item["risk"], exp.risk[number]) or item["cluster_id"] != cid:
            return False
        if cid is None:
            return item["cluster_risk"] is None and item["reasons"] == []
        return _close(item["cluster_risk"], exp.cluster_risk[cid]) and (
            item["reasons"] == exp.reasons[cid][:3]
            and item["cluster_size"] == exp.cluster_size[cid]
        )

    def consistent(self, kind: str, exp: Expected, body: Any) -> bool:
        """Every value of the answer is the one of the run ``exp`` describes."""
        if kind == "account":
            return self.account_ok(exp, body)
        if kind == "batch":
            return all(
                r["run_id"] == body["run_id"] and self.account_ok(exp, r) for r in body["results"]
            )
        if kind == "cluster":
            cid = body["cluster_id"]
            return (
                _close(body["risk"], exp.cluster_risk[cid])
                and body["size"] == exp.cluster_size[cid]
                and body["reasons"] == exp.reasons[cid]
                and all(
                    _close(m["risk"], exp.risk[int(m["account_id"][5:])])
                    and exp.cluster_of[int(m["account_id"][5:])] == cid
                    for m in body["members"]["items"]
                )
            )
        if kind == "list":
            return all(_close(c["risk"], exp.cluster_risk[c["cluster_id"]]) for c in body["items"])
        return True  # readyz: a known run id is all it says

    def check(self, kind: str, body: Any) -> str | None:
        """The run id the answer names (None for a mixed answer or an unknown run)."""
        exp = self.expected.get(body.get("run_id"))
        if exp is None or not self.consistent(kind, exp, body):
            self._bad(kind, body)
            return None
        return str(body["run_id"])


# ---------------------------------------------------------------- the load


def request_plan(n: int, accounts: int, clusters: list[str], seed: int) -> list[tuple[str, bytes]]:
    """``n`` requests (kind, raw request line and body bytes without headers)."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(list(MIX), size=n, p=list(MIX.values()))
    plan = []
    for kind in kinds.tolist():
        if kind == "account":
            plan.append((kind, f"GET /v1/accounts/acct_{rng.integers(accounts):06d}/risk".encode()))
        elif kind == "batch":
            ids = [f"acct_{i:06d}" for i in rng.integers(accounts, size=BATCH).tolist()]
            plan.append(
                (
                    kind,
                    b"POST /v1/accounts/risk" + b"\n" + json.dumps({"account_ids": ids}).encode(),
                )
            )
        elif kind == "cluster":
            cid = clusters[int(rng.integers(len(clusters)))]
            plan.append((kind, f"GET /v1/clusters/{cid}?limit={PAGE}".encode()))
        elif kind == "list":
            plan.append(
                (kind, f"GET /v1/clusters?min_risk={rng.uniform(0, 0.6):.2f}&limit={PAGE}".encode())
            )
        else:
            plan.append((kind, b"GET /readyz"))
    return plan


def _raw(spec: bytes, key: str) -> bytes:
    line, _, body = spec.partition(b"\n")
    method, path = line.split(b" ", 1)
    head = [
        method + b" " + path + b" HTTP/1.1",
        f"Host: {HOST}".encode(),
        f"X-API-Key: {key}".encode(),
    ]
    if body:
        head += [b"Content-Type: application/json", f"Content-Length: {len(body)}".encode()]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(
        int(x.split(b":", 1)[1]) for x in lines if x.lower().startswith(b"content-length:")
    )
    return int(lines[0].split()[1]), await reader.readexactly(length)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    #: (seconds since start, run id) each time an answer names another run than the last
    runs_seen: list[tuple[float, str]] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


async def _worker(
    port: int, key: str, queue: asyncio.Queue[Any], tally: Tally, checker: Checker, start: float
) -> None:
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while (item := await queue.get()) is not None:
        kind, spec, due = item
        try:
            if conn is None:
                conn = await asyncio.open_connection(HOST, port)
            reader, writer = conn
            writer.write(_raw(spec, key))
            status, body = await asyncio.wait_for(_response(reader), TIMEOUT_S)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, StopIteration) as err:
            tally.error(type(err).__name__)
            if conn is not None:
                conn[1].close()
            conn = None
            continue
        tally.latencies.append(time.perf_counter() - due)
        if status != 200:
            tally.error(f"http_{status}")
            continue
        run_id = checker.check(kind, json.loads(body))
        if run_id is not None and (not tally.runs_seen or tally.runs_seen[-1][1] != run_id):
            tally.runs_seen.append((round(time.perf_counter() - start, 3), run_id))
    if conn is not None:
        conn[1].close()


async def _load(
    args: argparse.Namespace, checker: Checker, plan: list[tuple[str, bytes]]
) -> tuple[Tally, float]:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    tally = Tally()
    start = time.perf_counter() + 0.5
    workers = [
        asyncio.create_task(_worker(args.port, args.key, queue, tally, checker, start))
        for _ in range(args.connections)
    ]
    for i, (kind, spec) in enumerate(plan):
        due = start + i / args.rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        queue.put_nowait((kind, spec, due))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return tally, time.perf_counter() - start


def load_main(args: argparse.Namespace) -> None:
    """The load generator process: prints its tally as JSON on stdout."""
    runs = all_runs(args.accounts, args.swaps)
    checker = Checker(runs)
    clusters = list(runs[0].clusters["cluster_id"])
    plan = request_plan(int(args.rate * args.seconds), args.accounts, clusters, SEED)
    print("ready", flush=True)
    sys.stdin.readline()  # go
    tally, elapsed = asyncio.run(_load(args, checker, plan))
    lat = np.asarray(tally.latencies) * 1e3
    pct = (
        {f"p{p}": round(float(np.percentile(lat, p)), 2) for p in (50, 90, 99, 99.9)}
        if len(lat)
        else {}
    )
    print(
        json.dumps(
            {
                "requests_planned": len(plan),
                "responses": len(lat),
                "elapsed_s": round(elapsed, 2),
                "achieved_rps": round(len(lat) / elapsed, 1),
                "latency_ms": {**pct, "max": round(float(lat.max()), 2) if len(lat) else None},
                "errors": tally.errors,
                "error_count": sum(tally.errors.values()),
                "mixed_answers": checker.mixed,
                "mixed_examples": checker.examples,
                "runs_seen": tally.runs_seen,
                "mix": {k: int(sum(1 for kind, _ in plan if kind == k)) for k in MIX},
            }
        ),
        flush=True,
    )


# ---------------------------------------------------------------- the soak


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def api_server(
    results: Path, keys_file: Path, key: str
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """uvicorn serving the API over ``results`` on 127.0.0.1; yields (port, process)."""
    import httpx

    port = _free_port()
    env = {
        **os.environ,
        "SYBIL_RESULTS_DIR": str(results),
        "SYBIL_KEYS_FILE": str(keys_file),
        "SYBIL_REFRESH_SECONDS": "1",
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app_from_env",
        "--host", HOST, "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://{HOST}:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.2)
        yield port, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _sample(stop: threading.Event, pid: int, out: list[tuple[float, float, float]]) -> None:
    """Every second: (1-minute load average, the server's CPU seconds, time)."""
    while not stop.wait(1.0):
        try:
            out.append((os.getloadavg()[0], _cpu_seconds(pid), time.monotonic()))
        except OSError:
            return


def soak(args: argparse.Namespace) -> dict[str, Any]:
    """Serve, load, land runs; the figures."""
    runs = all_runs(args.accounts, args.swaps)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="sybil-soak-") as tmp:
        results, keys_file = Path(tmp) / "out", Path(tmp) / "keys.json"
        store = EmbeddedStore(results)
        store.write_run(runs[0])
        key = create_key(keys_file, "soak", ["risk:read"])[1]
        with api_server(results, keys_file, key) as (port, server):
            loader = subprocess.Popen(
                [sys.executable, __file__, "--load", "--port", str(port), "--key", key,
                 "--rate", str(args.rate), "--seconds", str(args.seconds),
                 "--accounts", str(args.accounts), "--swaps", str(args.swaps),
                 "--connections", str(args.connections)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert loader.stdin is not None and loader.stdout is not None
            assert loader.stdout.readline().strip() == "ready"
            samples: list[tuple[float, float, float]] = []
            stop = threading.Event()
            sampler = threading.Thread(
                target=_sample, args=(stop, server.pid, samples), daemon=True
            )
            sampler.start()
            loader.stdin.write("go\n")
            loader.stdin.flush()
            began = time.monotonic() + 0.5
            landed = []
            for i, run in enumerate(runs[1:], start=1):
                due = began + args.seconds * i / (args.swaps + 1)
                time.sleep(max(0.0, due - time.monotonic()))
                t0 = time.monotonic()
                store.write_run(run)
                landed.append({"run_id": run.run_id, "at_s": round(t0 - began, 2),
                               "write_s": round(time.monotonic() - t0, 2)})  # fmt: skip
            tally = json.loads(loader.stdout.readline())
            loader.wait(timeout=60)
            stop.set()
            sampler.join()
    loads = [s[0] for s in samples]
    cpu = (
        (samples[-1][1] - samples[0][1]) / (samples[-1][2] - samples[0][2])
        if len(samples) > 1
        else 0.0
    )
    for entry in landed:  # when the answers first named it
        seen = (t for t, r in tally["runs_seen"] if r == entry["run_id"])
        entry["first_answer_s"] = next(seen, None)
    return {
        "seconds": args.seconds,
        "target_rps": args.rate,
        "accounts": args.accounts,
        "connections": args.connections,
        **tally,
        "runs_landed": landed,
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_during_mean": round(float(np.mean(loads)), 2) if loads else None,
            "loadavg_during_max": round(max(loads), 2) if loads else None,
            "api_server_cpu_share": round(cpu, 3),
            "python": platform.python_version(),
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def markdown(res: dict[str, Any]) -> str:
    """The figures as a markdown section for docs/reliability.md."""
    lat, machine = res["latency_ms"], res["machine"]
    landed = ", ".join(
        f"{r['run_id']} at {r['at_s']:.0f} s (in answers from {r['first_answer_s']} s)"
        for r in res["runs_landed"]
    )
    percentiles = " / ".join(str(lat.get(k)) for k in ("p50", "p90", "p99", "p99.9", "max"))
    target, errors = f"{res['target_rps']:.0f}", res["errors"] or ""
    command = (
        f"python benchmarks/soak.py --seconds {res['seconds']:.0f} --rate {res['target_rps']:.0f}"
    )
    return "\n".join(
        [
            f"`{command}` (`make soak`), {res['measured_at']}: one uvicorn process, "
            f"{res['accounts']:,} accounts, {res['connections']} keep-alive connections from a "
            f"second process, {machine['cpus']} CPUs shared with other jobs (load average "
            f"{machine['loadavg_before'][0]:.1f} before, {machine['loadavg_during_mean']} on "
            f"average and {machine['loadavg_during_max']} at most during; the API process used "
            f"{100 * machine['api_server_cpu_share']:.0f}% of one CPU).",
            "",
            "| figure | value |",
            "| --- | ---: |",
            f"| requests planned / answered | {res['requests_planned']:,} / {res['responses']:,} |",
            f"| achieved rate (req/s) | {res['achieved_rps']:,.1f} (target {target}) |",
            f"| latency p50 / p90 / p99 / p99.9 / max (ms, from the due time) | {percentiles} |",
            f"| errors (transport, timeout, non-200) | {res['error_count']} {errors} |",
            f"| answers mixing two runs (or naming an unknown one) | {res['mixed_answers']} |",
            f"| runs landed during the soak | {len(res['runs_landed'])}: {landed} |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--swaps", type=int, default=4, help="new runs landed during the soak")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load_main(args)
        return
    if args.seconds * args.rate > 1_000_000 or args.seconds > 3600:
        sys.exit("refusing: a soak is bounded to an hour and a million requests")
    report = soak(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "runs_seen"}, indent=2))
    print()
    print(markdown(report))
    if report["error_count"] or report["mixed_answers"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
