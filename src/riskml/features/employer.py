"""Employer family: the employment behind work-injury, maternity and unemployment claims.

Signals for fictitious employment and shell employers (挂靠参保): very short tenure before the
claim, hiring bursts, contribution bases far above the regional median, employers whose members
claim maternity or injury benefits at high rates; and for work-injury fabrication the days from
hire to injury. Contributions of month M are known only from the first day of month M+1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.features.context import (
    DAY_S,
    Columns,
    Context,
    Groups,
    combine,
    day_numbers,
    month_index,
    sorted_unique,
)
from riskml.features.history import CONTRIBUTION_REACH_MONTHS, HIRE_GAP_MONTHS
from riskml.features.norms import MIN_PEERS, lookup_backoff, median_table, safe_ratio
from riskml.features.registry import Aggregate, Entity, days, feature, months

_SHIFT = np.int64(1) << np.int64(32)


def _contrib_frame(ctx: Context) -> pd.DataFrame:
    """Contributions with month index and the region their base is compared in."""
    contrib = ctx.data.contributions
    persons = ctx.data.persons
    employers = ctx.data.employers
    emp_region = pd.Series(
        employers["region_code"].astype("str").to_numpy(),
        index=employers["employer_id"].astype("str").to_numpy(),
    )
    per_region = pd.Series(
        persons["region_code"].astype("str").to_numpy(),
        index=persons["person_id"].astype("str").to_numpy(),
    )
    emp = contrib["employer_id"].astype("str").where(contrib["employer_id"].notna())
    region = np.array(emp_region.reindex(emp.to_numpy()).to_numpy(dtype=object), copy=True)
    missing = pd.isna(region)
    region[missing] = per_region.reindex(
        contrib["person_id"].astype("str").to_numpy()[missing]
    ).to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "person_id": contrib["person_id"].astype("str").to_numpy(),
            "employer_id": emp.to_numpy(dtype=object),
            "mi": month_index(contrib["month"]),
            "base": contrib["contribution_base"].astype("float64").to_numpy(),
            "region": region,
        }
    )


def fit(
    ctx: Context, start_month: float | None, end_month: float | None, min_peers: int = MIN_PEERS
) -> dict[str, pd.DataFrame]:
    """Median contribution base per region and province over the training window's months."""
    cf = _contrib_frame(ctx)
    keep = np.ones(len(cf), dtype=bool)
    if start_month is not None:
        keep &= cf["mi"].to_numpy() >= start_month
    if end_month is not None:
        keep &= cf["mi"].to_numpy() < end_month
    cf = cf.loc[keep].dropna(subset=["region"])
    cf = cf.assign(province=cf["region"].astype("str").str.slice(0, 2), all=0)
    return {
        "base_region": median_table(cf, ["region"], "base", min_peers),
        "base_province": median_table(cf, ["province"], "base", min_peers),
        "base_all": median_table(cf, ["all"], "base", min_peers),
    }


def prepare(ctx: Context, norms: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Intermediate columns of the employer family for the target claims."""
    tc = ctx.target_claims()
    n = len(tc)
    w = Columns(np.arange(n))
    has_emp = tc["employer"].to_numpy() >= 0
    cutoff = tc["sub_month"].to_numpy() - 1.0  # last contribution month known at submission
    ss_day = tc["ss_day"].to_numpy()
    ss_month = tc["ss_month"].to_numpy()

    contrib = ctx.data.contributions
    p_all, p_uniq = pd.factorize(contrib["person_id"].astype("str"))
    e_all, e_uniq = pd.factorize(
        contrib["employer_id"].astype("str").where(contrib["employer_id"].notna())
    )
    p_all = np.asarray(p_all, dtype="int64")
    e_all = np.asarray(e_all, dtype="int64")
    mi_all = pd.to_datetime(contrib["month"]).to_numpy(dtype="datetime64[M]").astype("int64")
    base_all = contrib["contribution_base"].to_numpy(dtype="float64")
    tp = pd.Index(p_uniq).get_indexer(tc["person_id"].to_numpy()).astype("int64")
    te = np.where(
        has_emp, pd.Index(e_uniq).get_indexer(tc["employer_id"].fillna("").to_numpy()), -1
    ).astype("int64")
    hi = np.fmin(ss_month - 1.0, cutoff)
    # a service far before its submission: no further back than the contributions' reach
    lo = np.maximum(ss_month - 12.0, cutoff - (CONTRIBUTION_REACH_MONTHS - 2))
    year_ago = cutoff - 11.0  # the first of the 12 known months before submission

    # person-level: contribution months in the 12 months before the service (any employer)
    mine = np.isin(p_all, tp[tp >= 0])
    p_comp = sorted_unique(p_all[mine] * _SHIFT + mi_all[mine])
    pk = np.maximum(tp, 0) * _SHIFT
    a = np.searchsorted(p_comp, pk + np.nan_to_num(lo).astype("int64"), side="left")
    b = np.searchsorted(p_comp, pk + np.nan_to_num(hi).astype("int64"), side="right")
    w["contrib_months_12m"] = np.where(tp >= 0, np.maximum(b - a, 0), 0).astype("float64")

    # pair-level (claimant, claim's employer) over the 12 known months before submission: first
    # month, months, latest base
    n_e = max(len(e_uniq), 1)
    in_pair = mine & np.isin(e_all, te[te >= 0])
    pair_all = p_all[in_pair] * n_e + e_all[in_pair]
    pair_uniq, pair_idx = np.unique(pair_all, return_inverse=True)
    pair_mi = mi_all[in_pair]
    order = np.lexsort((pair_mi, pair_idx))
    comp = (pair_idx.astype("int64") * _SHIFT + pair_mi)[order]
    base_sorted = base_all[in_pair][order]
    t_pair_val = np.maximum(tp, 0) * n_e + np.maximum(te, 0)
    t_pair = np.searchsorted(pair_uniq, t_pair_val)
    ok = has_emp & (tp >= 0) & (te >= 0) & (t_pair < len(pair_uniq))
    ok[ok] &= pair_uniq[t_pair[ok]] == t_pair_val[ok]
    tp_key = np.where(ok, t_pair, 0).astype("int64") * _SHIFT
    first = np.searchsorted(comp, tp_key + np.nan_to_num(year_ago).astype("int64"), side="left")
    upto = np.searchsorted(comp, tp_key + np.nan_to_num(cutoff).astype("int64"), side="right")
    w["months_with_employer"] = np.where(has_emp, np.where(ok, upto - first, 0), np.nan)
    known = ok & (upto > first)
    first_mi = np.full(n, np.nan)
    first_mi[known] = (comp[first[known]] - tp_key[known]).astype("float64")
    w["tenure_days"] = np.where(known, ss_day - _month_start_day(first_mi), np.nan)
    latest = np.where(known, upto - 1, 0)
    last_base = np.full(n, np.nan)
    last_base[known] = base_sorted[latest[known]]
    employers = ctx.data.employers
    emp_region = pd.Series(
        employers["region_code"].astype("str").to_numpy(),
        index=employers["employer_id"].astype("str").to_numpy(),
    )
    region = emp_region.reindex(tc["employer_id"].fillna("").to_numpy()).astype("str")
    look = pd.DataFrame(
        {"region": region.to_numpy(), "province": region.str.slice(0, 2).to_numpy(), "all": 0}
    )
    reg_median = lookup_backoff(
        look,
        [
            (["region"], norms["base_region"]),
            (["province"], norms["base_province"]),
            (["all"], norms["base_all"]),
        ],
    )
    w["base_vs_regional_median"] = safe_ratio(last_base, reg_median)

    # employer-level: hires and members per month (known months only)
    at_emp = np.isin(e_all, te[te >= 0]) & (e_all >= 0)
    ee, pp, mm = e_all[at_emp], p_all[at_emp], mi_all[at_emp]
    member_pair = ee * max(len(p_uniq), 1) + pp
    # a hire: a member's first month at the employer, or the first after more than 12 months
    # without contributions there (a member's contributions are read no further back than that)
    by_pair = np.lexsort((mm, member_pair))
    ps, ms = member_pair[by_pair], mm[by_pair]
    starts = np.ones(len(ps), dtype=bool)
    starts[1:] = (ps[1:] != ps[:-1]) | (ms[1:] - ms[:-1] > HIRE_GAP_MONTHS)
    hire = np.empty(len(ps), dtype="float64")
    hire[by_pair] = starts
    em_key, em_idx = np.unique(ee * _SHIFT + mm, return_inverse=True)
    members_m = np.bincount(em_idx, minlength=len(em_key)).astype("float64")
    hires_m = np.bincount(em_idx, weights=hire, minlength=len(em_key))
    e_comp = em_key  # sorted (employer, month) composite
    em_e = em_key // _SHIFT
    hires_cum = pd.Series(hires_m).groupby(em_e).cumsum().to_numpy()
    eok = te >= 0
    ekey = np.where(eok, te, 0) * _SHIFT
    cut = np.nan_to_num(cutoff).astype("int64")
    hi_pos = np.searchsorted(e_comp, ekey + cut, side="right")
    lo_pos = np.searchsorted(e_comp, ekey + cut - 3, side="right")
    start_pos = np.searchsorted(e_comp, ekey, side="left")
    lo_pos = np.maximum(lo_pos, start_pos)

    def cum_at(pos: np.ndarray) -> np.ndarray:
        # cumulative hires up to sorted position pos (exclusive), within the employer
        if not len(e_comp):
            return np.zeros(len(pos))
        return np.where(pos > start_pos, hires_cum[np.maximum(pos - 1, 0)], 0.0)

    hires_3m = cum_at(hi_pos) - cum_at(lo_pos)
    last_pos = np.maximum(hi_pos - 1, 0)
    members = np.zeros(n)
    if len(e_comp):
        same_month = (hi_pos > start_pos) & eok & (e_comp[last_pos] == ekey + cut)
        members = np.where(same_month, members_m[last_pos], 0.0)
    w["employer_hires_3m"] = np.where(eok, hires_3m, np.nan)
    w["employer_members"] = np.where(eok, members, np.nan)
    w["employer_hire_share"] = np.where(eok, hires_3m / np.maximum(members, 1.0), np.nan)

    # employer's earlier claims of the same benefit in 365 days, per member
    rows, s = ctx.entity_claims("employer")
    local = pd.Series(np.arange(len(rows)), index=rows)
    t = local.reindex(ctx.targets).to_numpy()
    g = Groups(
        combine(s["employer"].to_numpy(), s["bt"].to_numpy()),
        s["rank"].to_numpy(),
        s["sub_s"].to_numpy(),
    )
    same_bt = g.window_count(s["sub_s"].to_numpy(), 365 * DAY_S)
    tt = np.nan_to_num(t, nan=0).astype("int64")
    claims_365 = np.where(np.isnan(t), np.nan, same_bt[tt] if len(same_bt) else np.nan)
    w["employer_same_benefit_365d"] = np.where(has_emp, claims_365, np.nan)
    w["employer_claim_rate"] = np.where(
        eok, w["employer_same_benefit_365d"].to_numpy() / np.maximum(members, 1.0), np.nan
    )

    reg = pd.Series(
        day_numbers(employers["registered_on"]),
        index=employers["employer_id"].astype("str").to_numpy(),
    )
    reg_day = reg.reindex(tc["employer_id"].fillna("").to_numpy()).to_numpy()
    w["employer_age_days"] = np.where(has_emp, ss_day - reg_day, np.nan)
    return w.frame()


def _month_start_day(mi: np.ndarray) -> np.ndarray:
    """Day number of the first day of month index ``mi`` (NaN stays NaN)."""
    out = np.full(len(mi), np.nan)
    ok = np.isfinite(mi)
    months = mi[ok].astype("int64")
    out[ok] = months.astype("datetime64[M]").astype("datetime64[D]").astype("int64")
    return out


# --- features -------------------------------------------------------------------------------


@feature(
    "employer",
    entity=Entity.PERSON,
    aggregate=Aggregate.FIRST,
    window=months(12),
    by=("employer",),
    reason="the claimant had contributed with this employer for only {value:.0f} days",
    unit="days",
)
def tenure_with_employer_days(w: pd.DataFrame) -> np.ndarray:
    """Days from the claimant's first contribution month with the claim's employer among the 12
    known months before submission to the service (injury, delivery, job loss); so about a year at
    most. Injuries 1-2 days after hire and deliveries 2-3 months
    after joining are fraud markers (开伤, 骗取生育津贴)."""
    return w["tenure_days"].to_numpy(dtype="float64")


@feature(
    "employer",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=months(12),
    by=("employer",),
    reason="{value:.0f} of the last 12 known months contributed with the claim's employer",
    unit="months",
)
def contribution_months_with_employer(w: pd.DataFrame) -> np.ndarray:
    """Contribution months with the claim's employer among the 12 known at submission."""
    return w["months_with_employer"].to_numpy(dtype="float64")


@feature(
    "employer",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=months(12),
    reason="{value:.0f} contribution months in the year before the service",
    unit="months",
)
def contribution_months_12m(w: pd.DataFrame) -> np.ndarray:
    """Known contribution months (any employer) in the 12 months before the service; maternity
    allowance needs at least six."""
    return w["contrib_months_12m"].to_numpy(dtype="float64")


@feature(
    "employer",
    entity=Entity.PERSON,
    aggregate=Aggregate.RATIO_TO_PEER_NORM,
    window=months(12),
    by=("employer",),
    norms=("regional_contribution_base",),
    reason="contribution base is {value:.1f}x the regional median",
    unit="ratio",
)
def contribution_base_vs_regional_median(w: pd.DataFrame) -> np.ndarray:
    """The claimant's latest known contribution base with the claim's employer divided by the
    training-window median base of the employer's region: bases ≥2x the local wage before a
    maternity claim inflate the allowance."""
    return w["base_vs_regional_median"].to_numpy(dtype="float64")


@feature(
    "employer",
    entity=Entity.EMPLOYER,
    aggregate=Aggregate.COUNT,
    window=months(3),
    reason="the employer took on {value:.0f} new members in 3 months",
    unit="persons",
)
def employer_new_members_3m(w: pd.DataFrame) -> np.ndarray:
    """New contributors at the claim's employer in the last three known months (first month
    there, or first after more than a year without contributions there)."""
    return w["employer_hires_3m"].to_numpy(dtype="float64")


@feature(
    "employer",
    entity=Entity.EMPLOYER,
    aggregate=Aggregate.RATIO,
    window=months(3),
    reason="new members in the last 3 months are {value:.0%} of the employer's headcount",
    unit="share",
)
def employer_hiring_burst(w: pd.DataFrame) -> np.ndarray:
    """New contributors in the last three known months divided by the employer's current
    contributors: shell employers enrol a burst of members shortly before claims."""
    return w["employer_hire_share"].to_numpy(dtype="float64")


@feature(
    "employer",
    entity=Entity.EMPLOYER,
    aggregate=Aggregate.COUNT,
    window=months(1),
    reason="the employer has {value:.0f} contributing members",
    unit="persons",
)
def employer_members(w: pd.DataFrame) -> np.ndarray:
    """Contributors at the claim's employer in the last known month."""
    return w["employer_members"].to_numpy(dtype="float64")


@feature(
    "employer",
    entity=Entity.EMPLOYER,
    aggregate=Aggregate.RATIO,
    window=days(365),
    by=("benefit_type",),
    reason="the employer's members made {value:.2f} claims of this benefit per member in a year",
    unit="claims/member",
)
def employer_benefit_claims_per_member(w: pd.DataFrame) -> np.ndarray:
    """Earlier claims of the same benefit tied to the employer in 365 days, per current member:
    a firm where most staff claim maternity or injury benefit."""
    return w["employer_claim_rate"].to_numpy(dtype="float64")


@feature(
    "employer",
    entity=Entity.EMPLOYER,
    aggregate=Aggregate.VALUE,
    reason="the employer was registered {value:.0f} days before",
    unit="days",
)
def employer_age_days(w: pd.DataFrame) -> np.ndarray:
    """Days from the employer's registration to the service: new shells are short-lived."""
    return w["employer_age_days"].to_numpy(dtype="float64")
