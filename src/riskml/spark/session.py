"""The SparkSession riskml runs on: ``local[*]`` by default, a ``spark://`` cluster or a Spark
Connect ``sc://`` server by URL.

What every session is given, whatever its master: the UI off and nothing downloaded (no
``--packages``), the session time zone fixed to UTC with Parquet timestamps written as
``TIMESTAMP_MICROS`` (naive timestamps of the contract then come back as written, not shifted by
the machine's zone), Arrow for the batches handed to Python, and one LightGBM/OpenMP thread per
Python worker (Spark runs one task per core; more threads per task would only fight for them).
Under ``spark-submit`` (:func:`under_spark_submit`) the session joins the JVM spark-submit
started: its ``--master`` and ``--conf`` hold, except the settings above, which riskml's
results depend on.
pyspark is an optional extra (``riskml[spark]``) and needs a Java runtime; either missing is a
one-line :class:`SparkUnavailableError`, not a stack trace.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from typing import TYPE_CHECKING

from riskml.errors import RiskmlError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[*]"

#: pyspark 4.3 warns on every batch that pandas 3 is "not yet fully supported". riskml hands
#: Spark Arrow tables only (``applyInArrow``: no pandas conversion by Spark) and its parity test
#: checks the results; the warning says nothing about riskml's use, so it is silenced by its
#: exact message (measured: results identical with it on, one warning per task otherwise).
PANDAS3_WARNING = "PySpark does not yet fully support pandas"

SESSION_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    "spark.executorEnv.OMP_NUM_THREADS": "1",
    "spark.executorEnv.OMP_WAIT_POLICY": "passive",
}

#: ``local`` masters run the executors inside the driver's JVM, whose heap is 1 GiB unless told
#: otherwise: too little for a wave's shuffle (every chunk's reach, sorted by chunk), which then
#: spills and collects garbage for most of the run. Measured on the 12-month, 20,000-person
#: backlog of ``bench_spark`` (features, one wave, a loaded 2-core machine): 162-184 s with the
#: default heap, 105 s with 3 GiB. A cluster's driver and executors are sized by its operator
#: (``spark-submit --driver-memory/--executor-memory``), so this is set for ``local`` only.
LOCAL_CONF: dict[str, str] = {"spark.driver.memory": "3g"}


def under_spark_submit() -> bool:
    """Whether this process is a driver program started by ``spark-submit`` (whose JVM is
    already running, with spark-submit's ``--master`` and ``--conf``): pyspark then joins that
    JVM through the gateway spark-submit announces in the environment."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


class SparkUnavailableError(RiskmlError):
    """``--engine spark`` cannot run here: pyspark or a Java runtime is missing, or the master
    URL is not one Spark takes."""


def silence_pandas3_warning() -> None:
    """Ignore pyspark's pandas-3 FutureWarning (see :data:`PANDAS3_WARNING`), in this process."""
    warnings.filterwarnings("ignore", message=PANDAS3_WARNING, category=FutureWarning)


def java_available() -> bool:
    """A ``java`` launcher on ``JAVA_HOME`` or the ``PATH``."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return True
    return shutil.which("java") is not None


def check_master(master: str) -> None:
    """Refuse a master URL Spark would not take, before a JVM is started for it."""
    if master.startswith(("local", "spark://", "sc://", "yarn", "k8s://")):
        return
    raise SparkUnavailableError(
        f"--spark-master {master!r} is not a Spark master: use local[*], local[N], "
        "spark://HOST:PORT, sc://HOST:PORT (Spark Connect), yarn or k8s://..."
    )


def check_available(master: str = DEFAULT_MASTER) -> None:
    """Raise :class:`SparkUnavailableError` (one line) unless a session on ``master`` can be
    started here: a master URL Spark takes, pyspark installed, and a Java runtime (not needed
    for Spark Connect, whose server runs the JVM). Cheap: no JVM is started."""
    check_master(master)
    if under_spark_submit() and master != DEFAULT_MASTER:
        raise SparkUnavailableError(
            f"--spark-master {master}: under spark-submit the master is spark-submit's "
            "--master; leave --spark-master out"
        )
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise SparkUnavailableError(
            "--engine spark needs pyspark: install the extra, e.g. `uv sync --extra spark` "
            "or `pip install 'riskml[spark]'`"
        ) from exc
    if not master.startswith("sc://") and not java_available():
        raise SparkUnavailableError(
            "--engine spark needs a Java runtime (17 or later) and none was found on JAVA_HOME "
            "or the PATH: install one, e.g. `apt-get install openjdk-17-jre-headless`"
        )


def spark_session(master: str = DEFAULT_MASTER, app_name: str = "riskml") -> SparkSession:
    """A SparkSession on ``master`` with :data:`SESSION_CONF` (an existing one is reused)."""
    return open_session(master, app_name)[0]


def open_session(
    master: str = DEFAULT_MASTER, app_name: str = "riskml"
) -> tuple[SparkSession, bool]:
    """:func:`spark_session`, and whether it was started here (and so should be stopped by the
    caller), rather than found running in this process."""
    check_available(master)
    from pyspark.sql import SparkSession

    silence_pandas3_warning()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    builder = SparkSession.builder.appName(app_name)
    submitted = under_spark_submit()
    if master.startswith("sc://"):
        builder = builder.remote(master)  # Spark Connect: the server has the JVM, not we
    elif not submitted:  # under spark-submit its --master holds, and its Python settings
        builder = builder.master(master)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in SESSION_CONF.items():
        if master.startswith("sc://") and not key.startswith("spark.sql."):
            continue  # a Connect client sets only session (SQL) settings; the server owns the rest
        builder = builder.config(key, value)
    if master.startswith("local") and not submitted:  # spark-submit sized its JVM already
        for key, value in LOCAL_CONF.items():
            builder = builder.config(key, value)
    try:
        return builder.getOrCreate(), True
    except Exception as exc:  # the JVM's own failure: keep its first line, not its stack
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise SparkUnavailableError(f"Spark did not start on {master}: {first}") from exc
