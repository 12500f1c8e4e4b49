"""Shared fixtures: one small synthetic data directory per test session.

``synth_dir`` is generated once (about 2,500 persons, 24 months, stress preset, seed 11) into
a session temporary folder; ``synth_data`` is that directory loaded through the contract
loader. Feature, training and service tests build on them.

``trained`` is one small model per session, trained on ``synth_dir``, registered and promoted
in a temporary MLflow store. ``MLFLOW_TRACKING_URI`` points at that store only while a test
module that uses ``trained`` or ``mlflow_store`` runs, so other modules see their own
environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from riskml.config import TrainConfig
from riskml.data import ClaimsData, load_data_dir
from riskml.gate import GateDecision
from riskml.registry import RegisteredVersion
from riskml.train import TrainResult

SYNTH_PERSONS = 2_500
SYNTH_SEED = 11


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic data directory (contract tables, labels, ground truth, manifest)."""
    from riskml.synth import SynthConfig, generate, write_result

    out = tmp_path_factory.mktemp("synth") / "data"
    config = SynthConfig(persons=SYNTH_PERSONS, seed=SYNTH_SEED, months=24, preset="stress")
    write_result(generate(config), out)
    return out


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One real local Spark session for the suite (``local[1]``, UI off, riskml's settings):
    about 4-8 s to start, shared by every Spark test; stopped at the end."""
    from riskml.spark.session import open_session

    session, started = open_session("local[1]", app_name="riskml-tests")
    yield session
    if started:
        session.stop()


@pytest.fixture(scope="session")
def synth_data(synth_dir: Path) -> ClaimsData:
    """The loaded (validated) tables of ``synth_dir``."""
    return load_data_dir(synth_dir)


def write_claimant_subset(
    data: ClaimsData, out: Path, every: int, *, with_labels: bool = True
) -> Path:
    """Write to ``out`` every ``every``-th claimant of ``data`` with all their claims, line
    items and contributions (all employers and providers): a small, valid backlog. The labels
    of those claims come along when ``with_labels`` (and ``data`` has them)."""
    persons = data.persons.iloc[::every]
    claims = data.claims.loc[data.claims["person_id"].isin(persons["person_id"])]
    labels = data.labels
    if with_labels and labels is not None:
        labels = labels.loc[labels["claim_id"].isin(claims["claim_id"])]
    else:
        labels = None
    ClaimsData(
        persons=persons,
        employers=data.employers,
        providers=data.providers,
        contributions=data.contributions.loc[
            data.contributions["person_id"].isin(persons["person_id"])
        ],
        claims=claims,
        claim_items=data.claim_items.loc[data.claim_items["claim_id"].isin(claims["claim_id"])],
        labels=labels,
    ).write(out)
    return out


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


def _mlflow_env(mp: pytest.MonkeyPatch, root: Path) -> None:
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    mp.delenv("MLFLOW_REGISTRY_URI", raising=False)
    mp.setenv("OMP_WAIT_POLICY", "passive")


@pytest.fixture
def own_mlflow_store(tmp_path: Path) -> Iterator[Path]:
    """A fresh MLflow store for one test; the process-wide tracking and registry URIs that
    riskml's client sets are put back afterwards, so later tests find the session's store."""
    import mlflow

    tracking, registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    with pytest.MonkeyPatch.context() as mp:
        _mlflow_env(mp, tmp_path / "own-mlflow")
        yield tmp_path / "own-mlflow"
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(registry)


@pytest.fixture(scope="session")
def small_config() -> TrainConfig:
    return TrainConfig().with_overrides(SMALL)


@pytest.fixture(scope="session")
def _trained_once(
    tmp_path_factory: pytest.TempPathFactory,
    synth_data: ClaimsData,
    synth_dir: Path,
    small_config: TrainConfig,
) -> Trained:
    """Train, register and promote the session's model (the environment is restored after)."""
    from riskml.fingerprint import data_fingerprint
    from riskml.gate import promote_if_better
    from riskml.registry import log_and_register
    from riskml.train import train_model

    root = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as mp:
        _mlflow_env(mp, root)
        result = train_model(synth_data, small_config, fingerprint=data_fingerprint(synth_dir))
        registered = log_and_register(result)
        decision = promote_if_better(registered, synth_data, result)
    return Trained(small_config, result, registered, decision, root)


@pytest.fixture(scope="module")
def mlflow_store(_trained_once: Trained) -> Iterator[Path]:
    """The session's MLflow store, set through MLFLOW_TRACKING_URI for this module."""
    with pytest.MonkeyPatch.context() as mp:
        _mlflow_env(mp, _trained_once.store)
        yield _trained_once.store


@pytest.fixture(scope="module")
def trained(mlflow_store: Path, _trained_once: Trained) -> Trained:
    """The session's trained, registered and promoted model (its store set for this module)."""
    return _trained_once
