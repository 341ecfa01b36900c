"""The engines that run the projection and the communities: embedded (numpy and igraph
in this process, the default) and Apache Spark (:mod:`linker.engines.spark`,
``link --engine spark``). Both give the same projection; the pipeline asks
:func:`open_engine` for the one the settings name and calls its two hooks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import numpy as np
import pandas as pd

from linker import graph
from linker.evidence.projection import Progress, Projection, build_projection
from linker.model import LinkInput
from linker.settings import CommunitySettings, LinkageSettings
from linker.settings.engine import EngineSettings


class Engine(Protocol):
    """The two stages an engine runs: everything else is shared."""

    def projection(
        self, inp: LinkInput, settings: LinkageSettings, progress: Progress | None
    ) -> Projection:
        """The weighted account projection of ``inp`` (:func:`build_projection`)."""
        ...

    def communities(
        self, n_accounts: int, edges: pd.DataFrame, settings: CommunitySettings
    ) -> np.ndarray:
        """Community label per account, -1 outside clusters (:func:`graph.detect`)."""
        ...


class EmbeddedEngine:
    """numpy, pandas and igraph in this process."""

    def projection(
        self, inp: LinkInput, settings: LinkageSettings, progress: Progress | None
    ) -> Projection:
        """:func:`build_projection` of ``inp``."""
        return build_projection(inp, settings, progress)

    def communities(
        self, n_accounts: int, edges: pd.DataFrame, settings: CommunitySettings
    ) -> np.ndarray:
        """:func:`graph.detect` on ``edges``."""
        return graph.detect(n_accounts, edges, settings)


@contextmanager
def open_engine(settings: EngineSettings) -> Iterator[Engine]:
    """The engine ``settings.name`` names, open for one run (a Spark session is started
    and stopped around it). Raises :class:`LinkerError` when pyspark or Java is
    missing for the Spark engine, naming what to install."""
    if settings.name == "spark":
        from linker.engines.spark import SparkEngine, spark_session

        with spark_session(settings) as spark:
            yield SparkEngine(spark, settings)
    else:
        yield EmbeddedEngine()
