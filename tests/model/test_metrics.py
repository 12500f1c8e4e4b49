"""Metric functions against examples computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from riskml.evaluate import (
    age_band,
    amount_recall_at_capacity,
    auc_pr,
    brier,
    evaluate_scores,
    expected_calibration_error,
    fairness_table,
    fairness_violations,
    flag_top,
    fpr_ratios,
    per_typology_recall,
    precision_at_capacity,
    recall_at_capacity,
    roc_auc,
)

NAN = math.nan


def test_auc_pr_and_roc_auc_by_hand() -> None:
    y = [1, 0, 1, 0]
    s = [0.9, 0.8, 0.7, 0.1]
    # ranks: TP (P=1, R=.5), FP, TP (P=2/3, R=1) -> AP = .5 * 1 + .5 * 2/3
    assert auc_pr(y, s) == pytest.approx(0.5 + 1 / 3)
    # pairs (pos > neg): .9>.8 .9>.1 .7>.1 yes, .7>.8 no -> 3/4
    assert roc_auc(y, s) == pytest.approx(0.75)


def test_unlabelled_claims_are_ignored_not_taken_as_not_fraud() -> None:
    y = [1, 0, 1, 0, NAN, NAN]
    s = [0.9, 0.8, 0.7, 0.1, 0.95, 0.05]
    assert auc_pr(y, s) == pytest.approx(0.5 + 1 / 3)
    assert roc_auc(y, s) == pytest.approx(0.75)
    assert brier([1, 0, NAN], [0.8, 0.4, 0.9]) == pytest.approx((0.04 + 0.16) / 2)


def test_undefined_metrics_are_nan() -> None:
    assert math.isnan(auc_pr([0, 0], [0.1, 0.2]))
    assert math.isnan(roc_auc([1, 1], [0.1, 0.2]))
    assert math.isnan(recall_at_capacity([0, 0], [0.1, 0.2], 0.5))


def test_expected_calibration_error_by_hand() -> None:
    # bin [0, .5): p .2 .4 (mean .3), y 0 1 (rate .5) -> .2; bin [.5, 1]: p .6 .8 (.7), y 1 1 -> .3
    assert expected_calibration_error([0, 1, 1, 1], [0.2, 0.4, 0.6, 0.8], n_bins=2) == (
        pytest.approx(0.5 * 0.2 + 0.5 * 0.3)
    )
    # a probability of exactly 1 falls in the last bin, and perfect calibration gives 0
    assert expected_calibration_error([1, 0], [1.0, 0.0], n_bins=10) == pytest.approx(0.0)


def test_flag_top_per_group_and_ties_in_input_order() -> None:
    s = np.array([5, 4, 3, 2, 1, 10, 9, 8, 7, 6], dtype=float)
    assert flag_top(s, 0.2).tolist() == [False] * 5 + [True, True] + [False] * 3
    months = ["a"] * 5 + ["b"] * 5
    assert flag_top(s, 0.2, months).tolist() == [True] + [False] * 4 + [True] + [False] * 4
    assert flag_top([1.0, 1.0, 1.0], 0.34).tolist() == [True, True, False]  # ceil(1.02) = 2


def test_capacity_metrics_by_hand() -> None:
    y = [1, 0, NAN, 1, 0, 0, 0, 0, 0, 0]
    s = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    amount = [100, 50, 999, 300, 1, 1, 1, 1, 1, 1]
    # capacity .3 refers claims 0, 1, 2 (2 is unlabelled: referred, but not counted)
    assert precision_at_capacity(y, s, 0.3) == pytest.approx(0.5)
    assert recall_at_capacity(y, s, 0.3) == pytest.approx(0.5)
    assert amount_recall_at_capacity(y, s, amount, 0.3) == pytest.approx(100 / 400)


def test_per_typology_recall_keys_follow_the_contract_order() -> None:
    y = [1, 1, 1, 0, 1]
    typ = ["unbundling", "upcoding", "unbundling", None, None]
    flagged = [True, True, False, True, False]
    out = per_typology_recall(y, typ, flagged)
    assert list(out) == ["upcoding", "unbundling", "unknown"]
    assert out == {"upcoding": 1.0, "unbundling": 0.5, "unknown": 0.0}


def test_age_band() -> None:
    born = pd.to_datetime(["1990-06-02", "1950-01-01", "1940-01-01", "2000-01-01"])
    at = pd.to_datetime(["2024-06-01"] * 4)
    assert age_band(born, at).tolist() == ["30-44", "60-74", "75+", "<30"]


def _toy_fairness() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    # sex F: 4 negatives, 1 flagged negative (FPR .25); M: 4 negatives, 2 flagged (FPR .5)
    y = np.array([0, 0, 0, 0, 1, 0, 0, 0, 0, 1, NAN])
    flagged = np.array([1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1], dtype=bool)
    attrs = pd.DataFrame({"sex": list("FFFFFMMMMMM")})
    return y, flagged, attrs


def test_fairness_table_by_hand() -> None:
    table = fairness_table(*_toy_fairness()).set_index("group")
    assert table.loc["F", "referral_rate"] == pytest.approx(2 / 5)
    assert table.loc["M", "referral_rate"] == pytest.approx(4 / 6)
    assert table.loc["F", "precision"] == pytest.approx(1 / 2)
    assert table.loc["M", "precision"] == pytest.approx(1 / 3)  # the unlabelled referral is out
    assert table.loc["F", "false_positive_rate"] == pytest.approx(0.25)
    assert table.loc["M", "false_positive_rate"] == pytest.approx(0.5)


def test_fpr_ratio_point_estimate() -> None:
    table = fairness_table(*_toy_fairness())
    assert fpr_ratios(table, min_group_negatives=4) == {"sex": pytest.approx(2.0)}
    assert fpr_ratios(table, min_group_negatives=5) == {}  # too little support to gate


def _groups(fp: list[int], neg: list[int], tp: list[int], flagged: list[int]) -> pd.DataFrame:
    t = pd.DataFrame(
        {
            "attribute": "sex",
            "group": ["F", "M"][: len(fp)],
            "negatives": neg,
            "false_positives": fp,
            "true_positives": tp,
            "flagged_labelled": flagged,
        }
    )
    t["false_positive_rate"] = t["false_positives"] / t["negatives"]
    t["precision"] = t["true_positives"] / t["flagged_labelled"]
    return t


BOUNDS = {
    "max_fpr_ratio": 1.25,
    "min_group_precision_ratio": 0.5,
    "min_group_negatives": 100,
    "min_group_flagged": 20,
    "alpha": 0.05,
}


def test_a_shown_fpr_disparity_fails_the_gate() -> None:
    # F 1% against M 2% of 5,000 negatives each: ratio 2, and 150 false positives show it
    problems = fairness_violations(
        _groups([50, 100], [5000, 5000], [200, 200], [250, 300]), 0.7, **BOUNDS
    )
    assert len(problems) == 1
    assert problems[0].startswith("false-positive-rate ratio by sex: M against F is 2.00 > 1.25")


def test_the_same_ratio_on_a_handful_of_false_positives_is_not_evidence() -> None:
    # ratio 2 again, but 2 against 4 false positives: well within chance at a true ratio of 1.25
    assert (
        fairness_violations(_groups([2, 4], [5000, 5000], [40, 40], [42, 44]), 0.9, **BOUNDS) == []
    )
    # with alpha = 1 every raw excess counts
    loose = {**BOUNDS, "alpha": 1.0}
    assert fairness_violations(_groups([2, 4], [5000, 5000], [40, 40], [42, 44]), 0.9, **loose)
    # and groups below the support threshold are reported, not gated
    assert (
        fairness_violations(_groups([50, 100], [50, 50], [40, 40], [90, 140]), 0.3, **BOUNDS) == []
    )


def test_a_group_precision_shown_below_the_floor_fails_the_gate() -> None:
    # overall precision .8, floor .4: M has 10 true of 100 referred (.1), F is fine
    problems = fairness_violations(
        _groups([10, 90], [10**6, 10**6], [90, 10], [100, 100]),
        0.8,
        **{**BOUNDS, "max_fpr_ratio": 100.0},
    )
    assert len(problems) == 1 and problems[0].startswith(
        "precision of sex=M is 0.100 < floor 0.400"
    )
    # 9 of 20 (.45) against the floor .5 is not evidence of anything
    assert (
        fairness_violations(
            _groups([11, 11], [10**6, 10**6], [9, 9], [20, 20]),
            1.0,
            **{**BOUNDS, "max_fpr_ratio": 100.0},
        )
        == []
    )


def test_evaluate_scores_json_has_the_contract_keys() -> None:
    y = np.array([1, 0, NAN, 1, 0, 0, 0, 0, 0, 0])
    s = np.linspace(1, 0, 10)
    out = evaluate_scores(
        y,
        s,
        month=["2024-01"] * 10,
        amount=np.ones(10),
        typology=["upcoding", None, None, "unbundling", *[None] * 6],
        attributes=pd.DataFrame({"sex": list("FMFMFMFMFM")}),
        capacity=0.3,
        min_group_negatives=1,
    )
    for key in ("auc_pr", "roc_auc", "precision_at_capacity", "recall_at_capacity"):
        assert isinstance(out[key], float)
    assert out["per_typology_recall"] == {"upcoding": 1.0, "unbundling": 0.0}
    assert out["n_labelled"] == 9 and out["n_fraud"] == 2 and out["n_flagged"] == 3
    assert set(out["fairness"]["fpr_ratio"]) == {"sex"}
