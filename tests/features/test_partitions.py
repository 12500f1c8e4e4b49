"""Each feature family run per bucket of its entity key gives the whole data set's values.

What the Spark engine's ``--partition-by entity`` rests on (:mod:`riskml.features.partitions`),
checked here on the pandas side: the targets are hashed into buckets by the family's key, each
bucket gets :func:`family_history` only, and the family's columns must equal, bit for bit, those
computed with the whole data set as history. A doctor who also works at a second provider and
drug boxes billed by several persons show that the secondary relations are needed: without them
the same check fails.
"""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np
import pandas as pd
import pytest

from riskml.data import ClaimsData
from riskml.features import FeatureBuilder, default_fit_end
from riskml.features.partitions import FamilyPartition, family_history, family_partition
from riskml.features.registry import FAMILIES

BUCKETS = 4


def _bucket(values: pd.Series, claim_ids: pd.Series) -> np.ndarray:
    """A stable hash bucket of each value (of the claim id where the value is missing)."""
    keys = [str(v) if pd.notna(v) else "\x00" + c for v, c in zip(values, claim_ids, strict=True)]
    return np.array([zlib.crc32(k.encode()) % BUCKETS for k in keys])


def _per_bucket(
    builder: FeatureBuilder, data: ClaimsData, targets: pd.DataFrame, part: FamilyPartition
) -> pd.DataFrame:
    bucket = _bucket(targets[part.key], targets["claim_id"])
    frames = []
    for b in range(BUCKETS):
        these = targets.loc[bucket == b]
        if len(these):
            frames.append(
                builder.transform_family(part.family, family_history(data, these, part), these)
            )
    return pd.concat(frames)


def _mismatches(got: pd.DataFrame, expected: pd.DataFrame) -> dict[str, int]:
    ref = expected.loc[got.index, got.columns]
    same = (got == ref) | (got.isna() & ref.isna())
    return {str(c): int((~same[c]).sum()) for c in got.columns if not same[c].all()}


@pytest.fixture(scope="module")
def doctor_moves(synth_data: ClaimsData) -> ClaimsData:
    """The session data with one busy doctor also treating at a second provider (the later
    half of that doctor's claims are billed by another provider, of another bucket), and boxes
    of drugs billed again by other persons (the generator's boxes stay with one person)."""
    claims = synth_data.claims.copy()
    busiest = claims["doctor_id"].value_counts().index[0]
    mine = claims.index[claims["doctor_id"] == busiest]
    home = claims.loc[mine[0], "provider_id"]
    others = claims["provider_id"].value_counts().index
    own_bucket = _bucket(pd.Series([home]), pd.Series([""]))[0]
    elsewhere = [p for p in others if _bucket(pd.Series([p]), pd.Series([""]))[0] != own_bucket]
    claims.loc[mine[len(mine) // 2 :], "provider_id"] = elsewhere[0]
    items = synth_data.claim_items.copy()
    boxed = items.loc[items["trace_code"].notna(), ["claim_id", "trace_code"]]
    boxed = boxed.merge(claims[["claim_id", "person_id", "submitted_at"]], on="claim_id")
    boxed = boxed.sort_values("submitted_at")
    fit_end = default_fit_end(synth_data)
    early = boxed.loc[boxed["submitted_at"] < fit_end].tail(20 * BUCKETS)  # within the year
    late = boxed.loc[boxed["submitted_at"] >= fit_end]  # scored claims
    early_bucket = _bucket(early["person_id"], early["claim_id"])
    late_bucket = _bucket(late["person_id"], late["claim_id"])
    pairs = 0
    for b in range(BUCKETS):
        sold = early.loc[early_bucket == b].head(20)
        resold = late.loc[late_bucket != b].iloc[pairs : pairs + len(sold)]
        where = items.index[
            items["claim_id"].isin(resold["claim_id"]) & items["trace_code"].notna()
        ]
        firsts = ~items.loc[where, "claim_id"].duplicated()  # one line of each claim
        items.loc[where[firsts.to_numpy()], "trace_code"] = sold["trace_code"].to_numpy()[
            : int(firsts.sum())
        ]
        pairs += len(sold)
    return dataclasses.replace(synth_data, claims=claims, claim_items=items)


@pytest.fixture(scope="module")
def fitted(doctor_moves: ClaimsData) -> tuple[FeatureBuilder, pd.DataFrame, pd.DataFrame]:
    data = doctor_moves
    fit_end = default_fit_end(data)
    builder = FeatureBuilder(fit_end=fit_end).fit(data)
    targets = data.claims.loc[data.claims["submitted_at"] >= fit_end]
    return builder, targets, builder.transform(data, targets)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_per_bucket_of_its_key_equals_the_whole_data(
    doctor_moves: ClaimsData, fitted, family: str
) -> None:
    builder, targets, expected = fitted
    part = family_partition(family, builder.feature_names_)
    got = _per_bucket(builder, doctor_moves, targets, part)
    assert len(got) == len(targets) and got.index.is_unique
    assert _mismatches(got, expected) == {}
    assert got.notna().to_numpy().mean() > 0.1  # not trivially all missing


def test_the_partitions_read_through_the_declared_entities(fitted) -> None:
    builder, _, _ = fitted
    parts = {f: family_partition(f, builder.feature_names_) for f in FAMILIES}
    assert parts["claimant"].key == "person_id"
    assert parts["provider"].claim_relations == ("provider_id", "doctor_id")
    assert parts["claim"].item_relations == ("trace_code",)
    assert "employer_id" in parts["employer"].contribution_relations
    # its person features are over contribution months: members' claims elsewhere are not read
    assert parts["employer"].claim_relations == ("employer_id",)
    assert "person_id" in parts["employer"].contribution_relations


@pytest.mark.parametrize(
    ("family", "dropped", "broken"),
    [
        ("provider", {"claim_relations": ("provider_id",)}, "doctor_"),
        ("claim", {"item_relations": ()}, "trace_codes_seen"),
    ],
)
def test_without_a_secondary_relation_the_buckets_differ(
    doctor_moves: ClaimsData, fitted, family: str, dropped: dict, broken: str
) -> None:
    """The check above can fail: a bucket that does not read a doctor's claims at the other
    provider, or the boxes others billed, gets those features wrong."""
    builder, targets, expected = fitted
    part = dataclasses.replace(family_partition(family, builder.feature_names_), **dropped)
    wrong = _mismatches(_per_bucket(builder, doctor_moves, targets, part), expected)
    assert wrong and all(name.startswith(broken) for name in wrong), wrong
