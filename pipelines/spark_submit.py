"""The ``riskml`` command as a ``spark-submit`` driver program (docs/spark.md, "Running on a
cluster"): ``spark-submit [spark options] pipelines/spark_submit.py score --engine spark
--data URL --out URL``. The arguments after this file are riskml's own; spark-submit's
``--master`` and ``--conf`` decide where the chunks run (leave ``--spark-master`` out).

A file outside the package on purpose: spark-submit runs a ``.py`` file, not a module, and a
file run from inside ``src/riskml`` would put that folder first on ``sys.path`` (its ``io.py``
and ``data.py`` would shadow other modules).
"""

from riskml.cli import app

if __name__ == "__main__":
    app(prog_name="riskml")
