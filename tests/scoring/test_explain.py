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


# --- reasons that read right ----------------------------------------------------------------

EDGE_VALUES = (0.0, 1.0, 2.0, 0.004, 0.5, 3158.3299560546875, 1e9, float("nan"))
NOUNS = frozenset(
    {
        "day",
        "claim",
        "item",
        "patient",
        "person",
        "provider",
        "month",
        "fill",
        "stay",
        "admission",
        "code",
        "region",
        "time",
        "member",
        "bed",
    }
)


def _counted_noun(text: str, number: str) -> str | None:
    """The first noun (of :data:`NOUNS`, singular or plural) within three words after
    ``number`` standing alone in ``text``; None if there is none."""
    import re

    for match in re.finditer(rf"(?:^|[^\d.,])({re.escape(number)}) ((?:\w+ ?){{1,3}})", text):
        for word in match.group(2).split():
            if word in NOUNS or (word.endswith("s") and word[:-1] in NOUNS):
                return word
    return None


@pytest.mark.parametrize("value", EDGE_VALUES)
def test_every_reason_template_reads_right_at_edge_values(value: float) -> None:
    """Every registered feature's sentence at 0, 1, 2, a small share, a long float, a large
    number and NaN: formatted, rounded for people, in the right number."""
    import math
    import re

    from riskml.features import FEATURES, reason_text
    from riskml.features.registry import is_reason

    for name in FEATURES:
        text = reason_text(name, value)
        assert "{" not in text and "}" not in text, (name, text)
        assert not re.search(r"\d\.\d{3,}", text), (name, text)  # no 3158.3299560546875
        assert "(s)" not in text, (name, text)
        assert not re.search(r"\bnan\b|\binf\b", text, flags=re.IGNORECASE), (name, text)
        noun = _counted_noun(text, f"{value:.0f}") if value in (1.0, 2.0) else None
        if noun is not None:
            assert noun.endswith("s") == (value != 1.0), (name, text)
        if math.isnan(value):
            assert not is_reason(name, value), name
            assert text.endswith("not applicable to this claim"), (name, text)


def test_singular_and_plural() -> None:
    from riskml.features import reason_text

    assert reason_text("item_lines", 1) == "1 billed line item"
    assert reason_text("item_lines", 12) == "12 billed line items"
    assert reason_text("item_lines", 0.6) == "1 billed line item"  # as shown, rounded
    assert (
        reason_text("trace_codes_seen_before", 1)
        == "1 drug trace code on this claim was already billed in the past year"
    )
    assert reason_text("benefit_month_claimed_before", 2) == (
        "the same benefit month was already claimed 2 times in this region"
    )
    assert reason_text("amount_claimed", 3158.3299560546875) == "claimed amount is ¥3,158"
    assert (
        reason_text("outside_insured_region", 1) == "claimed outside the claimant's insured region"
    )


def test_what_says_nothing_is_never_a_reason() -> None:
    from riskml.features.registry import is_reason

    assert not is_reason("items_fit_another_diagnosis", 0.004)  # "by 0.00 per item"
    assert is_reason("items_fit_another_diagnosis", 0.25)
    assert not is_reason("duplicate_item_lines", 0.0)
    assert not is_reason("exam_share", 0.004)  # "0% of the billed amount"
    assert not is_reason("outside_insured_region", 0.0)  # a flag that is not set
    assert not is_reason("covisit_group_size", 1.0)  # a group of one is no group
    assert is_reason("covisit_group_size", 4.0)
    assert is_reason("days_since_previous_claim", 0.0)  # a same-day claim says something
    # inpatient measures mean nothing on an outpatient visit, whatever their value
    assert not is_reason("provider_census_vs_beds", 2.5, "outpatient")
    assert is_reason("provider_census_vs_beds", 2.5, "inpatient")
    assert not is_reason("benefit_month_claimed_before", 1.0, "inpatient")
    assert is_reason("benefit_month_claimed_before", 1.0, "pension")


def test_top_reasons_keep_only_what_reads_right() -> None:
    from riskml.explain import top_reasons
    from riskml.features import FEATURES

    names = [
        "benefit_type_code",
        "provider_census_vs_beds",
        "items_fit_another_diagnosis",
        "amount_claimed",
        "item_lines",
        "exam_share",
    ]
    outpatient = FEATURES["benefit_type_code"].labels.index("outpatient")  # type: ignore[union-attr]
    inpatient = FEATURES["benefit_type_code"].labels.index("inpatient")  # type: ignore[union-attr]
    features = np.array(
        [
            [outpatient, 0.0, 0.001, 3158.3299560546875, 1.0, np.nan],
            [inpatient, 1.7, 0.3, 52000.0, 40.0, 0.2],
        ]
    )
    # every contribution raises the risk, the meaningless ones most
    contributions = np.array(
        [
            [0.01, 0.9, 0.8, 0.3, 0.2, 0.7, -1.0],
            [0.01, 0.9, 0.8, 0.3, 0.2, -0.7, -1.0],
        ]
    )
    first, second = top_reasons(contributions, features, names, k=3)
    assert [r.feature for r in first] == ["amount_claimed", "item_lines", "benefit_type_code"]
    assert first[0].value == 3158.3299560546875  # full precision in the value
    assert first[0].text == "claimed amount is ¥3,158"
    assert first[1].text == "1 billed line item"
    assert [r.feature for r in second] == [
        "provider_census_vs_beds",
        "items_fit_another_diagnosis",
        "amount_claimed",
    ]
    assert all(r.contribution > 0 for r in first + second)


def test_reason_tables_name_registered_features() -> None:
    """The count-aware templates and the applicability tables follow the registry: a renamed
    feature fails here instead of silently losing its template."""
    from riskml.features import FEATURES
    from riskml.features.registry import REASON_ABOVE, REASON_BENEFITS, REASON_TEMPLATES

    for table in (REASON_TEMPLATES, REASON_BENEFITS, REASON_ABOVE):
        assert set(table) <= set(FEATURES), set(table) - set(FEATURES)
    for benefits in REASON_BENEFITS.values():
        assert set(benefits) <= set(FEATURES["benefit_type_code"].labels or ())
