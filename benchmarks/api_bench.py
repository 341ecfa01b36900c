"""Benchmark of the cluster-risk API on loopback: throughput and latency of
``GET /v1/accounts/{id}/risk`` over random ids of a 100,000-account run, against the
ceiling of a bare FastAPI endpoint returning a constant, plus p99 at a fixed 500 req/s.

    python benchmarks/api_bench.py [--accounts 100000] [--seconds 12]

Servers listen on 127.0.0.1 only (one uvicorn process each, started here and stopped at
the end). Closed-loop phases use ``wrk`` (``apt-get install wrk``); the fixed-rate phase
is an open-loop asyncio loader (raw HTTP/1.1 over keep-alive connections) that times
each request from its scheduled start, so a stall is not hidden (no coordinated
omission). Writes benchmarks/results/api.json
and prints a markdown section for the docs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from api.keys import create_key  # noqa: E402
from graph_store.base import RunTables  # noqa: E402
from graph_store.embedded import EmbeddedStore  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "api.json"
ACCOUNT_PATH = "/v1/accounts/acct_%06d/risk"
SEED = 20260301
REASONS = [
    "{n} accounts share {k} payment instruments",
    "{n} accounts share {k} devices",
    "86% of traffic from 2 datacenter/proxy ASNs",
    "{n} of {n} signups within 2 hours",
    "{n} accounts send variants of 'explain step by step the reasoning'",
]


# ---------------------------------------------------------------- synthetic run


def _cluster_sizes(rng: np.random.Generator, n_clustered: int) -> np.ndarray:
    sizes = np.clip(rng.geometric(1 / 10, size=n_clustered // 2) + 1, 2, 300)
    sizes = sizes[np.cumsum(sizes) <= n_clustered]
    return sizes


def _edges(
    member_ids: np.ndarray, cluster_of: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """A chain through each cluster's members (consecutive members of one cluster)."""
    same = cluster_of[:-1] == cluster_of[1:]
    a, b = member_ids[:-1][same], member_ids[1:][same]
    ev_payment = rng.integers(0, 2, size=len(a))
    ev_device = np.where(ev_payment == 0, 1, rng.integers(0, 2, size=len(a)))
    evidence = np.char.add(
        np.where(ev_device > 0, np.char.add("device:", ev_device.astype(str)), ""),
        np.where(ev_payment > 0, np.char.add(" payment:", ev_payment.astype(str)), ""),
    )
    return pd.DataFrame(
        {
            "a": a,
            "b": b,
            "weight": rng.uniform(0.3, 0.99, size=len(a)).round(4),
            "n_shared": ev_payment + ev_device,
            "ev_device": ev_device.astype(np.int32),
            "ev_payment": ev_payment.astype(np.int32),
            "evidence": np.char.strip(evidence),
        }
    )


def synthetic_run(n_accounts: int, seed: int = SEED, run_id: str = "bench-run") -> RunTables:
    """A run of ``n_accounts`` accounts (30% in clusters) with synthetic risks and
    reasons, shaped like the linker's output; ids are ``acct_000000``..."""
    rng = np.random.default_rng(seed)
    ids = np.char.mod("acct_%06d", np.arange(n_accounts)).astype(object)
    sizes = _cluster_sizes(rng, int(0.3 * n_accounts))
    k = len(sizes)
    cluster_ids = np.char.mod("c_%08x", rng.choice(2**31, size=k, replace=False)).astype(object)
    risk = rng.beta(2, 5, size=k).round(4)
    members = rng.permutation(n_accounts)[: sizes.sum()]
    cluster_of = np.repeat(np.arange(k), sizes)
    account_cluster = np.full(n_accounts, None, dtype=object)
    account_cluster[members] = cluster_ids[cluster_of]
    account_cluster_risk = np.zeros(n_accounts)
    account_cluster_risk[members] = risk[cluster_of]
    own = (rng.beta(1, 8, size=n_accounts) * 0.45).round(4)
    flagged = np.zeros(n_accounts, dtype=bool)
    flagged[members] = risk[cluster_of] >= 0.5
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "cluster_id": account_cluster,
            "risk": np.maximum(account_cluster_risk, own).round(4),
            "flagged": flagged,
            "own_risk": own,
        }
    )
    reasons = [
        [r.format(n=n, k=1 + n // 10) for r in REASONS[: 1 + (i % len(REASONS))]]
        for i, n in enumerate(sizes.tolist())
    ]
    clusters = pd.DataFrame(
        {
            "cluster_id": cluster_ids,
            "size": sizes,
            "risk": risk,
            "flagged": risk >= 0.5,
            "reasons": reasons,
            "density": rng.uniform(0.1, 1, size=k).round(4),
            "payment_reuse": rng.uniform(0, 1, size=k).round(4),
            "hosting_share": rng.uniform(0, 1, size=k).round(4),
            "burst_2h": rng.uniform(0, 1, size=k).round(4),
        }
    ).sort_values("risk", ascending=False, ignore_index=True)
    edges = _edges(ids[members], cluster_of, rng)
    meta = {"run_id": run_id, "synthetic": True, "seed": seed, "n_accounts": n_accounts}
    return RunTables(run_id=run_id, accounts=accounts, clusters=clusters, edges=edges, meta=meta)


# ---------------------------------------------------------------- servers


def ceiling_app() -> Any:
    """A bare FastAPI app with one endpoint returning a constant: the ceiling."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/constant")
    async def constant() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, headers: dict[str, str], timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server at {url} not ready after {timeout:.0f}s")


@contextmanager
def uvicorn_server(factory: str, env: dict[str, str], ready_path: str, key: str) -> Iterator[str]:
    """Run ``uvicorn --factory FACTORY`` on 127.0.0.1; yields its base URL."""
    port = _free_port()
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", factory,
        "--host", "127.0.0.1", "--port", str(port),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    full_env = {**os.environ, **env, "PYTHONPATH": path}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base + ready_path, {"X-API-Key": key})
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


# ---------------------------------------------------------------- load


WRK_SCRIPT = """
math.randomseed(%(seed)d)
wrk.headers["X-API-Key"] = "%(key)s"
local n = %(n)d
request = function()
  return wrk.format("GET", string.format("%(pattern)s", math.random(0, n - 1)))
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_s":%%f,"non_2xx":%%d,"socket_errors":%%d,' ..
    '"p50_ms":%%f,"p99_ms":%%f,"max_ms":%%f,"mean_ms":%%f}\\n',
    summary.requests, summary.duration / 1e6, e.status,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3,
    latency.mean / 1e3))
end
"""


def run_wrk(
    url: str, pattern: str, n: int, key: str, seconds: float, connections: int
) -> dict[str, Any]:
    """Closed-loop load with wrk (1 thread, ``connections`` keep-alive connections)."""
    script = WRK_SCRIPT % {"seed": SEED, "key": key, "n": n, "pattern": pattern}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "-s", handle.name, url],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        ).stdout  # fmt: skip
    finally:
        os.unlink(handle.name)
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
    result["rps"] = round(result["requests"] / result["duration_s"], 1)
    return result


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response with a Content-Length body; returns its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in lines if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def _connection_worker(
    host: str, port: int, key: str, queue: asyncio.Queue[tuple[str, float] | None], out: list[float]
) -> int:
    """One keep-alive connection sending queued requests; returns its error count."""
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    while (item := await queue.get()) is not None:
        path, scheduled = item
        request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {key}\r\n\r\n"
        writer.write(request.encode())
        errors += await _read_response(reader) != 200
        out.append(time.perf_counter() - scheduled)
    writer.close()
    return errors


async def _fixed_rate(
    base: str, pattern: str, n: int, key: str, rate: float, seconds: float, connections: int = 64
) -> tuple[list[float], int]:
    """Open loop: request i is due at start + i / rate, whatever the earlier ones did;
    a lean raw HTTP/1.1 client so that the loader is not the bottleneck."""
    host, port = base.removeprefix("http://").split(":")
    rng = np.random.default_rng(SEED)
    queue: asyncio.Queue[tuple[str, float] | None] = asyncio.Queue()
    latencies: list[float] = []
    workers = [
        asyncio.create_task(_connection_worker(host, int(port), key, queue, latencies))
        for _ in range(connections)
    ]
    start = time.perf_counter() + 0.2
    for i, idx in enumerate(rng.integers(0, n, size=int(rate * seconds)).tolist()):
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        queue.put_nowait((pattern % idx if "%" in pattern else pattern, scheduled))
    for _ in workers:
        queue.put_nowait(None)
    errors = sum(await asyncio.gather(*workers))
    return latencies, errors


def run_fixed_rate(
    base: str, pattern: str, n: int, key: str, rate: float, seconds: float
) -> dict[str, Any]:
    """Open-loop load at ``rate`` req/s; latency from each request's scheduled start."""
    started = time.perf_counter()
    latencies, errors = asyncio.run(_fixed_rate(base, pattern, n, key, rate, seconds))
    lat_ms = np.asarray(latencies) * 1e3
    return {
        "target_rps": rate,
        "achieved_rps": round(len(lat_ms) / (time.perf_counter() - started), 1),
        "requests": len(lat_ms),
        "errors": errors,
        "p50_ms": round(float(np.percentile(lat_ms, 50)), 3),
        "p99_ms": round(float(np.percentile(lat_ms, 99)), 3),
        "max_ms": round(float(lat_ms.max()), 3),
    }


# ---------------------------------------------------------------- report


def environment() -> dict[str, Any]:
    """What the figures were measured on."""
    import fastapi
    import uvicorn

    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "fastapi": fastapi.__version__,
        "uvicorn": uvicorn.__version__,
        "http_parser": "httptools" if find_spec("httptools") else "h11",
        "event_loop": "uvloop" if find_spec("uvloop") else "asyncio",
        "load_generator": "wrk -t1 (closed loop); raw asyncio HTTP/1.1, 64 connections "
        "(fixed rate)",
    }


def markdown(res: dict[str, Any]) -> str:
    """The figures as a markdown section for docs."""
    api, ceil, fixed = res["api"], res["ceiling"], res["fixed_rate"]
    fixed_ceil = res["fixed_rate_ceiling"]
    env = res["environment"]
    return "\n".join(
        [
            "## Performance",
            "",
            f"`python benchmarks/api_bench.py` on {env['cpus']} CPUs, one uvicorn process "
            f"({env['http_parser']}, {env['event_loop']}), loopback, a run of "
            f"{res['accounts']:,} accounts, {res['seconds']:.0f} s per endpoint in "
            f"{res['rounds']} alternating rounds, wrk with {res['connections']} connections "
            f"(load average before: {env['loadavg_before'][0]:.1f}):",
            "",
            "| endpoint | req/s | p50 ms | p99 ms (worst round) |",
            "| --- | ---: | ---: | ---: |",
            f"| bare FastAPI constant (ceiling) | {ceil['rps']:,.0f} | {ceil['p50_ms']:.2f} | "
            f"{ceil['p99_ms']:.2f} |",
            f"| `GET /v1/accounts/{{id}}/risk`, random ids | {api['rps']:,.0f} | "
            f"{api['p50_ms']:.2f} | {api['p99_ms']:.2f} |",
            "",
            f"Account risk reaches **{100 * res['share_of_ceiling']:.0f}%** of the ceiling "
            f"(target ≥ 60%). At a fixed {fixed['target_rps']:.0f} req/s (open loop, "
            f"{fixed['requests']:,} requests): p50 {fixed['p50_ms']:.2f} ms, p99 "
            f"**{fixed['p99_ms']:.2f} ms** (target < 20 ms), max {fixed['max_ms']:.1f} ms, "
            f"{fixed['errors']} errors; the ceiling endpoint at the same rate: p99 "
            f"{fixed_ceil['p99_ms']:.2f} ms, max {fixed_ceil['max_ms']:.1f} ms. Building the "
            f"snapshot of the run took {res['snapshot_build_s']:.2f} s.",
        ]
    )


def _prepare(workdir: Path, n_accounts: int) -> tuple[Path, Path, str, float]:
    from api.snapshot import build_snapshot

    results, keys_file = workdir / "out", workdir / "keys.json"
    run = synthetic_run(n_accounts)
    EmbeddedStore(results).write_run(run)
    started = time.perf_counter()
    build_snapshot(run)
    build_s = time.perf_counter() - started
    _record, key = create_key(keys_file, "bench", ["risk:read"])
    return results, keys_file, key, build_s


def combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Several wrk rounds of one endpoint as one figure: requests over total time, and
    the worst round's latencies."""
    requests = sum(r["requests"] for r in rounds)
    duration = sum(r["duration_s"] for r in rounds)
    return {
        "rps": round(requests / duration, 1),
        "requests": requests,
        "non_2xx": sum(r["non_2xx"] for r in rounds),
        "socket_errors": sum(r["socket_errors"] for r in rounds),
        **{k: round(max(r[k] for r in rounds), 3) for k in ("p50_ms", "p99_ms", "max_ms")},
        "rounds": rounds,
    }


def measure(args: argparse.Namespace, results: Path, keys_file: Path, key: str) -> dict[str, Any]:
    """Both servers up at once; closed-loop rounds alternate between them (so a busy
    neighbour on the machine hits both alike), then the fixed-rate phase."""
    env = {
        "SYBIL_RESULTS_DIR": str(results),
        "SYBIL_KEYS_FILE": str(keys_file),
        "SYBIL_REFRESH_SECONDS": str(args.refresh),
    }
    ceiling_rounds, api_rounds = [], []
    per_round = args.seconds / args.rounds
    with (
        uvicorn_server("benchmarks.api_bench:ceiling_app", {}, "/constant", key) as ceiling,
        uvicorn_server("api.app:create_app_from_env", env, "/readyz", key) as api,
    ):
        run_wrk(ceiling, "/constant", 1, key, 2, args.connections)  # warm-up
        run_wrk(api, ACCOUNT_PATH, args.accounts, key, 2, args.connections)
        for _ in range(args.rounds):
            ceiling_rounds.append(
                run_wrk(ceiling, "/constant", 1, key, per_round, args.connections)
            )
            api_rounds.append(
                run_wrk(api, ACCOUNT_PATH, args.accounts, key, per_round, args.connections)
            )
        fixed = run_fixed_rate(api, ACCOUNT_PATH, args.accounts, key, args.rate, args.seconds)
        fixed_ceiling = run_fixed_rate(ceiling, "/constant", 1, key, args.rate, args.seconds)
    ceiling_all, api_all = combine(ceiling_rounds), combine(api_rounds)
    return {
        "ceiling": ceiling_all,
        "api": api_all,
        "share_of_ceiling": round(api_all["rps"] / ceiling_all["rps"], 3),
        "fixed_rate": fixed,
        "fixed_rate_ceiling": fixed_ceiling,
    }


def main() -> None:
    """Run every phase and write the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=12.0, help="per phase")
    parser.add_argument("--rounds", type=int, default=3, help="alternations per phase")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--refresh", type=float, default=10.0, help="server's refresh_seconds")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the figures")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="sybil-api-bench-") as tmp:
        results, keys_file, key, build_s = _prepare(Path(tmp), args.accounts)
        figures = measure(args, results, keys_file, key)
    report = {
        "accounts": args.accounts,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "connections": args.connections,
        "refresh_seconds": args.refresh,
        "snapshot_build_s": round(build_s, 3),
        **figures,
        "environment": {
            **environment(),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("ceiling", "api")}, indent=2))
    print()
    print(markdown(report))


if __name__ == "__main__":
    main()
