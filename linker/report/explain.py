"""The ``clusters`` and ``explain`` commands' work, from a store to what is printed and
drawn: the CLI parses options and prints what these return."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from graph_store.base import RunTables
from linker.report.activity import read_activity
from linker.report.investigate import (
    AccountEvidence,
    ClusterEvidence,
    ClusterFilter,
    account_evidence,
    cluster_evidence,
    opened_store,
    read_run,
    resolve,
    select_clusters,
)
from linker.report.outputs import cluster_picture_path, prune_explain


@dataclass(frozen=True)
class Explanation:
    """What ``explain`` found: the cluster's evidence (None for an account in no
    cluster), the account's (None when a cluster was asked for), the picture written
    (None when none was) and a note on it."""

    run_id: str
    cluster: ClusterEvidence | None
    account: AccountEvidence | None
    picture: Path | None
    picture_note: str


def _where(results_dir: Path, store_spec: str) -> str:
    return str(results_dir) if store_spec == "embedded" else store_spec


def list_clusters(
    results_dir: Path, which: ClusterFilter, store_spec: str = "embedded"
) -> tuple[RunTables, pd.DataFrame]:
    """The latest run in the store and its clusters that pass ``which``, riskiest
    first. Raises :class:`linker.errors.LinkerError` when the store cannot be opened or
    holds no run."""
    with opened_store(store_spec, results_dir) as store:
        run = read_run(store, _where(results_dir, store_spec))
    return run, select_clusters(run.clusters, which)


def _draw(evidence: ClusterEvidence, results_dir: Path) -> tuple[Path | None, str]:
    try:
        from linker.report.plots import plot_cluster
    except ImportError:  # matplotlib is the 'plots' extra
        return None, "no picture: matplotlib is not installed (pip install 'sybil-linker[plots]')"
    prune_explain(results_dir, evidence.run_id)
    path = cluster_picture_path(results_dir, evidence.run_id, evidence.cluster_id)
    return plot_cluster(evidence, path), ""


def explain(
    results_dir: Path,
    target: str,
    store_spec: str = "embedded",
    data_dir: Path | None = None,
    show_values: bool = False,
    picture: bool = True,
) -> Explanation:
    """The evidence behind ``target`` (a cluster id or an account id) in the store's
    latest run, and, unless ``picture`` is False, the cluster's picture written to
    ``results_dir/explain/<run_id>/<cluster_id>.png`` (other runs' pictures there are
    removed). Identifier values are masked unless ``show_values``. Raises
    :class:`linker.errors.LinkerError` for a store it cannot read or an unknown target."""
    with opened_store(store_spec, results_dir) as store:
        run = read_run(store, _where(results_dir, store_spec))
        cluster_id, account_id = resolve(run, target)
        activity, note = read_activity(store, run.meta, data_dir)
    account = account_evidence(run, account_id, activity, show_values) if account_id else None
    if cluster_id is None:
        return Explanation(
            run.run_id, None, account, None, "no picture: the account is in no cluster"
        )
    evidence = cluster_evidence(run, cluster_id, activity, note, show_values, focus=account_id)
    path, why = _draw(evidence, results_dir) if picture else (None, "no picture (--no-picture)")
    return Explanation(run.run_id, evidence, account, path, why)
