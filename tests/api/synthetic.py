"""Small hand-built runs for API tests: every value is known in advance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from graph_store.base import RunTables


def constant_run(
    run_id: str, risk: float, n_accounts: int = 40, cluster_size: int = 5
) -> RunTables:
    """A run where every account and cluster has risk ``risk``; accounts ``acct_000`` ...
    fill clusters ``c_000`` ... of ``cluster_size`` members, the last 10 are alone."""
    ids = [f"acct_{i:03d}" for i in range(n_accounts)]
    n_clustered = n_accounts - 10
    cluster_of = [
        f"c_{i // cluster_size:03d}" if i < n_clustered else None for i in range(n_accounts)
    ]
    cluster_ids = sorted({c for c in cluster_of if c is not None})
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "cluster_id": cluster_of,
            "risk": [risk] * n_accounts,
            "flagged": [risk >= 0.5 and c is not None for c in cluster_of],
            "own_risk": [min(risk, 0.1)] * n_accounts,
        }
    )
    clusters = pd.DataFrame(
        {
            "cluster_id": cluster_ids,
            "size": cluster_size,
            "risk": risk,
            "flagged": risk >= 0.5,
            "reasons": [[f"reason of {run_id}"] for _ in cluster_ids],
            "density": 1.0,
        }
    )
    a = [ids[i] for i in range(n_clustered - 1) if cluster_of[i] == cluster_of[i + 1]]
    b = [ids[i + 1] for i in range(n_clustered - 1) if cluster_of[i] == cluster_of[i + 1]]
    edges = pd.DataFrame(
        {
            "a": a,
            "b": b,
            "weight": 0.9,
            "n_shared": 1,
            "ev_payment": np.ones(len(a), dtype=np.int32),
            "evidence": "payment:1",
        }
    )
    return RunTables(run_id, accounts, clusters, edges, meta={"run_id": run_id})
