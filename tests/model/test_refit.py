"""A champion that learns from every mature label (DESIGN principle 3): the label horizon,
``--as-of``, the refit with out-of-fold calibration, backtest metrics and the gate's basis."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient
from typer.testing import CliRunner

from riskml.cli import app
from riskml.config import TrainConfig
from riskml.data import ClaimsData
from riskml.errors import RiskmlError
from riskml.gate import champion_metrics_on
from riskml.registry import load_model_bundle
from riskml.train import (
    booster_params,
    claim_frame,
    data_as_of,
    label_coverage,
    label_horizon,
    plan_windows,
    raw_score,
    refit_procedure,
    scaled_trees,
)

from ..conftest import Trained


def _coverage(shares: list[float]) -> pd.Series:
    return pd.Series(shares, index=pd.period_range("2024-01", periods=len(shares), freq="M"))


def test_the_horizon_is_the_last_month_whose_labels_have_matured() -> None:
    # 12 months with a fifth of the claims labelled, then investigations still running
    shares = [0.2] * 12 + [0.19, 0.1, 0.02, 0.0, 0.0, 0.0]
    assert label_horizon(_coverage(shares), 0.8) == pd.Period("2025-01", freq="M")
    assert label_horizon(_coverage(shares), 0.5) == pd.Period("2025-02", freq="M")
    # a scheme that investigates 1% of its claims is mature at its own level
    assert label_horizon(_coverage([0.01] * 10), 0.8) == pd.Period("2024-10", freq="M")
    with pytest.raises(RiskmlError, match="no claim has a label decided before"):
        label_horizon(_coverage([0.0] * 6), 0.8)


def test_windows_end_at_the_horizon_and_later_months_are_history(
    synth_data: ClaimsData, small_config: TrainConfig
) -> None:
    as_of = pd.Timestamp("2030-01-01")
    horizon = pd.Period("2025-06", freq="M")
    w = plan_windows(synth_data.claims["submitted_at"], small_config.split, horizon, as_of)
    assert w.test_end == pd.Timestamp("2025-07-01")
    frame = claim_frame(synth_data, w)
    history = frame["window"] == "history"
    assert history.sum() == (synth_data.claims["submitted_at"] >= w.test_end).sum() > 0
    # claims after the horizon are scored, never labelled, not even "not fraud"
    assert frame.loc[history, ["label", "label_as_of"]].isna().all().all()
    assert frame.loc[frame["window"] == "test", "label"].notna().any()


def _without_recent_labels(src: Path, dest: Path, months: int) -> pd.Timestamp:
    shutil.copytree(src, dest)
    claims = pd.read_parquet(dest / "claims.parquet")
    last = claims["submitted_at"].dt.to_period("M").max()
    cut = (last + 1 - months).start_time
    recent = claims.loc[claims["submitted_at"] >= cut, "claim_id"]
    labels = pd.read_parquet(dest / "labels.parquet")
    labels.loc[~labels["claim_id"].isin(recent)].to_parquet(dest / "labels.parquet", index=False)
    return cut


def test_train_on_a_directory_whose_last_six_months_are_unlabelled(
    synth_dir: Path, small_config: TrainConfig, tmp_path: Path, own_mlflow_store: Path
) -> None:
    """Real data ends in months nobody has investigated yet: train evaluates on the months with
    mature labels, prints its windows and label counts, and promotes."""
    data = tmp_path / "data"
    cut = _without_recent_labels(synth_dir, data, months=6)
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(small_config.model_dump(mode="json")))
    res = CliRunner().invoke(
        app, ["train", "--data", str(data), "--config", str(config), "--promote"]
    )
    assert res.exit_code == 0, res.output
    summary, _ = json.JSONDecoder().raw_decode(res.output[res.output.index('{\n  "model"') :])
    assert summary["promoted"] is True, summary["gate"]
    assert pd.Timestamp(summary["windows"]["test_end"]) == cut
    assert summary["labels"]["history"]["labelled"] == 0
    assert summary["labels"]["history"]["claims"] > 0
    assert summary["labels"]["test"]["fraud"] > 0
    assert summary["metrics_from"] == "backtest"
    assert summary["refit"]["registered"]["end"] == str(cut.date())


def test_as_of_trains_as_the_administration_knew_the_data(
    synth_data: ClaimsData, small_config: TrainConfig
) -> None:
    as_of = pd.Timestamp("2025-07-01")
    known = data_as_of(synth_data, as_of)
    assert (known.claims["submitted_at"] < as_of).all()
    assert len(known.claims) < len(synth_data.claims)
    assert known.labels is not None and not (known.labels["decided_at"] >= as_of).any()
    assert set(known.claim_items["claim_id"]) <= set(known.claims["claim_id"])
    # labels decided after the date count as unknown, so the last months are not mature yet
    coverage = label_coverage(synth_data, as_of)
    assert coverage.loc[pd.Period("2025-06", freq="M")] < coverage.median()
    assert label_horizon(coverage, small_config.split.label_maturity) < pd.Period("2025-06", "M")


def test_a_pattern_that_begins_after_the_train_window_is_learned_by_the_refit() -> None:
    """The windowed booster never sees a typology that starts late; the refit does."""
    rng = np.random.default_rng(3)
    months = pd.period_range("2024-01", periods=18, freq="M")
    n_per = 800
    submitted = np.concatenate(
        [m.start_time + pd.to_timedelta(rng.uniform(0, 27, n_per), unit="D") for m in months]
    )
    month_no = np.repeat(np.arange(len(months)), n_per)
    x = rng.normal(size=(len(submitted), 3))
    old_pattern = x[:, 0] > 1.8
    new_pattern = (x[:, 1] > 1.8) & (month_no >= 11)  # a ring that forms in month 12
    y = (old_pattern | new_pattern).astype(np.float64)
    window = np.select(
        [month_no < 1, month_no < 9, month_no < 11, month_no < 13],
        ["warmup", "train", "validation", "calibration"],
        "test",
    )
    frame = pd.DataFrame(
        {"submitted_at": submitted, "window": window},
        index=pd.Index([f"C{i}" for i in range(len(y))], name="claim_id"),
    )
    config = TrainConfig().with_overrides(
        {
            "lightgbm": {"num_threads": 1, "min_child_samples": 20},
            "refit": {"folds": 2, "oof_months": 4},
        }
    )
    size = config.lightgbm.sizes[0]
    params = booster_params(config, size, {})
    train = window == "train"
    names = ["f0", "f1", "f2"]
    windowed = refit_procedure(
        x, frame, np.where(train | (window == "warmup"), y, np.nan),
        pd.Timestamp("2024-10-01"), params, (40, int(train.sum())), config, names,
    )  # fmt: skip
    refit = refit_procedure(
        x, frame, y, pd.Timestamp("2025-07-01"), params, (40, int(train.sum())), config, names
    )
    assert refit.rows > windowed.rows
    assert refit.trees == scaled_trees(40, int(train.sum()), refit.rows, 3.0) > 40
    probe = np.array([[0.0, 3.0, 0.0], [0.0, 0.0, 0.0]])
    new_ring, ordinary = raw_score(refit.booster, probe, 1)
    assert new_ring > ordinary + 3  # learned: the new ring scores far above an ordinary claim
    old_ring, old_ordinary = raw_score(windowed.booster, probe, 1)
    assert old_ring < old_ordinary + 1  # the train window never showed it
    # out-of-fold scores come from the last oof_months before the end, calibrated to [0, 1]
    assert len(refit.oof) == int(((month_no >= 14) & (month_no < 18)).sum())
    assert refit.oof["score"].between(0, 1).all()
    assert refit.band_thresholds["high"] >= refit.band_thresholds["medium"]


def test_the_registered_version_is_refit_and_carries_its_backtest(trained: Trained) -> None:
    r = trained.result
    assert r.refit["registered"]["labelled_rows"] > r.refit["backtest"]["labelled_rows"]
    assert r.refit["registered"]["end"] == str(r.windows.test_end.date())
    bundle = load_model_bundle(trained.registered.uri)
    assert bundle.refit == r.refit
    assert bundle.metrics["auc_pr"] == pytest.approx(r.metrics["auc_pr"])
    assert bundle.windowed_metrics["auc_pr"] == pytest.approx(r.windowed_metrics["auc_pr"])
    assert bundle.booster.num_trees() == r.refit["registered"]["trees"]
    run = MlflowClient().get_run(trained.registered.run_id)
    assert "windowed_test_auc_pr" in run.data.metrics
    assert "refit_registered.trees" in run.data.metrics
    assert run.data.metrics["test_auc_pr"] == pytest.approx(r.metrics["auc_pr"])
    card = mlflow.artifacts.load_text(f"runs:/{trained.registered.run_id}/model_card.md")
    assert "backtest" in card and "refit on every label mature" in card


def test_evaluate_prints_the_recorded_backtest(trained: Trained, synth_dir: Path) -> None:
    res = CliRunner().invoke(app, ["evaluate", "--data", str(synth_dir)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["recorded"]["backtest"]["auc_pr"] == pytest.approx(trained.result.metrics["auc_pr"])
    assert out["recorded"]["windowed"]["auc_pr"] == pytest.approx(
        trained.result.windowed_metrics["auc_pr"]
    )


def test_a_champion_that_learned_the_test_window_is_compared_by_its_record(
    trained: Trained, synth_data: ClaimsData
) -> None:
    bundle = load_model_bundle(trained.registered.uri)
    assert bundle.trained_as_of > trained.result.windows.test_start
    metrics, basis = champion_metrics_on(bundle, synth_data, trained.result)
    assert metrics == bundle.metrics
    assert "compared by its recorded metrics" in basis


def test_train_learns_from_exported_decisions_beside_the_directory(
    synth_dir: Path, synth_data: ClaimsData, small_config: TrainConfig, tmp_path: Path,
    own_mlflow_store: Path,
) -> None:  # fmt: skip
    """The service's decisions (``riskml labels export``) reach the next training run."""
    data = tmp_path / "data"
    cut = _without_recent_labels(synth_dir, data, months=6)
    all_labels = pd.read_parquet(synth_dir / "labels.parquet")
    claims = pd.read_parquet(synth_dir / "claims.parquet", columns=["claim_id", "submitted_at"])
    recent = claims.loc[claims["submitted_at"] >= cut, "claim_id"]
    exported = tmp_path / "decisions.parquet"
    all_labels.loc[all_labels["claim_id"].isin(recent)].to_parquet(exported, index=False)
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(small_config.model_dump(mode="json")))
    res = CliRunner().invoke(
        app, ["train", "--data", str(data), "--config", str(config), "--labels", str(exported)]
    )
    assert res.exit_code == 0, res.output
    summary, _ = json.JSONDecoder().raw_decode(res.output[res.output.index('{\n  "model"') :])
    # with the decisions of the last months the horizon moves to the end of the data again
    assert pd.Timestamp(summary["windows"]["test_end"]) > cut
    assert "history" not in summary["labels"] or summary["labels"]["history"]["claims"] == 0


def test_exported_labels_are_checked_and_can_replace_the_directory_s(
    synth_data: ClaimsData, tmp_path: Path
) -> None:
    from riskml.errors import DataContractError
    from riskml.jobs.train import with_labels

    assert synth_data.labels is not None
    mine = synth_data.labels.iloc[:50].assign(is_fraud=True, typology="duplicate_claim")
    path = tmp_path / "mine.parquet"
    mine.to_parquet(path, index=False)
    instead = with_labels(synth_data, [path], "instead")
    assert instead.labels is not None and len(instead.labels) == 50
    beside = with_labels(synth_data, [path], "beside")
    assert beside.labels is not None and len(beside.labels) == len(synth_data.labels)
    merged = beside.labels.set_index("claim_id").loc[mine["claim_id"], "is_fraud"]
    assert merged.all()  # the exported decision wins for a claim both have
    stranger = mine.iloc[:1].assign(claim_id="NOT-A-CLAIM")
    stranger.to_parquet(tmp_path / "bad.parquet", index=False)
    with pytest.raises(DataContractError, match=r"labels\.claim_id: 1 exported labels"):
        with_labels(synth_data, [tmp_path / "bad.parquet"], "beside")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataContractError, match="not a readable Parquet file"):
        with_labels(synth_data, [tmp_path / "broken.parquet"], "beside")
