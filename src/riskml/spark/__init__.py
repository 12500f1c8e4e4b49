"""The Spark engine of ``riskml features`` and ``riskml score`` (``--engine spark``).

:mod:`riskml.spark.session` starts the SparkSession (``local[*]``, a ``spark://`` cluster or a
Spark Connect ``sc://`` server); :mod:`riskml.spark.engine` runs the chunks of the batch engine
as Spark tasks, with the one Scorer. Nothing here imports pyspark at import time.
"""
