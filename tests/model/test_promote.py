"""``riskml promote``: the champion moves by the gate or a supervisor's recorded justification;
the challenger is marked for shadow scoring and compared by ``riskml evaluate``. And the gate
says "not enough evidence" where the counts cannot decide a fairness bound."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from riskml.cli import app
from riskml.data import ClaimsData
from riskml.defaults import CHALLENGER, CHAMPION, MODEL_NAME
from riskml.registry import RegisteredVersion, log_and_register
from riskml.store import open_store

from ..conftest import Trained


@pytest.fixture
def second(trained: Trained) -> Iterator[RegisteredVersion]:
    """A second registered version that never went through the gate; the aliases are restored."""
    config = trained.result.config.with_overrides({"log_plots": False})
    registered = log_and_register(dataclasses.replace(trained.result, config=config))
    yield registered
    mc = MlflowClient()
    mc.set_registered_model_alias(MODEL_NAME, CHAMPION, trained.registered.version)
    with contextlib.suppress(mlflow.exceptions.MlflowException):
        mc.delete_registered_model_alias(MODEL_NAME, CHALLENGER)


def _promote(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["promote", *args])
    return res.exit_code, res.output


def test_a_version_without_a_passed_gate_needs_a_supervisor_and_a_justification(
    trained: Trained, second: RegisteredVersion
) -> None:
    code, out = _promote("--version", second.version)
    assert code == 2 and "has not passed the promotion gate (gate: not run" in out
    code, out = _promote("--version", second.version, "--supervisor", "Li Wei", "--justification",
                         "ok   ")  # fmt: skip
    assert code == 2
    mc = MlflowClient()
    assert str(mc.get_model_version_by_alias(MODEL_NAME, CHAMPION).version) == (
        trained.registered.version
    )
    why = "Backlog of maternity claims needs the new features; fairness reviewed by hand."
    code, out = _promote("--version", second.version, "--supervisor", "Li Wei",
                         "--justification", why)  # fmt: skip
    assert code == 0, out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["previous"] == trained.registered.version
    mv = mc.get_model_version(MODEL_NAME, second.version)
    assert str(mc.get_model_version_by_alias(MODEL_NAME, CHAMPION).version) == second.version
    assert mv.tags["override_by"] == "Li Wei"
    assert mv.tags["override_justification"] == why
    assert why in mv.description
    note = mlflow.artifacts.load_text(f"runs:/{second.run_id}/promotion_override.md")
    assert "Li Wei" in note and why in note


def test_a_gated_version_is_promoted_without_override(trained: Trained) -> None:
    code, out = _promote("--version", trained.registered.version)
    assert code == 0, out
    assert "override" not in json.loads(out.strip().splitlines()[-1])


def test_a_challenger_is_compared_with_the_champion_on_the_same_claims(
    trained: Trained, second: RegisteredVersion, synth_dir: object
) -> None:
    code, out = _promote("--version", second.version, "--alias", CHALLENGER)
    assert code == 0, out
    res = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--data",
            str(synth_dir),
            "--challenger",
            f"models:/{MODEL_NAME}@{CHALLENGER}",
        ],
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.output.strip().splitlines()[-1])
    assert report["model_version"] == trained.registered.version
    assert report["challenger"]["model_version"] == second.version
    assert report["challenger"]["n_claims"] == report["n_claims"]
    # the same booster: the same numbers on the same claims
    assert report["comparison"]["auc_pr"] == pytest.approx(0.0, abs=1e-12)


def test_the_gate_says_where_the_counts_cannot_decide(
    trained: Trained, synth_data: ClaimsData
) -> None:
    evidence = trained.result.metrics["fairness"]["evidence"]
    assert set(evidence) == {"sex", "hukou_type", "age_band", "region"}
    assert {e["status"] for e in evidence.values()} <= {"within", "exceeds", "not enough evidence"}
    unclear = [a for a, e in evidence.items() if e["status"] == "not enough evidence"]
    assert unclear  # a 2,500-person scheme cannot show every bound
    notes = trained.decision.notes
    assert len(notes) == len(unclear)
    assert all("not enough evidence" in n and "point false-positive-rate ratio" in n for n in notes)
    mv = MlflowClient().get_model_version(MODEL_NAME, trained.registered.version)
    assert "not enough evidence" in mv.tags["gate_notes"]


def test_a_promotion_is_written_to_the_store_audit_log(
    trained: Trained, second: RegisteredVersion, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An override lands in the service store's audit log with the supervisor as actor and the
    justification in ``detail``, before the alias moves; a refused override writes nothing; a
    gated promotion is audited too. ``--store`` names the store; ``RISKML_STORE_URL`` works as
    well; with neither (and no default store file) nothing is written anywhere."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    code, out = _promote("--version", second.version, "--store", url)  # refused: no supervisor
    assert code == 2, out
    store = open_store(url)
    try:
        assert store.audit_log(["promote", "promote_override"]).empty
        why = "Pension-after-death backlog needs v2 now; fairness by region reviewed by hand."
        code, out = _promote("--version", second.version, "--supervisor", "Zhang Min",
                             "--justification", why, "--store", url)  # fmt: skip
        assert code == 0, out
        result = json.loads(out.strip().splitlines()[-1])
        assert result["audited_in_store"]
        (row,) = store.audit_log(["promote_override"]).to_dict("records")
        assert row["actor"] == "Zhang Min" and row["role"] == "supervisor"
        assert row["model_version"] == second.version
        assert f"champion -> {second.version} (was {trained.registered.version})" in row["outcome"]
        assert "gate: not run" in row["outcome"]
        assert why in row["detail"]
        monkeypatch.setenv("RISKML_STORE_URL", url)
        code, out = _promote("--version", trained.registered.version)
        assert code == 0, out
        (back,) = store.audit_log(["promote"]).to_dict("records")
        assert back["model_version"] == trained.registered.version and back["detail"] is None
        assert "gate: passed" in back["outcome"]
    finally:
        store.close()
    monkeypatch.delenv("RISKML_STORE_URL")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    code, out = _promote("--version", trained.registered.version)
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["audited_in_store"] is None
    assert not (tmp_path / "elsewhere" / "riskml-store.db").exists()
