"""The SparkSession of a run, from `graphguard.config.SparkConfig`.

`require_spark` turns a missing pyspark or Java into one clear `SparkUnavailable` error (the CLI
prints it as a usage problem), before any work. `spark_session` builds the session; a session
that already runs in this process (spark-submit, a notebook, the tests) is reused as it is, and
is then not stopped by graphguard.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from graphguard.config import SparkConfig
from graphguard.errors import GraphguardError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

INSTALL_HINT = "pip install 'graphguard[spark]' (pyspark 4) and a Java 17 runtime"


class SparkUnavailable(GraphguardError):
    """``engine: spark`` on a machine without pyspark or Java."""


def require_spark() -> None:
    """Raise `SparkUnavailable` unless pyspark can be imported and a Java runtime found."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SparkUnavailable(
            f"engine spark needs pyspark, which is not installed: {INSTALL_HINT}"
        ) from None
    java_home = os.environ.get("JAVA_HOME")
    has_java = shutil.which("java") is not None or (
        java_home is not None and os.path.exists(os.path.join(java_home, "bin", "java"))
    )
    if not has_java:
        raise SparkUnavailable(
            "engine spark needs a Java runtime (Java 17, e.g. apt-get install "
            f"openjdk-17-jre-headless, or set JAVA_HOME); none was found: {INSTALL_HINT}"
        )


@contextmanager
def spark_session(cfg: SparkConfig) -> Iterator[SparkSession]:
    """The session of one run: master, app name, driver memory, shuffle partitions, Arrow,
    UTC, and a checkpoint directory (``cfg.checkpoint_dir``, or a temporary one removed
    afterwards). A session graphguard started is stopped at the end (its JVM exits)."""
    require_spark()
    from pyspark.sql import SparkSession

    if (cfg.master or "").startswith("local") and "PYSPARK_PYTHON" not in os.environ:
        # local executors run this interpreter (its polars, igraph); on a cluster the
        # executors' Python is the cluster's setting (PYSPARK_PYTHON, spark.pyspark.python)
        os.environ["PYSPARK_PYTHON"] = sys.executable
    active = SparkSession.getActiveSession()
    scratch = None
    if active is not None:
        session, owned = active, False
    else:
        builder = SparkSession.builder.appName(cfg.app_name)
        if cfg.master:
            builder = builder.master(cfg.master)
        session = (
            builder.config("spark.driver.memory", cfg.driver_memory)
            .config("spark.sql.shuffle.partitions", str(cfg.shuffle_partitions))
            .config("spark.default.parallelism", str(cfg.shuffle_partitions))
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
        owned = True
        session.sparkContext.setLogLevel("ERROR")
    try:
        checkpoint = cfg.checkpoint_dir
        if checkpoint is None and session.sparkContext.getCheckpointDir() is None:
            scratch = tempfile.mkdtemp(prefix="graphguard-spark-checkpoint-")
            checkpoint = scratch
            if not owned:  # the session outlives this run and keeps the directory
                atexit.register(shutil.rmtree, scratch, True)
                scratch = None
        if checkpoint is not None:
            session.sparkContext.setCheckpointDir(checkpoint)
        yield session
    finally:
        if owned:
            session.stop()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
