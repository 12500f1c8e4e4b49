"""End to end: train on the synthetic fixture, log and register in a temporary MLflow store,
load by URI, score, and the promotion gate's refusals."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from riskml.cli import app
from riskml.contract import TYPOLOGIES
from riskml.data import ClaimsData
from riskml.defaults import CHAMPION, DEFAULT_FEATURE_SET
from riskml.evaluate import SHOWN_GROUPS
from riskml.gate import gate, promote_if_better
from riskml.registry import load_model_bundle, log_and_register
from riskml.train import booster_params, raw_score, score_window

from .conftest import Trained


def test_first_model_is_registered_and_promoted(trained: Trained) -> None:
    assert trained.decision.promoted, trained.decision.reasons
    mv = MlflowClient().get_model_version_by_alias("riskml-claims", CHAMPION)
    assert str(mv.version) == trained.registered.version


def test_labels_count_only_once_decided_before_the_cutoff(
    trained: Trained, synth_data: ClaimsData
) -> None:
    from riskml.train import claim_frame

    frame = claim_frame(synth_data, trained.result.windows)
    assert synth_data.labels is not None
    decided = synth_data.labels.set_index("claim_id")["decided_at"].reindex(frame.index)
    cutoff = trained.result.windows.training_cutoff
    fitting = frame["window"].isin(["train", "validation", "calibration"])
    used = fitting & frame["label"].notna()
    assert (decided[used] < cutoff).all()
    late = fitting & decided.ge(cutoff).fillna(False)
    assert late.any(), "the fixture should have labels decided after the cut-off"
    assert frame.loc[late, "label"].isna().all()
    # unlabelled claims stay unlabelled: never "not fraud"
    unlabelled = ~frame.index.isin(synth_data.labels["claim_id"])
    assert frame.loc[unlabelled, "label"].isna().all()


def test_metrics_cover_the_contract_and_every_typology_in_the_test_window(
    trained: Trained,
) -> None:
    m = trained.result.metrics
    for key in ("auc_pr", "roc_auc", "brier", "ece", "precision_at_capacity"):
        assert isinstance(m[key], float)
    assert 0 <= m["recall_at_capacity"] <= 1
    test = trained.result.test_frame
    present = set(test.loc[test["label"] == 1, "typology"].dropna())
    assert set(m["per_typology_recall"]) == present
    assert set(m["per_typology_recall"]) <= set(TYPOLOGIES)
    assert set(trained.result.baselines) == {
        "rules",
        "logistic_regression",
        "isolation_forest",
        "raw_lightgbm",
    }
    attrs = {g["attribute"] for g in m["fairness"]["groups"]}
    assert attrs == {"sex", "age_band", "hukou_type", "region"}
    # the model beats chance by a margin on the out-of-time window
    assert m["roc_auc"] > 0.7


def test_bands_hold_capacity_on_the_calibration_window(trained: Trained) -> None:
    r = trained.result
    s = r.calibration_frame["score"].to_numpy()
    high = (s >= r.band_thresholds["high"]).mean()
    medium = ((s >= r.band_thresholds["medium"]) & (s < r.band_thresholds["high"])).mean()
    assert high == pytest.approx(r.config.bands.high_share, abs=0.005)
    assert medium == pytest.approx(r.config.bands.medium_share, abs=0.01)
    summary = r.band_summary()  # what `riskml train` prints under "bands"
    assert summary["calibration_share"] == {"high": high, "medium": medium}
    assert summary["target_share"] == {"high": 0.01, "medium": 0.04}
    assert summary["notes"] == r.band_notes == []  # the shares hold: nothing to warn about


def test_the_run_logs_params_metrics_tags_plots_and_card(trained: Trained) -> None:
    mc = MlflowClient()
    run = mc.get_run(trained.registered.run_id)
    metrics, tags = run.data.metrics, run.data.tags
    for key in (
        "test_auc_pr",
        "test_recall_at_capacity",
        "test_amount_recall_at_capacity",
        "baseline_raw_lightgbm.recall_at_capacity",
        "baseline_rules.auc_pr",
        "time_train_total_s",
    ):
        assert key in metrics
    assert any(k.startswith("size_") and k.endswith("shap_rows_per_s") for k in metrics)
    assert tags["feature_set"] == DEFAULT_FEATURE_SET
    assert len(tags["data_fingerprint"]) == 64
    assert tags["window.test_start"] == str(trained.result.windows.test_start.date())
    assert run.data.params["lightgbm.num_threads"] == "1"
    # the leaf size the size search chose is a param of the run, as is every candidate's
    chosen = trained.result.config.lightgbm.leaf_min_rows(trained.result.size)
    assert run.data.params["chosen.min_child_samples"] == str(chosen)
    assert [r["min_child_samples"] for r in trained.result.size_table if r["chosen"]] == [chosen]
    assert tags["gate"] == "passed" and "promoted version" in tags["gate_reasons"]
    names = {a.path for a in mc.list_artifacts(run.info.run_id, "plots")}
    for plot in ("pr_curve", "calibration_curve", "shap_summary", "importance"):
        assert f"plots/{plot}.png" in names
    local = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="model_card.md"
    )
    card = Path(local).read_text(encoding="utf-8")
    assert "it never decides" in card.lower()
    assert "Recall at capacity per typology" in card and "raw_lightgbm" in card
    assert "$" not in card.split("## Features")[0]  # every placeholder filled
    assert "Achieved shares: high " in card and "on the test window" in card
    regions = [line for line in card.splitlines() if line.startswith("| region |")]
    assert 0 < len(regions) <= SHOWN_GROUPS + 1  # small regions folded into "other (k groups)"


def test_registered_model_loads_by_uri_and_scores(trained: Trained) -> None:
    r = trained.result
    bundle = load_model_bundle("models:/riskml-claims@champion")
    assert bundle.model_version == trained.registered.version
    assert bundle.feature_names == r.feature_names
    assert bundle.alias == CHAMPION
    expected = r.calibrator(raw_score(r.booster, r.test_matrix, 1))
    np.testing.assert_allclose(bundle.predict_risk(r.test_matrix), expected, rtol=1e-12)
    assert bundle.band_thresholds == pytest.approx(r.band_thresholds)
    # the pyfunc face of the same version agrees
    frame = pd.DataFrame(r.test_matrix[:50], columns=r.feature_names)
    pyfunc = mlflow.pyfunc.load_model(f"models:/riskml-claims/{trained.registered.version}")
    out = pyfunc.predict(frame)
    np.testing.assert_allclose(out["risk_score"].to_numpy(), expected[:50], rtol=1e-12)


def test_the_scorer_scores_raw_claims_from_the_registered_bundle(
    trained: Trained, synth_data: ClaimsData
) -> None:
    from riskml.scoring import load_scorer

    scorer = load_scorer("models:/riskml-claims@champion")
    claims = synth_data.claims.tail(300)
    frame = scorer.score_frame(synth_data, claims, explain="flagged")
    assert len(frame) == 300
    assert frame["risk_score"].between(0, 1).all()
    assert set(frame["risk_band"]) <= {"high", "medium", "low"}


def _worse(trained: Trained, data: ClaimsData) -> object:
    """The same model parts with a booster trained on shuffled labels (no signal)."""
    r = trained.result
    rng = np.random.default_rng(0)
    x = r.test_matrix
    y = rng.permutation((np.arange(len(x)) % 20 == 0).astype(float))
    params = booster_params(r.config, r.size, {}) | {"num_leaves": 3}
    booster = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=3)
    scores = r.calibrator(raw_score(booster, x, 1))
    metrics = score_window(r.test_frame, scores, r.config, probability=True)
    config = r.config.with_overrides({"log_plots": False, "baselines": {"rules": False}})
    return dataclasses.replace(r, booster=booster, metrics=metrics, config=config)


def test_gate_refuses_a_worse_model_and_keeps_the_champion(
    trained: Trained, synth_data: ClaimsData
) -> None:
    worse = _worse(trained, synth_data)
    registered = log_and_register(worse)  # type: ignore[arg-type]
    assert registered.version != trained.registered.version
    decision = promote_if_better(registered, synth_data, worse)  # type: ignore[arg-type]
    assert not decision.promoted
    assert any("worse than the champion" in r for r in decision.reasons)
    assert decision.champion_version == trained.registered.version
    mv = MlflowClient().get_model_version_by_alias("riskml-claims", CHAMPION)
    assert str(mv.version) == trained.registered.version
    # the champion's metrics were recomputed on the same test window, and agree with its own
    assert decision.champion_metrics is not None
    assert decision.champion_metrics["auc_pr"] == pytest.approx(trained.result.metrics["auc_pr"])


def test_gate_refuses_a_model_whose_fairness_disparity_is_out_of_bounds(
    trained: Trained,
) -> None:
    r = trained.result
    config = r.config.with_overrides(
        {"fairness": {"min_group_negatives": 100}, "evaluation": {"capacity": 0.03}}
    )
    # the model's scores dealt out at random: independent of every group, no shown disparity
    rng = np.random.default_rng(1)
    shuffled = rng.permutation(r.test_frame["score"].to_numpy())
    fair = score_window(r.test_frame, shuffled, config, True)
    assert gate(fair, fair, config) == (True, [])
    # a model that refers men at random ahead of everyone else: men's false-positive rate is
    # many times women's, on enough referrals to show it
    men = (r.test_frame["sex"] == "M").to_numpy()
    biased_scores = np.where(men, 0.5 + 0.5 * rng.random(len(men)), 0.1 * rng.random(len(men)))
    biased = score_window(r.test_frame, biased_scores, config, True)
    ok, reasons = gate(biased, None, config)
    assert not ok
    assert any(x.startswith("false-positive-rate ratio by sex: M against F") for x in reasons)
    # the bounds apply to the gated attributes only; the disparity stays in the report
    hukou_only = config.with_overrides({"gate": {"attributes": ["hukou_type"]}})
    assert not any("by sex" in x for x in gate(biased, None, hukou_only)[1])
    ratio = biased["fairness"]["fpr_ratio"]["sex"]
    assert ratio is None or ratio > 2  # None: no woman falsely referred, an infinite ratio


def test_evaluate_prints_the_metrics_json(trained: Trained, synth_dir: object) -> None:
    res = CliRunner().invoke(app, ["evaluate", "--data", str(synth_dir)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    for key in ("auc_pr", "roc_auc", "precision_at_capacity", "recall_at_capacity"):
        assert key in out
    assert isinstance(out["per_typology_recall"], dict)
    assert out["model_version"] == trained.registered.version


def test_train_verb_refuses_a_bad_config_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "train.yaml"
    bad.write_text("bands: {high_share: -1}\n")
    res = CliRunner().invoke(app, ["train", "--data", str(tmp_path), "--config", str(bad)])
    assert res.exit_code == 2
    assert "bands.high_share" in res.output


def test_unknown_model_uri_is_a_clear_error(mlflow_store: object) -> None:
    from riskml.errors import RiskmlError

    with pytest.raises(RiskmlError, match="not found in the registry"):
        load_model_bundle("models:/riskml-claims@nobody")


def test_candidates_sharing_one_binned_dataset_are_the_boosters_fitted_apart() -> None:
    """The imbalance and size candidates share one pair of LightGBM sets (binned once): every
    booster is the one a fresh pair gives, to the byte of its model text."""
    from riskml.config import TrainConfig
    from riskml.train import fit_booster, imbalance_params, training_sets

    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 6))
    x[rng.random(x.shape) < 0.1] = np.nan
    y = (np.nan_to_num(x[:, 0]) + rng.normal(scale=0.8, size=3000) > 1.6).astype(float)
    w = rng.uniform(0.5, 2.0, size=2000)
    names = [f"f{i}" for i in range(6)]
    config = TrainConfig()
    lc = config.lightgbm
    tr, va = slice(0, 2000), slice(2000, 3000)
    sets = training_sets(x[tr], y[tr], x[va], y[va], names, w)
    for size in lc.sizes[:2]:
        for method in lc.imbalance:
            params = booster_params(config, size, imbalance_params(method, y[tr]))
            args = (x[tr], y[tr], x[va], y[va], params, 60, 10, names, w)
            shared = fit_booster(*args, sets=sets)
            apart = fit_booster(*args)
            assert shared.model_to_string() == apart.model_to_string(), (size, method)
