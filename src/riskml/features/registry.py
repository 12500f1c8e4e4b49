"""The feature registry: every feature's name, family, declaration, meaning, unit and reason.

A feature is a small named function of its family's prepared frame (Hamilton style): the function
name is the feature name, its docstring the business meaning an investigator reads, and its reason
template turns a value into the sentence shown next to a score. Feature sets
(:mod:`riskml.features.sets`) list which registered features a model uses.

Each feature also *declares* what it aggregates over (Feast's feature views, Chronon's GroupBy):
the :class:`Entity` whose history it reads (and the finer key ``by`` inside that entity), the
:class:`Window` of that history, the :class:`Aggregate` taken over it, and the fitted population
:data:`NORMS` it reads. The declarations are what the entity-state and Spark engines compile (an
entity's state is keyed by its entity and ``by`` key, and holds its windows); the batch engine
computes the same values from the family's ``prepare``. ``python -m riskml.features.catalogue``
prints them as the feature catalogue.
"""

from __future__ import annotations

import functools
import math
import string
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import numpy as np
import pandas as pd

FAMILIES = ("claim", "claimant", "provider", "employer", "network")

FeatureFn = Callable[[pd.DataFrame], "pd.Series | np.ndarray"]


class Entity(StrEnum):
    """Whose history a feature reads: the partition key of its state and of a Spark job."""

    CLAIM = "claim"  # the claim itself (and the static records it names): no history
    PERSON = "person"  # the claimant
    PROVIDER = "provider"  # hospital, clinic or pharmacy
    DOCTOR = "doctor"  # the treating or prescribing doctor
    EMPLOYER = "employer"
    TRACE_CODE = "trace_code"  # one box of a drug, by its traceability code (药品追溯码)
    COVISIT_PAIR = "covisit_pair"  # two persons seen by one provider on the same day


class Aggregate(StrEnum):
    """What a feature takes over its entity's rows in its window."""

    VALUE = "value"  # a value of the claim or of its entity's record, no aggregation
    COUNT = "count"  # earlier rows (claims, lines, months) in the window
    SUM = "sum"
    MEAN = "mean"
    SHARE = "share"  # the mean of a 0/1 flag, or a part over its whole
    RATIO = "ratio"  # one quantity over another of the same entity
    DISTINCT = "distinct"  # distinct values of a key among the rows
    MAX = "max"
    MIN = "min"
    LATEST = "latest"  # from the latest earlier row (days since it, its difference)
    FIRST = "first"  # from the earliest row in the window (days known, tenure)
    RATIO_TO_PEER_NORM = "ratio_to_peer_norm"  # against a fitted population median
    RATIO_TO_OWN_PAST = "ratio_to_own_past"  # recent window against the rest of the year
    FITTED_PROFILE = "fitted_profile"  # read from an entity profile fitted at training (v1)


WindowUnit = Literal["hours", "days", "months"]


@dataclass(frozen=True, order=True)
class Window:
    """The span of history before the claim a feature reads: ``length`` hours or days of
    submission time, or ``length`` known calendar months (contributions are monthly)."""

    length: int
    unit: WindowUnit = "days"

    @property
    def seconds(self) -> int | None:
        """The window in seconds (None for calendar months, which vary in length)."""
        per = {"hours": 3_600, "days": 86_400}.get(self.unit)
        return None if per is None else self.length * per

    @property
    def days(self) -> float | None:
        """The window in days (None for calendar months)."""
        return None if self.seconds is None else self.seconds / 86_400

    def __str__(self) -> str:
        return f"{self.length}{self.unit[0]}"


def days(n: int) -> Window:
    """A window of ``n`` days of history before the claim."""
    return Window(n, "days")


def hours(n: int) -> Window:
    """A window of ``n`` hours of history before the claim."""
    return Window(n, "hours")


def months(n: int) -> Window:
    """A window of the ``n`` known calendar months before the claim."""
    return Window(n, "months")


@dataclass(frozen=True)
class Norm:
    """A fitted norm a feature reads: the family whose ``fit`` learns it, its tables (a backoff
    chain, finest first) and what it is. ``per_entity`` norms describe one entity (a provider's
    training-window profile, the co-visit graphs): frozen knowledge, left out of claims_v2."""

    family: str
    tables: tuple[str, ...]
    meaning: str
    per_entity: bool = False


#: Every fitted norm a feature may declare, by name.
NORMS: dict[str, Norm] = {
    "peer_amount": Norm(
        "claim",
        ("amount_bt_dx_tier_prov", "amount_bt_dx_tier", "amount_bt_dx", "amount_bt"),
        "median amount of claims of the same benefit, diagnosis category, tier and province",
    ),
    "diagnosis_stay": Norm("claim", ("los_dx", "los_all"), "median stay of the diagnosis"),
    "diagnosis_charges_per_day": Norm(
        "claim", ("charges_day_dx", "charges_day_all"), "median amount per inpatient day"
    ),
    "diagnosis_item_lines": Norm(
        "claim", ("lines_bt_dx", "lines_bt"), "median line items of the benefit and diagnosis"
    ),
    "item_diagnosis_profile": Norm(
        "claim", ("item_dx",), "share of each diagnosis category's claims billing each item"
    ),
    "case_mix_weight": Norm(
        "claim",
        ("amount_bt_dx", "amount_bt"),
        "diagnosis cost weight: the benefit x diagnosis median amount over the benefit's",
    ),
    "drug_standard_supply": Norm(
        "claimant", ("drug_quantity",), "median quantity of a drug per claim (30 days' supply)"
    ),
    "drug_refill_interval": Norm(
        "claimant",
        ("drug_refill_days", "drug_refill_days_all"),
        "median days between a person's consecutive fills of a drug (within 90 days)",
    ),
    "regional_contribution_base": Norm(
        "employer", ("base_region", "base_province", "base_all"), "median contribution base"
    ),
    "peer_readmission_rate": Norm(
        "provider", ("peer_readmit",), "median 15-day readmission rate of a type and tier"
    ),
    "peer_case_mix": Norm(
        "provider", ("peer_case_mix",), "median case mix of providers of a type and tier"
    ),
    "provider_profile": Norm(
        "provider",
        ("provider_profile",),
        "one provider's training-window volumes and readmission rate",
        per_entity=True,
    ),
    "person_graph": Norm(
        "network",
        ("person_graph", "person_graph_key"),
        "the training window's graph of persons who co-visit",
        per_entity=True,
    ),
    "provider_graph": Norm(
        "network",
        ("provider_graph",),
        "the training window's graph of providers sharing patients",
        per_entity=True,
    ),
}


@dataclass(frozen=True)
class FeatureSpec:
    """One registered feature.

    ``reason`` is a :meth:`str.format` template with ``{value}`` (and ``{label}`` for coded
    features whose ``labels`` map a code to a word). ``na_reason`` is used when the value is
    missing ("not applicable").
    """

    name: str
    family: str
    description: str
    reason: str
    unit: str
    fn: FeatureFn
    entity: Entity
    window: Window | None
    aggregate: Aggregate
    by: tuple[str, ...] = ()
    norms: tuple[str, ...] = ()
    labels: tuple[str, ...] | None = None
    na_reason: str = "not applicable to this claim"

    @property
    def key(self) -> tuple[str, ...]:
        """The full key of the feature's state: its entity, then the finer ``by`` parts."""
        return (str(self.entity), *self.by)


FEATURES: dict[str, FeatureSpec] = {}


def feature(
    family: str,
    *,
    entity: Entity | str,
    aggregate: Aggregate | str,
    reason: str,
    unit: str,
    window: Window | None = None,
    by: tuple[str, ...] = (),
    norms: tuple[str, ...] = (),
    labels: tuple[str, ...] | None = None,
) -> Callable[[FeatureFn], FeatureFn]:
    """Register the decorated function as a feature of ``family``; its docstring is its meaning.

    ``entity``, ``by``, ``window`` and ``aggregate`` declare what it aggregates over; ``norms``
    names the fitted :data:`NORMS` it reads.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown feature family {family!r}; expected one of {FAMILIES}")
    entity, aggregate = Entity(entity), Aggregate(aggregate)
    unknown = [n for n in norms if n not in NORMS]
    if unknown:
        raise ValueError(f"unknown norms {unknown}; expected names of {sorted(NORMS)}")

    def register(fn: FeatureFn) -> FeatureFn:
        name = fn.__name__
        if name in FEATURES:
            raise ValueError(f"feature {name!r} is registered twice")
        doc = " ".join((fn.__doc__ or "").split())
        if not doc:
            raise ValueError(f"feature {name!r} needs a docstring: its business meaning")
        FEATURES[name] = FeatureSpec(
            name=name,
            family=family,
            description=doc,
            reason=reason,
            unit=unit,
            fn=fn,
            entity=entity,
            window=window,
            aggregate=aggregate,
            by=tuple(by),
            norms=tuple(norms),
            labels=labels,
        )
        return fn

    return register


# --- reasons: what an investigator reads ------------------------------------------------------

#: Templates that say a count in the right number: ``{s}`` is "" after a 1 and "s" otherwise,
#: ``{are}``/``{were}``/``{have}`` agree with it. They replace the declaration's template of the
#: feature (kept for the features not listed, whose text does not depend on a count).
REASON_TEMPLATES: dict[str, str] = {
    "length_of_stay_days": "stayed {value:.0f} day{s} in hospital",
    "items_per_inpatient_day": "{value:.1f} billed line items per inpatient day",
    "item_lines": "{value:.0f} billed line item{s}",
    "duplicate_item_lines": "{value:.0f} line item{s} billed twice on this claim",
    "submission_lag_days": "submitted {value:.0f} day{s} after the service ended",
    "days_enrolment_to_service": "service began {value:.0f} day{s} after the claimant first "
    "enrolled",
    "diagnosis_implausible_for_age_sex": "the diagnosis is implausible for the claimant's sex or "
    "age",
    "trace_codes_seen_before": "{value:.0f} drug trace code{s} on this claim {were} already billed "
    "in the past year",
    "atypical_items_for_diagnosis": "{value:.0f} billed item{s} {are} rarely billed for this "
    "diagnosis",
    "items_fit_another_diagnosis": "the billed items fit another diagnosis better (by "
    "{value:.2f} per item)",
    "days_service_after_reported_death": "service {value:.0f} day{s} after the claimant's "
    "reported death",
    "claimant_claims_30d": "{value:.0f} earlier claim{s} by this claimant in 30 days",
    "claimant_claims_365d": "{value:.0f} earlier claim{s} by this claimant in 12 months",
    "claimant_claims_24h": "{value:.0f} other claim{s} by this claimant in the 24 hours before",
    "days_since_previous_claim": "{value:.0f} day{s} since the claimant's previous claim",
    "days_since_medical_claim": "no medical activity by the claimant for {value:.0f} day{s}",
    "distinct_providers_before": "the claimant used {value:.0f} different provider{s} in the "
    "previous 12 months",
    "readmission_days_same_provider": "readmitted to the same hospital {value:.0f} day{s} after "
    "discharge, same diagnosis",
    "readmission_days_same_diagnosis": "readmitted {value:.0f} day{s} after a discharge for the "
    "same diagnosis elsewhere",
    "inpatient_stays_365d": "{value:.0f} earlier hospital stay{s} in 12 months",
    "same_day_claims_other_province": "{value:.0f} claim{s} for the same service day in another "
    "province",
    "benefit_month_claimed_other_region": "the same benefit month was already claimed in "
    "{value:.0f} other region{s}",
    "benefit_month_claimed_before": "the same benefit month was already claimed {value:.0f} "
    "time{s} in this region",
    "duplicate_claims_same_day": "{value:.0f} earlier claim{s} with the same provider, benefit "
    "and service day",
    "days_from_previous_same_provider": "the previous claim at this provider was {value:.0f} "
    "day{s} apart",
    "same_benefit_claims_before": "the claimant made {value:.0f} claim{s} of this benefit type in "
    "the previous 12 months",
    "outside_insured_region": "claimed outside the claimant's insured region",
    "contributions_during_unemployment": "{value:.0f} month{s} of contributions {were} recorded "
    "during the unemployment spell",
    "drug_fills_90d": "{value:.0f} fill{s} of the same drug in the previous 90 days",
    "providers_for_same_drug": "the same drug came from {value:.0f} different provider{s} in 90 "
    "days",
    "pension_months_without_life_trace": "{value:.0f} pension month{s} paid with no other sign "
    "of life from the claimant",
    "benefit_months_with_other_employer": "contributions from another employer {were} recorded "
    "for {value:.0f} of the benefit's months",
    "drug_prescribers_90d": "drugs from {value:.0f} different prescriber{s} in 90 days",
    "trace_codes_seen_at_other_provider": "{value:.0f} drug trace code{s} on this claim {were} "
    "already billed by another provider",
    "entitlement_conflicts": "{value:.0f} record{s} known at submission {were} at odds with "
    "the entitlement (a reported death, the month paid elsewhere, another employer)",
    "benefit_claims_other_regions_before": "the claimant drew this benefit in {value:.0f} "
    "claim{s} in other regions in 12 months",
    "near_duplicate_claims_before": "{value:.0f} recent claim{s} at this provider within a day "
    "and 5% of this amount",
    "identical_item_list_before": "{value:.0f} claim{s} at this provider in 12 months billed "
    "exactly the same items",
    "claims_same_provider_365d": "{value:.0f} earlier claim{s} at this same provider in 12 months",
    "tenure_with_employer_days": "the claimant had contributed with this employer for only "
    "{value:.0f} day{s}",
    "contribution_months_12m": "{value:.0f} contribution month{s} in the year before the service",
    "employer_new_members_3m": "the employer took on {value:.0f} new member{s} in 3 months",
    "employer_members": "the employer has {value:.0f} contributing member{s}",
    "employer_age_days": "the employer was registered {value:.0f} day{s} before",
    "covisit_partners": "the claimant repeatedly visited providers on the same days as "
    "{value:.0f} other patient{s}",
    "covisit_group_size": "the claimant belongs to a co-visiting group of {value:.0f} person{s}",
    "provider_community_size": "the provider is in a community of {value:.0f} provider{s} "
    "sharing patients",
    "same_day_copatients": "{value:.0f} other patient{s} {were} seen by this provider on the "
    "same day",
    "provider_private": "privately owned provider",
    "provider_beds": "the provider has {value:.0f} licensed bed{s}",
    "provider_designated_days": "the provider was designated {value:.0f} day{s} before the service",
    "provider_same_day_admissions": "{value:.0f} other patient{s} {were} admitted to this "
    "provider the same day",
    "doctor_claims_48h": "the treating doctor submitted {value:.0f} other claim{s} in the last "
    "48 hours",
    "repeat_covisitors_same_day": "{value:.0f} patient{s} seen here the same day {were} here "
    "with the claimant on another day in the past 6 months",
    "covisit_partners_180d": "the claimant repeatedly visited this provider on the same days as "
    "{value:.0f} other patient{s}",
    "provider_claims_365d": "the provider has {value:.0f} earlier claim{s} in the past 12 months",
    "doctor_claims_365d": "the treating doctor has {value:.0f} earlier claim{s} in the past 12 "
    "months",
    "provider_days_known": "the provider's first claim in the past 12 months was {value:.0f} "
    "day{s} ago",
    "doctor_days_known": "the treating doctor's first claim in the past 12 months was "
    "{value:.0f} day{s} ago",
    "repeat_covisitors_within_a_day": "{value:.0f} patient{s} seen here within a day of the "
    "claimant {have} come here with them on another occasion in the past 6 months",
    "covisit_partners_within_a_day_180d": "the claimant repeatedly came to this provider within "
    "a day of {value:.0f} other patient{s}",
    "identity_conflicts": "{value:.0f} record{s} known at submission {were} at odds with the card "
    "holder being the patient (a reported death, their sex or age, a claim elsewhere that day)",
}

#: Features that mean something only for some benefit types: on a claim of another type they
#: are never a reason, whatever their value (the provider's inpatient days per bed say nothing
#: about an outpatient visit there).
INPATIENT_ONLY = (
    "length_of_stay_days",
    "los_vs_diagnosis_norm",
    "charges_per_day_vs_norm",
    "items_per_inpatient_day",
    "bed_share",
    "readmission_days_same_provider",
    "readmission_days_same_diagnosis",
    "provider_census_vs_beds",
    "provider_same_day_admissions",
    "provider_week_admissions_vs_norm",
    "provider_readmission_vs_peers",
    "provider_case_mix_vs_peers",
    "provider_week_admissions_vs_own_past",
    "provider_readmission_vs_peers_365d",
    "provider_case_mix_vs_own_past",
)
REASON_BENEFITS: dict[str, tuple[str, ...]] = {
    **{name: ("inpatient",) for name in INPATIENT_ONLY},
    "drug_supply_vs_days_elapsed": ("pharmacy", "outpatient"),
    "drug_fills_90d": ("pharmacy", "outpatient"),
    "providers_for_same_drug": ("pharmacy", "outpatient"),
    "benefit_month_claimed_other_region": ("pension", "unemployment"),
    "benefit_month_claimed_before": ("pension", "unemployment"),
    "contributions_during_unemployment": ("unemployment",),
    "benefit_months_with_other_employer": ("unemployment",),
    "pension_months_without_life_trace": ("pension",),
    "drug_refill_interval_vs_norm_90d": ("pharmacy", "outpatient"),
    "drug_prescribers_90d": ("pharmacy", "outpatient"),
}

#: Features whose value at or below this says nothing: a group or community of 1 is no group.
REASON_ABOVE: dict[str, float] = {"covisit_group_size": 1.0, "provider_community_size": 1.0}

#: Units whose value, as shown, says nothing when it reads 0: "0 line items billed twice",
#: "0.00 per item", "0.0x its usual volume" are not reasons. (Days, money, codes and tiers
#: are: "0 days since the previous claim" is a same-day claim.)
ZERO_SAYS_NOTHING = frozenset(
    {
        "lines",
        "lines/day",
        "claims",
        "claims/member",
        "persons",
        "patients",
        "providers",
        "items",
        "fills",
        "months",
        "stays",
        "admissions",
        "beds",
        "count",
        "ratio",
        "share",
        "share/item",
    }
)
_FORMATTER = string.Formatter()


def reason_template(feature: str) -> str:
    """The template of ``feature``'s reason (count-aware where the count is in the text)."""
    return REASON_TEMPLATES.get(feature, _spec(feature).reason)


def _spec(feature: str) -> FeatureSpec:
    try:
        return FEATURES[feature]
    except KeyError:
        raise KeyError(f"unknown feature {feature!r}") from None


@functools.cache
def _value_format(template: str) -> str | None:
    """The format spec of ``{value...}`` in ``template`` (None when the value is not shown)."""
    for _, field_name, spec, _ in _FORMATTER.parse(template):
        if field_name == "value":
            return spec or ""
    return None


def shown_value(feature: str, value: float) -> str | None:
    """``value`` as the reason of ``feature`` shows it ("1,204", "3.2", "45%"); None if the text
    does not show it."""
    spec = _value_format(reason_template(feature))
    return None if spec is None else format(float(value), spec)


@functools.cache
def _reads_zero_below(feature: str) -> float:
    """The magnitude under which ``feature``'s value reads 0 in its text (0.5 for ``.0f``,
    0.005 for ``.0%``; 0 when the value is not shown)."""
    spec = _value_format(reason_template(feature))
    if not spec:
        return 0.0
    digits = spec.rstrip("f%eg").split(".")[-1] if "." in spec else "6"
    places = int(digits) if digits.isdigit() else 6
    scale = 100.0 if spec.endswith("%") else 1.0
    return 0.5 * 10.0**-places / scale


def reason_mask(
    feature: str, values: np.ndarray, benefit_types: np.ndarray | None = None
) -> np.ndarray:
    """Which rows' risk-raising contribution of ``feature`` is worth reading (vectorised): the
    value is known; the feature means something for the row's benefit type (``benefit_types``,
    names, None where unknown); a flag is set; a count, ratio or share does not read 0 once
    rounded for people."""
    spec = _spec(feature)
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    allowed = REASON_BENEFITS.get(feature)
    if allowed is not None and benefit_types is not None:
        types = np.asarray(benefit_types, dtype=object)
        ok &= pd.isna(types) | np.isin(types, allowed)
    if spec.unit == "flag":
        ok &= np.round(np.nan_to_num(v)) == 1
    elif spec.unit in ZERO_SAYS_NOTHING:
        ok &= np.abs(np.nan_to_num(v)) > _reads_zero_below(feature)
    if feature in REASON_ABOVE:
        ok &= np.nan_to_num(v) > REASON_ABOVE[feature] + _reads_zero_below(feature)
    return np.asarray(ok, dtype=bool)


def is_reason(feature: str, value: float, benefit_type: str | None = None) -> bool:
    """:func:`reason_mask` for one value."""
    types = None if benefit_type is None else np.array([benefit_type], dtype=object)
    return bool(reason_mask(feature, np.array([value], dtype=np.float64), types)[0])


def reason_text(feature: str, value: float) -> str:
    """The plain-language sentence an investigator reads for ``feature`` at ``value``: numbers
    rounded as the template says, nouns and verbs in the number the count asks for."""
    spec = _spec(feature)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{spec.description.split('.')[0].lower()}: {spec.na_reason}"
    v = float(value)
    label = ""
    if spec.labels is not None:
        code = round(v)
        label = spec.labels[code] if 0 <= code < len(spec.labels) else f"code {code}"
    template = reason_template(feature)
    shown = shown_value(feature, v)
    one = shown is not None and shown.replace(",", "") == "1"
    return template.format(
        value=v,
        label=label,
        s="" if one else "s",
        are="is" if one else "are",
        were="was" if one else "were",
        have="has" if one else "have",
    )
