"""The corroboration measures on Spark: the same numbers as
:func:`linker.evidence.projection.corroboration`, as groupBys and one self-join."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linker.evidence.projection import Corroborate, judged_memberships
from linker.settings import LinkageSettings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def spark_corroboration(spark: SparkSession) -> Corroborate:
    """A :data:`linker.evidence.projection.Corroborate` computed on ``spark``: the
    largest first-pass community share of each judged instrument (a groupBy on
    (identifier, label), then on identifier) and its largest Jaccard overlap with
    another judged instrument (a self-join of the judged memberships on account, a
    groupBy on the identifier pair); only one number per identifier reaches the
    driver. Divisions and maxima are exact, so the numbers equal the embedded ones."""

    def corroborate(
        memberships: pd.DataFrame,
        mem_ident: np.ndarray,
        identifiers: pd.DataFrame,
        labels: np.ndarray,
        settings: LinkageSettings,
    ) -> np.ndarray:
        judged, frame = judged_memberships(memberships, mem_ident, identifiers, labels, settings)
        out = np.ones(len(identifiers))
        if frame.empty:
            return out
        judged_rows = spark.createDataFrame(frame, schema="ident long, account long, label long")
        share = np.zeros(len(identifiers))
        best = _largest_community(judged_rows)
        deg = identifiers["degree"].to_numpy()
        share[best["ident"].to_numpy()] = best["n"].to_numpy() / deg[best["ident"].to_numpy()]
        co = np.zeros(len(identifiers))
        if len(frame) >= 2:
            overlap = _largest_overlap(judged_rows)
            co[overlap["ident"].to_numpy()] = overlap["jac"].to_numpy(float)
        out[judged] = np.maximum(share, co)[judged]
        return out

    return corroborate


def _largest_community(rows: DataFrame) -> pd.DataFrame:
    """(ident, n): the most accounts of each identifier in one community."""
    from pyspark.sql import functions as F

    counts = rows.groupBy("ident", "label").count()
    return counts.groupBy("ident").agg(F.max("count").alias("n")).toPandas()


def _largest_overlap(rows: DataFrame) -> pd.DataFrame:
    """(ident, jac): each identifier's largest Jaccard overlap with another's accounts
    (identifiers that share no account with another are left out)."""
    from pyspark.sql import functions as F

    x = rows.select(F.col("ident").alias("x"), "account")
    y = rows.select(F.col("ident").alias("y"), "account")
    shared = x.join(y, "account").where(F.col("x") < F.col("y")).groupBy("x", "y").count()
    deg = rows.groupBy("ident").count()
    dx = deg.select(F.col("ident").alias("x"), F.col("count").alias("dx"))
    dy = deg.select(F.col("ident").alias("y"), F.col("count").alias("dy"))
    jac = (
        shared.join(dx, "x")
        .join(dy, "y")
        .select(
            "x", "y", (F.col("count") / (F.col("dx") + F.col("dy") - F.col("count"))).alias("j")
        )
    )
    sides = jac.select(F.col("x").alias("ident"), "j").union(
        jac.select(F.col("y").alias("ident"), "j")
    )
    return sides.groupBy("ident").agg(F.max("j").alias("jac")).toPandas()
