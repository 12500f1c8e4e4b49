"""Each feature family on hand-built claims with known answers (tests/features/factory.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from riskml.contract import TYPOLOGIES
from riskml.data import ClaimsData
from riskml.defaults import DEFAULT_FEATURE_SET
from riskml.features import FEATURE_SETS, FEATURES, TYPOLOGY_SIGNALS, FeatureBuilder, reason_text
from riskml.features.sets import FROZEN_ENTITY_FEATURES


def both_sets(data: ClaimsData) -> pd.DataFrame:
    """The features of claims_v2 (the default) and the frozen entity features of claims_v1."""
    v2 = FeatureBuilder(min_peers=1).fit(data).transform(data)
    v1 = FeatureBuilder(feature_set="claims_v1", min_peers=1).fit(data).transform(data)
    return v2.join(v1[list(FROZEN_ENTITY_FEATURES)])


@pytest.fixture(scope="module")
def X(tiny_data: ClaimsData) -> pd.DataFrame:
    return both_sets(tiny_data)


def val(X: pd.DataFrame, claim: str, feature: str) -> float:
    return float(X.loc[claim, feature])


def test_output_shape_and_order(X: pd.DataFrame, tiny_data: ClaimsData) -> None:
    assert list(X.index) == list(tiny_data.claims["claim_id"])
    assert list(X.columns) == [*FEATURE_SETS["claims_v2"], *FROZEN_ENTITY_FEATURES]
    assert all(dtype == np.float64 for dtype in X.dtypes)


def test_claim_family(X: pd.DataFrame) -> None:
    assert val(X, "C04", "length_of_stay_days") == 6.0
    assert val(X, "C04", "duplicate_item_lines") == 1.0  # bed line B1 billed twice
    assert val(X, "C04", "exam_share") == pytest.approx(0.8)
    assert val(X, "C04", "items_total_vs_claimed") == pytest.approx(1000 / 6000)
    assert val(X, "C04", "items_per_inpatient_day") == pytest.approx(3 / 6)
    # stays of 6 and 5 days on J18: median 5.5
    assert val(X, "C04", "los_vs_diagnosis_norm") == pytest.approx(6 / 5.5)
    assert val(X, "C14", "diagnosis_implausible_for_age_sex") == 1.0  # endometriosis, a man
    assert val(X, "C10", "diagnosis_implausible_for_age_sex") == 0.0  # delivery, a woman of 32
    assert val(X, "C13", "trace_codes_seen_before") == 1.0  # T1 already sold on C11
    assert val(X, "C11", "trace_codes_seen_before") == 0.0
    assert val(X, "C10", "days_enrolment_to_service") == 135.0
    assert val(X, "C17", "submission_lag_days") == 1.0
    assert math.isnan(val(X, "C01", "length_of_stay_days"))


def test_claimant_family(X: pd.DataFrame) -> None:
    # death on 2024-03-10 reported 2024-04-20: unknown to C02 (submitted 04-01), known to C03
    assert math.isnan(val(X, "C02", "days_service_after_reported_death"))
    assert val(X, "C03", "days_service_after_reported_death") == 22.0
    assert val(X, "C05", "readmission_days_same_provider") == 6.0
    assert math.isnan(val(X, "C04", "readmission_days_same_provider"))
    assert val(X, "C09", "benefit_month_claimed_other_region") == 1.0
    assert val(X, "C08", "benefit_month_claimed_other_region") == 0.0
    assert val(X, "C15", "same_day_claims_other_province") == 1.0
    # P4 before C15 (Guangdong): C11 Shanghai, C12 Guangdong, C13 Shanghai, C14 Beijing
    assert val(X, "C15", "share_of_claims_in_this_province") == pytest.approx(1 / 4)
    assert val(X, "C14", "same_day_claims_other_province") == 0.0
    assert val(X, "C15", "claimant_claims_24h") == 1.0
    assert val(X, "C17", "duplicate_claims_same_day") == 1.0
    assert val(X, "C17", "near_duplicate_amount_difference") == pytest.approx(10 / 510)
    # unemployment for April submitted 05-05: April's contribution is known -> 1 month;
    # May's claim (06-03) sees April and May
    assert val(X, "C06", "contributions_during_unemployment") == 1.0
    assert val(X, "C07", "contributions_during_unemployment") == 2.0
    # drug D1, 30 units each on 01-01 (PH1), 01-05 (PH2), 01-10 (PH1); standard supply 30
    assert val(X, "C13", "drug_fills_90d") == 2.0
    assert val(X, "C13", "providers_for_same_drug") == 2.0
    assert val(X, "C13", "drug_supply_vs_days_elapsed") == pytest.approx(90 / (9 + 30))
    assert val(X, "C11", "drug_supply_vs_days_elapsed") == pytest.approx(1.0)
    assert val(X, "C02", "claimant_amount_365d") == 3000.0
    assert val(X, "C09", "outside_insured_region") == 1.0


def test_employer_family(X: pd.DataFrame) -> None:
    # P3 joined E1 in 2023-12 on a 20,000 base; delivery 2024-03-15, submitted 03-20
    assert val(X, "C10", "tenure_with_employer_days") == 105.0
    assert val(X, "C10", "contribution_months_with_employer") == 3.0  # Dec, Jan, Feb known
    assert val(X, "C10", "contribution_months_12m") == 3.0
    # the region's contribution bases: 6000 x18, 20000 x3, 5000 x13 -> median 6000
    assert val(X, "C10", "contribution_base_vs_regional_median") == pytest.approx(20000 / 6000)
    # E1's members in Feb: P3 and P5; P3 is new within the last 3 known months
    assert val(X, "C10", "employer_members") == 2.0
    assert val(X, "C10", "employer_new_members_3m") == 1.0
    assert val(X, "C10", "employer_hiring_burst") == pytest.approx(0.5)
    assert val(X, "C10", "employer_age_days") == 166.0
    assert math.isnan(val(X, "C04", "tenure_with_employer_days"))


def test_provider_family(X: pd.DataFrame) -> None:
    assert val(X, "C04", "provider_tier") == 2.0
    assert val(X, "C16", "provider_private") == 1.0
    # C04's 6 bed-days were submitted 8 days before C05: 6 / (30 x 10 beds)
    assert val(X, "C05", "provider_census_vs_beds") == pytest.approx(6 / 300)
    assert val(X, "C04", "provider_census_vs_beds") == 0.0
    assert val(X, "C05", "provider_same_day_admissions") == 0.0
    assert val(X, "C13", "provider_new_patient_share_30d") == 1.0  # C11, P4's first visit


def test_network_family(X: pd.DataFrame) -> None:
    assert val(X, "C17", "same_day_copatients") == 1.0  # C16 at H2 the same day
    assert val(X, "C16", "same_day_copatients") == 0.0
    # PH2's only patient (P4) also uses PH1 and H1
    assert val(X, "C12", "provider_shared_patient_density") == 1.0


def test_same_day_groups_need_two_shared_visits(tiny_data: ClaimsData) -> None:
    """Two persons visiting the same clinic together twice are co-visit partners."""
    claims = tiny_data.claims
    extra = claims.loc[claims["claim_id"].isin(["C16", "C17"])].copy()
    extra["claim_id"] = ["C90", "C91"]
    extra["person_id"] = "P3"
    extra["service_start"] = pd.to_datetime(["2024-02-10", "2024-02-20"])
    extra["service_end"] = extra["service_start"]
    second = claims.loc[claims["claim_id"] == "C16"].copy()
    second["claim_id"] = "C92"
    second["service_start"] = second["service_end"] = pd.Timestamp("2024-02-20")
    second["submitted_at"] = pd.Timestamp("2024-02-21 10:00")
    data = ClaimsData(
        tiny_data.persons,
        tiny_data.employers,
        tiny_data.providers,
        tiny_data.contributions,
        pd.concat([claims, extra, second], ignore_index=True),
        tiny_data.claim_items,
    )
    X = both_sets(data)
    assert val(X, "C16", "covisit_partners") == 1.0
    assert val(X, "C90", "covisit_group_size") == 2.0
    assert val(X, "C04", "covisit_partners") == 0.0
    # rolling (claims_v2): the pair is known from the second shared visit on, not before
    assert val(X, "C92", "repeat_covisitors_same_day") == 1.0  # P3 came on 02-10 and 02-20
    assert val(X, "C92", "covisit_partners_180d") == 1.0
    for before in ("C16", "C90", "C17", "C91"):
        assert val(X, before, "covisit_partners_180d") == 0.0, before
        assert val(X, before, "repeat_covisitors_same_day") == 0.0, before
    # C92 is H2's one claim in 90 days (of four) that came with a repeat co-visitor: later
    # claims would read it, C92 itself reads the four before it
    assert val(X, "C92", "provider_repeat_covisit_share_90d") == 0.0


def test_registry_documents_every_feature() -> None:
    for name in FEATURE_SETS["claims_v1"]:
        spec = FEATURES[name]
        assert spec.family in {"claim", "claimant", "provider", "employer", "network"}
        assert len(spec.description) > 15, name
        assert spec.unit
        text = reason_text(name, 3.0)
        assert "{" not in text and len(text) > 10, (name, text)
        assert reason_text(name, float("nan"))


def test_reason_text_reads_like_a_sentence() -> None:
    assert (
        reason_text("readmission_days_same_provider", 6)
        == "readmitted to the same hospital 6 days after discharge, same diagnosis"
    )
    assert reason_text("benefit_type_code", 1) == "benefit type: inpatient"
    with pytest.raises(KeyError, match="unknown feature"):
        reason_text("no_such_feature", 1.0)


def test_new_claim_family_signals(X: pd.DataFrame) -> None:
    # C04 is the only itemised J18 claim of the window: its items are fully typical
    assert val(X, "C04", "items_typical_for_diagnosis") == 1.0
    assert val(X, "C04", "atypical_items_for_diagnosis") == 0.0
    assert math.isnan(val(X, "C01", "items_typical_for_diagnosis"))
    # C04's items are exactly the J18 profile: no other diagnosis fits better
    assert val(X, "C04", "items_fit_another_diagnosis") == 0.0
    assert val(X, "C04", "amount_vs_item_diagnosis_median") == pytest.approx(6000 / 5500)
    assert val(X, "C17", "near_duplicate_claims_before") == 1.0  # 500 vs 510, same day
    assert val(X, "C09", "benefit_claims_other_regions_before") == 1.0
    assert math.isnan(val(X, "C04", "benefit_claims_other_regions_before"))


def features_with_a_copy_of_c04(
    tiny_data: ClaimsData, submitted_at: pd.Timestamp, price_of_third_item: float | None = None
) -> pd.DataFrame:
    """Features of the tiny data set plus C99: C04's claim and items again, submitted at
    ``submitted_at`` at the counter (and one price changed, when given)."""
    claims = tiny_data.claims
    copy = claims.loc[claims["claim_id"] == "C04"].assign(
        claim_id="C99", submitted_at=submitted_at, channel="counter"
    )
    items = tiny_data.claim_items
    copied = items.loc[items["claim_id"] == "C04"].assign(claim_id="C99")
    if price_of_third_item is not None:
        copied.loc[copied.index[2], "unit_price"] = price_of_third_item
        copied["amount"] = copied["quantity"] * copied["unit_price"]
    data = ClaimsData(
        tiny_data.persons,
        tiny_data.employers,
        tiny_data.providers,
        tiny_data.contributions,
        pd.concat([claims, copy], ignore_index=True),
        pd.concat([items, copied], ignore_index=True),
    )
    return FeatureBuilder(min_peers=1).fit(data).transform(data)


def test_a_bill_submitted_twice(tiny_data: ClaimsData) -> None:
    """A copy of C04 at the counter 20 days later, one price nudged, is found by its items."""
    X = features_with_a_copy_of_c04(tiny_data, pd.Timestamp("2024-02-09 15:00"), 820.0)
    assert val(X, "C99", "identical_item_list_before") == 1.0
    assert val(X, "C04", "identical_item_list_before") == 0.0
    assert val(X, "C99", "near_duplicate_claims_before") == 1.0
    assert val(X, "C99", "duplicate_claims_same_day") == 1.0


@pytest.mark.parametrize(("days_later", "seen"), [(300, 1.0), (380, 0.0)])
def test_the_claimant_past_is_read_a_year_back(
    tiny_data: ClaimsData, days_later: int, seen: float
) -> None:
    """The same bill again: within a year of C04's submission it is a repeat, later it is not
    (no feature reads further back than ``LOOKBACK_DAYS``)."""
    c04 = tiny_data.claims.loc[tiny_data.claims["claim_id"] == "C04", "submitted_at"].iloc[0]
    X = features_with_a_copy_of_c04(tiny_data, c04 + pd.Timedelta(days=days_later))
    assert val(X, "C99", "identical_item_list_before") == seen
    assert val(X, "C99", "duplicate_claims_same_day") == seen
    # the earlier stays with this diagnosis (C04, C05) count only within the year
    assert math.isnan(val(X, "C99", "readmission_days_same_diagnosis")) == (not seen)


def test_doctor_features_when_the_scheme_records_doctors(tiny_data: ClaimsData) -> None:
    claims = tiny_data.claims.copy()
    claims["doctor_id"] = np.where(claims["claim_id"].isin(["C16", "C17"]), "D7", None)
    data = ClaimsData(
        tiny_data.persons,
        tiny_data.employers,
        tiny_data.providers,
        tiny_data.contributions,
        claims,
        tiny_data.claim_items,
    )
    X = FeatureBuilder(min_peers=1).fit(data).transform(data)
    assert val(X, "C17", "doctor_claims_48h") == 1.0
    assert val(X, "C17", "doctor_same_diagnosis_share_30d") == 1.0
    assert val(X, "C16", "doctor_claims_48h") == 0.0
    assert math.isnan(val(X, "C04", "doctor_claims_48h"))
    # without the optional column the doctor features are missing, not an error
    X_plain = FeatureBuilder(min_peers=1).fit(tiny_data).transform(tiny_data)
    assert X_plain["doctor_claims_48h"].isna().all()


def test_every_typology_has_signals_in_the_feature_set() -> None:
    assert set(TYPOLOGY_SIGNALS) == set(TYPOLOGIES)
    for typology, names in TYPOLOGY_SIGNALS.items():
        assert names, typology
        assert set(names) <= set(FEATURES), typology
        assert set(names) & set(FEATURE_SETS[DEFAULT_FEATURE_SET]), typology


def test_items_that_point_to_another_diagnosis(tiny_data: ClaimsData) -> None:
    """The pharmacy claim's drug D1 billed under pneumonia points back to diabetes (E11)."""
    claims = tiny_data.claims.copy()
    claims.loc[claims["claim_id"] == "C15", "diagnosis_code"] = "J18.9"
    data = ClaimsData(
        tiny_data.persons,
        tiny_data.employers,
        tiny_data.providers,
        tiny_data.contributions,
        claims,
        tiny_data.claim_items,
    )
    X = FeatureBuilder(min_peers=1).fit(data).transform(data)
    # D1 has share 1.0 in the E11 profile (C11-C13) and 1/2 in J18's (C04 and now C15)
    assert val(X, "C15", "items_fit_another_diagnosis") == pytest.approx(0.5)
    assert val(X, "C15", "amount_vs_item_diagnosis_median") == pytest.approx(1.0)  # E11: 300
