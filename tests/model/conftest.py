"""One trained, registered and promoted model for the model tests, in a temporary MLflow store.

Package-scoped: MLFLOW_TRACKING_URI points at the temporary store only while tests/model runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from riskml.config import TrainConfig
from riskml.data import ClaimsData
from riskml.registry import GateDecision, RegisteredVersion
from riskml.train import TrainResult

# small and single-threaded: the suite shares two cores with everything else
SMALL = {
    "experiment": "riskml-tests",
    "lightgbm": {
        "num_threads": 1,
        "imbalance": ["none", "scale_pos_weight"],
        "sizes": [{"num_leaves": 7, "max_trees": 40}, {"num_leaves": 15, "max_trees": 80}],
        "default_size": 1,
        "early_stopping_rounds": 15,
        "explain_rows": 300,
    },
    "baselines": {"max_train_rows": 5_000},
    # fairness bounds as configured by default: the first model must pass them to be promoted
}


@dataclass
class Trained:
    config: TrainConfig
    result: TrainResult
    registered: RegisteredVersion
    decision: GateDecision
    store: Path


@pytest.fixture(scope="package")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A SQLite MLflow store in a temporary folder, set through MLFLOW_TRACKING_URI."""
    root = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mp.delenv("MLFLOW_REGISTRY_URI", raising=False)
        mp.setenv("OMP_WAIT_POLICY", "passive")
        yield root


@pytest.fixture(scope="package")
def small_config() -> TrainConfig:
    return TrainConfig().with_overrides(SMALL)


@pytest.fixture(scope="package")
def trained(
    mlflow_store: Path, synth_data: ClaimsData, synth_dir: Path, small_config: TrainConfig
) -> Trained:
    from riskml.batch import data_fingerprint
    from riskml.registry import log_and_register, promote_if_better
    from riskml.train import train_model

    result = train_model(synth_data, small_config, fingerprint=data_fingerprint(synth_dir))
    registered = log_and_register(result)
    decision = promote_if_better(registered, synth_data, result)
    return Trained(small_config, result, registered, decision, mlflow_store)
