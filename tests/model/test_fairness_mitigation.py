"""Fairness mitigations (issue 16.4): reweighing, proxy features left out of the model, and the
benchmark that measures them at the promotion gate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from benchmarks.bench_fairness import Mitigation, run, table

from riskml.config import TrainConfig
from riskml.data import ClaimsData
from riskml.errors import ConfigError
from riskml.evaluate import fairness_frame
from riskml.features.sets import AGE_REGION_PROXIES, CLAIMS_V2
from riskml.gate import gate
from riskml.train import model_features, reweighing_weights, sample_weights


def _weighted_rate(w: np.ndarray, y: np.ndarray) -> float:
    return float((w * y).sum() / w.sum())


def test_reweighing_makes_the_label_independent_of_the_group() -> None:
    groups = pd.DataFrame({"age_band": ["<30"] * 10 + ["60-74"] * 10})
    y = np.array([1.0] * 5 + [0.0] * 5 + [1.0] + [0.0] * 9)
    w = reweighing_weights(groups, y)
    # P(g) P(y) / P(g, y): a fraud among <30 weighs 0.5 * 0.3 / 0.25,
    # one among 60-74 0.5 * 0.3 / 0.05
    assert w[0] == pytest.approx(0.6)
    assert w[10] == pytest.approx(3.0)
    assert w[5] == pytest.approx(0.5 * 0.7 / 0.25)
    assert w.mean() == pytest.approx(1.0)
    for band in ("<30", "60-74"):
        rows = (groups["age_band"] == band).to_numpy()
        assert _weighted_rate(w[rows], y[rows]) == pytest.approx(y.mean())
        assert w[rows].sum() == pytest.approx(rows.sum())  # groups keep their size


def test_reweighing_over_joint_groups_leaves_one_class_groups_alone() -> None:
    groups = pd.DataFrame({"age_band": ["a", "a", "a", "a", "b", "b"], "region": list("xxyyxx")})
    y = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    w = reweighing_weights(groups, y)
    assert w[2] == w[3] == 1.0  # a|y has no fraud: nothing to balance
    assert w[0] == pytest.approx((2 * 2 / 6) / 1)  # a|x: P(g) = 2/6, P(1) = 2/6, P(g, 1) = 1/6
    with pytest.raises(ValueError, match="needs a label"):
        reweighing_weights(groups, np.array([1.0, np.nan, 0, 0, 1, 0]))


def test_mitigations_are_off_by_default_and_named_features_are_checked() -> None:
    frame = pd.DataFrame({"age_band": ["a", "b"], "region": ["x", "y"]})
    assert sample_weights(frame, np.array([1.0, 0.0]), TrainConfig()) is None
    names = list(CLAIMS_V2)
    assert model_features(names, TrainConfig()) == names
    drop = TrainConfig().with_overrides({"fairness": {"drop_features": list(AGE_REGION_PROXIES)}})
    kept = model_features(names, drop)
    assert not set(kept) & set(AGE_REGION_PROXIES)
    assert len(kept) == len(names) - len(AGE_REGION_PROXIES)
    typo = TrainConfig().with_overrides({"fairness": {"drop_features": ["outside_region"]}})
    with pytest.raises(ConfigError, match="'outside_region' is not a feature of claims_v2"):
        model_features(names, typo)
    weighted = TrainConfig().with_overrides({"fairness": {"reweigh": ["age_band", "region"]}})
    w = sample_weights(frame, np.array([1.0, 0.0]), weighted)
    assert w is not None and len(w) == 2
    with pytest.raises(ConfigError, match=r"fairness\.reweigh"):
        TrainConfig().with_overrides({"fairness": {"reweigh": ["nationality"]}})


def test_the_fairness_benchmark_measures_each_mitigation_at_the_gate(
    synth_data: ClaimsData, small_config: TrainConfig
) -> None:
    mitigations = (
        Mitigation("baseline"),
        Mitigation("drop", {"fairness": {"drop_features": list(AGE_REGION_PROXIES)}}),
        Mitigation("reweigh", {"fairness": {"reweigh": ["age_band"]}}),
        Mitigation("capacity", capacity_within="age_band"),
    )
    config = small_config.with_overrides(
        {"baselines": dict.fromkeys(("rules", "logistic_regression", "isolation_forest",
                                     "raw_lightgbm"), False)}
    )  # fmt: skip
    rows = run(synth_data, config, mitigations)
    base, drop, reweigh, capacity = rows
    statuses = {"within", "exceeds", "not enough evidence"}
    for r in rows:
        assert set(r.attributes) == set(config.gate.attributes)
        assert (r.passes, r.reasons) == gate(r.metrics, None, config)
        for a in r.attributes.values():
            assert a["status"] in statuses
            assert bool(a["worst"]) == (a["status"] == "exceeds")
        if any(a["status"] == "exceeds" for a in r.attributes.values()):
            assert r.verdict == "refused"
    # the retrained rows are other models: without the proxies, with weights
    assert not set(drop.result.feature_names) & set(AGE_REGION_PROXIES)
    assert set(base.result.feature_names) >= set(AGE_REGION_PROXIES)
    assert drop.result is not base.result and reweigh.result is not base.result
    assert not np.allclose(
        reweigh.result.test_frame["score"].to_numpy(), base.result.test_frame["score"].to_numpy()
    )
    # per-group capacity: the same model and scores, the capacity spent within each age band
    assert capacity.result is base.result
    assert capacity.metrics["auc_pr"] == base.metrics["auc_pr"]
    bands = fairness_frame(capacity.metrics)
    bands = bands[bands["attribute"] == "age_band"]
    capacity_share = config.evaluation.capacity
    assert (bands["referral_rate"] >= capacity_share).all()
    assert capacity.metrics["n_flagged"] >= base.metrics["n_flagged"]
    text = table(rows)
    lines = text.splitlines()
    assert len(lines) == 2 + len(rows)
    assert lines[2].startswith("| baseline |") and "| 0.000 |" in lines[2]
    assert all(r.verdict in lines[i + 2] for i, r in enumerate(rows))
