"""The Spark engine (``link --engine spark``): the projection's pair expansion, pair
evidence and noisy-OR combine as Spark jobs, partitioned by identifier and by pair, and
the corroboration measures as groupBys;
communities by the embedded Leiden on the collected edges, or by connected components
inside Spark. pyspark is imported only when the engine runs (docs/scaling.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linker import graph
from linker.engines.spark.components import component_labels, propagation_labels
from linker.engines.spark.corroboration import spark_corroboration
from linker.engines.spark.projection import spark_pass_edges
from linker.engines.spark.session import require_spark, spark_session
from linker.evidence.projection import Progress, Projection, build_projection
from linker.model import LinkInput
from linker.settings import CommunitySettings, LinkageSettings
from linker.settings.engine import EngineSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["SparkEngine", "require_spark", "spark_session"]


class SparkEngine:
    """The projection's pair work and, on request, the communities on ``spark``."""

    def __init__(self, spark: SparkSession, settings: EngineSettings) -> None:
        self.spark = spark
        self.settings = settings

    def projection(
        self, inp: LinkInput, settings: LinkageSettings, progress: Progress | None
    ) -> Projection:
        """:func:`build_projection` with each pass's edges and the corroboration
        measures from Spark: the same projection as the embedded engine's."""
        edges_of = spark_pass_edges(self.spark, self.settings.spark_partitions)
        return build_projection(inp, settings, progress, edges_of, spark_corroboration(self.spark))

    def communities(
        self, n_accounts: int, edges: pd.DataFrame, settings: CommunitySettings
    ) -> np.ndarray:
        """:func:`graph.detect` on the collected edges (``spark_communities =
        "driver"``), or label propagation or connected components in Spark
        (``"propagation"``, ``"components"``); either
        way, communities smaller than ``settings.min_cluster_size`` are no cluster."""
        if self.settings.spark_communities == "driver":
            return graph.detect(n_accounts, edges, settings)
        if self.settings.spark_communities == "propagation":
            rounds = self.settings.spark_propagation_rounds
            labels = propagation_labels(self.spark, n_accounts, edges, rounds)
        else:
            labels = component_labels(self.spark, n_accounts, edges)
        sizes = np.bincount(labels, minlength=n_accounts)
        return np.where(sizes[labels] >= settings.min_cluster_size, labels, -1)
