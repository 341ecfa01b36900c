"""Settings of the engine that runs the projection and the communities: the embedded
one (numpy and igraph in this process) or Apache Spark (``link --engine spark``;
docs/scaling.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from linker.errors import LinkerError

ENGINES = ("embedded", "spark")
#: where the Spark engine finds communities: "driver" collects the final edges and runs
#: the embedded engine's Leiden on them (the same clusters as embedded); "propagation"
#: (weighted label propagation) and "components" (connected components) keep the graph
#: in Spark, the stand-ins past one machine's memory (what they cost: docs/scaling.md)
SPARK_COMMUNITIES = ("driver", "propagation", "components")


@dataclass(frozen=True)
class EngineSettings:
    """Which engine runs the projection and the communities, and how Spark is set up.

    The engine changes no result with ``spark_communities = "driver"``: both engines
    expand the same pairs and sum the same evidence in the same order."""

    #: "embedded" or "spark"
    name: str = "embedded"
    #: the Spark master (``local[2]``: two worker threads in this process's JVM; a
    #: ``spark://`` or ``yarn`` URL runs on a cluster)
    spark_master: str = "local[2]"
    #: memory of Spark's driver JVM (the embedded stages keep running in Python)
    spark_driver_memory: str = "2g"
    #: partitions of the shuffles (by identifier for the pair expansion, by pair for the
    #: noisy-OR); a few per core
    spark_partitions: int = 8
    #: "driver", "propagation" or "components" (:data:`SPARK_COMMUNITIES`)
    spark_communities: str = "driver"
    #: most rounds of label propagation ("propagation"); each is a few shuffles
    spark_propagation_rounds: int = 20
    #: where Spark spills shuffle files ("" : a temporary directory, removed after the run)
    spark_scratch: str = ""

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise LinkerError(f"engine must be one of {', '.join(ENGINES)}, not {self.name!r}")
        if self.spark_communities not in SPARK_COMMUNITIES:
            raise LinkerError(
                f"engine spark_communities must be one of {', '.join(SPARK_COMMUNITIES)}, "
                f"not {self.spark_communities!r}"
            )
        if self.spark_partitions < 1:
            raise LinkerError(
                f"engine spark_partitions must be at least 1, not {self.spark_partitions}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for run.json."""
        return asdict(self)
