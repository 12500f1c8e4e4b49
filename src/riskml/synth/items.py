"""Line items of medical claims, priced from a schedule; their sum is the claimed amount.

Each claim gets lines by slot (bed and nursing per day, consultation, drugs and exams that treat
its diagnosis, generic drugs and exams, the diagnosis' procedure, infusion sets). Prices come
from the catalogue, adjusted by hospital tier and regional wage index (drugs have one national
price). Drug quantities are scaled so the claim lands near its drawn (heavy-tailed) cost.

Item modes carry the footprints of some typologies: ``MODE_SPARSE`` (phantom stays: bed days
and almost nothing else), ``MODE_RESELL`` (one high-value drug, large quantities, trace codes
drawn from a small pool so they repeat), ``unbundle`` (package components billed separately,
duplicated lines). Items follow ``item_dx``, which an upcoder leaves at the true diagnosis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.synth.reference import (
    BED,
    CONSULT,
    DX_DRUGS,
    DX_EXAMS,
    DX_GROUP,
    DX_N_DRUGS,
    DX_N_EXAMS,
    DX_N_PROCS,
    DX_PROCS,
    GENERIC_DRUGS,
    GENERIC_EXAMS,
    INFUSION_DRUGS,
    INFUSION_SET,
    ITEM_INDEX,
    ITEMS,
    NURSING,
    PACKAGE_COMPONENTS,
    WAGE_INDEX,
)
from riskml.synth.world import BENEFIT, LOOK, MODE_RESELL, MODE_SPARSE, World

ALL_CODES = np.array([it.code for it in ITEMS] + [c[0] for c in PACKAGE_COMPONENTS])
ALL_CATEGORY = np.array([it.category for it in ITEMS] + [c[2] for c in PACKAGE_COMPONENTS])
ALL_PRICE = np.array([it.price for it in ITEMS] + [c[3] for c in PACKAGE_COMPONENTS])
ALL_DAYS = np.array([it.days_per_unit for it in ITEMS] + [0.0] * len(PACKAGE_COMPONENTS))
FIRST_COMPONENT = len(ITEMS)
TIER_PRICE = np.array([0.85, 0.85, 1.0, 1.15])
BED_TIER = np.array([0.7, 0.7, 1.0, 1.5])
MEDICAL_BENEFITS = ("outpatient", "inpatient", "pharmacy", "work_injury")
(K_BED, K_NURSE, K_CONSULT, K_SDRUG, K_GDRUG, K_SEXAM, K_GEXAM, K_PROC, K_SET) = range(9)
_PER_HOUR = ITEM_INDEX["310603008"]
_PER_DAY = (ITEM_INDEX["340200001"],)
_DIALYSIS = ITEM_INDEX["311000001"]


def _mix(x: np.ndarray) -> np.ndarray:
    """A deterministic 64-bit mix (splitmix64 finaliser): pool trace codes look random."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return np.asarray((z % np.uint64(8 * 10**18)).astype(np.int64) + 10**18)


def build_items(rng: np.random.Generator, world: World) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Line items for every medical claim; returns (items, claims with amounts from items).

    Items have ``cidx`` (row of ``world.claims``), ``line_no``, ``item`` (catalogue index),
    ``quantity``, ``unit_price``, ``amount``, ``trace`` (-1: none) and ``extra`` (a line an
    unbundling provider added).
    """
    claims = world.claims
    benefit = claims["benefit"].to_numpy()
    med = np.isin(benefit, [BENEFIT[b] for b in MEDICAL_BENEFITS])
    ci = np.nonzero(med)[0]
    n = len(ci)
    b = benefit[ci]
    los = np.maximum(claims["los"].to_numpy()[ci], 1)
    dx = claims["item_dx"].to_numpy()[ci]
    dx = np.where(dx < 0, 0, dx)
    mode = claims["mode"].to_numpy()[ci]
    supply = claims["supply"].to_numpy()[ci]
    forced = claims["drug"].to_numpy()[ci]
    target = claims["amount"].to_numpy()[ci]
    prov = world.providers
    prid = claims["prid"].to_numpy()[ci]
    tier = np.where(prid >= 0, prov["tier"].to_numpy()[np.maximum(prid, 0)], 0)
    region = claims["region"].to_numpy()[ci]
    inpat = (b == BENEFIT["inpatient"]) | (
        (b == BENEFIT["work_injury"]) & (claims["los"].to_numpy()[ci] >= 2)
    )
    pharm = b == BENEFIT["pharmacy"]
    outp = ~inpat & ~pharm
    sparse = mode == MODE_SPARSE
    resell = mode == MODE_RESELL
    normal = ~sparse & ~resell
    nd, ne, npr = DX_N_DRUGS[dx], DX_N_EXAMS[dx], DX_N_PROCS[dx]
    r = rng.random((n, 6))
    k = np.zeros((n, 9), dtype=np.int64)
    ip = inpat & normal
    k[:, K_BED] = inpat
    k[:, K_NURSE] = inpat
    k[:, K_CONSULT] = outp
    k[:, K_SDRUG] = np.select(
        [ip, outp & normal, pharm & normal, resell],
        [
            np.minimum(nd, 1 + (r[:, 0] < 0.6)),
            np.minimum(nd, 1 + (r[:, 0] < 0.3)),
            np.minimum(nd, 1 + (r[:, 0] < 0.3)),
            1,
        ],
        0,
    )
    k[:, K_GDRUG] = np.select(
        [ip, outp & normal, pharm & normal, sparse],
        [
            1 + (r[:, 1] < 0.6) + (r[:, 1] < 0.2),
            (r[:, 1] < 0.4) | (nd == 0),
            (nd == 0) | (r[:, 1] < 0.3),
            1,
        ],
        0,
    )
    k[:, K_SEXAM] = np.select(
        [ip, outp & normal], [np.minimum(ne, 2), np.minimum(ne, 1) * (r[:, 2] < 0.5)], 0
    )
    k[:, K_GEXAM] = np.select(
        [ip, outp & normal, sparse], [1 + (r[:, 3] < 0.5) + (r[:, 3] < 0.2), r[:, 3] < 0.3, 1], 0
    )
    k[:, K_PROC] = np.select(
        [ip, outp & normal & (DX_GROUP[dx] == "injury")],
        [np.minimum(npr, 1), np.minimum(npr, 1)],
        0,
    )
    k[:, K_SET] = ip

    counts = k.ravel()
    row = np.repeat(np.repeat(np.arange(n), 9), counts)
    kind = np.repeat(np.tile(np.arange(9), n), counts)
    # ordinal of a line among the lines of its kind in its claim
    grp_start = np.repeat(np.cumsum(counts) - counts, counts)
    ordinal = np.arange(len(row)) - grp_start
    m = len(row)
    u = rng.random(m)
    d = dx[row]
    item = np.full(m, -1, dtype=np.int64)
    item[kind == K_BED] = BED
    item[kind == K_NURSE] = NURSING
    item[kind == K_CONSULT] = CONSULT
    item[kind == K_SET] = INFUSION_SET
    sd = kind == K_SDRUG
    item[sd] = DX_DRUGS[d[sd], ordinal[sd] % np.maximum(DX_N_DRUGS[d[sd]], 1)]
    rs = sd & resell[row]
    item[rs] = forced[row[rs]]
    gd = kind == K_GDRUG
    use_inf = inpat[row] | sparse[row]
    gen_off = np.floor(rng.random(n) * 5).astype(np.int64)
    item[gd & ~use_inf] = GENERIC_DRUGS[
        (gen_off[row] + ordinal)[gd & ~use_inf] % len(GENERIC_DRUGS)
    ]
    item[gd & use_inf] = INFUSION_DRUGS[
        (gen_off[row] + ordinal)[gd & use_inf] % len(INFUSION_DRUGS)
    ]
    se = kind == K_SEXAM
    item[se] = DX_EXAMS[d[se], ordinal[se] % np.maximum(DX_N_EXAMS[d[se]], 1)]
    ge = kind == K_GEXAM
    item[ge] = GENERIC_EXAMS[(gen_off[row] + ordinal)[ge] % len(GENERIC_EXAMS)]
    pr = kind == K_PROC
    item[pr] = DX_PROCS[d[pr], 0]
    ok = item >= 0
    row, kind, item, u = row[ok], kind[ok], item[ok], u[ok]
    # one line per item code per claim
    first = ~pd.DataFrame({"r": row, "i": item}).duplicated().to_numpy()
    row, kind, item, u = row[first], kind[first], item[first], u[first]

    lrow_los = los[row]
    days = ALL_DAYS[item]
    qty = np.ones(len(row))
    qty = np.where((kind == K_BED) | (kind == K_NURSE), lrow_los, qty)
    qty = np.where(kind == K_SET, 2 * lrow_los, qty)
    is_drug = (kind == K_SDRUG) | (kind == K_GDRUG)
    sup = supply[row]
    qty = np.where(is_drug & (sup > 0), np.ceil(sup / np.maximum(days, 1)), qty)
    dose_drug = is_drug & (sup <= 0)
    qty = np.where(
        dose_drug & inpat[row],
        np.where(days <= 1, np.ceil(lrow_los * (0.5 + u)), np.ceil(lrow_los / np.maximum(days, 1))),
        qty,
    )
    qty = np.where(dose_drug & ~inpat[row], 1 + (u < 0.4), qty)
    qty = np.where(item == _PER_HOUR, 24 * np.maximum(1, lrow_los // 2), qty)
    qty = np.where(np.isin(item, _PER_DAY) & inpat[row], lrow_los, qty)
    qty = np.where((item == _DIALYSIS) & inpat[row], np.maximum(1, lrow_los // 3), qty)
    wi = WAGE_INDEX[region[row]]
    factor = np.where(is_drug, 1.0, TIER_PRICE[tier[row]] * wi**0.3)
    factor = np.where(kind == K_BED, factor * BED_TIER[tier[row]], factor)
    price = np.round(ALL_PRICE[item] * factor, 2)
    amount = qty * price
    # scale dose-based drug quantities so that the claim lands near its target cost
    scalable = dose_drug & (normal[row])
    fixed = np.bincount(row, weights=np.where(scalable, 0.0, amount), minlength=n)
    flex = np.bincount(row, weights=np.where(scalable, amount, 0.0), minlength=n)
    want = np.where(flex > 0, (target - fixed) / np.where(flex > 0, flex, 1.0), 1.0)
    s = np.clip(want, 0.3, 60.0)
    qty = np.where(scalable, np.maximum(1.0, np.round(qty * s[row])), qty)
    amount = np.round(qty * price, 2)
    extra = np.zeros(len(row), dtype=bool)
    trace = np.where(
        is_drug & (rng.random(len(row)) < 0.75),
        rng.integers(10**18, 9 * 10**18, len(row)),
        -1,
    )
    unit = claims["unit"].to_numpy()[ci]
    rsl = is_drug & resell[row]
    trace = np.where(
        rsl, _mix(unit[row].astype(np.int64) * 8 + rng.integers(0, 3, len(row))), trace
    )
    lines = pd.DataFrame(
        {
            "row": row,
            "item": item,
            "quantity": qty,
            "unit_price": price,
            "amount": amount,
            "trace": trace,
            "extra": extra,
        }
    )
    lines = _copy_lines(rng, claims, ci, lines)
    lines, repeat_rows = _repeated_exams(rng, claims, ci, lines)
    lines = pd.concat(
        [lines, _unbundled_lines(rng, claims, ci, lines, tier, region)], ignore_index=True
    )
    lines = lines.sort_values(["row", "extra"], kind="stable").reset_index(drop=True)
    lines["cidx"] = ci[lines["row"].to_numpy()]
    lines["line_no"] = lines.groupby("row").cumcount().to_numpy() + 1
    total = np.bincount(lines["row"].to_numpy(), weights=lines["amount"].to_numpy(), minlength=n)
    extra_amt = np.bincount(
        lines["row"].to_numpy(), weights=np.where(lines["extra"], lines["amount"], 0.0), minlength=n
    )
    out = claims.copy()
    look = out["look"].to_numpy().copy()
    rep = ci[repeat_rows]
    look[rep] = np.where(look[rep] < 0, LOOK["repeat_exam"], look[rep])
    out["look"] = look
    amt = out["amount"].to_numpy().copy()
    amt[ci] = np.round(total, 2)
    out["amount"] = amt
    extra_col = np.zeros(len(out))
    extra_col[ci] = extra_amt
    out["extra_amount"] = extra_col
    return lines.drop(columns=["row"]), out


def _repeated_exams(
    rng: np.random.Generator, claims: pd.DataFrame, ci: np.ndarray, lines: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray]:
    """About 4% of honest stays repeat an exam (a control scan): the same line billed twice.

    An honest look-alike of duplicate item billing. Returns the lines and the claim rows.
    """
    honest = (
        (claims["typ"].to_numpy()[ci] < 0)
        & (claims["benefit"].to_numpy()[ci] == BENEFIT["inpatient"])
        & (claims["mode"].to_numpy()[ci] == 0)
        & (claims["copy_of"].to_numpy()[ci] < 0)
    )
    chosen = np.nonzero(honest & (rng.random(len(ci)) < 0.04))[0]
    exams = lines[lines["row"].isin(chosen) & (ALL_CATEGORY[lines["item"].to_numpy()] == "exam")]
    again = exams.groupby("row").tail(1)
    return pd.concat([lines, again], ignore_index=True), np.unique(again["row"].to_numpy())


def _copy_lines(
    rng: np.random.Generator, claims: pd.DataFrame, ci: np.ndarray, lines: pd.DataFrame
) -> pd.DataFrame:
    """Duplicate claims repeat their original's lines; one price may be nudged by 1-4%."""
    copy_of = claims["copy_of"].to_numpy()[ci]
    copies = np.nonzero(copy_of >= 0)[0]
    if not len(copies):
        return lines
    key_to_row = pd.Series(np.arange(len(ci)), index=claims["key"].to_numpy()[ci])
    orig = key_to_row.reindex(copy_of[copies]).to_numpy()
    ok = ~np.isnan(orig)
    copies, orig = copies[ok], orig[ok].astype(np.int64)
    src = pd.DataFrame({"row": orig, "copy": copies})
    dup = (
        lines.merge(src, on="row", how="inner").drop(columns="row").rename(columns={"copy": "row"})
    )
    nudge = dup.groupby("row").cumcount().to_numpy() == 0
    nudge &= rng.random(len(dup)) < 0.5
    factor = np.where(
        nudge, 1 + rng.choice([-1, 1], len(dup)) * rng.uniform(0.01, 0.04, len(dup)), 1.0
    )
    dup["unit_price"] = np.round(dup["unit_price"].to_numpy() * factor, 2)
    dup["amount"] = np.round(dup["quantity"].to_numpy() * dup["unit_price"].to_numpy(), 2)
    # a repeated infusion uses new packs (new trace codes); a re-submitted bill the same ones
    fresh_packs = claims["look"].to_numpy()[ci][dup["row"].to_numpy()] == LOOK["infusion_series"]
    trace = dup["trace"].to_numpy()
    renew = fresh_packs & (trace >= 0)
    dup["trace"] = np.where(renew, rng.integers(10**18, 9 * 10**18, len(dup)), trace)
    kept = lines[~lines["row"].isin(copies)]
    return pd.concat([kept, dup[lines.columns]], ignore_index=True)


def _unbundled_lines(
    rng: np.random.Generator,
    claims: pd.DataFrame,
    ci: np.ndarray,
    lines: pd.DataFrame,
    tier: np.ndarray,
    region: np.ndarray,
) -> pd.DataFrame:
    """Package components billed on top of the package, and duplicated lines (unbundling)."""
    flag = claims["unbundle"].to_numpy()[ci]
    rows = np.nonzero(flag > 0)[0]
    if not len(rows):
        return lines.iloc[:0]
    group = DX_GROUP[np.maximum(claims["item_dx"].to_numpy()[ci][rows], 0)]
    package = np.where(np.isin(group, ["cardio", "heavy"]), 1, np.where(group == "surgical", 0, 2))
    comp = FIRST_COMPONENT + package[:, None] * 3 + np.arange(3)[None, :]
    n_comp = np.where(rng.random(len(rows)) < 0.7, 3, 2)
    keep = np.arange(3)[None, :] < n_comp[:, None]
    c_row = np.repeat(rows, 3)[keep.ravel()]
    c_item = comp.ravel()[keep.ravel()]
    wi = WAGE_INDEX[region[c_row]]
    c_price = np.round(ALL_PRICE[c_item] * TIER_PRICE[tier[c_row]] * wi**0.3, 2)
    comps = pd.DataFrame(
        {
            "row": c_row,
            "item": c_item,
            "quantity": 1.0,
            "unit_price": c_price,
            "amount": c_price,
            "trace": -1,
            "extra": True,
        }
    )
    # duplicated lines: the last non-bed line of the claim billed again, unchanged
    dup_rows = rows[flag[rows] >= 2]
    cand = lines[lines["row"].isin(dup_rows) & (lines["item"] != BED)]
    dups = cand.groupby("row").tail(1).assign(extra=True)
    return pd.concat([comps, dups], ignore_index=True)
