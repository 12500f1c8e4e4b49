"""No person id in clear in anything a training run writes (CONTRACT.md: ids are personal data).

``riskml train`` runs on synthetic data in a folder of its own (embedded MLflow store and
artifacts); then every file the run wrote (the bundle: pickled feature builder, booster, JSON,
model card; plots, metrics, fairness table, MLflow's database of params, tags and metrics) and
the run's own output (logs on stderr, summary on stdout) is searched for every person id of the
data: as raw bytes, inside decompressed Parquet, zip and gzip members, and inside the unpickled
feature builder's fitted tables. The network family's person graph is the one place that held
them (8,911 ids in one registered model); it is now keyed by a keyed hash.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from riskml.synth import run_synth


def _texts(path: Path) -> list[bytes]:
    """The bytes of ``path`` and of what it holds compressed or encoded."""
    raw = path.read_bytes()
    out = [raw]
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        out.append(str(table.to_pylist()).encode())
    elif raw[:2] == b"\x1f\x8b":
        out.append(gzip.decompress(raw))
    elif zipfile.is_zipfile(io.BytesIO(raw)):
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            out.extend(zf.read(name) for name in zf.namelist())
    if path.suffix == ".pkl":
        obj = pickle.loads(raw)
        for family in getattr(obj, "norms_", {}).values():
            for frame in family.values():
                out.append(frame.to_csv(index=True).encode())
    return out


def _hits(ids: list[str], blobs: list[bytes]) -> list[str]:
    return [i for i in ids if any(i.encode() in b for b in blobs)]


@pytest.mark.slow
def test_training_writes_no_person_id(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_synth(out=data, persons=300, seed=5, fraud_rate=None, preset="stress", months=24)
    ids = pd.read_parquet(data / "persons.parquet")["person_id"].astype(str).tolist()
    assert len(ids) == 300
    # the search finds ids where they are: in the data's own tables
    assert len(_hits(ids, _texts(data / "claims.parquet"))) > 200

    run = tmp_path / "run"
    run.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    }
    env["OMP_WAIT_POLICY"] = "passive"
    result = subprocess.run(
        [sys.executable, "-m", "riskml", "train", "--data", str(data)],
        cwd=run,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    files = [p for p in run.rglob("*") if p.is_file()]
    assert any(p.name == "feature_builder.pkl" for p in files)
    assert any(p.name == "model_card.md" for p in files)
    assert any(p.name == "mlflow.db" for p in files)
    found = {str(p.relative_to(run)): _hits(ids, _texts(p)) for p in files}
    found["stdout"] = _hits(ids, [result.stdout.encode()])
    found["stderr (logs)"] = _hits(ids, [result.stderr.encode()])
    assert {where: hits[:3] for where, hits in found.items() if hits} == {}

    # params, tags and metrics as MLflow's own API (and ``mlflow ui``) shows them
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{run / 'mlflow.db'}")
    shown = []
    for experiment in client.search_experiments():
        for logged in client.search_runs([experiment.experiment_id]):
            shown.append(str((logged.data.params, logged.data.tags, logged.data.metrics)))
    for model in client.search_registered_models():
        shown.extend(str((v.tags, v.description)) for v in model.latest_versions or [])
    assert shown and _hits(ids, [s.encode() for s in shown]) == []

    # the default feature set fits nothing about one person: co-visits are rolling (claims_v2)
    builder = pickle.loads(next(p for p in files if p.name == "feature_builder.pkl").read_bytes())
    tables = [t for family in builder.norms_.values() for t in family.values()]
    assert tables and "person_graph" not in builder.norms_["network"]
    assert not any("person_id" in t.columns or "person_key" in t.columns for t in tables)
