"""Provider family: the hospital, clinic or pharmacy, its recent activity and its profile.

Signals for phantom hospitalisation (bed-days billed per licensed bed, batch admissions, bursts of
new patients), split hospitalisation (the provider's readmission rate against peers) and upcoding
(the provider's amounts and case mix against peers). Recent activity counts only claims submitted
before the claim; profiles are fitted on the training window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.contract import BENEFIT_TYPES, PROVIDER_TYPES
from riskml.features.claim import claim_base, peer_amount
from riskml.features.context import (
    DAY_S,
    Columns,
    Context,
    Groups,
    category_codes,
    combine,
    day_numbers,
    join_positions,
    key_index,
    rows_at,
    take,
    unmatched_nan,
)
from riskml.features.history import LOOKBACK_S
from riskml.features.norms import MIN_PEERS, lookup_backoff, median_table, safe_ratio
from riskml.features.registry import Aggregate, Entity, days, feature, hours
from riskml.features.rolling import (
    EntityHistory,
    own_past_expected,
    prepare_rolling,
    recent_vs_past_mean,
    rolling_feature,
    rolling_specs,
    window_seconds,
)

INPATIENT = BENEFIT_TYPES.index("inpatient")


_PROVIDER_TYPES = pd.Index(list(PROVIDER_TYPES), dtype=object)


def _static(ctx: Context, provider_ids: pd.Series) -> pd.DataFrame:
    """The providers' own columns for each of ``provider_ids`` (NaN for unknown ids), derived
    for the joined rows only (column by column: a row take of the whole table costs more)."""
    prov = ctx.data.providers
    at = join_positions(ctx.key_index("providers", "provider_id"), provider_ids)

    def joined(column: str) -> pd.Series:
        return rows_at(prov[column], at)

    beds = (
        joined("beds").astype("float64").to_numpy()
        if "beds" in prov.columns
        else np.full(len(at) if len(prov) else 0, np.nan)
    )
    ptype = category_codes(joined("provider_type"), _PROVIDER_TYPES)
    return pd.DataFrame(
        {
            "provider_id": provider_ids.to_numpy(dtype=object),
            "ptype": unmatched_nan(ptype.astype("float64"), at),
            "tier": unmatched_nan(joined("tier").astype("float64").to_numpy(), at),
            "private": unmatched_nan(
                (joined("ownership").astype("str") == "private").to_numpy(dtype="float64"), at
            ),
            "beds": unmatched_nan(beds, at),
            "designated_day": unmatched_nan(day_numbers(joined("designated_on")), at),
        }
    )


def dx_weight(base: pd.DataFrame, norms: dict[str, pd.DataFrame]) -> np.ndarray:
    """Relative cost weight of the claim's diagnosis: its benefit x diagnosis median amount over
    the benefit's median (a case-mix index)."""
    dx = lookup_backoff(base, [(["bt", "dx3"], norms["amount_bt_dx"])])
    bt = lookup_backoff(base, [(["bt"], norms["amount_bt"])])
    return safe_ratio(dx, bt)


def readmission_flags(ctx: Context, rows: np.ndarray) -> np.ndarray:
    """1 for inpatient claims at ``rows`` readmitted ≤15 days after a same-provider, same-diagnosis
    discharge known before them, 0 for other inpatient claims, NaN otherwise."""
    s = ctx.claims
    inp = s["bt"].to_numpy() == INPATIENT
    key = combine(
        s["person"].to_numpy(),
        s["provider"].to_numpy(),
        s["dx3_code"].to_numpy(),
        np.where(inp, 0, -1),
    )
    last = Groups(key, s["rank"].to_numpy()).prior_max(s["se_day"].to_numpy())
    gap = s["ss_day"].to_numpy() - last
    flag = np.where(inp, ((gap >= 0) & (gap <= 15)).astype("float64"), np.nan)
    return flag[rows]


def fit(
    ctx: Context,
    window_rows: np.ndarray,
    claim_norms: dict[str, pd.DataFrame],
    window_days: float,
    min_peers: int = MIN_PEERS,
) -> dict[str, pd.DataFrame]:
    """Provider profiles over the training window: volumes, readmission rate, case mix."""
    c = ctx.claims.iloc[window_rows].reset_index(drop=True)
    base = claim_base(ctx, window_rows, with_items=False)
    weeks = max(window_days / 7.0, 1.0)
    frame = pd.DataFrame(
        {
            "provider_id": c["provider_id"].to_numpy(dtype=object),
            "inpatient": (c["bt"].to_numpy() == INPATIENT).astype("float64"),
            "readmit": readmission_flags(ctx, window_rows),
            "weight": np.where(
                c["bt"].to_numpy() == INPATIENT, dx_weight(base, claim_norms), np.nan
            ),
            "ptype": base["provider_type"].to_numpy(dtype=object),
            "tier_key": base["tier_key"].to_numpy(),
        }
    ).dropna(subset=["provider_id"])
    g = frame.groupby("provider_id", sort=True)
    profile = pd.DataFrame(
        {
            "claims_per_30d": g.size() / max(window_days / 30.0, 1.0),
            "admissions_per_week": g["inpatient"].sum() / weeks,
            "readmit_rate": g["readmit"].mean(),
            "n_inpatient": g["inpatient"].sum(),
            "case_mix": g["weight"].mean(),
        }
    ).reset_index()
    peers = frame.drop_duplicates("provider_id")[["provider_id", "ptype", "tier_key"]]
    profile = profile.merge(peers, on="provider_id", how="left")
    hosp = profile.loc[profile["n_inpatient"] >= min_peers]
    return {
        "provider_profile": profile,
        # peers are providers, far fewer than claims: any peer group with a provider counts
        "peer_readmit": median_table(hosp, ["ptype", "tier_key"], "readmit_rate", 1),
        "peer_case_mix": median_table(hosp, ["ptype", "tier_key"], "case_mix", 1),
    }


def prepare(
    ctx: Context, norms: dict[str, pd.DataFrame], claim_norms: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """Intermediate columns of the provider family for the target claims: the provider's record,
    its windows over its claims (volumes, admissions, readmissions, amounts, case mix, new
    patients), the treating doctor's windows, and the fitted norms they are compared with."""
    targets = ctx.target_claims()
    w = Columns(np.arange(len(targets)))
    record = provider_record(ctx, targets)
    w.update(record)
    history = EntityHistory(ctx, "provider")
    for name, values in prepare_rolling(history).items():
        w[name] = values
    w.update(provider_volumes(history, w["provider_claims_365d"], w["provider_days_known"]))
    w.update(provider_admissions(history, targets, w["provider_days_known"]))
    w["bed_days_30d"] = provider_bed_days_30d(history, targets)
    w["readmit_rate_365d"] = provider_readmission_rate_365d(ctx, history)
    w.update(provider_amounts_against_peers(ctx, history, claim_norms))
    w["new_patient_share_30d"] = provider_new_patient_share(history)
    w.update(doctor_windows(ctx))
    w.update(fitted_provider_profile(targets, norms))
    w.update(provider_peer_norms(ctx, targets, record["tier"].to_numpy(), norms))
    return w.frame()


def provider_record(ctx: Context, targets: pd.DataFrame) -> pd.DataFrame:
    """The provider's own record at each target claim: type code, tier, ownership, beds, and
    the days from its designation to the service."""
    record = _static(ctx, targets["provider_id"])
    return pd.DataFrame(
        {
            "ptype": record["ptype"].to_numpy(),
            "tier": record["tier"].to_numpy(),
            "private": record["private"].to_numpy(),
            "beds": record["beds"].to_numpy(),
            "designated_days": targets["ss_day"].to_numpy() - record["designated_day"].to_numpy(),
        }
    )


def _inpatient_key(history: EntityHistory) -> np.ndarray:
    """0 for the history's inpatient claims, -1 (no group) for the others."""
    return np.where(history.claims["bt"].to_numpy() == INPATIENT, 0, -1)


def provider_volumes(
    history: EntityHistory, claims_365d: pd.Series, days_known: pd.Series
) -> dict[str, np.ndarray]:
    """The provider's claims in the previous 30 days and 48 hours, and what the rate of the rest
    of its past year predicts for those windows."""
    seconds_30d, seconds_48h = window_seconds(days(30)), window_seconds(hours(48))
    claims_30d = history.at_targets(history.groups.window_count(history.time, seconds_30d))
    claims_48h = history.at_targets(history.groups.window_count(history.time, seconds_48h))
    year, known = claims_365d.to_numpy(), days_known.to_numpy()
    return {
        "claims_30d": claims_30d,
        "claims_48h": claims_48h,
        "claims_30d_expected": own_past_expected(claims_30d, year, known, 30),
        "claims_48h_expected": own_past_expected(claims_48h, year, known, 2),
    }


def provider_admissions(
    history: EntityHistory, targets: pd.DataFrame, days_known: pd.Series
) -> dict[str, np.ndarray]:
    """Earlier-submitted admissions to the provider on the target's service day and in its
    service week (inpatient targets only), and the admissions of the last 7 days that the rest
    of the provider's past year predicts."""
    inpatient = _inpatient_key(history)
    service_day = np.nan_to_num(history.claims["ss_day"].to_numpy(), nan=-1).astype("int64")
    service_week = np.floor_divide(service_day + 3, 7)  # weeks starting Monday
    target_inpatient = targets["bt"].to_numpy() == INPATIENT

    def admissions_in_same(period: np.ndarray) -> np.ndarray:
        groups = history.grouped_by(period, inpatient)
        counts = history.at_targets(groups.window_count(history.time, LOOKBACK_S))
        return np.where(target_inpatient, counts, np.nan)

    admissions = history.grouped_by(inpatient, name="inpatient")
    admissions_7d = history.at_targets(admissions.window_count(history.time, 7 * DAY_S))
    admissions_365d = history.at_targets(admissions.window_count(history.time, LOOKBACK_S))
    return {
        "same_day_admissions": admissions_in_same(service_day),
        "same_week_admissions": admissions_in_same(service_week),
        "admissions_week_expected": own_past_expected(
            admissions_7d, admissions_365d, days_known.to_numpy(), 7
        ),
    }


def provider_bed_days_30d(history: EntityHistory, targets: pd.DataFrame) -> np.ndarray:
    """Inpatient bed-days (admission to discharge inclusive) on the provider's claims submitted
    in the previous 30 days; 0 for a provider without such claims, NaN without a provider."""
    inpatient = _inpatient_key(history)
    stay = history.claims["se_day"].to_numpy() - history.claims["ss_day"].to_numpy() + 1.0
    bed_days = np.where(inpatient == 0, stay, 0.0)
    summed = history.grouped_by(inpatient, name="inpatient").window_sum(
        bed_days, history.time, 30 * DAY_S
    )
    has_provider = targets["provider"].to_numpy() >= 0
    return np.where(has_provider, np.nan_to_num(history.at_targets(summed)), np.nan)


def provider_readmission_rate_365d(ctx: Context, history: EntityHistory) -> np.ndarray:
    """Share of the provider's inpatient claims of the past year that were 15-day readmissions
    to it with the same diagnosis (:func:`readmission_flags`)."""
    flags = readmission_flags(ctx, history.rows)
    admissions = history.grouped_by(_inpatient_key(history), name="inpatient")
    readmitted = admissions.window_sum(np.nan_to_num(flags), history.time, LOOKBACK_S)
    stays = admissions.window_sum(np.isfinite(flags).astype("float64"), history.time, LOOKBACK_S)
    return history.at_targets(safe_ratio(readmitted, stays))


def _window_mean(groups: Groups, values: np.ndarray, time: np.ndarray, width: int) -> np.ndarray:
    """Mean of the finite ``values`` over the group's earlier rows in the window (exact sums)."""
    valid = np.isfinite(values).astype("float64")
    return safe_ratio(
        groups.window_sum(np.nan_to_num(values), time, width),
        groups.window_sum(valid, time, width),
    )


def provider_amounts_against_peers(
    ctx: Context, history: EntityHistory, claim_norms: dict[str, pd.DataFrame]
) -> dict[str, np.ndarray]:
    """The provider's mean amount-against-peer-median and mean inpatient diagnosis cost weight
    (case mix) over its claims of the previous 90 days, and each one's last 30 days against the
    rest of its past year."""
    base = claim_base(ctx, history.rows, with_items=False, claims=history.claims)
    amount_ratio = safe_ratio(base["amount"].to_numpy(), peer_amount(base, claim_norms))
    inpatient = _inpatient_key(history)
    weight = np.where(inpatient == 0, dx_weight(base, claim_norms), np.nan)
    admissions = history.grouped_by(inpatient, name="inpatient")
    time = history.time
    return {
        "amount_ratio_90d": history.at_targets(
            _window_mean(history.groups, amount_ratio, time, 90 * DAY_S)
        ),
        "amount_ratio_recent_vs_past": history.at_targets(
            recent_vs_past_mean(history.groups, amount_ratio, time, 30)
        ),
        "case_mix_90d": history.at_targets(_window_mean(admissions, weight, time, 90 * DAY_S)),
        "case_mix_recent_vs_past": history.at_targets(
            recent_vs_past_mean(admissions, weight, time, 30)
        ),
    }


def provider_new_patient_share(history: EntityHistory) -> np.ndarray:
    """Share of the provider's claims of the previous 30 days that were a patient's first claim
    there in a year (a patient's claims at the provider longer ago are not read)."""
    person = history.claims["person"].to_numpy()
    seen_in_year = history.grouped_by(person).window_count(history.time, LOOKBACK_S)
    new_patient = (seen_in_year == 0).astype("float64")
    width = 30 * DAY_S
    return history.at_targets(
        safe_ratio(
            history.groups.window_sum(new_patient, history.time, width),
            history.groups.window_count(history.time, width),
        )
    )


_DOCTOR_COLUMNS = ("doctor_same_dx_share",)


def doctor_windows(ctx: Context) -> dict[str, np.ndarray | float]:
    """The treating doctor's declared rolling features and the share of its claims of the
    previous 30 days with the target's diagnosis category (NaN where doctors are not recorded:
    an optional column)."""
    names = [spec.name for spec in rolling_specs("doctor")]
    if not (ctx.claims["doctor"].to_numpy()[ctx.targets] >= 0).any():
        return dict.fromkeys((*_DOCTOR_COLUMNS, *names), np.nan)
    history = EntityHistory(ctx, "doctor")
    width_30d = window_seconds(days(30))
    claims_30d = history.groups.window_count(history.time, width_30d)
    same_diagnosis = history.grouped_by(history.claims["dx3_code"].to_numpy())
    same_30d = same_diagnosis.window_count(history.time, width_30d)
    return {
        "doctor_same_dx_share": history.at_targets(safe_ratio(same_30d, claims_30d)),
        **prepare_rolling(history),
    }


def fitted_provider_profile(
    targets: pd.DataFrame, norms: dict[str, pd.DataFrame]
) -> dict[str, np.ndarray | float]:
    """claims_v1 only: the provider's profile fitted on the training window (monthly claims,
    weekly admissions, readmission rate); NaN when the set fits none."""
    if "provider_profile" not in norms:
        return dict.fromkeys(("claims_norm", "admissions_week_norm", "readmit_rate"), np.nan)
    profile = norms["provider_profile"]
    at = join_positions(
        key_index(profile, "provider_id", "provider_profile", cache=True), targets["provider_id"]
    )
    return {
        "claims_norm": take(profile["claims_per_30d"].to_numpy(dtype="float64"), at),
        "admissions_week_norm": take(profile["admissions_per_week"].to_numpy(dtype="float64"), at),
        "readmit_rate": take(profile["readmit_rate"].to_numpy(dtype="float64"), at),
    }


def provider_peer_norms(
    ctx: Context, targets: pd.DataFrame, tier: np.ndarray, norms: dict[str, pd.DataFrame]
) -> dict[str, np.ndarray]:
    """The fitted medians of the providers of the target provider's type and tier: readmission
    rate and case mix."""
    providers = ctx.data.providers
    at = join_positions(ctx.key_index("providers", "provider_id"), targets["provider_id"])
    peer_key = pd.DataFrame(
        {
            "ptype": pd.Series(take(providers["provider_type"], at), dtype=object)
            .astype("str")
            .to_numpy(dtype=object),
            "tier_key": np.nan_to_num(tier, nan=0.0),
        }
    )
    return {
        "peer_readmit": lookup_backoff(peer_key, [(["ptype", "tier_key"], norms["peer_readmit"])]),
        "peer_case_mix": lookup_backoff(
            peer_key, [(["ptype", "tier_key"], norms["peer_case_mix"])]
        ),
    }


# --- features -------------------------------------------------------------------------------


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.VALUE,
    reason="provider type: {label}",
    unit="code",
    labels=PROVIDER_TYPES,
)
def provider_type_code(w: pd.DataFrame) -> np.ndarray:
    """Kind of provider (hospital, clinic, pharmacy, rehabilitation), as a code."""
    return w["ptype"].to_numpy(dtype="float64")


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.VALUE,
    reason="tier-{value:.0f} hospital",
    unit="tier",
)
def provider_tier(w: pd.DataFrame) -> np.ndarray:
    """Hospital grade 1-3 (missing for other providers): peers are compared within a tier."""
    return w["tier"].to_numpy(dtype="float64")


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.VALUE,
    reason="privately owned provider (flag {value:.0f})",
    unit="flag",
)
def provider_private(w: pd.DataFrame) -> np.ndarray:
    """1 for a privately owned provider; recruited phantom admissions cluster in small private
    hospitals."""
    return w["private"].to_numpy(dtype="float64")


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.VALUE,
    reason="the provider has {value:.0f} licensed beds",
    unit="beds",
)
def provider_beds(w: pd.DataFrame) -> np.ndarray:
    """Licensed beds of the provider (missing when the scheme does not record them)."""
    return w["beds"].to_numpy(dtype="float64")


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.VALUE,
    reason="the provider was designated {value:.0f} days before the service",
    unit="days",
)
def provider_designated_days(w: pd.DataFrame) -> np.ndarray:
    """Days since the provider was designated by the scheme (定点)."""
    return w["designated_days"].to_numpy(dtype="float64")


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.SUM,
    window=days(30),
    by=("benefit_type",),
    reason="the provider billed {value:.1f} inpatient days per licensed bed per day last month",
    unit="ratio",
)
def provider_census_vs_beds(w: pd.DataFrame) -> np.ndarray:
    """Inpatient bed-days on the provider's claims submitted in the previous 30 days divided by
    30 x licensed beds: the average census against capacity. Above 1 means more patients than
    beds (218 inpatients in 80 beds)."""
    return safe_ratio(w["bed_days_30d"].to_numpy(), 30.0 * w["beds"].to_numpy())


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.COUNT,
    window=days(365),
    by=("service_day", "benefit_type"),
    reason="{value:.0f} other patients were admitted to this provider the same day",
    unit="admissions",
)
def provider_same_day_admissions(w: pd.DataFrame) -> np.ndarray:
    """Earlier-submitted admissions to the same provider on the same day (submitted within a
    year before this one): batch admissions of recruited "free check-up" patients."""
    return w["same_day_admissions"].to_numpy(dtype="float64")


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.FITTED_PROFILE,
    window=days(365),
    by=("service_week", "benefit_type"),
    norms=("provider_profile",),
    reason="admissions this week are {value:.1f}x the provider's usual weekly admissions",
    unit="ratio",
)
def provider_week_admissions_vs_norm(w: pd.DataFrame) -> np.ndarray:
    """Earlier-submitted admissions to the provider in the same week against its training-window
    weekly average: admission bursts."""
    return safe_ratio(
        w["same_week_admissions"].to_numpy() + 1.0, w["admissions_week_norm"].to_numpy()
    )


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.FITTED_PROFILE,
    window=days(30),
    norms=("provider_profile",),
    reason="the provider's claims in the last 30 days are {value:.1f}x its usual volume",
    unit="ratio",
)
def provider_volume_vs_norm(w: pd.DataFrame) -> np.ndarray:
    """Claims submitted by the provider in the previous 30 days against its training-window
    monthly average: sudden growth."""
    return safe_ratio(w["claims_30d"].to_numpy(), w["claims_norm"].to_numpy())


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.MEAN,
    window=days(90),
    norms=("peer_amount",),
    reason="the provider's recent claims average {value:.1f}x their peer medians",
    unit="ratio",
)
def provider_amount_vs_peers_90d(w: pd.DataFrame) -> np.ndarray:
    """Mean of amount-against-peer-median over the provider's claims of the previous 90 days:
    a provider that systematically bills above its peers."""
    return w["amount_ratio_90d"].to_numpy(dtype="float64")


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.RATIO_TO_PEER_NORM,
    window=days(90),
    by=("benefit_type",),
    norms=("case_mix_weight", "peer_case_mix"),
    reason="the provider's recent case mix is {value:.2f}x that of its peer hospitals",
    unit="ratio",
)
def provider_case_mix_vs_peers(w: pd.DataFrame) -> np.ndarray:
    """Mean diagnosis cost weight of the provider's inpatient claims in the previous 90 days
    against the median of providers of the same type and tier: case-mix drift from upcoding
    (高套分组)."""
    return safe_ratio(w["case_mix_90d"].to_numpy(), w["peer_case_mix"].to_numpy())


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.FITTED_PROFILE,
    norms=("provider_profile", "peer_readmission_rate"),
    reason="the provider's 15-day readmission rate is {value:.1f}x that of its peers",
    unit="ratio",
)
def provider_readmission_vs_peers(w: pd.DataFrame) -> np.ndarray:
    """The provider's training-window share of stays readmitted within 15 days to it with the same
    diagnosis, against peers of its type and tier: systematic split hospitalisation."""
    return safe_ratio(w["readmit_rate"].to_numpy(), w["peer_readmit"].to_numpy())


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.SHARE,
    window=days(30),
    reason="{value:.0%} of the provider's claims last month were from first-time patients",
    unit="share",
)
def provider_new_patient_share_30d(w: pd.DataFrame) -> np.ndarray:
    """Share of the provider's claims in the previous 30 days that were a patient's first claim
    there in a year: a wave of recruited patients."""
    return w["new_patient_share_30d"].to_numpy(dtype="float64")


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.FITTED_PROFILE,
    window=hours(48),
    norms=("provider_profile",),
    reason="the provider's claims in the last 48 hours are {value:.1f}x its usual rate",
    unit="ratio",
)
def provider_claims_48h_vs_norm(w: pd.DataFrame) -> np.ndarray:
    """Claims submitted by the provider in the previous 48 hours against its training-window
    rate for two days: a burst of recruited patients settled together."""
    return safe_ratio(w["claims_48h"].to_numpy() + 1.0, w["claims_norm"].to_numpy() / 15.0)


@rolling_feature(
    "provider",
    entity=Entity.DOCTOR,
    aggregate=Aggregate.COUNT,
    window=hours(48),
    reason="the treating doctor submitted {value:.0f} other claims in the last 48 hours",
    unit="claims",
)
def doctor_claims_48h() -> None:
    """Claims of the same treating or prescribing doctor in the previous 48 hours (missing when
    the scheme does not record doctors): prescription velocity, ring doctors."""


@feature(
    "provider",
    entity=Entity.DOCTOR,
    aggregate=Aggregate.SHARE,
    window=days(30),
    by=("diagnosis",),
    reason="{value:.0%} of the doctor's recent claims carry this same diagnosis",
    unit="share",
)
def doctor_same_diagnosis_share_30d(w: pd.DataFrame) -> np.ndarray:
    """Share of the doctor's claims of the previous 30 days with this claim's diagnosis
    category: templated diagnoses written for recruited patients."""
    return w["doctor_same_dx_share"].to_numpy(dtype="float64")


# --- claims_v2: the provider and doctor against their own rolling past -----------------------


@rolling_feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.COUNT,
    window=days(365),
    reason="the provider has {value:.0f} earlier claims in the past 12 months",
    unit="claims",
)
def provider_claims_365d() -> None:
    """Claims of the provider submitted in the year before this one: how much is known about it
    (0 for a provider never seen before, whose other provider features then rest on very
    little)."""


@rolling_feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.FIRST,
    window=days(365),
    reason="the provider's first claim in the past 12 months was {value:.0f} days ago",
    unit="days",
)
def provider_days_known() -> None:
    """Days since the provider's first claim within the past year (0 when it has none, 365 for
    one known a year or more): a newly active provider."""


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.RATIO_TO_OWN_PAST,
    window=days(30),
    reason="the provider's claims in the last 30 days are {value:.1f}x its own earlier rate",
    unit="ratio",
)
def provider_volume_vs_own_past(w: pd.DataFrame) -> np.ndarray:
    """Claims of the provider in the previous 30 days against what its rate over the rest of the
    past year predicts (plus one on both sides): sudden growth, measured against the provider
    itself as it was, not against a profile fitted at training."""
    return safe_ratio(w["claims_30d"].to_numpy() + 1.0, w["claims_30d_expected"].to_numpy() + 1.0)


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.RATIO_TO_OWN_PAST,
    window=hours(48),
    reason="the provider's claims in the last 48 hours are {value:.1f}x its own earlier rate",
    unit="ratio",
)
def provider_claims_48h_vs_own_past(w: pd.DataFrame) -> np.ndarray:
    """Claims of the provider in the previous 48 hours against its rate over the rest of the past
    year (plus one on both sides): a burst of recruited patients settled together."""
    return safe_ratio(w["claims_48h"].to_numpy() + 1.0, w["claims_48h_expected"].to_numpy() + 1.0)


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.RATIO_TO_OWN_PAST,
    window=days(7),
    by=("benefit_type",),
    reason="admissions this week are {value:.1f}x the provider's own earlier weekly rate",
    unit="ratio",
)
def provider_week_admissions_vs_own_past(w: pd.DataFrame) -> np.ndarray:
    """Earlier-submitted admissions to the provider in the claim's service week against the
    provider's weekly admissions over the rest of the past year (plus one on both sides):
    admission bursts."""
    return safe_ratio(
        w["same_week_admissions"].to_numpy() + 1.0,
        w["admissions_week_expected"].to_numpy() + 1.0,
    )


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.RATIO_TO_PEER_NORM,
    window=days(365),
    by=("benefit_type",),
    norms=("peer_readmission_rate",),
    reason="the provider's 15-day readmission rate over the past year is {value:.1f}x its peers'",
    unit="ratio",
)
def provider_readmission_vs_peers_365d(w: pd.DataFrame) -> np.ndarray:
    """Share of the provider's stays in the past year readmitted within 15 days to it with the
    same diagnosis, against the median of providers of its type and tier: systematic split
    hospitalisation, rolling (a provider that starts splitting stays is seen as it does)."""
    return safe_ratio(w["readmit_rate_365d"].to_numpy(), w["peer_readmit"].to_numpy())


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.RATIO_TO_OWN_PAST,
    window=days(30),
    norms=("peer_amount",),
    reason="the provider's claims of the last 30 days average {value:.2f}x its own earlier "
    "amount against peers",
    unit="ratio",
)
def provider_amount_vs_own_past(w: pd.DataFrame) -> np.ndarray:
    """Mean amount-against-peer-median of the provider's claims in the previous 30 days against
    the same mean over the rest of its past year: a provider whose billing changed."""
    return w["amount_ratio_recent_vs_past"].to_numpy(dtype="float64")


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.RATIO_TO_OWN_PAST,
    window=days(30),
    by=("benefit_type",),
    norms=("case_mix_weight",),
    reason="the provider's case mix of the last 30 days is {value:.2f}x its own earlier case mix",
    unit="ratio",
)
def provider_case_mix_vs_own_past(w: pd.DataFrame) -> np.ndarray:
    """Mean diagnosis cost weight of the provider's stays in the previous 30 days against the
    same mean over the rest of its past year: upcoding that starts."""
    return w["case_mix_recent_vs_past"].to_numpy(dtype="float64")


@rolling_feature(
    "provider",
    entity=Entity.DOCTOR,
    aggregate=Aggregate.COUNT,
    window=days(365),
    reason="the treating doctor has {value:.0f} earlier claims in the past 12 months",
    unit="claims",
)
def doctor_claims_365d() -> None:
    """Claims of the treating doctor in the year before this one (missing when the scheme does
    not record doctors): how much is known about the doctor."""


@rolling_feature(
    "provider",
    entity=Entity.DOCTOR,
    aggregate=Aggregate.FIRST,
    window=days(365),
    reason="the treating doctor's first claim in the past 12 months was {value:.0f} days ago",
    unit="days",
)
def doctor_days_known() -> None:
    """Days since the treating doctor's first claim within the past year (0 for a doctor never
    seen before; missing when doctors are not recorded)."""
