"""Reports fold small groups: a scheme has thousands of regions (a model card once listed 3,106,
113 KB), so the tables people read show the largest groups and one "other (k groups)" row, while
the gate's statistical tests keep every real group."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskml.evaluate import (
    MIN_SHOWN_CLAIMS,
    SHOWN_GROUPS,
    evaluate_scores,
    fairness_evidence,
    fairness_frame,
    fold_small_groups,
    shown_fairness_groups,
)
from riskml.report import fairness_markdown

REGIONS = 3_106


def _metrics() -> dict[str, Any]:
    """A test window of 3,106 regions (a few large, most with a handful of claims) and two sexes."""
    rng = np.random.default_rng(7)
    sizes = np.r_[np.full(5, 4_000), rng.integers(1, 40, REGIONS - 5)]
    region = np.repeat([f"{110000 + i:06d}" for i in range(REGIONS)], sizes)
    n = region.size
    y = np.where(rng.random(n) < 0.5, (rng.random(n) < 0.1).astype(float), np.nan)
    score = rng.random(n) + 0.5 * np.nan_to_num(y)
    attrs = pd.DataFrame({"region": region, "sex": rng.choice(["F", "M"], n)})
    return evaluate_scores(
        y,
        score,
        month=np.zeros(n),
        amount=np.ones(n),
        typology=np.full(n, None),
        attributes=attrs,
        capacity=0.05,
    )


@pytest.fixture(scope="module")
def metrics() -> dict[str, Any]:
    return _metrics()


def test_small_groups_are_folded_with_their_counts_summed(metrics: dict[str, Any]) -> None:
    table = fairness_frame(metrics)
    region = table[table["attribute"] == "region"]
    assert len(region) == REGIONS
    shown = fold_small_groups(table)
    shown_region = shown[shown["attribute"] == "region"]
    big = region[region["claims"] >= MIN_SHOWN_CLAIMS]
    assert len(shown_region) == min(len(big), SHOWN_GROUPS) + 1
    other = shown_region.iloc[-1]
    folded = REGIONS - (len(shown_region) - 1)
    assert other["group"] == f"other ({folded:,d} groups)"
    for col in ("claims", "flagged", "negatives", "false_positives", "true_positives"):
        assert shown_region[col].sum() == region[col].sum(), col
    assert other["false_positive_rate"] == pytest.approx(
        other["false_positives"] / other["negatives"]
    )
    assert other["referral_rate"] == pytest.approx(other["flagged"] / other["claims"])
    # the large groups are shown as they are, largest first; sex has nothing to fold
    pd.testing.assert_frame_equal(
        shown_region.iloc[:-1].reset_index(drop=True),
        region.sort_values("claims", ascending=False, kind="stable")
        .head(len(shown_region) - 1)
        .reset_index(drop=True),
    )
    assert len(shown[shown["attribute"] == "sex"]) == 2


def test_model_card_and_dashboard_fold_but_the_gate_sees_every_group(
    metrics: dict[str, Any],
) -> None:
    card = fairness_markdown(SimpleNamespace(metrics=metrics))  # type: ignore[arg-type]
    region_rows = [line for line in card.splitlines() if line.startswith("| region |")]
    assert len(region_rows) <= SHOWN_GROUPS + 1
    assert "groups) |" in region_rows[-1] and "| region | other (" in region_rows[-1]
    assert len(card) < 10_000
    assert len([g for g in shown_fairness_groups(metrics) if g["attribute"] == "region"]) == len(
        region_rows
    )
    # the metrics (what the gate reads) keep every real group
    evidence = fairness_evidence(
        fairness_frame(metrics),
        ["region"],
        min_group_negatives=500,
        max_fpr_ratio=1.5,
        alpha=0.05,
    )
    assert evidence["region"]["groups"] == REGIONS
    assert evidence["region"]["supported_groups"] == 5


def test_one_small_group_is_shown_as_it_is() -> None:
    table = fairness_frame(
        _metrics_of(pd.DataFrame({"sex": ["F"] * 300 + ["M"] * 300 + ["U"] * 3}))
    )
    assert list(fold_small_groups(table)["group"]) == list(table["group"])


def _metrics_of(attrs: pd.DataFrame) -> dict[str, Any]:
    n = len(attrs)
    y = np.zeros(n)
    return evaluate_scores(
        y,
        np.linspace(0, 1, n),
        month=np.zeros(n),
        amount=np.ones(n),
        typology=np.full(n, None),
        attributes=attrs,
        capacity=0.05,
    )
