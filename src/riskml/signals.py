"""Which features carry the signals of each fraud typology (DOMAIN.md section 1).

Plain data, low in the import graph: the feature sets, the model card, the per-typology deep
dives and the workspace's "typology of the top reason" read it without importing the feature
computation. The model learns its own use of the features; this table documents the intent.
"""

from __future__ import annotations

# Which features carry the signals of each typology of CONTRACT.md (DOMAIN.md §1), in any feature
# set (claims_v1's frozen entity features stay listed: models trained on them are still served).
# Documentation for model cards and the per-typology deep dives; the model learns its own use.
# ``entitlement_conflicts`` is in none: it counts the checks of pension after death, duplicate
# benefit and unemployment while employed together, and the workspace names the typology of a
# reason by the first typology listing its feature.
TYPOLOGY_SIGNALS: dict[str, tuple[str, ...]] = {
    "pension_after_death": (
        "days_service_after_reported_death",
        "days_since_medical_claim",
        "pension_months_without_life_trace",
        "benefit_month_claimed_before",
    ),
    "duplicate_benefit": (
        "benefit_month_claimed_other_region",
        "benefit_claims_other_regions_before",
        "outside_insured_region",
    ),
    "unemployment_while_employed": (
        "contributions_during_unemployment",
        "benefit_months_with_other_employer",
        "contribution_months_with_employer",
    ),
    "fictitious_employment": (
        "tenure_with_employer_days",
        "contribution_base_vs_regional_median",
        "employer_hiring_burst",
        "employer_new_members_3m",
        "employer_benefit_claims_per_member",
        "employer_age_days",
        "contribution_months_12m",
        "days_enrolment_to_service",
    ),
    "work_injury_fabricated": (
        "tenure_with_employer_days",
        "contribution_months_with_employer",
        "days_enrolment_to_service",
        "same_benefit_claims_before",
    ),
    "phantom_hospitalization": (
        "provider_census_vs_beds",
        "provider_same_day_admissions",
        "provider_week_admissions_vs_norm",
        "provider_week_admissions_vs_own_past",
        "provider_volume_vs_own_past",
        "provider_days_known",
        "los_vs_diagnosis_norm",
        "items_per_inpatient_day",
        "charges_per_day_vs_norm",
        "bed_share",
        "provider_new_patient_share_30d",
    ),
    "split_hospitalization": (
        "readmission_days_same_provider",
        "readmission_days_same_diagnosis",
        "provider_readmission_vs_peers",
        "provider_readmission_vs_peers_365d",
        "los_vs_diagnosis_norm",
    ),
    "upcoding": (
        "amount_vs_peer_median",
        "items_typical_for_diagnosis",
        "items_fit_another_diagnosis",
        "amount_vs_item_diagnosis_median",
        "items_total_vs_claimed",
        "provider_case_mix_vs_peers",
        "provider_amount_vs_peers_90d",
        "provider_amount_vs_own_past",
        "provider_case_mix_vs_own_past",
    ),
    "unbundling": (
        "item_lines_vs_diagnosis_norm",
        "atypical_items_for_diagnosis",
        "duplicate_item_lines",
        "item_lines",
    ),
    "duplicate_claim": (
        "duplicate_claims_same_day",
        "near_duplicate_claims_before",
        "identical_item_list_before",
        "near_duplicate_amount_difference",
    ),
    "identity_impersonation": (
        "diagnosis_implausible_for_age_sex",
        "same_day_claims_other_province",
        "share_of_claims_in_this_province",
        "days_service_after_reported_death",
        "claimant_claims_24h",
        "identity_conflicts",
    ),
    "drug_reselling": (
        "drug_supply_vs_days_elapsed",
        "drug_fills_90d",
        "providers_for_same_drug",
        "trace_codes_seen_before",
        "drug_refill_interval_vs_norm_90d",
        "drug_prescribers_90d",
        "trace_codes_seen_at_other_provider",
    ),
    "collusion_ring": (
        "repeat_covisitors_same_day",
        "repeat_covisitors_within_a_day",
        "covisit_partners_within_a_day_180d",
        "provider_group_visit_share_90d",
        "covisit_partners_180d",
        "provider_repeat_covisit_share_90d",
        "provider_claims_48h_vs_own_past",
        "doctor_days_known",
        "covisit_partners",
        "covisit_group_size",
        "provider_shared_patient_density",
        "provider_community_size",
        "same_day_copatients",
        "provider_claims_48h_vs_norm",
        "doctor_claims_48h",
        "doctor_same_diagnosis_share_30d",
    ),
}
