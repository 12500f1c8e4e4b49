"""Model size is chosen by what explaining it costs: exact TreeSHAP work, leaves x depth²."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

from riskml.train import treeshap_work


def _booster(num_leaves: int, max_depth: int, rounds: int) -> lgb.Booster:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2_000, 6))
    y = (x[:, 0] + x[:, 1] * x[:, 2] + rng.normal(scale=0.5, size=2_000)) > 0
    params = {
        "objective": "binary",
        "num_leaves": num_leaves,
        "max_depth": max_depth,
        "min_child_samples": 5,
        "verbose": -1,
        "num_threads": 1,
        "seed": 1,
    }
    return lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=rounds)


def test_stumps_cost_two_leaves_at_depth_one_per_tree() -> None:
    assert treeshap_work(_booster(2, -1, 5)) == 5 * 2 * 1**2


def test_work_is_leaves_times_depth_squared() -> None:
    booster = _booster(7, 3, 1)
    leaves = booster.trees_to_dataframe().query("left_child.isna()")
    splits = leaves["node_depth"].max() - 1  # LightGBM's root has node_depth 1
    assert splits == 3
    assert treeshap_work(booster) == len(leaves) * splits**2


def test_a_depth_limit_makes_the_same_leaves_cheaper_to_explain() -> None:
    deep = treeshap_work(_booster(31, -1, 20))
    shallow = treeshap_work(_booster(31, 5, 20))
    assert shallow < deep
