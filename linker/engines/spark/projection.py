"""The projection's pair work on Spark: each pass's pair expansion, pair evidence and
noisy-OR combine run as Spark jobs (the corroboration measures too:
:mod:`linker.engines.spark.corroboration`); the rest of :func:`build_projection`
(identifier table, simultaneity counts, the first pass's Leiden) runs on the driver,
unchanged (docs/scaling.md says why and what moves next)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linker.engines.spark.kernels import NAT, PAIRS_SCHEMA, pairs_task, rows_schema, to_ns
from linker.evidence.pairs import expander_order
from linker.evidence.projection import PassEdges, Progress, eligible_identifiers
from linker.settings import LinkageSettings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def _rows(
    spark: SparkSession,
    memberships: pd.DataFrame,
    mem_ident: np.ndarray,
    identifiers: pd.DataFrame,
    sync: pd.DataFrame,
    settings: LinkageSettings,
) -> DataFrame:
    """The eligible identifiers' memberships and simultaneity counts as one Spark frame
    (:func:`linker.engines.spark.kernels.rows_schema`), a large identifier's
    memberships with the account's expander signature, computed here as the embedded
    engine computes it."""
    use = eligible_identifiers(identifiers, settings)[mem_ident]
    ident = mem_ident[use].astype(np.int64)
    account = memberships["account"].to_numpy(np.int64)[use]
    degree = identifiers["degree"].to_numpy()
    order = expander_order(account, ident, degree, settings)
    mem = pd.DataFrame(
        {
            "ident": ident,
            "account": account,
            "b": pd.array([None] * len(ident), dtype="Int64"),
            "n_sync": pd.array([None] * len(ident), dtype="Int64"),
            "first_ns": to_ns(memberships["first_ts"])[use],
            "last_ns": to_ns(memberships["last_ts"])[use],
            "strength": memberships["strength"].to_numpy(float)[use],
            "kind": identifiers["kind"].to_numpy(object)[ident],
            "p": identifiers["p"].to_numpy(float)[ident],
            "has_strength": identifiers["has_strength"].to_numpy(bool)[ident],
        }
    )
    cycles = 0 if order is None else order.signatures.shape[1]
    if order is not None:
        large = degree[ident] > settings.dense_limit
        signed = order.signatures[account]
        for i in range(cycles):
            mem[f"s{i}"] = pd.arrays.IntegerArray(signed[:, i].copy(), ~large)
    n = len(sync)
    timed = pd.DataFrame(
        {
            "ident": sync["ident"].to_numpy(np.int64),
            "account": sync["a"].to_numpy(np.int64),
            "b": pd.array(sync["b"].to_numpy(np.int64), dtype="Int64"),
            "n_sync": pd.array(sync["n_sync"].to_numpy(np.int64), dtype="Int64"),
            "first_ns": np.full(n, NAT),
            "last_ns": np.full(n, NAT),
            "strength": np.zeros(n),
            "kind": np.full(n, "", dtype=object),
            "p": np.zeros(n),
            "has_strength": np.zeros(n, dtype=bool),
        }
    )
    for i in range(cycles):
        timed[f"s{i}"] = pd.array([None] * n, dtype="Int64")
    frame = pd.concat([mem, timed], ignore_index=True) if n else mem
    return spark.createDataFrame(frame, schema=rows_schema(cycles))


def _combine(pairs: DataFrame, kinds: list[str], settings: LinkageSettings) -> DataFrame:
    """Noisy-OR per pair as a shuffle on (a, b): each pair's terms summed in the
    embedded engine's order (by identifier degree, then identifier), so the sums are
    the same to the last bit; a count column per kind; pairs that cannot reach
    ``min_edge_weight`` dropped before they reach the driver."""
    from pyspark.sql import functions as F

    terms = F.array_sort(F.collect_list(F.struct("degree", "ident", "log_miss")))
    # counted into positional columns: a kind's name may hold any character
    counts = [
        F.sum(F.when(F.col("kind") == k, 1).otherwise(0)).alias(f"n{i}")
        for i, k in enumerate(kinds)
    ]
    grouped = pairs.groupBy("a", "b").agg(terms.alias("terms"), *counts)
    log_miss = F.aggregate("terms", F.lit(0.0).cast("double"), lambda acc, t: acc + t["log_miss"])
    # weight >= w  <=>  log_miss <= log(1 - w); the exact test is the driver's (numpy exp)
    bound = float(np.log1p(-settings.min_edge_weight)) + 1e-9
    return grouped.select(
        "a", "b", log_miss.alias("log_miss"), *[f"n{i}" for i in range(len(kinds))]
    ).where(F.col("log_miss") <= bound)


def spark_pairs(
    spark: SparkSession,
    memberships: pd.DataFrame,
    mem_ident: np.ndarray,
    identifiers: pd.DataFrame,
    sync: pd.DataFrame,
    settings: LinkageSettings,
    partitions: int,
) -> DataFrame:
    """The evidence rows of one pass (:data:`PAIRS_SCHEMA`), lazily: the eligible
    identifiers' rows partitioned by identifier (a shuffle), each partition's pairs
    expanded and judged by :func:`linker.engines.spark.kernels.partition_pairs`."""
    rows = _rows(spark, memberships, mem_ident, identifiers, sync, settings)
    return rows.repartition(partitions, "ident").mapInPandas(
        pairs_task(settings), schema=PAIRS_SCHEMA
    )


def spark_pass_edges(spark: SparkSession, partitions: int) -> PassEdges:
    """The edges of one projection pass, computed on ``spark`` (a
    :data:`linker.evidence.projection.PassEdges`): the memberships are partitioned by
    identifier, each partition expands and judges its own pairs
    (:func:`linker.engines.spark.kernels.partition_pairs`), and the pairs are
    combined by a shuffle on (a, b). Returns the same frame as
    :func:`linker.evidence.projection.pass_edges`."""

    def edges(
        memberships: pd.DataFrame,
        mem_ident: np.ndarray,
        identifiers: pd.DataFrame,
        sync: pd.DataFrame,
        settings: LinkageSettings,
        progress: Progress,
    ) -> pd.DataFrame:
        progress("projection: pair expansion (spark)")
        pairs = spark_pairs(
            spark, memberships, mem_ident, identifiers, sync, settings, partitions
        ).persist()
        try:
            kinds = sorted(r["kind"] for r in pairs.select("kind").distinct().collect())
            progress("projection: edges (spark)")
            found = _combine(pairs, kinds, settings).toPandas()
        finally:
            pairs.unpersist()
        return _edge_frame(found, kinds, settings)

    return edges


def _edge_frame(found: pd.DataFrame, kinds: list[str], settings: LinkageSettings) -> pd.DataFrame:
    """The collected pairs as :func:`linker.evidence.projection.combine_edges` returns
    them: the same columns, types, filter and order."""
    columns = [f"n{i}" for i in range(len(kinds))]
    counts = found[columns].to_numpy(np.int32).reshape(len(found), len(kinds))
    edges = pd.DataFrame(
        {
            "a": found["a"].to_numpy(np.int64),
            "b": found["b"].to_numpy(np.int64),
            "weight": 1.0 - np.exp(found["log_miss"].to_numpy(float)),
            "n_shared": counts.sum(axis=1),
        }
    )
    for i, name in enumerate(kinds):
        edges[f"ev_{name}"] = counts[:, i]
    edges = edges[edges["weight"] >= settings.min_edge_weight]
    return edges.sort_values(["a", "b"], ignore_index=True)
