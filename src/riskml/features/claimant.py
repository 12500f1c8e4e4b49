"""Claimant-history family: what the claimant's earlier claims, death record and contributions say.

Point in time: a claim sees only the claimant's claims sorting before it, a death only once it was
reported (``death_reported_on`` on or before the claim's submission date) and contributions of
month M only from month M+1 on. Every look at the past is bounded by
:data:`riskml.features.history.LOOKBACK_DAYS` (a year) before the claim's submission: "earlier
claims" are the earlier claims of that year, "days since" is missing when nothing happened in it,
so that a chunk of a backlog needs no more of a claimant's past than a year.

Signals: pension after death, duplicate benefits across regions, unemployment benefit while
contributing, split hospitalisation (readmissions), duplicate claims,
impersonation (same-day claims in distant provinces, prescription velocity) and drug reselling /
doctor shopping (supply against days elapsed, pharmacies for the same drug).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.contract import BENEFIT_TYPES, MEDICAL_BENEFITS
from riskml.features.claim import implausible_for_age_sex, target_holders
from riskml.features.context import (
    DAY_S,
    Columns,
    Context,
    Groups,
    codes,
    combine,
    day_numbers,
    join_positions,
    rows_at,
    sorted_unique,
    take,
    unmatched_nan,
)
from riskml.features.history import LOOKBACK_DAYS, LOOKBACK_S
from riskml.features.norms import (
    MIN_PEERS,
    lookup_backoff,
    lookup_exact,
    median_table,
    safe_ratio,
)
from riskml.features.registry import Aggregate, Entity, days, feature, hours, months

INPATIENT = BENEFIT_TYPES.index("inpatient")
UNEMPLOYMENT = BENEFIT_TYPES.index("unemployment")
CASH = np.array([BENEFIT_TYPES.index("pension"), UNEMPLOYMENT])
MEDICAL = np.array([BENEFIT_TYPES.index(b) for b in MEDICAL_BENEFITS])
PENSION = BENEFIT_TYPES.index("pension")
_SHIFT = np.int64(1) << np.int64(32)
#: The window of the refill features: fills of the same drug this many days before the claim.
REFILL_WINDOW_DAYS = 90


def drug_lines(ctx: Context, rows: np.ndarray) -> pd.DataFrame:
    """Drug quantities per (claim, item) for the claims at ``rows``: ``row`` (claim position),
    ``item_code`` and ``quantity``."""
    it = ctx.items_of(rows)
    it = it.loc[it["category"].to_numpy() == "drug"]
    per = (
        it.groupby(["pos", "item"], sort=False)
        .agg(item_code=("item_code", "first"), quantity=("quantity", "sum"))
        .reset_index()
    )
    return pd.DataFrame(
        {
            "row": per["pos"].to_numpy(dtype="int64"),
            "item_code": per["item_code"].to_numpy(dtype=object),
            "quantity": per["quantity"].to_numpy(dtype="float64"),
        }
    )


def refill_intervals(ctx: Context, rows: np.ndarray) -> pd.DataFrame:
    """Days between consecutive fills of the same drug by the same person among the claims at
    ``rows`` (at most :data:`REFILL_WINDOW_DAYS` apart, the window the refill features read):
    ``item_code``, ``days`` and ``all`` (0, the key of the all-drugs level)."""
    lines = drug_lines(ctx, rows)
    if lines.empty:
        return pd.DataFrame({"item_code": pd.Series([], dtype=object), "days": [], "all": 0})
    pos = lines["row"].to_numpy()
    key = combine(ctx.claims["person"].to_numpy()[pos], codes(lines["item_code"]))
    order = np.lexsort((pos, key))  # positions are history ranks: time order within a key
    k = key[order]
    t = ctx.claims["sub_s"].to_numpy()[pos][order]
    gap = (t[1:] - t[:-1]) / DAY_S
    keep = (k[1:] == k[:-1]) & (k[1:] >= 0) & (gap <= REFILL_WINDOW_DAYS)
    item = lines["item_code"].to_numpy(dtype=object)[order][1:][keep]
    return pd.DataFrame({"item_code": item, "days": gap[keep], "all": 0})


def fit(
    ctx: Context, window_rows: np.ndarray, min_peers: int = MIN_PEERS
) -> dict[str, pd.DataFrame]:
    """Median quantity dispensed per claim for each drug (a "standard supply"), and the median
    days between a person's consecutive fills of each drug (its usual refill interval; all
    drugs together where a drug has too few refills)."""
    lines = drug_lines(ctx, window_rows)
    intervals = refill_intervals(ctx, window_rows)
    return {
        "drug_quantity": median_table(lines, ["item_code"], "quantity", min_peers),
        "drug_refill_days": median_table(intervals, ["item_code"], "days", min_peers),
        "drug_refill_days_all": median_table(intervals, ["all"], "days", min_peers),
    }


def contribution_index(ctx: Context) -> tuple[np.ndarray, pd.Index]:
    """Sorted composite ``(person code, month index)`` of distinct contribution months."""
    contrib = ctx.data.contributions
    persons = pd.Index(ctx.claims["person_id"].unique())
    pc = persons.get_indexer(contrib["person_id"].astype("str"))
    months = pd.to_datetime(contrib["month"]).to_numpy(dtype="datetime64[M]").astype("int64")
    keep = pc >= 0
    comp = sorted_unique(pc[keep].astype("int64") * _SHIFT + months[keep])
    return comp, persons


def count_months(
    comp: np.ndarray, person: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Distinct contribution months of ``person`` in ``[lo, hi]`` (month indexes)."""
    ok = (person >= 0) & np.isfinite(lo) & np.isfinite(hi)
    out = np.zeros(len(person))
    p = person[ok].astype("int64") * _SHIFT
    a = np.searchsorted(comp, p + lo[ok].astype("int64"), side="left")
    b = np.searchsorted(comp, p + hi[ok].astype("int64"), side="right")
    out[ok] = np.maximum(b - a, 0)
    out[~ok] = np.nan
    return out


def prepare(ctx: Context, norms: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Intermediate columns of the claimant family for the target claims."""
    rows, s = ctx.entity_claims("person")
    local = pd.Series(np.arange(len(rows)), index=rows)
    t = local.reindex(ctx.targets).to_numpy().astype("int64")
    rank = s["rank"].to_numpy()
    sub_s = s["sub_s"].to_numpy()
    bt = s["bt"].to_numpy()
    person = s["person"].to_numpy()
    provider = s["provider"].to_numpy()
    ss_day = s["ss_day"].to_numpy()
    se_day = s["se_day"].to_numpy()
    inpatient = bt == INPATIENT
    medical = np.isin(bt, MEDICAL)
    w = Columns(np.arange(len(t)))

    L = LOOKBACK_S
    g = Groups(person, rank, sub_s)

    def earlier(*key: np.ndarray) -> np.ndarray:
        """Earlier claims of the past year with the same ``key`` (person first)."""
        return Groups(combine(*key), rank, sub_s).window_count(sub_s, L)

    prior_all = g.window_count(sub_s, L)  # the lookback is the year of the 365-day features
    w["prior_30d"] = g.window_count(sub_s, 30 * DAY_S)[t]
    w["prior_365d"] = prior_all[t]
    w["prior_amount_365d"] = g.window_sum(s["amount"].to_numpy(), sub_s, 365 * DAY_S)[t]
    w["last_24h"] = g.window_count(sub_s, DAY_S)[t]
    prev = g.window_previous(sub_s, L)
    gap = np.where(prev >= 0, (sub_s - sub_s[np.maximum(prev, 0)]) / DAY_S, np.nan)
    w["days_since_previous"] = gap[t]
    # submission times grow with rank, so the latest medical claim is the maximum
    last_medical = g.prior_max(np.where(medical, sub_s, np.nan).astype("float64"))
    since_medical = (sub_s - last_medical) / DAY_S
    w["days_since_medical"] = np.where(since_medical <= LOOKBACK_DAYS, since_medical, np.nan)[t]
    # life trace: pension months paid since the claimant's latest claim of any other benefit
    pension = bt == PENSION
    last_trace = g.prior_nanmax(np.where(~pension, sub_s, np.nan).astype("float64"))
    silent_s = np.where(np.isnan(last_trace), L + 1, np.fmin(sub_s - last_trace, L + 1)) - 1
    g_pension = Groups(combine(person, np.where(pension, 0, -1)), rank, sub_s)
    paid_silent = g_pension.window_count(sub_s, silent_s.astype("int64")) + 1.0
    w["pension_months_without_trace"] = np.where(pension, paid_silent, np.nan)[t]
    w["distinct_providers"] = g.window_distinct(provider, sub_s, L)[t]
    in_province = earlier(person, s["province"].to_numpy())
    w["province_share"] = np.where(prior_all > 0, in_province / np.maximum(prior_all, 1), np.nan)[t]
    w["same_provider_365d"] = earlier(person, provider)[t]

    # readmissions: latest earlier discharge (same provider and diagnosis / same diagnosis)
    dx = s["dx3_code"].to_numpy()
    inp_key = np.where(inpatient, 0, -1)
    r1 = Groups(combine(person, provider, dx, inp_key), rank, sub_s).window_max(se_day, sub_s, L)
    r2 = Groups(combine(person, dx, inp_key), rank, sub_s).window_max(se_day, sub_s, L)
    w["readmit_same_provider"] = np.where(inpatient, ss_day - r1, np.nan)[t]
    w["readmit_any_provider"] = np.where(inpatient, ss_day - r2, np.nan)[t]
    w["prior_inpatient_365d"] = np.nan_to_num(earlier(person, inp_key)[t], nan=0.0)

    # same-day claims in another province (medical claims)
    med_key = np.where(medical, 0, -1)
    day_code = np.nan_to_num(ss_day, nan=-1).astype("int64")
    same_day = earlier(person, day_code, med_key)
    same_day_prov = earlier(person, day_code, s["province"].to_numpy(), med_key)
    w["same_day_other_province"] = (same_day - same_day_prov)[t]

    # cash benefits for the same month in another region / the same region
    cash_key = np.where(np.isin(bt, CASH), 0, -1)
    month = np.nan_to_num(s["ss_month"].to_numpy(), nan=-1).astype("int64")
    g_month = earlier(person, bt, month, cash_key)
    g_month_region = earlier(person, bt, month, s["region_code"].to_numpy(), cash_key)
    w["cash_same_month_other_region"] = (g_month - g_month_region)[t]
    w["cash_same_month_same_region"] = g_month_region[t]

    # duplicate and near-duplicate claims: same person, provider (or none), benefit
    prov1 = provider + 1
    w["same_provider_same_day"] = earlier(person, prov1, bt, day_code)[t]
    g_pb = Groups(combine(person, prov1, bt), rank, sub_s)
    prev_pb = g_pb.window_previous(sub_s, L)
    has = prev_pb >= 0
    pidx = np.maximum(prev_pb, 0)
    amount = s["amount"].to_numpy()
    dday = np.where(has, np.abs(ss_day - ss_day[pidx]), np.nan)
    damt = np.where(
        has,
        np.abs(amount - amount[pidx]) / np.maximum(np.maximum(amount, amount[pidx]), 1.0),
        np.nan,
    )
    w["prev_same_provider_day_gap"] = dday[t]
    w["prev_same_provider_amount_diff"] = np.where(dday <= 3, damt, np.nan)[t]
    same_benefit = earlier(person, bt)
    w["same_benefit_prior"] = same_benefit[t]
    same_region = earlier(person, bt, s["region_code"].to_numpy())
    w["cash_other_regions_before"] = np.where(cash_key == 0, same_benefit - same_region, np.nan)[t]

    # near duplicates: any of the 3 latest earlier claims of the year (same person, provider,
    # benefit) within a day of this service with an amount within 5%
    near = np.zeros(len(s))
    in_year = g_pb.window_start(sub_s, L)
    for k in (1, 2, 3):
        has_k = (g_pb.pos - k >= in_year) & g_pb.valid
        other = g_pb.order[np.where(has_k, g_pb.pos - k, 0)]
        close = np.abs(ss_day - ss_day[other]) <= 1
        similar = np.abs(amount - amount[other]) <= 0.05 * np.maximum(amount, amount[other])
        near += (has_k & close & similar).astype("float64")
    w["near_duplicates"] = near[t]
    w["identical_items_before"] = _identical_items(ctx, rows, s, t)

    # death known at submission
    persons = ctx.data.persons
    tc = ctx.target_claims()
    at = join_positions(ctx.key_index("persons", "person_id"), tc["person_id"])
    death_day = unmatched_nan(day_numbers(rows_at(persons["death_date"], at)), at)
    reported_day = unmatched_nan(day_numbers(rows_at(persons["death_reported_on"], at)), at)
    home_region = take(persons["region_code"].astype("str"), at)
    known = reported_day <= tc["sub_day"].to_numpy()
    w["days_after_death"] = np.where(known, tc["ss_day"].to_numpy() - death_day, np.nan)
    w["outside_home_region"] = (tc["region"].to_numpy() != home_region).astype("float64")

    # records known at submission that say the card holder is not the patient (冒名就医), for
    # medical claims: the service after the holder's reported death, care impossible for the
    # holder's sex or age (the claim family's flag, on the same inputs), a medical claim of the
    # holder for the same service day in another province
    holder, age = target_holders(ctx)
    implausible = implausible_for_age_sex(tc["dx3"], tc["bt"].to_numpy(), holder["sex"], age)
    w["identity_conflicts"] = np.where(
        np.isin(tc["bt"].to_numpy(), MEDICAL),
        (w["days_after_death"].to_numpy() >= 0).astype("float64")
        + implausible
        + (w["same_day_other_province"].to_numpy() > 0),
        np.nan,
    )

    # contributions during the unemployment spell (known ones only: month M from M+1)
    comp, persons_index = contribution_index(ctx)
    pcode = persons_index.get_indexer(pd.Index(tc["person_id"]))
    cutoff = tc["sub_month"].to_numpy() - 1.0
    un_key = np.where(bt == UNEMPLOYMENT, 0, -1)
    ss_month = s["ss_month"].to_numpy()
    g_un = Groups(combine(person, un_key), rank, sub_s)
    spell = np.fmin(g_un.window_min(ss_month, sub_s, L), ss_month)
    # counted over the known months of the past year at most
    spell_t = np.where(tc["bt"].to_numpy() == UNEMPLOYMENT, spell[t], np.nan)
    spell_t = np.maximum(spell_t, cutoff - 11.0)  # NaN stays NaN
    w["contrib_during_unemployment"] = count_months(comp, pcode, spell_t, cutoff)
    w["contrib_other_employer_benefit_month"] = _other_employer_benefit_months(
        ctx, tc, persons_index
    )

    # records known at submission that contradict the entitlement, whatever the benefit: the
    # service began on or after a reported death, the benefit month was already paid in another
    # region, another employer paid contributions for the unemployment month
    w["entitlement_conflicts"] = (
        (w["days_after_death"].to_numpy() >= 0).astype("float64")
        + (w["cash_same_month_other_region"].to_numpy() > 0)
        + (w["contrib_other_employer_benefit_month"].to_numpy() > 0)
    )

    # drugs: supply against days elapsed, pharmacies for the same drug
    w.update(_drug_history(ctx, rows, s, t, norms))
    return w.frame()


def _other_employer_benefit_months(
    ctx: Context, tc: pd.DataFrame, persons_index: pd.Index
) -> np.ndarray:
    """For unemployment claims: months of the claim's own benefit period, known at submission
    (month M from M+1 on, at most the 12 known months before it), in which a contribution was
    recorded by an employer other than the one the claim is tied to. Flexible (individual)
    contributions do not count: many of the unemployed keep paying their pension contributions
    themselves. NaN for other benefits and while no benefit month is known yet."""
    n = len(tc)
    out = np.full(n, np.nan)
    ui = tc["bt"].to_numpy() == UNEMPLOYMENT
    cutoff = tc["sub_month"].to_numpy() - 1.0  # the last month known at submission
    lo = np.fmax(tc["ss_month"].to_numpy(), cutoff - 11.0)
    hi = np.fmin(tc["se_month"].to_numpy(), cutoff)
    known = ui & np.isfinite(lo) & np.isfinite(hi) & (hi >= lo)
    out[ui] = np.where(known[ui], 0.0, np.nan)
    contrib = ctx.data.contributions
    if not known.any() or contrib.empty:
        return out
    pc = persons_index.get_indexer(pd.Index(contrib["person_id"].astype("str")))
    mine = np.isin(pc, persons_index.get_indexer(pd.Index(tc["person_id"]))[known]) & (pc >= 0)
    mine &= contrib["employer_id"].notna().to_numpy()
    if not mine.any():
        return out
    emp_all = contrib["employer_id"].astype("str").where(contrib["employer_id"].notna())
    employers = pd.Index(emp_all[mine].dropna().unique())
    ec = employers.get_indexer(pd.Index(emp_all[mine])).astype("int64")
    month = pd.to_datetime(contrib["month"][mine]).to_numpy(dtype="datetime64[M]").astype("int64")
    rows = np.unique(np.stack([pc[mine].astype("int64"), ec, month]), axis=1)
    # per (person, month): contributing employers; per (person, employer, month): present
    pm, per_pm = np.unique(rows[0] * _SHIFT + rows[2], return_counts=True)
    target_pc = persons_index.get_indexer(pd.Index(tc["person_id"])).astype("int64")
    # employer codes shifted by 2: a claim tied to no employer gets 0 (every employer's
    # contribution counts), one whose employer has none here -1 (no pair)
    found = employers.get_indexer(pd.Index(tc["employer_id"].fillna(""))).astype("int64")
    target_ec = np.where(tc["employer_id"].notna(), np.where(found >= 0, found + 2, -1), 0)
    pairs = combine(np.concatenate([rows[0], target_pc]), np.concatenate([rows[1] + 2, target_ec]))
    pair_month = sorted_unique(pairs[: rows.shape[1]] * _SHIFT + rows[2])
    idx = np.flatnonzero(known)
    span = (hi[idx] - lo[idx] + 1).astype("int64")
    at = np.repeat(idx, span)
    m = np.repeat(lo[idx].astype("int64"), span) + (
        np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span)
    )
    key = target_pc[at] * _SHIFT + m
    j = np.minimum(np.searchsorted(pm, key), max(len(pm) - 1, 0))
    employers_that_month = np.where((len(pm) > 0) & (pm[j] == key), per_pm[j], 0)
    own_key = pairs[rows.shape[1] :][at] * _SHIFT + m
    k = np.minimum(np.searchsorted(pair_month, own_key), max(len(pair_month) - 1, 0))
    own = (len(pair_month) > 0) & (pair_month[k] == own_key)
    other = (employers_that_month - own.astype("int64")) > 0
    out[idx] = np.bincount(np.searchsorted(idx, at), weights=other, minlength=len(idx))
    return out


def _identical_items(ctx: Context, rows: np.ndarray, s: pd.DataFrame, t: np.ndarray) -> np.ndarray:
    """Earlier claims of the same person at the same provider with the same item list
    (item codes and quantities, prices ignored); NaN for claims without items."""
    it = ctx.items_of(rows)
    if it.empty:
        return np.full(len(t), np.nan)
    hashed = pd.util.hash_pandas_object(it[["item", "quantity"]], index=False).to_numpy()
    # order-independent signature per claim; uint64 sums wrap around, fine for a signature
    sig = pd.Series(hashed).groupby(it["pos"].to_numpy()).sum()
    local = np.full(ctx.n, -1, dtype="int64")
    local[rows] = np.arange(len(rows))
    code = np.full(len(rows), -1, dtype="int64")
    code[local[sig.index.to_numpy()]] = pd.factorize(sig.to_numpy())[0]
    key = combine(s["person"].to_numpy(), s["provider"].to_numpy(), code)
    sub_s = s["sub_s"].to_numpy()
    return Groups(key, s["rank"].to_numpy(), sub_s).window_count(sub_s, LOOKBACK_S)[t]


def _drug_history(
    ctx: Context, rows: np.ndarray, s: pd.DataFrame, t: np.ndarray, norms: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    lines = drug_lines(ctx, rows)
    out = pd.DataFrame(
        {
            "drug_supply_ratio": np.nan,
            "drug_fills_90d": np.nan,
            "drug_providers": np.nan,
            "drug_refill_interval_ratio": np.nan,
            "drug_prescribers": np.nan,
        },
        index=np.arange(len(t)),
    )
    if lines.empty:
        return out
    # the row index of ``lines`` is a position in ctx.claims: map it to the local frame
    local = pd.Series(np.arange(len(rows)), index=rows)
    r = local.reindex(lines["row"].to_numpy()).to_numpy().astype("int64")
    lines = lines.assign(local=r).reset_index(drop=True)
    rank = s["rank"].to_numpy()[r]
    sub = s["sub_s"].to_numpy()[r]
    person = s["person"].to_numpy()[r]
    provider = s["provider"].to_numpy()[r]
    item = codes(lines["item_code"])
    g = Groups(combine(person, item), rank, sub)
    qty = lines["quantity"].to_numpy(dtype="float64")
    table = norms["drug_quantity"]
    standard = lookup_exact(lines, ["item_code"], table, "median")
    width = REFILL_WINDOW_DAYS * DAY_S
    prior_qty = g.window_sum(qty, sub, width)
    fills = g.window_count(sub, width)
    j = g.window_start(sub, width)
    first_t = np.where(j < g.pos, g.time_sorted[np.minimum(j, len(sub) - 1)], sub)  # type: ignore[index]
    elapsed = (sub - first_t) / DAY_S + 30.0
    supply_days = safe_ratio(prior_qty + qty, standard) * 30.0
    ratio = supply_days / elapsed
    providers = g.window_distinct(provider, sub, width, include_self=True)
    # refills: mean days between the earlier fills of the window and this one, against the
    # drug's usual refill interval (a fitted norm; absent from models fitted before it)
    usual = np.full(len(lines), np.nan)
    if "drug_refill_days" in norms:
        usual = lookup_backoff(
            lines.assign(all=0),
            [
                (["item_code"], norms["drug_refill_days"]),
                (["all"], norms["drug_refill_days_all"]),
            ],
        )
    mean_gap = np.where(fills > 0, (sub - first_t) / DAY_S / np.maximum(fills, 1.0), np.nan)
    interval_ratio = safe_ratio(mean_gap, usual)
    frame = pd.DataFrame(
        {"local": lines["local"], "ratio": ratio, "fills": fills, "providers": providers}
    ).groupby("local")
    agg = frame.max().assign(
        interval=pd.Series(interval_ratio).groupby(lines["local"].to_numpy()).min()
    )
    for col, src in (
        ("drug_supply_ratio", "ratio"),
        ("drug_fills_90d", "fills"),
        ("drug_providers", "providers"),
        ("drug_refill_interval_ratio", "interval"),
    ):
        full = np.full(len(rows), np.nan)
        full[agg.index.to_numpy()] = agg[src].to_numpy()
        out[col] = full[t]
    # prescribers: the doctors (or, where no doctor is recorded, the dispensing providers) of
    # the claimant's claims dispensing any drug in the window, this one included
    s_rank, s_sub = s["rank"].to_numpy(), s["sub_s"].to_numpy()
    doctor, prov = s["doctor"].to_numpy(), s["provider"].to_numpy()
    n_doctors = int(doctor.max(initial=-1)) + 1
    prescriber = np.where(doctor >= 0, doctor, np.where(prov >= 0, n_doctors + prov, -1))
    dispensing = np.zeros(len(rows), dtype=bool)
    dispensing[r] = True
    g_rx = Groups(np.where(dispensing, s["person"].to_numpy(), -1), s_rank, s_sub)
    out["drug_prescribers"] = g_rx.window_distinct(prescriber, s_sub, width, include_self=True)[t]
    return out


# --- features -------------------------------------------------------------------------------


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.VALUE,
    reason="service {value:.0f} days after the claimant's reported death",
    unit="days",
)
def days_service_after_reported_death(w: pd.DataFrame) -> np.ndarray:
    """Days from the claimant's death to the start of the service, when the death had been reported
    by the claim's submission date (positive: service after death, 死亡冒领). Missing when no death
    was known; deaths reported later are never used."""
    return w["days_after_death"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=days(30),
    reason="{value:.0f} earlier claims by this claimant in 30 days",
    unit="claims",
)
def claimant_claims_30d(w: pd.DataFrame) -> np.ndarray:
    """Claims the claimant submitted in the 30 days before this one."""
    return w["prior_30d"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=days(365),
    reason="{value:.0f} earlier claims by this claimant in 12 months",
    unit="claims",
)
def claimant_claims_365d(w: pd.DataFrame) -> np.ndarray:
    """Claims the claimant submitted in the 365 days before this one."""
    return w["prior_365d"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.SUM,
    window=days(365),
    reason="the claimant claimed ¥{value:,.0f} in the previous 12 months",
    unit="CNY",
)
def claimant_amount_365d(w: pd.DataFrame) -> np.ndarray:
    """Total amount of the claimant's claims in the 365 days before this one."""
    return w["prior_amount_365d"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=hours(24),
    reason="{value:.0f} other claims by this claimant in the 24 hours before",
    unit="claims",
)
def claimant_claims_24h(w: pd.DataFrame) -> np.ndarray:
    """Claims by the same claimant in the previous 24 hours: prescription velocity, a card used by
    several people (冒名就医 / 卡外借)."""
    return w["last_24h"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.LATEST,
    window=days(365),
    reason="{value:.0f} days since the claimant's previous claim",
    unit="days",
)
def days_since_previous_claim(w: pd.DataFrame) -> np.ndarray:
    """Days between this claim's submission and the claimant's previous one (missing when there
    was none in the past year)."""
    return w["days_since_previous"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.LATEST,
    window=days(365),
    by=("medical",),
    reason="no medical activity by the claimant for {value:.0f} days",
    unit="days",
)
def days_since_medical_claim(w: pd.DataFrame) -> np.ndarray:
    """Days since the claimant's last medical claim, meant as a "life trace" (pensions paid to
    people with no activity are checked for unreported death), as pinned since claims_v1: known
    only when the claimant's previous claim was itself a medical claim, missing after a claim of
    any other benefit (so on nearly every pension claim, the monthly pension being the previous
    claim) and when there was none in the past year. A correct reading of the latest medical
    claim changes these values: a new feature or feature-set version, not an edit."""
    return w["days_since_medical"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.DISTINCT,
    window=days(365),
    reason="the claimant used {value:.0f} different providers in the previous 12 months",
    unit="count",
)
def distinct_providers_before(w: pd.DataFrame) -> np.ndarray:
    """Number of different providers in the claimant's earlier claims of the past year (doctor
    shopping)."""
    return w["distinct_providers"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.LATEST,
    window=days(365),
    by=("provider", "diagnosis"),
    reason="readmitted to the same hospital {value:.0f} days after discharge, same diagnosis",
    unit="days",
)
def readmission_days_same_provider(w: pd.DataFrame) -> np.ndarray:
    """Days from the latest discharge at the same hospital with the same diagnosis category,
    claimed in the past year, to this admission. ≤15 days is the local split-hospitalisation
    (分解住院) rule; chemotherapy cycles are legitimate look-alikes."""
    return w["readmit_same_provider"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.LATEST,
    window=days(365),
    by=("diagnosis",),
    reason="readmitted {value:.0f} days after a discharge for the same diagnosis elsewhere",
    unit="days",
)
def readmission_days_same_diagnosis(w: pd.DataFrame) -> np.ndarray:
    """Days from the latest discharge with the same diagnosis at any hospital, claimed in the past
    year, to this admission."""
    return w["readmit_any_provider"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=days(365),
    by=("benefit_type",),
    reason="{value:.0f} earlier hospital stays in 12 months",
    unit="stays",
)
def inpatient_stays_365d(w: pd.DataFrame) -> np.ndarray:
    """The claimant's inpatient claims in the previous 365 days."""
    return w["prior_inpatient_365d"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=days(365),
    by=("service_day",),
    reason="{value:.0f} claims for the same service day in another province",
    unit="claims",
)
def same_day_claims_other_province(w: pd.DataFrame) -> np.ndarray:
    """Earlier medical claims of the claimant (past year) for the same service day in a different
    province:
    one person cannot be in two distant places; migrants rarely do this on the same day."""
    return w["same_day_other_province"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=days(365),
    by=("benefit_type", "benefit_month"),
    reason="the same benefit month was already claimed in {value:.0f} other region(s)",
    unit="claims",
)
def benefit_month_claimed_other_region(w: pd.DataFrame) -> np.ndarray:
    """Earlier pension or unemployment claims (past year) for the same benefit month in another
    region:
    overlapping benefit periods, duplicate receipt (重复领取)."""
    return w["cash_same_month_other_region"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=days(365),
    by=("benefit_type", "benefit_month", "region"),
    reason="the same benefit month was already claimed {value:.0f} time(s) in this region",
    unit="claims",
)
def benefit_month_claimed_before(w: pd.DataFrame) -> np.ndarray:
    """Earlier pension or unemployment claims (past year) for the same benefit month in the same
    region."""
    return w["cash_same_month_same_region"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=days(365),
    by=("provider", "benefit_type", "service_day"),
    reason="{value:.0f} earlier claims with the same provider, benefit and service day",
    unit="claims",
)
def duplicate_claims_same_day(w: pd.DataFrame) -> np.ndarray:
    """Earlier claims (past year) of the same claimant at the same provider for the same benefit
    and service day: duplicate claims (重复报销)."""
    return w["same_provider_same_day"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.LATEST,
    window=days(365),
    by=("provider", "benefit_type"),
    reason="the previous claim at this provider was {value:.0f} days apart",
    unit="days",
)
def days_from_previous_same_provider(w: pd.DataFrame) -> np.ndarray:
    """Days between the service start of this claim and the claimant's previous claim (past year)
    for the same benefit at the same provider."""
    return w["prev_same_provider_day_gap"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.LATEST,
    window=days(365),
    by=("provider", "benefit_type"),
    reason="the amount differs by only {value:.1%} from a claim at this provider days earlier",
    unit="share",
)
def near_duplicate_amount_difference(w: pd.DataFrame) -> np.ndarray:
    """Relative amount difference to the previous claim at the same provider for the same benefit
    when both services started within 3 days: near-duplicate claims with small variations."""
    return w["prev_same_provider_amount_diff"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=days(365),
    by=("benefit_type",),
    reason="the claimant made {value:.0f} claims of this benefit type in the previous 12 months",
    unit="claims",
)
def same_benefit_claims_before(w: pd.DataFrame) -> np.ndarray:
    """Earlier claims of the same benefit type by the claimant in the past year (repeat work
    injuries across firms, repeated maternity claims)."""
    return w["same_benefit_prior"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.VALUE,
    reason="claimed outside the claimant's insured region (flag {value:.0f})",
    unit="flag",
)
def outside_insured_region(w: pd.DataFrame) -> np.ndarray:
    """1 when the claim's region differs from the claimant's insured region (参保地)."""
    return w["outside_home_region"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=months(12),
    reason="{value:.0f} months of contributions were recorded during the unemployment spell",
    unit="months",
)
def contributions_during_unemployment(w: pd.DataFrame) -> np.ndarray:
    """Contribution months recorded (and already known) since the start of the claimant's current
    unemployment-benefit spell (its earliest benefit month among the unemployment claims of the
    past year), counted over the known months of the past year: employed while drawing
    unemployment benefit."""
    return w["contrib_during_unemployment"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.SUM,
    window=days(90),
    by=("drug",),
    norms=("drug_standard_supply",),
    reason="drug supplied for {value:.1f}x the days elapsed (90-day window)",
    unit="ratio",
)
def drug_supply_vs_days_elapsed(w: pd.DataFrame) -> np.ndarray:
    """Days' supply of the same drug dispensed to the claimant in 90 days (standard supplies of 30
    days, a standard supply being the median quantity per claim) against the days elapsed; the
    maximum over the claim's drugs. Above 1 means more than can be taken: reselling (回流药)."""
    return w["drug_supply_ratio"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=days(90),
    by=("drug",),
    reason="{value:.0f} fills of the same drug in the previous 90 days",
    unit="fills",
)
def drug_fills_90d(w: pd.DataFrame) -> np.ndarray:
    """Earlier dispensings of the same drug to the claimant in 90 days (max over the claim's
    drugs)."""
    return w["drug_fills_90d"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.DISTINCT,
    window=days(90),
    by=("drug",),
    reason="the same drug came from {value:.0f} different providers in 90 days",
    unit="providers",
)
def providers_for_same_drug(w: pd.DataFrame) -> np.ndarray:
    """Different providers that dispensed the same drug to the claimant in 90 days, this one
    included (max over the claim's drugs): doctor shopping for high-price drugs."""
    return w["drug_providers"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=days(365),
    by=("benefit_type",),
    reason="the claimant drew this benefit in {value:.0f} claims in other regions in 12 months",
    unit="claims",
)
def benefit_claims_other_regions_before(w: pd.DataFrame) -> np.ndarray:
    """Earlier pension or unemployment claims (past year) of the same benefit by the claimant in a
    region other than this claim's: one person drawing the benefit in two places (一人多号)."""
    return w["cash_other_regions_before"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=days(365),
    by=("provider", "benefit_type"),
    reason="{value:.0f} recent claims at this provider within a day and 5% of this amount",
    unit="claims",
)
def near_duplicate_claims_before(w: pd.DataFrame) -> np.ndarray:
    """Among the claimant's three latest earlier claims for the same benefit at the same
    provider, those whose service is within one day and whose amount is within 5% of this one:
    the same service claimed again with small variations."""
    return w["near_duplicates"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=days(365),
    by=("provider",),
    reason="{value:.0f} claims at this provider in 12 months billed exactly the same items",
    unit="claims",
)
def identical_item_list_before(w: pd.DataFrame) -> np.ndarray:
    """Earlier claims (past year) of the claimant at the same provider with exactly the same items
    and quantities (prices may differ): a bill submitted twice (重复报销)."""
    return w["identical_items_before"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=days(365),
    by=("provider",),
    reason="{value:.0f} earlier claims at this same provider in 12 months",
    unit="claims",
)
def claims_same_provider_365d(w: pd.DataFrame) -> np.ndarray:
    """The claimant's earlier claims at the same provider in 365 days: regular patients, and
    recruits brought back to the same clinic burst after burst."""
    return w["same_provider_365d"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.SHARE,
    window=days(365),
    reason="only {value:.0%} of the claimant's claims in 12 months were in this province",
    unit="share",
)
def share_of_claims_in_this_province(w: pd.DataFrame) -> np.ndarray:
    """Share of the claimant's earlier claims of the past year made in this claim's province
    (missing without one): a card suddenly used far from where its holder is always treated
    (card lending, 卡外借); migrants who live in two places have a steady share."""
    return w["province_share"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=days(365),
    by=("benefit_type",),
    reason="{value:.0f} pension months paid with no other sign of life from the claimant",
    unit="months",
)
def pension_months_without_life_trace(w: pd.DataFrame) -> np.ndarray:
    """For pension claims: the pension payments of the past year since the claimant's latest
    claim of any other benefit (care, medicines, a benefit claimed in person), this one
    included; all of the year's payments when there was none. A "life trace" (Zhejiang's
    资格认证 tiers): a pension that keeps being paid to someone who has stopped leaving any trace
    is checked for an unreported death (死亡冒领). Missing for other benefits."""
    return w["pension_months_without_trace"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=months(12),
    by=("benefit_month", "employer"),
    reason="contributions from another employer were recorded for {value:.0f} of the benefit's "
    "months",
    unit="months",
)
def benefit_months_with_other_employer(w: pd.DataFrame) -> np.ndarray:
    """For unemployment claims: months of the claim's own benefit period in which the claimant
    was recorded as contributing for an employer other than the one the benefit is tied to,
    counting only months already known at submission (month M from the first day of M+1; at
    most the 12 known months before it). A new job while drawing unemployment benefit
    (就业期间领取失业金). Flexible (individual) contributions do not count: many of the
    unemployed keep paying their own pension contributions. Missing for other benefits and
    while none of the benefit months is known yet."""
    return w["contrib_other_employer_benefit_month"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.RATIO_TO_PEER_NORM,
    window=days(90),
    by=("drug",),
    norms=("drug_refill_interval",),
    reason="the same drug was refilled after {value:.0%} of its usual refill interval",
    unit="ratio",
)
def drug_refill_interval_vs_norm_90d(w: pd.DataFrame) -> np.ndarray:
    """Mean days between the claimant's earlier fills of the same drug in 90 days (at any
    provider) and this one, against the drug's usual refill interval across all patients; the
    smallest over the claim's drugs. Well below 1: refilled long before the last supply can have
    been used (refill too soon, 超量开药 / 回流药). Missing without an earlier fill."""
    return w["drug_refill_interval_ratio"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.DISTINCT,
    window=days(90),
    by=("dispensing",),
    reason="drugs from {value:.0f} different prescribers in 90 days",
    unit="count",
)
def drug_prescribers_90d(w: pd.DataFrame) -> np.ndarray:
    """Different prescribers of the claimant's claims dispensing drugs in 90 days, this one
    included: the treating doctor where recorded, otherwise the dispensing provider. Doctor
    shopping: collecting prescriptions from many doctors (超量开药). Missing for claims without
    drugs."""
    return w["drug_prescribers"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=days(365),
    reason="{value:.0f} record(s) known at submission contradict the entitlement",
    unit="count",
)
def entitlement_conflicts(w: pd.DataFrame) -> np.ndarray:
    """How many kinds of record known at submission contradict the claimant's entitlement to
    this claim: the service began on or after a death already reported (死亡冒领, a dead person's
    card), the same benefit month was already claimed in another region (重复领取), another
    employer recorded contributions for the unemployment benefit month (就业期间领取失业金).
    Each is decisive but rare; counted together they are the registry and overlap checks of
    DOMAIN.md P1, P2 and P5 in one place."""
    return w["entitlement_conflicts"].to_numpy(dtype="float64")


@feature(
    "claimant",
    entity=Entity.PERSON,
    aggregate=Aggregate.COUNT,
    window=days(365),
    reason="{value:.0f} record(s) known at submission say the card holder was not the patient",
    unit="count",
)
def identity_conflicts(w: pd.DataFrame) -> np.ndarray:
    """For medical claims: how many kinds of record known at submission say the card holder
    cannot have been the patient: the service began on or after the holder's reported death,
    the diagnosis or benefit is impossible for the holder's recorded sex or age, the holder has
    an earlier claim for the same service day in another province. Each is decisive but rare;
    counted together they are the identity checks of DOMAIN.md M9 (冒名就医 / 卡外借) in one
    place. Missing for cash benefits."""
    return w["identity_conflicts"].to_numpy(dtype="float64")
