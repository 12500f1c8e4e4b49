"""Turn the generator's integer world into contract tables, the ground truth and the manifest.

Ids are assigned here, from random permutations, so that an id never tells when or by which
stage a row was made (injected rows would otherwise cluster at the end). Claims are numbered
in order of submission. Day offsets become dates, ``NO_DAY`` and reports after the window
become nulls (a death reported after the data was extracted is not known yet).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskml.contract import BENEFIT_TYPES, CHANNELS, TYPOLOGIES
from riskml.data import ClaimsData
from riskml.synth.items import ALL_CATEGORY, ALL_CODES
from riskml.synth.reference import DX_CODES, REGION_CODES
from riskml.synth.world import CLASSES, LOOKALIKES, World, stage_rng


def _series(arr: pa.Array | pa.ChunkedArray) -> pd.Series:
    """An Arrow string array as a pandas ``str`` Series (no Python objects on the way)."""
    return pd.Series(pd.array(arr, dtype="str"))


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded ``numbers`` as an Arrow string array."""
    text = pc.utf8_lpad(pa.array(np.asarray(numbers, dtype=np.int64)).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, text, "")


def _permuted_ids(rng: np.random.Generator, prefix: str, n: int, width: int) -> pa.Array:
    return _ids(prefix, rng.permutation(n) + 1, width)


def _take(ids: pa.Array, index: np.ndarray, valid: np.ndarray | None = None) -> pd.Series:
    """``ids[index]`` as a ``str`` Series, null where not ``valid``."""
    index = np.asarray(index, dtype=np.int64)
    if valid is None:
        return _series(ids.take(pa.array(index)))
    mask = ~np.asarray(valid, dtype=bool)
    return _series(ids.take(pa.array(np.where(mask, 0, index), mask=mask)))


def _cat(
    categories: np.ndarray | tuple[str, ...], codes: np.ndarray, valid: np.ndarray | None = None
) -> pd.Series:
    """``categories[codes]`` as a ``str`` Series, null where not ``valid``."""
    return _take(pa.array(np.asarray(categories, dtype=str)), codes, valid)


def _dates(start: np.datetime64, days: np.ndarray, valid: np.ndarray | None = None) -> pd.Series:
    d = (start + np.asarray(days).astype("timedelta64[D]")).astype("datetime64[ns]")
    if valid is not None:
        d = np.where(valid, d, np.datetime64("NaT"))
    return pd.Series(d, dtype="datetime64[ns]")


def _timestamps(start: np.datetime64, seconds: np.ndarray) -> pd.Series:
    ts = (start.astype("datetime64[s]") + np.asarray(seconds).astype("timedelta64[s]")).astype(
        "datetime64[ns]"
    )
    return pd.Series(ts, dtype="datetime64[ns]")


def _str(values: np.ndarray, valid: np.ndarray | None = None) -> pd.Series:
    ser = pd.Series(np.asarray(values, dtype=object))
    if valid is not None:
        ser = ser.where(valid, None)
    return ser.astype("str")


def to_contract(
    world: World, items: pd.DataFrame, labels: pd.DataFrame
) -> tuple[ClaimsData, pd.DataFrame]:
    """Contract tables (labels included) and the ground truth of a finished world."""
    rng = stage_rng(world.config.seed, "writer")
    tl = world.timeline
    start = tl.start
    n_days = tl.n_days
    p = world.persons
    person_id = _permuted_ids(rng, "P", len(p), 9)
    death = p["death"].to_numpy()
    reported = p["reported"].to_numpy()
    known = (death < n_days) & (reported < n_days)
    persons = pd.DataFrame(
        {
            "person_id": _series(person_id),
            "birth_date": _dates(start, p["birth"].to_numpy()),
            "sex": _str(p["sex"].to_numpy()),
            "region_code": _cat(REGION_CODES, p["region"].to_numpy()),
            "hukou_type": _str(p["hukou"].to_numpy()),
            "enrolled_on": _dates(start, p["enrolled"].to_numpy()),
            # a death the administration has not learnt of by the end of the window is not in
            # the data at all (the true date is in the ground truth)
            "death_date": _dates(start, np.where(known, death, 0), known),
            "death_reported_on": _dates(start, np.where(known, reported, 0), known),
        }
    )
    e = world.employers
    employer_id = _permuted_ids(rng, "E", len(e), 8)
    employers = pd.DataFrame(
        {
            "employer_id": _series(employer_id),
            "region_code": _cat(REGION_CODES, e["region"].to_numpy()),
            "industry": _str(e["industry"].to_numpy()),
            "size_band": _str(e["size_band"].to_numpy()),
            "registered_on": _dates(start, e["registered"].to_numpy()),
        }
    )
    pr = world.providers
    provider_id = _permuted_ids(rng, "H", len(pr), 7)
    tier = pr["tier"].to_numpy()
    beds = pr["beds"].to_numpy()
    providers = pd.DataFrame(
        {
            "provider_id": _series(provider_id),
            "provider_type": _str(pr["ptype"].to_numpy()),
            "tier": pd.array(np.where(tier > 0, tier, 0), dtype="Int64"),
            "ownership": _str(np.where(pr["private"].to_numpy(), "private", "public")),
            "region_code": _cat(REGION_CODES, pr["region"].to_numpy()),
            "designated_on": _dates(start, pr["designated"].to_numpy()),
            "beds": pd.array(beds, dtype="Int64"),
        }
    )
    providers.loc[tier <= 0, "tier"] = pd.NA
    providers.loc[beds <= 0, "beds"] = pd.NA
    c = world.contributions
    eid = c["eid"].to_numpy()
    contributions = pd.DataFrame(
        {
            "person_id": _take(person_id, c["pid"].to_numpy()),
            "employer_id": _take(employer_id, eid, eid >= 0),
            "month": _dates(start, tl.month_start(c["month"].to_numpy())),
            "contribution_base": c["base"].to_numpy().astype(float),
        }
    )

    cl = world.claims
    n_doctors = int(pr["doctors"].sum())
    doctor_ids = _permuted_ids(rng, "D", max(n_doctors, 1), 7)
    order = np.lexsort((rng.random(len(cl)), cl["sub_s"].to_numpy()))
    claim_number = np.empty(len(cl), dtype=np.int64)
    claim_number[order] = np.arange(len(cl)) + 1
    claim_id = _ids("C", claim_number, 10)
    prid = cl["prid"].to_numpy()
    ceid = cl["eid"].to_numpy()
    dx = cl["dx"].to_numpy()
    doc = cl["doctor"].to_numpy()
    claims = pd.DataFrame(
        {
            "claim_id": _series(claim_id),
            "person_id": _take(person_id, cl["pid"].to_numpy()),
            "benefit_type": _cat(BENEFIT_TYPES, cl["benefit"].to_numpy()),
            "provider_id": _take(provider_id, prid, prid >= 0),
            "employer_id": _take(employer_id, ceid, ceid >= 0),
            "region_code": _cat(REGION_CODES, cl["region"].to_numpy()),
            "submitted_at": _timestamps(start, cl["sub_s"].to_numpy()),
            "service_start": _dates(start, cl["start"].to_numpy()),
            "service_end": _dates(start, cl["end"].to_numpy()),
            "diagnosis_code": _cat(DX_CODES, dx, dx >= 0),
            "amount_claimed": np.round(cl["amount"].to_numpy(), 2),
            "channel": _cat(CHANNELS, cl["channel"].to_numpy()),
            "doctor_id": _take(doctor_ids, doc, doc >= 0),
        }
    )
    claims = claims.iloc[order].reset_index(drop=True)

    it = items
    trace = it["trace"].to_numpy()
    claim_items = pd.DataFrame(
        {
            "claim_id": _take(claim_id, it["cidx"].to_numpy()),
            "line_no": it["line_no"].to_numpy().astype(np.int64),
            "item_code": _cat(ALL_CODES, it["item"].to_numpy()),
            "item_category": _cat(ALL_CATEGORY, it["item"].to_numpy()),
            "quantity": it["quantity"].to_numpy().astype(float),
            "unit_price": it["unit_price"].to_numpy().astype(float),
            "amount": it["amount"].to_numpy().astype(float),
            "trace_code": _take(
                _ids("8", np.maximum(trace, 0), 19), np.arange(len(trace)), trace >= 0
            ),
        }
    )
    claim_items = (
        claim_items.assign(_n=claim_number[it["cidx"].to_numpy()])
        .sort_values(["_n", "line_no"], kind="stable")
        .drop(columns="_n")
        .reset_index(drop=True)
    )

    lab_idx = labels["cidx"].to_numpy()
    lab_typ = labels["typology"].to_numpy()
    label_frame = pd.DataFrame(
        {
            "claim_id": _take(claim_id, lab_idx),
            "is_fraud": labels["is_fraud"].to_numpy().astype(bool),
            "typology": _cat(TYPOLOGIES, lab_typ, lab_typ >= 0),
            "decided_at": _timestamps(start, labels["decided_s"].to_numpy()),
            "source": _str(labels["source"].to_numpy()),
            "outcome": _str(labels["outcome"].to_numpy()),
            "selection_probability": labels["selection_probability"].to_numpy(dtype=np.float64),
        }
    )
    label_frame = (
        label_frame.assign(_n=claim_number[lab_idx])
        .sort_values("_n")
        .drop(columns="_n")
        .reset_index(drop=True)
    )

    truth = _ground_truth(world, cl, claim_id, claim_number, labels, person_id, provider_id)
    data = ClaimsData(
        persons=persons,
        employers=employers,
        providers=providers,
        contributions=contributions,
        claims=claims,
        claim_items=claim_items,
        labels=label_frame,
    )
    return data, truth


def _ground_truth(
    world: World,
    cl: pd.DataFrame,
    claim_id: pa.Array,
    claim_number: np.ndarray,
    labels: pd.DataFrame,
    person_id: pa.Array,
    provider_id: pa.Array,
) -> pd.DataFrame:
    """One row per improper claim (fraud, abuse or honest error), detected or not.

    ``death_date`` is the claimant's true date of death, known to the data or not.
    """
    typ = cl["typ"].to_numpy()
    idx = np.nonzero(typ >= 0)[0]
    detected = np.zeros(len(cl), dtype=bool)
    detected[labels["cidx"].to_numpy()[labels["is_fraud"].to_numpy()]] = True
    labelled = np.zeros(len(cl), dtype=bool)
    labelled[labels["cidx"].to_numpy()] = True
    names = np.asarray(TYPOLOGIES)[typ[idx]]
    true_death = world.persons["death"].to_numpy()[cl["pid"].to_numpy()[idx]]
    n = world.timeline.n_days
    unit = cl["unit"].to_numpy()[idx]
    improper = np.round(cl["improper_share"].to_numpy()[idx] * cl["amount"].to_numpy()[idx], 2)
    improper = improper + np.round(cl["extra_amount"].to_numpy()[idx], 2)
    truth = pd.DataFrame(
        {
            "claim_id": _take(claim_id, idx),
            "typology": _str(names),
            "class": _str(np.asarray(CLASSES)[cl["tclass"].to_numpy()[idx]]),
            "improper_amount": np.minimum(improper, cl["amount"].to_numpy()[idx]),
            "unit_id": _str(
                pd.Series(names)
                .str.cat(pd.Series(unit).astype(str).str.zfill(6), sep="-")
                .to_numpy()
            ),
            "person_id": _take(person_id, cl["pid"].to_numpy()[idx]),
            "provider_id": _take(
                provider_id, cl["prid"].to_numpy()[idx], cl["prid"].to_numpy()[idx] >= 0
            ),
            "death_date": _dates(
                world.timeline.start, np.where(true_death < n, true_death, 0), true_death < n
            ),
            "labelled": labelled[idx],
            "detected": detected[idx],
        }
    )
    truth["_n"] = claim_number[idx]
    return truth.sort_values("_n").drop(columns="_n").reset_index(drop=True)


def lookalike_counts(world: World) -> dict[str, int]:
    """Number of honest look-alike claims of each kind."""
    look = world.claims["look"].to_numpy()
    return {name: int((look == i).sum()) for i, name in enumerate(LOOKALIKES)}
