"""The Neo4j load of a generated world: the batch load (``Neo4jStore.load_input``) side
by side with the bulk import (``neo4j-admin database import full``) of the same rows.

    python benchmarks/neo4j_scale.py [--accounts 100000] [--seed 1] [--data DIR]
                                     [--batch 5000:2 ...] [--no-doc]

The world is generated once with ``sybil-linker generate`` and kept under ``--data``
(default benchmarks/.cache/scale/, shared with benchmarks/scale.py); its link input
(ingest, prompt stage, identifier table: what ``link`` hands the store) is built once,
then in one run, on a Neo4j server of the benchmark's OWN (its home under
``--data``/neo4j-home with a fresh database, the installed jars linked, two free
loopback ports; never the user's server):

- for each ``--batch SIZE:WRITERS``: the database emptied (the server stopped, its data
  removed, started again), then ``load_input`` timed: observations/s over the whole
  load (accounts, identifiers, memberships, IP ranges and the Python-side preparation),
  per stage, with the server's and this process's CPU seconds;
- the bulk import of the same rows with overwrite: observations/s over the whole
  ``bulk_import`` (CSV files, server stop, import, start, schema and captions), and the
  importer alone;
- the same-graph check: node and relationship counts per label and type after each,
  and the properties of a seeded sample of accounts with their memberships.

Writes benchmarks/results/neo4j_scale.json and, unless ``--no-doc``, its table into
docs/benchmarks.md (between markers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.neo4j_load import Meter  # noqa: E402
from benchmarks.scale import DATA, ensure_world  # noqa: E402
from graph_store.base import InputTables  # noqa: E402
from graph_store.neo4j import server as srv  # noqa: E402
from graph_store.neo4j.bulk import bulk_import  # noqa: E402
from graph_store.neo4j.store import Neo4jConfig, Neo4jStore  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "neo4j_scale.json"
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- neo4j-scale:begin -->", "<!-- neo4j-scale:end -->"
HEAP = PAGECACHE = "2g"  # as `sybil-linker neo4j start`
SAMPLE = 200
#: observations of the warm-up load (twice, then deleted)
WARM_OBSERVATIONS = 50_000


def own_server(data: Path) -> srv.ServerStatus:
    """Start the benchmark's own server on an empty database."""
    from tests.neo4j import instance

    home = (data / "neo4j-home").resolve()
    srv.stop(home)
    shutil.rmtree(home / "data" / "databases" / "neo4j", ignore_errors=True)
    shutil.rmtree(home / "data" / "transactions" / "neo4j", ignore_errors=True)
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "lib").exists():
        (home / "lib").symlink_to(instance.shared_jars(instance.test_root()))
    avoid = set(instance.USER_PORTS) | set(instance.configured_ports(srv.default_home()))
    bolt = instance.free_port(avoid)
    http = instance.free_port(avoid | {bolt})
    instance._guard(home, (bolt, http))
    return srv.start(home, bolt_port=bolt, http_port=http, heap=HEAP, pagecache=PAGECACHE)


def warm(st: srv.ServerStatus, password: str) -> None:
    """Warm the new server's JIT and caches as a server that has run for a while: load
    a small synthetic input of other keys (benchmarks/neo4j_load.py), then delete it."""
    from benchmarks.neo4j_load import clear, synthetic_input

    store = Neo4jStore(Neo4jConfig(uri=st.bolt_uri, password=password))
    try:
        for seed in (1, 2):
            store.load_input(synthetic_input(WARM_OBSERVATIONS, seed))
            clear(store)
    finally:
        store.close()


def graph_sample(store: Neo4jStore, accounts: list[str]) -> dict[str, Any]:
    """Counts per label and type, and the sampled accounts' properties and memberships
    (the load tag left out)."""
    rows = store._read(
        "UNWIND $ids AS id MATCH (a:Account {account_id: id}) "
        "OPTIONAL MATCH (a)-[r]->(n) WHERE NOT n:Run "
        "WITH a, r, n ORDER BY type(r), n.kind, n.value "
        "RETURN a.account_id AS id, properties(a) AS props, "
        "collect([type(r), n.kind, n.value, properties(r), n.caption]) AS rels ORDER BY id",
        ids=accounts,
    )
    for row in rows:
        row["props"].pop("first_load", None)
    counts = {k: v for k, v in store.counts().items() if k != "InputLoad"}  # bulk's mark
    return {"counts": counts, "sample": rows}


def timed_batch(
    store: Neo4jStore, tables: InputTables, meter: Meter, batch: int, writers: int
) -> dict[str, Any]:
    from dataclasses import replace

    loader = Neo4jStore(replace(store.config, batch_size=batch, writers=writers))
    try:
        with meter:
            loader.load_input(tables)
    finally:
        loader.close()
    n = len(tables.memberships)
    stats = loader.load_stats
    return {
        "batch_size": batch,
        "writers": writers,
        **meter.as_dict(),
        "observations_per_s": round(n / meter.wall),
        "stages_s": {k: round(v, 2) for k, v in stats.seconds.items()},
    }


CHILD = """
import json, pickle, sys, time
from graph_store.neo4j.store import Neo4jConfig, Neo4jStore
uri, password, batch, writers, path = sys.argv[1:6]
with open(path, "rb") as handle:
    tables = pickle.load(handle)
store = Neo4jStore(Neo4jConfig(uri=uri, password=password, batch_size=int(batch),
                               writers=int(writers)))
wall, cpu = time.perf_counter(), time.process_time()
store.load_input(tables)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
store.close()
print(json.dumps({"wall_s": wall, "client_cpu_s": cpu, "stages_s": store.load_stats.seconds}))
"""


def timed_batch_of(
    tree: Path, st: srv.ServerStatus, password: str, tables_file: Path, n_obs: int, spec: str
) -> dict[str, Any]:
    """The batch load of the code in ``tree`` (a checkout of another commit), in a
    subprocess on the same rows; the server's CPU measured around it."""
    import subprocess

    batch, writers = spec.split(":")
    meter = Meter(st.pid)
    cmd = [sys.executable, "-c", CHILD, st.bolt_uri, password, batch, writers, str(tables_file)]
    env = dict(os.environ, PYTHONPATH=str(tree))
    with meter:
        out = subprocess.run(cmd, cwd=tree, env=env, check=True, capture_output=True, text=True)
    child = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "batch_size": int(batch),
        "writers": int(writers),
        "wall_s": round(child["wall_s"], 3),
        "client_cpu_s": round(child["client_cpu_s"], 2),
        "server_cpu_s": meter.as_dict()["server_cpu_s"],
        "loadavg_1m_before": round(meter.load, 2),
        "observations_per_s": round(n_obs / child["wall_s"]),
        "stages_s": {k: round(v, 2) for k, v in child["stages_s"].items()},
    }


def link_on(store: Neo4jStore, world: Path) -> dict[str, Any]:
    """``link`` of the world through the store that holds its bulk-imported input: the
    load finds the input there (``unchanged``) and the run is written back."""
    from linker.pipeline import link

    print("link on the imported graph ...", flush=True)
    start = time.perf_counter()
    result = link(world, store)
    timings = result.timings
    return {
        "wall_s": round(time.perf_counter() - start, 2),
        "store_load_s": timings.get("store_load"),
        "load_unchanged": "unchanged" in store.load_stats.seconds,
        "write_run_s": timings.get("write"),
        "clusters": len(result.run.clusters),
        "links": len(result.run.edges),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--batch", nargs="+", default=["5000:2"], help="SIZE:WRITERS, each timed")
    ap.add_argument(
        "--before-tree",
        type=Path,
        default=None,
        help="a checkout of the code before (git archive COMMIT graph_store | tar -x -C DIR): "
        "its batch load is timed first, on the same rows and server settings",
    )
    ap.add_argument("--before-label", default="before", help="what --before-tree is")
    ap.add_argument("--no-bulk", action="store_true", help="batch loads only (no doc)")
    ap.add_argument("--no-link", action="store_true", help="no link on the imported graph")
    ap.add_argument("--no-doc", action="store_true")
    args = ap.parse_args()

    from linker.ingest.dataset import load_dataset
    from linker.pipeline import build_link_input
    from linker.settings import LinkSettings

    world = ensure_world(args.accounts, args.seed, args.data)
    began = time.perf_counter()
    inp = build_link_input(load_dataset(world), LinkSettings(), {}, None)
    tables = inp.to_tables()
    n_obs = len(tables.memberships)
    print(
        f"link input of {world.name}: {n_obs:,} observations, {len(tables.accounts):,} accounts "
        f"({time.perf_counter() - began:.0f} s)",
        flush=True,
    )
    import numpy as np

    rng = np.random.default_rng(args.seed)
    sample = sorted(rng.choice(tables.accounts["account_id"].to_numpy(), SAMPLE, replace=False))
    res: dict[str, Any] = {
        "world": world.name,
        "accounts": len(tables.accounts),
        "observations": n_obs,
        "kinds": tables.memberships["kind"].value_counts().to_dict(),
        "machine": f"{os.cpu_count()} CPUs ({platform.machine()}), "
        f"Python {platform.python_version()}",
        "neo4j": srv.NEO4J_VERSION,
        "server": f"own loopback server, heap {HEAP}, page cache {PAGECACHE}",
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(["python benchmarks/neo4j_scale.py", *sys.argv[1:]]),
        "batch": [],
    }
    password = srv.common.resolve_password(None)
    graphs = []
    tables_file = args.data / "neo4j-scale-tables.pkl"
    if args.before_tree:
        import pickle

        with tables_file.open("wb") as handle:
            pickle.dump(tables, handle)
        res["before_label"] = args.before_label
        res["before"] = []
    for spec in args.batch:
        batch, writers = (int(x) for x in spec.split(":"))
        if args.before_tree:
            st = own_server(args.data)
            warm(st, password)
            print(f"batch load ({args.before_label}), {spec} ...", flush=True)
            res["before"].append(
                timed_batch_of(args.before_tree, st, password, tables_file, n_obs, spec)
            )
            print("  ", res["before"][-1], flush=True)
        st = own_server(args.data)
        warm(st, password)
        store = Neo4jStore(Neo4jConfig(uri=st.bolt_uri, password=password))
        meter = Meter(st.pid)
        print(f"batch load, {batch} rows per batch, {writers} writers ...", flush=True)
        row = timed_batch(store, tables, meter, batch, writers)
        print("  ", row, flush=True)
        res["batch"].append(row)
        graphs.append(graph_sample(store, sample))
        store.close()
    home = st.home
    if args.no_bulk:
        srv.stop(home)
        print(json.dumps({k: res[k] for k in ("before", "batch") if k in res}, indent=1))
        return 0
    store = Neo4jStore(Neo4jConfig(uri=st.bolt_uri, password=password))
    print("bulk import of the same rows (overwrite) ...", flush=True)
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    stats = bulk_import(tables, store, home, overwrite=True)
    wall = time.perf_counter() - start_wall
    res["bulk"] = {
        "wall_s": round(wall, 2),
        "client_cpu_s": round(time.process_time() - start_cpu, 2),
        "observations_per_s": round(n_obs / wall),
        "import_only_observations_per_s": round(n_obs / stats.seconds["import"]),
        "stages_s": {k: round(v, 2) for k, v in stats.seconds.items()},
    }
    print("  ", res["bulk"], flush=True)
    bulk_graph = graph_sample(store, sample)
    if not args.no_link:
        res["link_on_bulk"] = link_on(store, world)
        print("  ", res["link_on_bulk"], flush=True)
    store.close()
    srv.stop(home)
    res["same_graph"] = {
        "counts_equal": all(g["counts"] == bulk_graph["counts"] for g in graphs),
        "sample_equal": all(g["sample"] == bulk_graph["sample"] for g in graphs),
        "sampled_accounts": SAMPLE,
        "counts": bulk_graph["counts"],
    }
    print("same graph:", {k: v for k, v in res["same_graph"].items() if k != "counts"})
    res["loadavg_end"] = round(os.getloadavg()[0], 2)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2, default=str) + "\n")
    md = markdown(res)
    print(md)
    if not args.no_doc:
        text = DOC.read_text()
        if BEGIN in text:
            head, _, rest = text.partition(BEGIN)
            text = head + BEGIN + "\n" + md + rest.partition(END)[1] + rest.partition(END)[2]
            DOC.write_text(text)
    return 0


def markdown(res: dict[str, Any]) -> str:
    lines = [
        f"_Generated by `{res.get('command', 'python benchmarks/neo4j_scale.py')}`; "
        "figures in benchmarks/results/neo4j_scale.json._",
        "",
        f"{res['observations']:,} observations (memberships) of {res['accounts']:,} accounts "
        f"({res['world']}), Neo4j {res['neo4j']}, {res['server']}, {res['machine']}.",
        "",
        "| load | observations/s (whole load) | wall s | server CPU s | client CPU s "
        "| load average before |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in res.get("before", []):
        lines.append(
            f"| batch `load_input` {res['before_label']}, {r['batch_size']:,} rows, "
            f"{r['writers']} writers | {r['observations_per_s']:,} | {r['wall_s']} "
            f"| {r['server_cpu_s']} | {r['client_cpu_s']} | {r['loadavg_1m_before']} |"
        )
    for r in res["batch"]:
        lines.append(
            f"| batch `load_input`, {r['batch_size']:,} rows, {r['writers']} writers "
            f"| {r['observations_per_s']:,} | {r['wall_s']} | {r['server_cpu_s']} "
            f"| {r['client_cpu_s']} | {r['loadavg_1m_before']} |"
        )
    b = res["bulk"]
    lines += [
        f"| bulk import (`neo4j-admin database import full`, all stages) "
        f"| {b['observations_per_s']:,} | {b['wall_s']} | | {b['client_cpu_s']} | |",
        f"| the importer alone | {b['import_only_observations_per_s']:,} "
        f"| {b['stages_s']['import']} | | | |",
        "",
        "Bulk stages (s): " + ", ".join(f"{k} {v}" for k, v in b["stages_s"].items()) + ". "
        f"Same graph: counts {'equal' if res['same_graph']['counts_equal'] else 'DIFFER'}, "
        f"{res['same_graph']['sampled_accounts']} sampled accounts' properties and "
        f"memberships {'equal' if res['same_graph']['sample_equal'] else 'DIFFER'}.",
    ]
    lk = res.get("link_on_bulk")
    if lk:
        lines += [
            "",
            f"`link` on the imported graph: {lk['wall_s']} s end to end; its store load "
            f"{lk['store_load_s']} s (the input found whole: "
            f"{'yes' if lk['load_unchanged'] else 'NO'}), write-back of the run "
            f"({lk['clusters']:,} clusters, {lk['links']:,} links) {lk['write_run_s']} s.",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
