"""Run configs: the repo's YAML equals the defaults; bad values are refused naming the field."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskml.bands import band_thresholds
from riskml.calibration import Calibrator, fit_calibrator
from riskml.config import ModelSize, SplitConfig, TrainConfig, load_train_config
from riskml.errors import ConfigError
from riskml.train import booster_params, plan_windows

ROOT = Path(__file__).resolve().parents[2]


def test_repo_pipeline_file_equals_the_defaults() -> None:
    assert load_train_config(ROOT / "pipelines" / "train.yaml") == TrainConfig()
    assert load_train_config(None) == TrainConfig()


def test_the_monthly_retraining_config_is_the_defaults_in_its_own_experiment() -> None:
    monthly = load_train_config(ROOT / "pipelines" / "retrain_monthly.yaml")
    assert monthly == TrainConfig().with_overrides({"experiment": "riskml-monthly"})


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("gate: {max_fpr_ratio: 0.9}", "gate.max_fpr_ratio"),
        ("bands: {high_share: 2}", "bands.high_share"),
        ("lightgbm: {imbalance: [smote]}", "lightgbm.imbalance.0"),
        ("split: {test_mounths: 3}", "split.test_mounths"),
        ("calibration: {method: magic}", "calibration.method"),
        ("lightgbm: {default_size: 9}", "lightgbm"),
    ],
)
def test_bad_values_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "train.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: {field}")):
        load_train_config(path)


def test_model_file_is_merged_and_validated(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("num_leaves_typo: 3\n")
    (tmp_path / "train.yaml").write_text("lightgbm_config: m.yaml\n")
    with pytest.raises(ConfigError, match=r"m\.yaml: num_leaves_typo"):
        load_train_config(tmp_path / "train.yaml")
    (tmp_path / "m.yaml").write_text("learning_rate: 0.2\nnum_threads: 1\n")
    (tmp_path / "train.yaml").write_text("lightgbm_config: m.yaml\nlightgbm: {num_threads: 3}\n")
    cfg = load_train_config(tmp_path / "train.yaml")
    assert cfg.lightgbm.learning_rate == 0.2 and cfg.lightgbm.num_threads == 3


def test_a_size_may_set_its_own_leaf_size_and_says_so_in_its_label() -> None:
    lc = TrainConfig().lightgbm
    assert all(s.min_child_samples is None for s in lc.sizes)  # not a default candidate
    own = ModelSize(num_leaves=31, max_trees=200, min_child_samples=10)
    assert own.label.endswith(f"_m{own.min_child_samples}")
    assert lc.leaf_min_rows(own) == own.min_child_samples
    assert booster_params(TrainConfig(), own, {})["min_child_samples"] == own.min_child_samples
    inherits = ModelSize(num_leaves=31, max_trees=200)
    assert inherits.label == "l31_t200"
    assert booster_params(TrainConfig(), inherits, {})["min_child_samples"] == lc.min_child_samples
    with pytest.raises(ValueError, match="min_child_samples"):
        ModelSize(num_leaves=31, max_trees=200, min_child_samples=0)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_train_config(tmp_path / "nope.yaml")


def test_windows_are_cut_from_the_end_in_calendar_months() -> None:
    ts = pd.Series(pd.date_range("2024-01-03", "2025-12-28", freq="7D"))
    w = plan_windows(ts, SplitConfig())
    assert str(w.test_start.date()) == "2025-09-01"
    assert str(w.calibration_start.date()) == "2025-07-01"
    assert str(w.validation_start.date()) == "2025-05-01"
    assert str(w.train_start.date()) == "2024-02-01"
    names = w.assign(ts)
    assert names[0] == "warmup" and names[-1] == "test"
    with pytest.raises(ConfigError, match="spans 24 months"):
        plan_windows(ts, SplitConfig(test_months=20))


def test_band_thresholds_follow_capacity() -> None:
    s = np.random.default_rng(0).random(100_000)
    bands = band_thresholds(s, 0.01, 0.04)
    assert (s >= bands["high"]).mean() == pytest.approx(0.01, abs=1e-4)
    assert ((s >= bands["medium"]) & (s < bands["high"])).mean() == pytest.approx(0.04, abs=1e-4)


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibrator_is_monotone_and_round_trips(method: str) -> None:
    rng = np.random.default_rng(1)
    raw = rng.normal(size=5_000)
    y = (rng.random(5_000) < 1 / (1 + np.exp(-(2 * raw - 3)))).astype(float)
    cal = fit_calibrator(raw, y, method)  # type: ignore[arg-type]
    grid = np.linspace(-4, 4, 50)
    p = cal(grid)
    assert np.all(np.diff(p) >= 0) and p.min() >= 0 and p.max() <= 1
    assert abs(cal(raw).mean() - y.mean()) < 0.01
    np.testing.assert_array_equal(Calibrator.from_dict(cal.to_dict())(grid), p)
