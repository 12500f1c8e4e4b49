"""The person-level typology features (DOMAIN.md P1, P5, M10) on hand-built claims: each value
known by hand, and a fact recorded after the claim's submission never used."""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import pytest

from riskml.data import ClaimsData
from riskml.features import FeatureBuilder

from .factory import tiny

D = pd.Timestamp


def features(data: ClaimsData) -> pd.DataFrame:
    return FeatureBuilder(min_peers=1).fit(data).transform(data)


def with_claims(data: ClaimsData, rows: list[dict[str, object]]) -> ClaimsData:
    """``data`` with claims added (columns not given copied from claim C14, an outpatient visit)."""
    base = data.claims.loc[data.claims["claim_id"] == "C14"].iloc[0]
    extra = pd.DataFrame([{**base.to_dict(), **row} for row in rows])
    claims = pd.concat([data.claims, extra.astype(data.claims.dtypes.to_dict())], ignore_index=True)
    return replace(data, claims=claims)


def with_contributions(data: ClaimsData, rows: list[tuple[str, str | None, str]]) -> ClaimsData:
    """``data`` with contribution months (person, employer or None, month) added."""
    extra = pd.DataFrame(
        {
            "person_id": [r[0] for r in rows],
            "employer_id": [r[1] for r in rows],
            "month": pd.to_datetime([r[2] for r in rows]),
            "contribution_base": 7000.0,
        }
    )
    frame = pd.concat([data.contributions, extra], ignore_index=True)
    return replace(data, contributions=frame)


def val(X: pd.DataFrame, claim: str, feature: str) -> float:
    return float(X.loc[claim, feature])


# --- P1: pension months without a life trace ------------------------------------------------


def test_pension_months_without_life_trace_counts_payments_since_the_last_other_claim() -> None:
    X = features(tiny())
    # P1 draws a pension and claims nothing else: 1, 2, 3 months with no trace
    assert [val(X, c, "pension_months_without_life_trace") for c in ("C01", "C02", "C03")] == [
        1.0,
        2.0,
        3.0,
    ]
    # P4's latest other claim is C15 (02-01); C08 is the first pension after it
    assert val(X, "C08", "pension_months_without_life_trace") == 1.0
    assert val(X, "C09", "pension_months_without_life_trace") == 2.0
    assert math.isnan(val(X, "C14", "pension_months_without_life_trace"))  # not a pension


def test_a_visit_restarts_the_life_trace_and_a_later_one_changes_nothing_before_it() -> None:
    visit = {
        "claim_id": "C20",
        "person_id": "P1",
        "region_code": "110105",
        "submitted_at": D("2024-03-15 10:00"),
        "service_start": D("2024-03-15"),
        "service_end": D("2024-03-15"),
    }
    X = features(with_claims(tiny(), [visit]))
    assert val(X, "C01", "pension_months_without_life_trace") == 1.0  # before the visit
    assert val(X, "C02", "pension_months_without_life_trace") == 1.0
    assert val(X, "C03", "pension_months_without_life_trace") == 2.0


def test_days_since_medical_claim_is_missing_after_a_claim_of_another_benefit() -> None:
    # the pinned reading (its docstring): P4's latest medical claim is C15 (02-01 12:00); C08 is
    # the first pension after it, C09 follows the pension C08 and so has no value
    X = features(tiny())
    assert val(X, "C15", "days_since_medical_claim") == pytest.approx(1 / 12)
    assert val(X, "C08", "days_since_medical_claim") == pytest.approx(60.875)
    assert math.isnan(val(X, "C09", "days_since_medical_claim"))


# --- P5: contributions by another employer in the benefit month -----------------------------


def test_another_employers_contribution_in_the_benefit_month_counts_once_known() -> None:
    # P2 draws unemployment benefit tied to E2 for April (C06, submitted 05-05) and May (C07,
    # submitted 06-03); E1 records contributions for P2 in April, May and June
    data = with_contributions(
        tiny(), [("P2", "E1", "2024-04-01"), ("P2", "E1", "2024-05-01"), ("P2", "E1", "2024-06-01")]
    )
    X = features(data)
    assert val(X, "C06", "benefit_months_with_other_employer") == 1.0
    assert val(X, "C07", "benefit_months_with_other_employer") == 1.0
    # E2's own months (the employer the benefit is tied to) do not count
    base = features(tiny())
    assert val(base, "C06", "benefit_months_with_other_employer") == 0.0
    assert math.isnan(val(base, "C04", "benefit_months_with_other_employer"))  # not UI


def test_a_flexible_contribution_does_not_count_nor_a_month_not_yet_known() -> None:
    data = with_contributions(tiny(), [("P2", None, "2024-05-01"), ("P2", "E1", "2024-05-01")])
    X = features(data)
    assert val(X, "C06", "benefit_months_with_other_employer") == 0.0  # April: none
    assert val(X, "C07", "benefit_months_with_other_employer") == 1.0  # May (E1), known in June
    alone = features(with_contributions(tiny(), [("P2", None, "2024-05-01")]))
    assert val(alone, "C07", "benefit_months_with_other_employer") == 0.0  # paid it himself
    # the May claim submitted in May: May's contributions are not known yet
    early = data.claims.copy()
    early.loc[early["claim_id"] == "C07", "submitted_at"] = D("2024-05-31 09:00")
    X = features(replace(data, claims=early))
    assert math.isnan(val(X, "C07", "benefit_months_with_other_employer"))


def test_a_contribution_recorded_for_a_later_month_is_not_used() -> None:
    data = with_contributions(tiny(), [("P2", "E1", "2024-06-01")])
    X = features(data)
    assert val(X, "C06", "benefit_months_with_other_employer") == 0.0
    assert val(X, "C07", "benefit_months_with_other_employer") == 0.0


# --- M10: refills too soon and many prescribers ---------------------------------------------


def test_refill_interval_against_the_drugs_usual_interval() -> None:
    X = features(tiny())
    # P4's fills of D1: 01-01, 01-05, 01-10, 02-01; gaps 4, 5 and 22 days: usual interval 5
    assert math.isnan(val(X, "C11", "drug_refill_interval_vs_norm_90d"))  # no earlier fill
    assert val(X, "C12", "drug_refill_interval_vs_norm_90d") == pytest.approx(4 / 5)
    assert val(X, "C13", "drug_refill_interval_vs_norm_90d") == pytest.approx((9 / 2) / 5)
    assert val(X, "C15", "drug_refill_interval_vs_norm_90d") == pytest.approx(
        (31 + 2 / 24) / 3 / 5
    )  # C15 at 12:00
    assert math.isnan(val(X, "C04", "drug_refill_interval_vs_norm_90d"))  # no drug


def test_prescribers_are_doctors_or_else_the_dispensing_providers() -> None:
    data = tiny()
    X = features(data)
    # C11 at PH1, C12 at PH2, C13 at PH1 (no doctors recorded)
    assert val(X, "C11", "drug_prescribers_90d") == 1.0
    assert val(X, "C13", "drug_prescribers_90d") == 2.0
    assert math.isnan(val(X, "C14", "drug_prescribers_90d"))  # no drug on the claim
    # with doctors: C14 at H1 now prescribes D1 (doctor DR1), C15 dispenses at PH2
    claims = data.claims.assign(doctor_id=None)
    claims.loc[claims["claim_id"] == "C14", "doctor_id"] = "DR1"
    line = pd.DataFrame(
        {
            "claim_id": ["C14"],
            "line_no": pd.array([2], dtype="Int64"),
            "item_code": ["D1"],
            "item_category": ["drug"],
            "quantity": [30.0],
            "unit_price": [10.0],
            "amount": [300.0],
            "trace_code": ["T9"],
        }
    )
    items = pd.concat([data.claim_items, line], ignore_index=True)
    X = features(replace(data, claims=claims, claim_items=items))
    assert val(X, "C14", "drug_prescribers_90d") == 3.0  # PH1, PH2, DR1
    assert val(X, "C15", "drug_prescribers_90d") == 3.0
    assert val(X, "C13", "drug_prescribers_90d") == 2.0  # the later C14 is not seen


def test_prior_nanmax_carries_the_latest_value_past_missing_ones() -> None:
    """The life trace reads the latest earlier claim of another benefit, however many pension
    payments came after it (``prior_max`` gives NaN after a missing value)."""
    import numpy as np

    from riskml.features.context import Groups

    key = np.array([0, 0, 0, 0, 1, 1])
    values = np.array([5.0, np.nan, np.nan, 7.0, np.nan, 2.0])
    g = Groups(key, np.arange(6))
    np.testing.assert_array_equal(g.prior_nanmax(values), [np.nan, 5.0, 5.0, 5.0, np.nan, np.nan])
    np.testing.assert_array_equal(
        g.prior_max(values), [np.nan, 5.0, np.nan, np.nan, np.nan, np.nan]
    )


def test_entitlement_conflicts_count_the_contradicting_records_known_at_submission() -> None:
    data = with_contributions(tiny(), [("P2", "E1", "2024-04-01")])
    X = features(data)
    assert val(X, "C02", "entitlement_conflicts") == 0.0  # the death is reported on 04-20
    assert val(X, "C03", "entitlement_conflicts") == 1.0  # April's pension, death known
    assert val(X, "C09", "entitlement_conflicts") == 1.0  # March already paid in Shenzhen
    assert val(X, "C06", "entitlement_conflicts") == 1.0  # E1 paid P2's April
    assert val(X, "C07", "entitlement_conflicts") == 0.0
    assert val(X, "C14", "entitlement_conflicts") == 0.0


def test_a_trace_code_billed_again_at_another_provider() -> None:
    data = tiny()
    # T1 was sold by PH1 on C11 and billed again by PH1 on C13 (same provider: 0); now PH2
    # bills T1 too (C21), after C13
    resold = {
        "claim_id": "C21",
        "person_id": "P2",
        "benefit_type": "pharmacy",
        "provider_id": "PH2",
        "region_code": "440305",
        "submitted_at": D("2024-01-20 10:00"),
        "service_start": D("2024-01-20"),
        "service_end": D("2024-01-20"),
        "diagnosis_code": "E11",
        "amount_claimed": 300.0,
    }
    line = data.claim_items.loc[data.claim_items["claim_id"] == "C13"].assign(claim_id="C21")
    data = with_claims(data, [resold])
    data = replace(data, claim_items=pd.concat([data.claim_items, line], ignore_index=True))
    X = features(data)
    assert val(X, "C13", "trace_codes_seen_at_other_provider") == 0.0  # PH1 again
    assert val(X, "C13", "trace_codes_seen_before") == 1.0
    assert val(X, "C21", "trace_codes_seen_at_other_provider") == 1.0  # PH1's box at PH2
    assert val(X, "C11", "trace_codes_seen_at_other_provider") == 0.0  # the later sales unseen


def test_identity_conflicts_count_the_records_known_at_submission_against_the_holder() -> None:
    after_death = {  # P1 died on 03-10; the death is reported on 04-20
        "person_id": "P1",
        "region_code": "110105",
        "service_start": D("2024-04-10"),
        "service_end": D("2024-04-10"),
    }
    data = with_claims(
        tiny(),
        [
            {**after_death, "claim_id": "C20", "submitted_at": D("2024-04-10 10:00")},
            {**after_death, "claim_id": "C21", "submitted_at": D("2024-04-25 10:00")},
        ],
    )
    X = features(data)
    assert val(X, "C20", "identity_conflicts") == 0.0  # the death not reported yet
    assert val(X, "C21", "identity_conflicts") == 1.0  # the death known at submission
    # P4 is a man: endometriosis (C14, Beijing), then a pharmacy claim in Shenzhen that day
    assert val(X, "C14", "identity_conflicts") == 1.0  # C15 was submitted after it
    assert val(X, "C15", "identity_conflicts") == 1.0  # C14 the same day in another province
    assert val(X, "C12", "identity_conflicts") == 0.0
    assert math.isnan(val(X, "C03", "identity_conflicts"))  # a pension: not a medical claim
