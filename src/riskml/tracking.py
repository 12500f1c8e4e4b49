"""MLflow plumbing: which tracking and registry store, clients, experiments, model URIs.

Embedded by default: without ``MLFLOW_TRACKING_URI`` the tracking and registry store is
``sqlite:///mlflow.db`` in the working directory and artifacts go to ``./mlartifacts`` beside it;
nothing has to be started. With the variable set, the same code talks to any MLflow server.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from riskml.defaults import CHAMPION
from riskml.errors import RiskmlError


def _embedded() -> bool:
    return not os.environ.get("MLFLOW_TRACKING_URI")


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI``, or the embedded SQLite store in the working directory."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def _artifact_root() -> str | None:
    """Where new experiments keep artifacts: ``mlartifacts`` beside a SQLite store."""
    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        return (db.parent / "mlartifacts").resolve().as_uri()
    return None


def client() -> MlflowClient:
    """An MLflow client on the configured tracking and registry store."""
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(os.environ.get("MLFLOW_REGISTRY_URI") or uri)
    return MlflowClient(tracking_uri=uri, registry_uri=os.environ.get("MLFLOW_REGISTRY_URI") or uri)


def experiment_id(mc: MlflowClient, name: str) -> str:
    exp = mc.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    return str(mc.create_experiment(name, artifact_location=_artifact_root()))


def git_commit() -> str | None:
    """The commit of the riskml source tree, when it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _parse_models_uri(uri: str) -> tuple[str, str | None, str | None]:
    """``models:/name@alias`` or ``models:/name/version`` -> (name, alias, version)."""
    rest = uri.removeprefix("models:/")
    if "@" in rest:
        name, alias = rest.split("@", 1)
        return name, alias, None
    if "/" in rest:
        name, ver = rest.rsplit("/", 1)
        return name, None, ver
    raise RiskmlError(
        f"model URI {uri!r}: expected models:/<name>@<alias> or models:/<name>/<version>"
    )


def resolve_version(uri: str) -> tuple[str, str, str | None]:
    """(name, version, alias) of a ``models:/`` URI, asking the registry."""
    name, alias, ver = _parse_models_uri(uri)
    mc = client()
    try:
        if alias is not None:
            mv = mc.get_model_version_by_alias(name, alias)
        else:
            mv = mc.get_model_version(name, str(ver))
    except MlflowException as exc:
        hint = " (run `riskml train --promote` first)" if alias == CHAMPION else ""
        raise RiskmlError(
            f"model URI {uri!r} not found in the registry at {tracking_uri()}{hint}: "
            f"{str(exc).splitlines()[0]}"
        ) from None
    return name, str(mv.version), alias
