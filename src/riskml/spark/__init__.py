"""The Spark engine of ``riskml features`` and ``riskml score`` (``--engine spark``).

:mod:`riskml.spark.session` starts the SparkSession (``local[*]``, a ``spark://`` cluster or a
Spark Connect ``sc://`` server); :mod:`riskml.spark.verbs` holds the verbs' entry points, which
run either plan: :mod:`riskml.spark.entities` (each feature family per bucket of its entity key,
the default) or :mod:`riskml.spark.engine` (the chunks of the batch engine as Spark tasks), both
with the one Scorer. Nothing here imports pyspark at import time.
"""
