"""Communities inside Spark, the stand-ins that never gather the graph on one machine:
weighted label propagation (``spark_communities = "propagation"``) and connected
components (``"components"``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def component_labels(spark: SparkSession, n_accounts: int, edges: pd.DataFrame) -> np.ndarray:
    """The connected component of each account, labelled by its smallest account index,
    by min-label propagation over the edges in Spark with pointer jumping (each round a
    vertex takes the smallest label among its neighbours', then its label's label), so
    a path of length d settles in about log d rounds, not d; each round is a few joins
    and a groupBy, then one count to tell whether anything moved. Isolated accounts
    are their own component. Returns an int64 array of length ``n_accounts``."""
    from pyspark.sql import functions as F

    frame = pd.DataFrame({"a": edges["a"].to_numpy(np.int64), "b": edges["b"].to_numpy(np.int64)})
    links = spark.createDataFrame(frame, schema="a long, b long")
    both = links.union(links.select(F.col("b").alias("a"), F.col("a").alias("b"))).persist()
    labels = both.select(F.col("a").alias("v")).distinct().withColumn("label", F.col("v"))
    labels = labels.localCheckpoint()
    while True:
        previous = labels.withColumnRenamed("label", "old")
        labels = _jump(_round(both, labels)).localCheckpoint()
        moved = labels.join(previous, "v").where(F.col("label") != F.col("old")).count()
        if moved == 0:
            break
    return _collected(labels, both, n_accounts)


def _round(both: DataFrame, labels: DataFrame) -> DataFrame:
    """One round: each vertex takes the smallest label among its own and its
    neighbours'."""
    from pyspark.sql import functions as F

    offered = both.join(labels, both["a"] == labels["v"]).select(
        F.col("b").alias("v"), F.col("label")
    )
    return (
        offered.union(labels.select("v", "label")).groupBy("v").agg(F.min("label").alias("label"))
    )


def _jump(labels: DataFrame) -> DataFrame:
    """Pointer jumping: each vertex takes its label's label when smaller (a label is a
    vertex of the same component)."""
    from pyspark.sql import functions as F

    target = labels.select(F.col("v").alias("t"), F.col("label").alias("next"))
    return labels.join(target, labels["label"] == target["t"], "left").select(
        "v", F.least("label", F.coalesce("next", "label")).alias("label")
    )


def propagation_labels(
    spark: SparkSession, n_accounts: int, edges: pd.DataFrame, rounds: int
) -> np.ndarray:
    """Communities by weighted label propagation in Spark: each account takes the label
    its neighbours hold with the most edge weight (ties: the smallest label); in each
    round a seeded half of the accounts moves, so two neighbours cannot swap labels
    forever. ``rounds`` rounds (a join, a groupBy and a window per round), or fewer
    when no label moves. Isolated accounts keep their own label. Returns an int64
    array of length ``n_accounts``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    frame = pd.DataFrame(
        {
            "a": edges["a"].to_numpy(np.int64),
            "b": edges["b"].to_numpy(np.int64),
            "w": edges["weight"].to_numpy(float),
        }
    )
    links = spark.createDataFrame(frame, schema="a long, b long, w double")
    both = links.union(links.select(F.col("b").alias("a"), F.col("a").alias("b"), "w")).persist()
    labels = both.select(F.col("a").alias("v")).distinct().withColumn("label", F.col("v"))
    labels = labels.localCheckpoint()
    best = Window.partitionBy("v").orderBy(F.desc("s"), F.asc("label"))
    for step in range(rounds):
        offered = both.join(labels, both["a"] == labels["v"]).select(
            F.col("b").alias("v"), "label", "w"
        )
        scored = offered.groupBy("v", "label").agg(F.sum("w").alias("s"))
        chosen = (
            scored.withColumn("rank", F.row_number().over(best))
            .where(F.col("rank") == 1)
            .select("v", F.col("label").alias("new"))
        )
        moves = F.pmod(F.xxhash64("v", F.lit(step)), F.lit(2)) == 0
        updated = labels.join(chosen, "v").select(
            "v", F.when(moves, F.col("new")).otherwise(F.col("label")).alias("label")
        )
        old = labels.withColumnRenamed("label", "old")
        updated = updated.localCheckpoint()
        moved = updated.join(old, "v").where(F.col("label") != F.col("old")).count()
        labels = updated
        if moved == 0:
            break
    return _collected(labels, both, n_accounts)


def _collected(labels: DataFrame, both: DataFrame, n_accounts: int) -> np.ndarray:
    """The label of every account from Spark's (v, label) rows; an account with no edge
    keeps its own index. Releases the cached edges."""
    found = labels.toPandas()
    both.unpersist()
    out = np.arange(n_accounts, dtype=np.int64)
    out[found["v"].to_numpy(np.int64)] = found["label"].to_numpy(np.int64)
    return out
