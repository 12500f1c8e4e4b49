"""Named, versioned feature sets: which registered features a model uses.

A set is frozen once a model has been trained on it; a change of features is a new version
(``claims_v2``), never an edit, so a registered model's feature set can always be rebuilt.
"""

from __future__ import annotations

from riskml.defaults import DEFAULT_FEATURE_SET
from riskml.signals import TYPOLOGY_SIGNALS

CLAIMS_V1: tuple[str, ...] = (
    # claim
    "benefit_type_code",
    "channel_code",
    "amount_claimed",
    "amount_vs_peer_median",
    "length_of_stay_days",
    "los_vs_diagnosis_norm",
    "charges_per_day_vs_norm",
    "items_per_inpatient_day",
    "item_lines",
    "item_lines_vs_diagnosis_norm",
    "duplicate_item_lines",
    "exam_share",
    "bed_share",
    "drug_share",
    "items_total_vs_claimed",
    "submission_lag_days",
    "days_enrolment_to_service",
    "diagnosis_implausible_for_age_sex",
    "trace_codes_seen_before",
    "items_typical_for_diagnosis",
    "atypical_items_for_diagnosis",
    "items_fit_another_diagnosis",
    "amount_vs_item_diagnosis_median",
    # claimant history
    "days_service_after_reported_death",
    "claimant_claims_30d",
    "claimant_claims_365d",
    "claimant_amount_365d",
    "claimant_claims_24h",
    "days_since_previous_claim",
    "days_since_medical_claim",
    "distinct_providers_before",
    "claims_same_provider_365d",
    "readmission_days_same_provider",
    "readmission_days_same_diagnosis",
    "inpatient_stays_365d",
    "same_day_claims_other_province",
    "share_of_claims_in_this_province",
    "benefit_month_claimed_other_region",
    "benefit_month_claimed_before",
    "benefit_claims_other_regions_before",
    "duplicate_claims_same_day",
    "days_from_previous_same_provider",
    "near_duplicate_amount_difference",
    "near_duplicate_claims_before",
    "identical_item_list_before",
    "same_benefit_claims_before",
    "outside_insured_region",
    "contributions_during_unemployment",
    "drug_supply_vs_days_elapsed",
    "drug_fills_90d",
    "providers_for_same_drug",
    # employer
    "tenure_with_employer_days",
    "contribution_months_with_employer",
    "contribution_months_12m",
    "contribution_base_vs_regional_median",
    "employer_new_members_3m",
    "employer_hiring_burst",
    "employer_members",
    "employer_benefit_claims_per_member",
    "employer_age_days",
    # provider
    "provider_type_code",
    "provider_tier",
    "provider_private",
    "provider_beds",
    "provider_designated_days",
    "provider_census_vs_beds",
    "provider_same_day_admissions",
    "provider_week_admissions_vs_norm",
    "provider_volume_vs_norm",
    "provider_amount_vs_peers_90d",
    "provider_case_mix_vs_peers",
    "provider_readmission_vs_peers",
    "provider_new_patient_share_30d",
    "provider_claims_48h_vs_norm",
    "doctor_claims_48h",
    "doctor_same_diagnosis_share_30d",
    # network
    "covisit_partners",
    "covisit_group_size",
    "provider_shared_patient_density",
    "provider_community_size",
    "same_day_copatients",
)

#: The features of claims_v1 that rest on entity profiles fitted on the training window (a
#: provider's volumes and readmission rate, the person and provider graphs): frozen knowledge of
#: one entity, replaced in claims_v2 by rolling aggregates of the history before each claim.
FROZEN_ENTITY_FEATURES: tuple[str, ...] = (
    "provider_week_admissions_vs_norm",
    "provider_volume_vs_norm",
    "provider_readmission_vs_peers",
    "provider_claims_48h_vs_norm",
    "covisit_partners",
    "covisit_group_size",
    "provider_shared_patient_density",
    "provider_community_size",
)

#: claims_v2: only population statistics are fitted (peer norms, encoders, item-diagnosis
#: profiles); everything about one provider, doctor or co-visiting group is rolling, and each
#: entity says how much is known about it (DESIGN.md principle 2).
CLAIMS_V2: tuple[str, ...] = (
    *(name for name in CLAIMS_V1 if name not in FROZEN_ENTITY_FEATURES),
    # provider and doctor, against their own past
    "provider_claims_365d",
    "provider_days_known",
    "provider_volume_vs_own_past",
    "provider_claims_48h_vs_own_past",
    "provider_week_admissions_vs_own_past",
    "provider_readmission_vs_peers_365d",
    "provider_amount_vs_own_past",
    "provider_case_mix_vs_own_past",
    "doctor_claims_365d",
    "doctor_days_known",
    # co-visits as they happen
    "repeat_covisitors_same_day",
    "covisit_partners_180d",
    "provider_repeat_covisit_share_90d",
    # person-level typologies (DOMAIN.md P1, P5, M10): a pension with no life trace, a new
    # employer's contributions in the benefit month, refills too soon, many prescribers, a drug
    # box sold again at another provider, and the decisive but rare registry and overlap checks
    # counted together
    "pension_months_without_life_trace",
    "benefit_months_with_other_employer",
    "drug_refill_interval_vs_norm_90d",
    "drug_prescribers_90d",
    "trace_codes_seen_at_other_provider",
    "entitlement_conflicts",
    # co-visits within a day (DOMAIN.md M11): a recruited group often comes over two days
    "repeat_covisitors_within_a_day",
    "covisit_partners_within_a_day_180d",
    "provider_group_visit_share_90d",
    # the identity checks of impersonation counted together (DOMAIN.md M9)
    "identity_conflicts",
)

#: Features that are direct functions of the claimant's birth date or of region codes, through
#: which age band and region (gated attributes, DESIGN.md principle 6) reach a model that does
#: not take them as inputs: the age-sex plausibility flag and the days since first enrolment
#: (about the years since the first job) read the birth date or track it; the others compare
#: the claim's region or province codes with the claimant's insured region, earlier claims' or
#: the region's median base. ``fairness.drop_features`` can leave them out (a mitigation that
#: ``python -m benchmarks --only fairness`` measures); they are in the feature sets because
#: each detects a typology (impersonation, duplicate receipt, card lending, maternity fraud).
AGE_REGION_PROXIES: tuple[str, ...] = (
    "diagnosis_implausible_for_age_sex",
    "days_enrolment_to_service",
    "outside_insured_region",
    "same_day_claims_other_province",
    "share_of_claims_in_this_province",
    "benefit_month_claimed_other_region",
    "benefit_claims_other_regions_before",
    "contribution_base_vs_regional_median",
)
# Not listed (the list must hold in both sets): ``entitlement_conflicts`` (claims_v2) counts,
# among its checks, the same benefit month paid in another region, the comparison of region
# codes of ``benefit_month_claimed_other_region``; dropping the proxies leaves that check in.
# Nor ``identity_conflicts`` (claims_v2), which counts ``diagnosis_implausible_for_age_sex``
# (sex and age) and ``same_day_claims_other_province`` (province codes) among its checks:
# dropping the proxies leaves those two checks in through it, so a mitigation run that means to
# remove them should drop it as well.

#: Features that exist only for claimants in work (an employer, contribution months): missing
#: or zero after retirement, they tell working age from pension age (README: working-age
#: claimants' honest claims resemble the work-related typologies).
WORKING_AGE_PROXIES: tuple[str, ...] = (
    "contributions_during_unemployment",
    "tenure_with_employer_days",
    "contribution_months_with_employer",
    "contribution_months_12m",
    "employer_new_members_3m",
    "employer_hiring_burst",
    "employer_members",
    "employer_benefit_claims_per_member",
    "employer_age_days",
)

FEATURE_SETS: dict[str, tuple[str, ...]] = {"claims_v1": CLAIMS_V1, "claims_v2": CLAIMS_V2}
assert DEFAULT_FEATURE_SET in FEATURE_SETS
assert set(AGE_REGION_PROXIES + WORKING_AGE_PROXIES) <= set(CLAIMS_V1) & set(CLAIMS_V2)

__all__ = [
    "AGE_REGION_PROXIES",
    "CLAIMS_V1",
    "CLAIMS_V2",
    "FEATURE_SETS",
    "FROZEN_ENTITY_FEATURES",
    "TYPOLOGY_SIGNALS",
    "WORKING_AGE_PROXIES",
]
