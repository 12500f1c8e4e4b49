"""``riskml monitor``: population stability against the model's training reference."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from riskml.cli import app
from riskml.config import MonitorConfig, load_monitor_config
from riskml.monitor import Distribution, fit_distribution, psi

from ..conftest import Trained

ROOT = Path(__file__).resolve().parents[2]


def test_psi_is_zero_for_the_same_shares_and_grows_with_a_shift() -> None:
    rng = np.random.default_rng(0)
    ref = fit_distribution(rng.normal(size=20_000))
    assert psi(ref, rng.normal(size=20_000)) < 0.01
    assert (
        0.1 < psi(ref, rng.normal(0.5, 1.0, size=20_000)) < psi(ref, rng.normal(2.0, 1.0, 20_000))
    )
    # missing values have their own bin: a feature that goes missing is a shift
    ref_missing = fit_distribution(np.r_[rng.normal(size=9_000), np.full(1_000, np.nan)])
    assert ref_missing.shares[0] == pytest.approx(0.1)
    assert psi(ref_missing, np.full(500, np.nan)) > 1
    # a constant feature collapses to one cut point and stays stable
    const = fit_distribution(np.zeros(100))
    assert const == Distribution([0.0], [0.0, 1.0, 0.0])
    assert psi(const, np.zeros(10)) == 0.0


def test_the_repo_monitor_config_equals_the_defaults() -> None:
    assert load_monitor_config(ROOT / "pipelines" / "monitor.yaml") == MonitorConfig()


def _period(src: Path, dest: Path, start: str, end: str, amount_factor: float = 1.0) -> Path:
    """A copy of ``src`` whose claims end before ``end``; the claims from ``start`` on have their
    amounts (claim and items) multiplied by ``amount_factor``."""
    shutil.copytree(src, dest)
    claims = pd.read_parquet(dest / "claims.parquet")
    claims = claims.loc[claims["submitted_at"] < pd.Timestamp(end)].reset_index(drop=True)
    scaled = claims["submitted_at"] >= pd.Timestamp(start)
    claims.loc[scaled, "amount_claimed"] *= amount_factor
    claims.to_parquet(dest / "claims.parquet", index=False)
    items = pd.read_parquet(dest / "claim_items.parquet")
    items = items.loc[items["claim_id"].isin(claims["claim_id"])].reset_index(drop=True)
    hit = items["claim_id"].isin(claims.loc[scaled, "claim_id"])
    items.loc[hit, "unit_price"] *= amount_factor
    items.loc[hit, "amount"] *= amount_factor
    items.to_parquet(dest / "claim_items.parquet", index=False)
    labels = pd.read_parquet(dest / "labels.parquet")
    labels.loc[labels["claim_id"].isin(claims["claim_id"])].to_parquet(
        dest / "labels.parquet", index=False
    )
    return dest


def _monitor(data: Path, out: Path, since: str) -> dict:
    res = CliRunner().invoke(
        app, ["monitor", "--data", str(data), "--out", str(out), "--since", since]
    )
    assert res.exit_code == 0, res.output
    return json.loads((out.with_suffix(".json")).read_text())


def test_monitor_alerts_when_amounts_triple_and_not_on_a_period_like_training(
    trained: Trained, synth_dir: Path, tmp_path: Path
) -> None:
    ref_start = trained.result.reference.period[0]  # type: ignore[union-attr]
    # four months before the reference period, the same scheme: no alert
    before = (pd.Period(ref_start, freq="M") - 4).start_time
    calm = _period(synth_dir, tmp_path / "calm", str(before.date()), ref_start)
    report = _monitor(calm, tmp_path / "calm.html", str(before.date()))
    assert report["alerts"] == [], report["alerts"]
    assert report["score"]["status"] == "stable"
    assert (tmp_path / "calm.html").read_text().startswith("<!doctype html>")

    # the reference period with every amount tripled: the amounts and the score drift
    tripled = _period(synth_dir, tmp_path / "tripled", ref_start, "2100-01-01", 3.0)
    report = _monitor(tripled, tmp_path / "tripled.json", ref_start)
    kinds = {a["kind"] for a in report["alerts"]}
    assert "feature_drift" in kinds, report["alerts"]
    drifted = {a["feature"] for a in report["alerts"] if a["kind"] == "feature_drift"}
    assert "amount_claimed" in drifted
    assert report["features"]["amount_claimed"]["psi"] > 1.0
    # both reports are in MLflow
    runs = MlflowClient().search_runs(
        [MlflowClient().get_experiment_by_name("riskml-monitor").experiment_id]
    )
    assert len(runs) >= 2
    assert max(r.data.metrics["psi.amount_claimed"] for r in runs) > 1.0


def test_monitor_refuses_an_empty_period_and_writes_nothing(
    trained: Trained, synth_dir: Path, tmp_path: Path
) -> None:
    res = CliRunner().invoke(
        app,
        ["monitor", "--data", str(synth_dir), "--out", str(tmp_path / "m.json"),
         "--since", "2100-01-01"],
    )  # fmt: skip
    assert res.exit_code == 2
    assert "nothing to monitor" in res.output
    assert not (tmp_path / "m.json").exists()
