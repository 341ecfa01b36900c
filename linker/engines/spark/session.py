"""The Spark session of a run: local mode by default, quiet, scratch files in a
directory of their own."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from linker.errors import LinkerError
from linker.settings.engine import EngineSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: how to install the engine's extra (named by every error about it)
INSTALL = "pip install 'sybil-linker[spark]' (or make setup), and a Java 17+ runtime"

#: Spark's own log: errors only, to stderr (its INFO and WARN lines would bury the
#: progress lines)
_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark: %p %c{1}: %m%n
# at the root's level, so Spark does not announce a shell log level of its own
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = error
logger.submit.name = org.apache.spark.deploy.SparkSubmit
logger.submit.level = error
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""


def require_spark() -> None:
    """Raise :class:`LinkerError` naming the install command when pyspark or a Java
    runtime is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError as err:
        raise LinkerError(f"the Spark engine needs pyspark: {INSTALL}") from err
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise LinkerError(f"the Spark engine needs Java (no java on PATH, no JAVA_HOME): {INSTALL}")


@contextmanager
def spark_session(settings: EngineSettings) -> Iterator[SparkSession]:
    """A Spark session for one run, stopped afterwards; a session already running in
    this process (a test's, a notebook's) is used as it is and left running. Raises
    :class:`LinkerError` when pyspark or Java is missing (:func:`require_spark`)."""
    require_spark()
    from pyspark.sql import SparkSession

    # pyspark 4.x warns on every pandas conversion under pandas 3 (and its own use of a
    # deprecated pandas keyword); the conversions the engine makes are checked against
    # the embedded engine by tests/linker/test_spark_engine.py
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    warnings.filterwarnings("ignore", message="The copy keyword is deprecated")
    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    # local workers run this interpreter (its venv); a cluster's executors run their own
    # Python, which needs this package installed (docs/scaling.md)
    if settings.spark_master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    scratch = Path(tempfile.mkdtemp(prefix="sybil-spark-", dir=settings.spark_scratch or None))
    try:
        log4j = scratch / "log4j2.properties"
        log4j.write_text(_LOG4J)
        spark = (
            SparkSession.builder.master(settings.spark_master)
            .appName("sybil-linker")
            .config("spark.driver.memory", settings.spark_driver_memory)
            .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log4j.as_uri()}")
            .config("spark.local.dir", str(scratch))
            .config("spark.sql.shuffle.partitions", str(settings.spark_partitions))
            .config("spark.default.parallelism", str(settings.spark_partitions))
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        try:
            yield spark
        finally:
            spark.stop()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
