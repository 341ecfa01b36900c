"""Benchmark of loading signal observations into the real local Neo4j server.

    python benchmarks/neo4j_load.py [--observations 1000000] [--batch-sizes 1000,5000,20000]
                                    [--writers 1,2] [--single-sample 10000]
                                    [--world-accounts 20000] [--seed 7]

Measures, on one machine and in one run:

- ``Neo4jStore.load_input`` of a seeded synthetic input of N observations (one row of
  ``InputTables.memberships`` each: account, kind, value, counts, first/last seen, IP
  windows) at several batch sizes and numbers of concurrent writers: observations/s
  of the membership stage and of the whole load (accounts and identifiers included),
  with the server's and this process's CPU seconds;
- a re-load of the same input (every membership MERGEd onto an existing one) and a
  check that it changed no count;
- one transaction per row (MERGE by key, the obvious implementation) on a sample;
- ``write_run`` for a generated world of ``--world-accounts`` accounts, after a full
  ``link`` through the store: first publish, second (keeps one previous run), third
  (also deletes the oldest run).

THE DATABASE IS CLEARED before each phase, so the benchmark runs only on a loopback
server that is empty or holds exactly what its last run left (it leaves a
``SybilBenchmarkLoad`` node with the node count); it refuses any other, such as a dev
server with data in it. A server of its own: ``python -m graph_store.neo4j.server start
--home ~/.cache/sybil-linker/neo4j-bench --bolt-port 17687 --http-port 17474``, then
``--home ~/.cache/sybil-linker/neo4j-bench``. Prints a table and a markdown section,
writes benchmarks/results/neo4j_load.json and docs/benchmarks-neo4j.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from graph_store.base import InputTables  # noqa: E402
from graph_store.neo4j import queries as q  # noqa: E402
from graph_store.neo4j import server as srv  # noqa: E402
from graph_store.neo4j.rows import membership_rows  # noqa: E402
from graph_store.neo4j.store import Neo4jConfig, Neo4jStore  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "neo4j_load.json"
DOC = ROOT / "docs" / "benchmarks-neo4j.md"
KINDS = ["ip", "device", "payment", "email"]
KIND_SHARE = [0.5, 0.2, 0.15, 0.15]
OBS_PER_ACCOUNT = 10
T0 = pd.Timestamp("2026-03-01", tz="UTC").value


# ---------------------------------------------------------------- synthetic input


def synthetic_input(n_obs: int, seed: int) -> InputTables:
    """About ``n_obs`` distinct observations over ``n_obs / 10`` accounts: half IP, then
    device, payment and email; identifier popularity is heavy-tailed (most values are
    used by one to three accounts, a few by thousands); 1-3 IP windows per IP row."""
    rng = np.random.default_rng(seed)
    n_acc = max(n_obs // OBS_PER_ACCOUNT, 10)
    pools = np.array([n_obs // 4, n_obs // 8, n_obs // 12, n_obs // 10])
    # draw a little more than asked: duplicates of (account, identifier) are dropped
    draw = int(n_obs * 1.01) + 100
    kind = rng.choice(len(KINDS), size=draw, p=KIND_SHARE)
    ident = (rng.pareto(1.2, draw) * pools[kind] / 50).astype(np.int64) % pools[kind]
    acct = rng.integers(0, n_acc, draw)
    rows = pd.DataFrame({"a": acct, "k": kind, "i": ident}).drop_duplicates(ignore_index=True)
    rows = rows.iloc[:n_obs]
    k, i = rows["k"].to_numpy(), rows["i"].to_numpy()
    values = np.empty(len(rows), dtype=object)
    ip = k == 0
    values[ip] = [f"10.{(x >> 16) & 255}.{(x >> 8) & 255}.{x & 255}" for x in i[ip].tolist()]
    for code, prefix in ((1, "dev-"), (2, "card-"), (3, "mail-")):
        values[k == code] = [f"{prefix}{x}" for x in i[k == code].tolist()]
    account_ids = np.array([f"acct_{x:07d}" for x in range(n_acc)], dtype=object)
    first = T0 + rng.integers(0, 30 * 86400, len(rows)) * 10**9
    last = first + rng.integers(0, 86400, len(rows)) * 10**9
    memberships = pd.DataFrame(
        {
            "account_id": account_ids[rows["a"].to_numpy()],
            "kind": np.array(KINDS, dtype=object)[k],
            "value": values,
            "n_obs": rng.integers(1, 20, len(rows)),
            "first_ts": pd.to_datetime(first, utc=True),
            "last_ts": pd.to_datetime(last, utc=True),
            "strength": 1.0,
        }
    )
    ip_rows = memberships[memberships["kind"] == "ip"]
    reps = rng.integers(1, 4, len(ip_rows))
    first_slot = ip_rows["first_ts"].astype("int64").to_numpy() // (900 * 10**9)
    windows = pd.DataFrame(
        {
            "account_id": np.repeat(ip_rows["account_id"].to_numpy(), reps),
            "value": np.repeat(ip_rows["value"].to_numpy(), reps),
            "window": np.repeat(first_slot, reps) + rng.integers(0, 96, int(reps.sum())),
        }
    ).drop_duplicates(ignore_index=True)
    accounts = pd.DataFrame(
        {
            "account_id": account_ids,
            "created_at": pd.to_datetime(T0 - rng.integers(0, 10**7, n_acc) * 10**9, utc=True),
            "email_domain": rng.choice(["example.com", "mail.test", "corp.test"], n_acc),
            "country": rng.choice(["DE", "US", "IN", "BR"], n_acc),
            "org_id": None,
        }
    )
    return InputTables(accounts=accounts, memberships=memberships, ip_windows=windows)


# ---------------------------------------------------------------- measuring


class Meter:
    """Wall time, this process's CPU time and the Neo4j server's CPU time."""

    def __init__(self, server_pid: int | None):
        self.pid = server_pid

    def _server_cpu(self) -> float:
        if self.pid is None:
            return float("nan")
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> Meter:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()
        self.server = self._server_cpu()
        self.load = os.getloadavg()[0]
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        self.server = self._server_cpu() - self.server

    def as_dict(self) -> dict[str, float]:
        return {
            "wall_s": round(self.wall, 3),
            "client_cpu_s": round(self.cpu, 2),
            "server_cpu_s": round(self.server, 2),
            "loadavg_1m_before": round(self.load, 2),
        }


def clear(store: Neo4jStore, batch: int = 10_000) -> None:
    """Delete every relationship, then every node, in batches."""
    for query in (
        "MATCH ()-[r]->() WITH r LIMIT $batch DELETE r RETURN count(*) AS n",
        "MATCH (n) WITH n LIMIT $batch DETACH DELETE n RETURN count(*) AS n",
    ):
        while store._write(query, batch=batch)[0]["n"]:
            pass


MARKER = "SybilBenchmarkLoad"


def foreign_nodes(store: Neo4jStore) -> int:
    """How many nodes the database holds that the last run of this benchmark did not
    leave (0 if it is empty, or holds exactly the node count its marker records)."""
    total = store._read("MATCH (n) RETURN count(n) AS n")[0]["n"]
    left = store._read(f"MATCH (m:{MARKER}) RETURN m.nodes AS n")
    return 0 if total == 0 or [r["n"] for r in left] == [total] else int(total)


def mark(store: Neo4jStore) -> None:
    """Record that the database holds what this benchmark left (and how many nodes)."""
    total = store._read("MATCH (n) RETURN count(n) AS n")[0]["n"]
    store._write(f"CREATE (:{MARKER} {{nodes: $n}})", n=total + 1)


def membership_total(store: Neo4jStore) -> int:
    counts = store.counts()
    return sum(counts.get(t, 0) for t in ("USED_IP", "USED_DEVICE", "PAID_WITH", "HAS_IDENTIFIER"))


def bench_batched(
    config: Neo4jConfig, inp: InputTables, batch: int, writers: int, meter: Meter
) -> dict[str, Any]:
    store = Neo4jStore(replace(config, batch_size=batch, writers=writers))
    try:
        clear(store)
        store.ensure_schema()
        with meter:
            store.load_input(inp)
        out: dict[str, Any] = {"batch_size": batch, "writers": writers, **meter.as_dict()}
        stats = store.load_stats
        out["stages_s"] = {k: round(v, 3) for k, v in stats.seconds.items()}
        out["observations"] = len(inp.memberships)
        out["memberships_per_s"] = round(stats.rows["memberships"] / stats.seconds["memberships"])
        out["observations_per_s"] = round(len(inp.memberships) / meter.wall)
        out["server_cpu_us_per_observation"] = round(1e6 * meter.server / len(inp.memberships), 1)
        assert membership_total(store) == len(inp.memberships), "load lost observations"
        return out
    finally:
        store.close()


def bench_reload(config: Neo4jConfig, inp: InputTables, meter: Meter) -> dict[str, Any]:
    """Load again onto the graph the last batched phase left: all MERGE, no change."""
    store = Neo4jStore(config)
    try:
        before = store.counts()
        with meter:
            store.load_input(inp)
        assert store.counts() == before, "re-load changed the graph"
        stats = store.load_stats
        return {
            "batch_size": config.batch_size,
            "writers": config.writers,
            **meter.as_dict(),
            "memberships_per_s": round(stats.rows["memberships"] / stats.seconds["memberships"]),
            "observations_per_s": round(len(inp.memberships) / meter.wall),
            "counts_unchanged": True,
        }
    finally:
        store.close()


def bench_single(config: Neo4jConfig, inp: InputTables, n: int, meter: Meter) -> dict[str, Any]:
    """One transaction per row: MERGE each observation by account id and value."""
    sample = inp.memberships.sample(n=min(n, len(inp.memberships)), random_state=1)
    ids = set(sample["account_id"])
    small = InputTables(
        accounts=inp.accounts[inp.accounts["account_id"].isin(ids)],
        memberships=sample,
        ip_windows=inp.ip_windows[inp.ip_windows["account_id"].isin(ids)],
    )
    store = Neo4jStore(config)
    try:
        clear(store)
        store.load_input(small)  # the nodes; the memberships are deleted and redone
        store._write("MATCH (:Account)-[r]->() DELETE r")
        rows = membership_rows(small)
        params = [
            {
                "account_id": r.account_id,
                "kind": r.kind,
                "value": r.value,
                "n_obs": int(r.n_obs),
                "first_seen": r.first_ts,
                "last_seen": r.last_ts,
                "strength": float(r.strength),
                "windows": r.windows,
            }
            for r in rows.itertuples(index=False)
        ]
        with meter:
            for p in params:
                store._write(q.membership_by_key(p["kind"]), **p)
        assert membership_total(store) == len(params)
        return {
            "rows": len(params),
            **meter.as_dict(),
            "rows_per_s": round(len(params) / meter.wall),
        }
    finally:
        store.close()


def bench_write_run(config: Neo4jConfig, accounts: int, seed: int, meter: Meter) -> dict[str, Any]:
    """``link`` a generated world through the store, then time write_run three times."""
    from linker.pipeline import link
    from synth import generate_world
    from synth.world import write_world

    store = Neo4jStore(config)
    try:
        clear(store)
        with tempfile.TemporaryDirectory(prefix="neo4j-bench-") as tmp:
            write_world(generate_world(accounts, seed), Path(tmp))
            with meter:
                result = link(Path(tmp), store)
            linked = {"link_wall_s": round(meter.wall, 2), "timings_s": result.timings}
        run = result.run
        writes = []
        for i, label in enumerate(["second publish", "third publish (deletes the oldest)"]):
            with meter:
                store.write_run(replace(run, run_id=f"{run.run_id}-bench{i + 2}"))
            writes.append({"what": label, **meter.as_dict()})
        counts = store.counts()
        return {
            "accounts": len(run.accounts),
            "clusters": len(run.clusters),
            "edges": len(run.edges),
            "observations": int(
                sum(
                    counts.get(t, 0)
                    for t in (
                        "USED_IP",
                        "USED_DEVICE",
                        "PAID_WITH",
                        "HAS_IDENTIFIER",
                        "SENT_TEMPLATE",
                    )
                )
            ),
            **linked,
            "first_write_run_s": result.timings.get("write"),
            "write_runs": writes,
        }
    finally:
        store.close()


# ---------------------------------------------------------------- report


def markdown(res: dict[str, Any]) -> str:
    lines = [
        "## Loading into Neo4j",
        "",
        f"`python benchmarks/neo4j_load.py` on {res['machine']}, Neo4j {res['neo4j']} "
        f"(local server, heap 2 GB, page cache 2 GB), Python driver {res['driver']}; "
        f"{res['observations']:,} synthetic observations over {res['accounts']:,} accounts "
        f"(seed {res['seed']}). Load average before the run: {res['loadavg_start']}. "
        "The machine was shared with other jobs, so wall-clock figures are noisy; server "
        "CPU per observation is the steadier figure.",
        "",
        "| mode | batch | writers | memberships/s | whole load obs/s | wall s "
        "| server CPU µs/obs | client CPU s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in res["batched"]:
        lines.append(
            f"| UNWIND, fresh graph | {r['batch_size']:,} | {r['writers']} "
            f"| {r['memberships_per_s']:,} | {r['observations_per_s']:,} | {r['wall_s']} "
            f"| {r['server_cpu_us_per_observation']} | {r['client_cpu_s']} |"
        )
    rl = res["reload"]
    lines.append(
        f"| UNWIND, re-load (all MERGE, no change) | {rl['batch_size']:,} "
        f"| {rl['writers']} for nodes, 1 for MERGE "
        f"| {rl['memberships_per_s']:,} | {rl['observations_per_s']:,} | {rl['wall_s']} "
        f"| {round(1e6 * rl['server_cpu_s'] / res['observations'], 1)} | {rl['client_cpu_s']} |"
    )
    s = res["single"]
    lines.append(
        f"| one transaction per row ({s['rows']:,}-row sample) | 1 | 1 | {s['rows_per_s']:,} "
        f"| | {s['wall_s']} | {round(1e6 * s['server_cpu_s'] / s['rows'], 1)} "
        f"| {s['client_cpu_s']} |"
    )
    best = max(res["batched"], key=lambda r: r["memberships_per_s"])
    lines += [
        "",
        f"Best batched: {best['memberships_per_s']:,} memberships/s "
        f"({best['batch_size']:,} rows per batch, {best['writers']} writers), "
        f"{round(best['memberships_per_s'] / max(s['rows_per_s'], 1))}x one transaction "
        'per row. "Memberships/s" is the relationship stage of `load_input`; "whole '
        'load" also counts the accounts, identifiers and the Python-side preparation. '
        "Writers: concurrent transactions for node batches and CREATE batches; MERGE "
        "batches always go one at a time (concurrent MERGEs deadlock on shared "
        "identifiers).",
    ]
    w = res["write_run"]
    if w:
        lines += [
            "",
            f"`write_run` for a generated {w['accounts']:,}-account world "
            f"({w['clusters']:,} clusters, {w['edges']:,} links, {w['observations']:,} "
            f"observations): first publish {w['first_write_run_s']} s (inside a "
            f"{w['link_wall_s']} s `link`, whose store load took "
            f"{w['timings_s'].get('store_load')} s; no read-back since the load "
            "checks its own counts); "
            + "; ".join(f"{x['what']} {x['wall_s']} s" for x in w["write_runs"])
            + ".",
        ]
    return "\n".join(lines) + "\n"


def table(res: dict[str, Any]) -> str:
    out = [f"{'mode':28s} {'batch':>6s} {'wr':>3s} {'mem/s':>9s} {'obs/s':>9s} {'wall':>7s}"]
    for r in res["batched"]:
        out.append(
            f"{'batched':28s} {r['batch_size']:6d} {r['writers']:3d} "
            f"{r['memberships_per_s']:9d} {r['observations_per_s']:9d} {r['wall_s']:7.1f}"
        )
    rl = res["reload"]
    out.append(
        f"{'re-load (MERGE)':28s} {rl['batch_size']:6d} {rl['writers']:3d} "
        f"{rl['memberships_per_s']:9d} {rl['observations_per_s']:9d} {rl['wall_s']:7.1f}"
    )
    s = res["single"]
    out.append(
        f"{'one tx per row':28s} {1:6d} {1:3d} {s['rows_per_s']:9d} {'':9s} {s['wall_s']:7.1f}"
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--observations", type=int, default=1_000_000)
    ap.add_argument("--batch-sizes", default="1000,5000,20000")
    ap.add_argument("--writers", default="1,2", help="writer counts tried at the best batch size")
    ap.add_argument("--single-sample", type=int, default=10_000)
    ap.add_argument("--world-accounts", type=int, default=20_000, help="0 skips write_run")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--home", type=Path, default=None, help="server home (default: the dev one)")
    ap.add_argument("--uri", default=None, help="Bolt URI (default: the server's)")
    ap.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks-neo4j.md")
    args = ap.parse_args(argv)

    st = srv.status(args.home)
    if not st.running:
        ap.error(f"the local Neo4j server is not running ({st.message}); sybil-linker neo4j start")
    uri = args.uri or st.bolt_uri
    host = urlparse(uri).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        ap.error(f"refusing {uri}: this benchmark clears the database; loopback only")
    password = os.environ.get(srv.ENV_PASSWORD) or srv.DEFAULT_PASSWORD
    config = Neo4jConfig(uri=uri, password=password)
    probe = Neo4jStore(config)
    foreign = foreign_nodes(probe)
    probe.close()
    if foreign:
        ap.error(
            f"refusing {uri}: its database holds {foreign:,} nodes this benchmark did not "
            "leave, and it clears the database. Run it on a server of its own (see --help)."
        )
    meter = Meter(st.pid)
    import neo4j

    res: dict[str, Any] = {
        "observations": args.observations,
        "seed": args.seed,
        "machine": f"{os.cpu_count()} CPUs ({platform.machine()}), "
        f"Python {platform.python_version()}",
        "neo4j": srv.NEO4J_VERSION,
        "driver": neo4j.__version__,
        "loadavg_start": round(os.getloadavg()[0], 2),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(f"generating {args.observations:,} observations (seed {args.seed}) ...", flush=True)
    inp = synthetic_input(args.observations, args.seed)
    res["observations"] = len(inp.memberships)
    res["accounts"] = len(inp.accounts)
    res["kinds"] = inp.memberships["kind"].value_counts().to_dict()
    res["max_identifier_degree"] = int(inp.memberships.groupby(["kind", "value"]).size().max())

    batch_sizes = [int(x) for x in args.batch_sizes.split(",")]
    writer_counts = [int(x) for x in args.writers.split(",")]
    res["batched"] = []
    for batch in batch_sizes:
        print(f"batched load, {batch} rows per batch, 1 writer ...", flush=True)
        res["batched"].append(bench_batched(config, inp, batch, 1, meter))
        print("  ", res["batched"][-1], flush=True)
    best = max(res["batched"], key=lambda r: r["memberships_per_s"])["batch_size"]
    for writers in writer_counts:
        if writers == 1:
            continue
        print(f"batched load, {best} rows per batch, {writers} writers ...", flush=True)
        res["batched"].append(bench_batched(config, inp, best, writers, meter))
        print("  ", res["batched"][-1], flush=True)
    top = max(res["batched"], key=lambda r: r["memberships_per_s"])
    # the graph of the last phase is loaded with `inp`; make it the best setting's
    if (top["batch_size"], top["writers"]) != (
        res["batched"][-1]["batch_size"],
        res["batched"][-1]["writers"],
    ):
        bench_batched(config, inp, top["batch_size"], top["writers"], meter)
    print("re-load ...", flush=True)
    best_config = replace(config, batch_size=top["batch_size"], writers=top["writers"])
    res["reload"] = bench_reload(best_config, inp, meter)
    print("  ", res["reload"], flush=True)
    print(f"one transaction per row on {args.single_sample} rows ...", flush=True)
    res["single"] = bench_single(config, inp, args.single_sample, meter)
    print("  ", res["single"], flush=True)
    res["write_run"] = None
    if args.world_accounts:
        print(f"link + write_run on a {args.world_accounts}-account world ...", flush=True)
        res["write_run"] = bench_write_run(best_config, args.world_accounts, args.seed, meter)
        print("  ", res["write_run"], flush=True)
    res["loadavg_end"] = round(os.getloadavg()[0], 2)
    marker = Neo4jStore(config)
    mark(marker)
    marker.close()

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2, default=str) + "\n")
    md = markdown(res)
    if not args.no_doc:
        DOC.write_text(
            "# Neo4j load benchmark\n\nWritten by `benchmarks/neo4j_load.py` "
            f"(results in `{RESULTS.relative_to(ROOT)}`).\n\n" + md
        )
    print()
    print(table(res))
    print()
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
