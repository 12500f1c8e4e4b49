"""Exact TreeSHAP: LightGBM's pred_contrib adds up, and agrees with shap.TreeExplainer."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
import shap

from riskml.explain import tree_contributions


@pytest.fixture(scope="module")
def booster_and_rows() -> tuple[lgb.Booster, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3_000, 8))
    x[rng.random(x.shape) < 0.05] = np.nan  # missing values take their own tree paths
    logit = 2 * x[:, 0] - x[:, 1] * x[:, 2] + np.nan_to_num(x[:, 3]) ** 2 - 3
    y = rng.random(3_000) < 1 / (1 + np.exp(-np.nan_to_num(logit)))
    params = {"objective": "binary", "num_leaves": 15, "verbose": -1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=60)
    return booster, x[:500]


def test_contributions_sum_to_the_raw_score(
    booster_and_rows: tuple[lgb.Booster, np.ndarray],
) -> None:
    booster, rows = booster_and_rows
    contrib = tree_contributions(booster, rows)
    raw = booster.predict(rows, raw_score=True)
    assert contrib.shape == (len(rows), rows.shape[1] + 1)
    np.testing.assert_allclose(contrib.sum(axis=1), raw, rtol=0, atol=1e-9)


def test_pred_contrib_agrees_with_shap_tree_explainer(
    booster_and_rows: tuple[lgb.Booster, np.ndarray],
) -> None:
    booster, rows = booster_and_rows
    ours = tree_contributions(booster, rows)
    explainer = shap.TreeExplainer(booster)
    theirs = np.asarray(explainer.shap_values(rows))
    if theirs.ndim == 3:  # some shap versions return one array per class
        theirs = theirs[..., -1]
    np.testing.assert_allclose(ours[:, :-1], theirs, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours[:, -1], np.ravel(explainer.expected_value)[-1], atol=1e-6)


def test_no_rows_no_work(booster_and_rows: tuple[lgb.Booster, np.ndarray]) -> None:
    booster, rows = booster_and_rows
    assert tree_contributions(booster, rows[:0]).shape == (0, rows.shape[1] + 1)
