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
from riskml.features.rolling import how_much_is_known, own_past_expected, recent_vs_past_mean

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
    """Intermediate columns of the provider family for the target claims."""
    tc = ctx.target_claims()
    n = len(tc)
    has = tc["provider"].to_numpy() >= 0
    st = _static(ctx, tc["provider_id"])
    w = Columns(np.arange(n))
    w["ptype"] = st["ptype"].to_numpy()
    w["tier"] = st["tier"].to_numpy()
    w["private"] = st["private"].to_numpy()
    w["beds"] = st["beds"].to_numpy()
    w["designated_days"] = tc["ss_day"].to_numpy() - st["designated_day"].to_numpy()

    rows, s = ctx.entity_claims("provider")
    local = pd.Series(np.arange(len(rows)), index=rows)
    t = local.reindex(ctx.targets).to_numpy()
    t_ok = ~np.isnan(t)
    ti = np.nan_to_num(t, nan=0).astype("int64")

    def at(values: np.ndarray) -> np.ndarray:
        if len(values) == 0:
            return np.full(n, np.nan)
        return np.where(t_ok, np.asarray(values, dtype="float64")[ti], np.nan)

    rank = s["rank"].to_numpy()
    sub_s = s["sub_s"].to_numpy()
    prov = s["provider"].to_numpy()
    inp = np.where(s["bt"].to_numpy() == INPATIENT, 0, -1)
    los = np.where(inp == 0, s["se_day"].to_numpy() - s["ss_day"].to_numpy() + 1.0, 0.0)
    g_inp = Groups(combine(prov, inp), rank, sub_s)
    bed_days = g_inp.window_sum(los, sub_s, 30 * DAY_S)
    w["bed_days_30d"] = np.where(has, np.nan_to_num(at(bed_days)), np.nan)
    day = np.nan_to_num(s["ss_day"].to_numpy(), nan=-1).astype("int64")
    w["same_day_admissions"] = np.where(
        tc["bt"].to_numpy() == INPATIENT,
        at(Groups(combine(prov, day, inp), rank, sub_s).window_count(sub_s, LOOKBACK_S)),
        np.nan,
    )
    week = np.floor_divide(day + 3, 7)  # weeks starting Monday
    w["same_week_admissions"] = np.where(
        tc["bt"].to_numpy() == INPATIENT,
        at(Groups(combine(prov, week, inp), rank, sub_s).window_count(sub_s, LOOKBACK_S)),
        np.nan,
    )
    g = Groups(prov, rank, sub_s)
    w["claims_30d"] = at(g.window_count(sub_s, 30 * DAY_S))
    w["claims_48h"] = at(g.window_count(sub_s, 2 * DAY_S))
    known = how_much_is_known(g, sub_s)
    w["claims_365d"] = np.where(has, np.nan_to_num(at(known["claims"])), np.nan)
    w["days_known"] = np.where(has, np.nan_to_num(at(known["days"])), np.nan)
    w["claims_30d_expected"] = own_past_expected(
        w["claims_30d"].to_numpy(), w["claims_365d"].to_numpy(), w["days_known"].to_numpy(), 30
    )
    w["claims_48h_expected"] = own_past_expected(
        w["claims_48h"].to_numpy(), w["claims_365d"].to_numpy(), w["days_known"].to_numpy(), 2
    )
    adm_7d = at(g_inp.window_count(sub_s, 7 * DAY_S))
    adm_365d = at(g_inp.window_count(sub_s, LOOKBACK_S))
    w["admissions_week_expected"] = own_past_expected(
        adm_7d, adm_365d, w["days_known"].to_numpy(), 7
    )
    readmit = readmission_flags(ctx, rows)
    w["readmit_rate_365d"] = at(
        safe_ratio(
            g_inp.window_sum(np.nan_to_num(readmit), sub_s, LOOKBACK_S),
            g_inp.window_sum(np.isfinite(readmit).astype("float64"), sub_s, LOOKBACK_S),
        )
    )
    base = claim_base(ctx, rows, with_items=False, claims=s)
    ratio = safe_ratio(base["amount"].to_numpy(), peer_amount(base, claim_norms))
    valid = np.isfinite(ratio).astype("float64")
    w["amount_ratio_90d"] = at(
        safe_ratio(
            g.window_sum(np.nan_to_num(ratio), sub_s, 90 * DAY_S),
            g.window_sum(valid, sub_s, 90 * DAY_S),
        )
    )
    w["amount_ratio_recent_vs_past"] = at(recent_vs_past_mean(g, ratio, sub_s, 30))
    weight = np.where(inp == 0, dx_weight(base, claim_norms), np.nan)
    wvalid = np.isfinite(weight).astype("float64")
    w["case_mix_90d"] = at(
        safe_ratio(
            g_inp.window_sum(np.nan_to_num(weight), sub_s, 90 * DAY_S),
            g_inp.window_sum(wvalid, sub_s, 90 * DAY_S),
        )
    )
    w["case_mix_recent_vs_past"] = at(recent_vs_past_mean(g_inp, weight, sub_s, 30))
    # first visit in a year: a patient's claims at the provider longer ago are not read
    seen = Groups(combine(s["person"].to_numpy(), prov), rank, sub_s).window_count(
        sub_s, LOOKBACK_S
    )
    new_patient = seen == 0
    w["new_patient_share_30d"] = at(
        safe_ratio(
            g.window_sum(new_patient.astype("float64"), sub_s, 30 * DAY_S),
            g.window_count(sub_s, 30 * DAY_S),
        )
    )

    # the treating doctor (optional column): volume and templated diagnoses
    doc = ctx.claims["doctor"].to_numpy()
    if (doc[ctx.targets] >= 0).any():
        rows_d, d = ctx.entity_claims("doctor")
        local_d = pd.Series(np.arange(len(rows_d)), index=rows_d)
        td = local_d.reindex(ctx.targets).to_numpy()
        ok_d = ~np.isnan(td)
        tdi = np.nan_to_num(td, nan=0).astype("int64")
        d_sub = d["sub_s"].to_numpy()
        gd = Groups(d["doctor"].to_numpy(), d["rank"].to_numpy(), d_sub)
        gdx = Groups(
            combine(d["doctor"].to_numpy(), d["dx3_code"].to_numpy()), d["rank"].to_numpy(), d_sub
        )
        n48 = gd.window_count(d_sub, 2 * DAY_S)
        n30 = gd.window_count(d_sub, 30 * DAY_S)
        same = gdx.window_count(d_sub, 30 * DAY_S)
        w["doctor_48h"] = np.where(ok_d, n48[tdi], np.nan)
        w["doctor_same_dx_share"] = np.where(ok_d, safe_ratio(same, n30)[tdi], np.nan)
        known_d = how_much_is_known(gd, d_sub)
        w["doctor_claims_365d"] = np.where(ok_d, np.nan_to_num(known_d["claims"])[tdi], np.nan)
        w["doctor_days_known"] = np.where(ok_d, np.nan_to_num(known_d["days"])[tdi], np.nan)
    else:
        w["doctor_48h"] = np.nan
        w["doctor_same_dx_share"] = np.nan
        w["doctor_claims_365d"] = np.nan
        w["doctor_days_known"] = np.nan

    if "provider_profile" in norms:  # claims_v1: the profile fitted on the training window
        profile = norms["provider_profile"]
        pa = join_positions(
            key_index(profile, "provider_id", "provider_profile", cache=True), tc["provider_id"]
        )
        w["claims_norm"] = take(profile["claims_per_30d"].to_numpy(dtype="float64"), pa)
        w["admissions_week_norm"] = take(
            profile["admissions_per_week"].to_numpy(dtype="float64"), pa
        )
        w["readmit_rate"] = take(profile["readmit_rate"].to_numpy(dtype="float64"), pa)
    else:
        for column in ("claims_norm", "admissions_week_norm", "readmit_rate"):
            w[column] = np.nan
    providers = ctx.data.providers
    va = join_positions(ctx.key_index("providers", "provider_id"), tc["provider_id"])
    peer_key = pd.DataFrame(
        {
            "ptype": pd.Series(take(providers["provider_type"], va), dtype=object)
            .astype("str")
            .to_numpy(dtype=object),
            "tier_key": np.nan_to_num(w["tier"].to_numpy(), nan=0.0),
        }
    )
    w["peer_readmit"] = lookup_backoff(peer_key, [(["ptype", "tier_key"], norms["peer_readmit"])])
    w["peer_case_mix"] = lookup_backoff(peer_key, [(["ptype", "tier_key"], norms["peer_case_mix"])])
    return w.frame()


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


@feature(
    "provider",
    entity=Entity.DOCTOR,
    aggregate=Aggregate.COUNT,
    window=hours(48),
    reason="the treating doctor submitted {value:.0f} other claims in the last 48 hours",
    unit="claims",
)
def doctor_claims_48h(w: pd.DataFrame) -> np.ndarray:
    """Claims of the same treating or prescribing doctor in the previous 48 hours (missing when
    the scheme does not record doctors): prescription velocity, ring doctors."""
    return w["doctor_48h"].to_numpy(dtype="float64")


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


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.COUNT,
    window=days(365),
    reason="the provider has {value:.0f} earlier claims in the past 12 months",
    unit="claims",
)
def provider_claims_365d(w: pd.DataFrame) -> np.ndarray:
    """Claims of the provider submitted in the year before this one: how much is known about it
    (0 for a provider never seen before, whose other provider features then rest on very
    little)."""
    return w["claims_365d"].to_numpy(dtype="float64")


@feature(
    "provider",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.FIRST,
    window=days(365),
    reason="the provider's first claim in the past 12 months was {value:.0f} days ago",
    unit="days",
)
def provider_days_known(w: pd.DataFrame) -> np.ndarray:
    """Days since the provider's first claim within the past year (0 when it has none, 365 for
    one known a year or more): a newly active provider."""
    return w["days_known"].to_numpy(dtype="float64")


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


@feature(
    "provider",
    entity=Entity.DOCTOR,
    aggregate=Aggregate.COUNT,
    window=days(365),
    reason="the treating doctor has {value:.0f} earlier claims in the past 12 months",
    unit="claims",
)
def doctor_claims_365d(w: pd.DataFrame) -> np.ndarray:
    """Claims of the treating doctor in the year before this one (missing when the scheme does
    not record doctors): how much is known about the doctor."""
    return w["doctor_claims_365d"].to_numpy(dtype="float64")


@feature(
    "provider",
    entity=Entity.DOCTOR,
    aggregate=Aggregate.FIRST,
    window=days(365),
    reason="the treating doctor's first claim in the past 12 months was {value:.0f} days ago",
    unit="days",
)
def doctor_days_known(w: pd.DataFrame) -> np.ndarray:
    """Days since the treating doctor's first claim within the past year (0 for a doctor never
    seen before; missing when doctors are not recorded)."""
    return w["doctor_days_known"].to_numpy(dtype="float64")
