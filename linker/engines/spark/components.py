"""Connected components of the projection inside Spark: the community stand-in that
never gathers the graph on one machine (``spark_communities = "components"``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: label propagation rounds between two checks for convergence (each check is a job)
ROUNDS_PER_CHECK = 2


def component_labels(spark: SparkSession, n_accounts: int, edges: pd.DataFrame) -> np.ndarray:
    """The connected component of each account, labelled by its smallest account index,
    by iterated min-label propagation over the edges in Spark (a join and a groupBy per
    round; as many rounds as the widest component's diameter, about log n on the
    projection's expander-like components). Isolated accounts are their own
    component. Returns an int64 array of length ``n_accounts``."""
    from pyspark.sql import functions as F

    frame = pd.DataFrame({"a": edges["a"].to_numpy(np.int64), "b": edges["b"].to_numpy(np.int64)})
    links = spark.createDataFrame(frame, schema="a long, b long")
    both = links.union(links.select(F.col("b").alias("a"), F.col("a").alias("b"))).persist()
    labels = both.select(F.col("a").alias("v")).distinct().withColumn("label", F.col("v"))
    labels = labels.localCheckpoint()
    while True:
        previous = labels
        for _ in range(ROUNDS_PER_CHECK):
            labels = _round(both, labels)
        labels = labels.localCheckpoint()
        old = previous.withColumnRenamed("label", "old")
        moved = labels.join(old, "v").where(F.col("label") != F.col("old")).count()
        if moved == 0:
            break
    found = labels.toPandas()
    both.unpersist()
    out = np.arange(n_accounts, dtype=np.int64)
    out[found["v"].to_numpy(np.int64)] = found["label"].to_numpy(np.int64)
    return out


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
