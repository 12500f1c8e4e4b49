"""The full feature matrices of the tiny and random data sets, pinned to the bit.

The digests are those of the matrices computed at commit 0766cd1 (before the feature
declarations and the split of the provider family's ``prepare``): a refactoring of the families
must leave every value, column and row as it was. A deliberate change of a feature's values is
a new feature-set version (sets.py); update the digest here in the same commit and say why.
Features added to a set change its digest by their new columns only: the digest of the set
without them stays pinned too.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from riskml.features import FeatureBuilder

from .factory import random_data, tiny

PINNED = {
    ("tiny", "claims_v1"): "8fa758b223c044a44c588e3fb3b5e6061c3946b41ea38cdf8a298a23a5d8ae22",
    ("tiny", "claims_v2"): "324bb4a23b82bfc4f8cc5e2d14270d5310e67dfe84d99ad61b58d9b11fd42ed1",
    ("random", "claims_v1"): "d1a2d02af13f39c1ceb206e8c38a9ca9280972889db561149a9eb0e327daf06f",
    ("random", "claims_v2"): "57b4e622c02c5c17b8b02bf65974b7c03ac7e1ffa1d1a7778d069301266a0e31",
}
#: Columns added to claims_v2 after commit 0766cd1 (new columns only: the values of the
#: earlier ones are still pinned by :data:`PINNED_BEFORE_ADDITIONS`).
ADDED_TO_V2 = (
    "pension_months_without_life_trace",
    "benefit_months_with_other_employer",
    "drug_refill_interval_vs_norm_90d",
    "drug_prescribers_90d",
    "trace_codes_seen_at_other_provider",
    "entitlement_conflicts",
    "repeat_covisitors_within_a_day",
    "covisit_partners_within_a_day_180d",
    "provider_group_visit_share_90d",
    "identity_conflicts",
)
#: claims_v2 without :data:`ADDED_TO_V2`: the digests of commit 0766cd1, unchanged.
PINNED_BEFORE_ADDITIONS = {
    "tiny": "2f94e482f6f4b4c0d56a50749032dd43c3ba084be8232696e3f5793e23c6831e",
    "random": "39ad324e35067d1c7ba49630b48eb0db104c99d751e1f98e4d5e91059cb96440",
}
DATA = {"tiny": tiny, "random": random_data}


def digest(matrix: pd.DataFrame) -> str:
    """SHA-256 of the matrix's column names, row labels and float64 values."""
    h = hashlib.sha256()
    h.update("|".join(map(str, matrix.columns)).encode())
    h.update("|".join(map(str, matrix.index)).encode())
    h.update(matrix.to_numpy(dtype="float64").tobytes())
    return h.hexdigest()


@pytest.mark.parametrize(("data_set", "feature_set"), sorted(PINNED))
def test_feature_matrix_is_bit_identical_to_the_pinned_one(data_set: str, feature_set: str) -> None:
    data = DATA[data_set]()
    matrix = FeatureBuilder(feature_set=feature_set, min_peers=1).fit(data).transform(data)
    assert digest(matrix) == PINNED[(data_set, feature_set)]


@pytest.mark.parametrize("data_set", sorted(PINNED_BEFORE_ADDITIONS))
def test_features_added_to_claims_v2_leave_the_earlier_columns_as_they_were(data_set: str) -> None:
    data = DATA[data_set]()
    matrix = FeatureBuilder(min_peers=1).fit(data).transform(data)
    assert set(ADDED_TO_V2) <= set(matrix.columns)
    assert digest(matrix.drop(columns=list(ADDED_TO_V2))) == PINNED_BEFORE_ADDITIONS[data_set]


@pytest.mark.parametrize(("data_set", "feature_set"), sorted(PINNED))
def test_fit_transform_on_one_context_is_the_pinned_matrix(data_set: str, feature_set: str) -> None:
    """``fit_transform`` (what ``riskml train`` calls) shares one context between fitting and
    transforming: the matrix is still the pinned one."""
    data = DATA[data_set]()
    matrix = FeatureBuilder(feature_set=feature_set, min_peers=1).fit_transform(data)
    assert digest(matrix) == PINNED[(data_set, feature_set)]


def test_fit_transform_with_a_training_window_equals_fit_then_transform() -> None:
    """With a training window narrower than the data (as in training), the shared context
    gives the same bits as two separate ones."""
    data = random_data()
    sub = data.claims["submitted_at"].sort_values()
    start, end = sub.iloc[len(sub) // 5], sub.iloc[len(sub) // 2]
    kwargs = {"fit_start": start, "fit_end": end}
    separate = FeatureBuilder(**kwargs).fit(data).transform(data)
    shared = FeatureBuilder(**kwargs).fit_transform(data)
    pd.testing.assert_frame_equal(shared, separate, check_exact=True)
    assert digest(shared) == digest(separate)
