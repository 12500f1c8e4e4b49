"""Point in time and batch independence: the properties DESIGN principles 1 and 2 rest on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskml.data import ClaimsData
from riskml.errors import DataContractError
from riskml.features import FeatureBuilder, history_for

FIT_END = pd.Timestamp("2024-06-01")
CUT = pd.Timestamp("2024-09-01")


def as_known_at(data: ClaimsData, cut: pd.Timestamp) -> ClaimsData:
    """The data set as the administration held it at ``cut``: earlier claims only, deaths
    reported before it, contributions of months already recorded."""
    claims = data.claims.loc[data.claims["submitted_at"] < cut].reset_index(drop=True)
    items = data.claim_items.loc[data.claim_items["claim_id"].isin(claims["claim_id"])]
    persons = data.persons.copy()
    later = persons["death_reported_on"] >= cut.normalize()
    persons.loc[later, ["death_date", "death_reported_on"]] = pd.NaT
    contributions = data.contributions.loc[
        data.contributions["month"] + pd.DateOffset(months=1) <= cut
    ]
    return ClaimsData(
        persons,
        data.employers,
        data.providers,
        contributions.reset_index(drop=True),
        claims,
        items.reset_index(drop=True),
    )


@pytest.fixture(scope="module")
def builder(random_claims: ClaimsData) -> FeatureBuilder:
    return FeatureBuilder(fit_end=FIT_END).fit(random_claims)


@pytest.fixture(scope="module")
def full(builder: FeatureBuilder, random_claims: ClaimsData) -> pd.DataFrame:
    return builder.transform(random_claims)


def test_later_claims_deaths_and_contributions_change_no_earlier_feature(
    builder: FeatureBuilder, random_claims: ClaimsData, full: pd.DataFrame
) -> None:
    early = as_known_at(random_claims, CUT)
    assert 0 < len(early.claims) < len(random_claims.claims)
    assert early.persons["death_reported_on"].notna().sum() < (
        random_claims.persons["death_reported_on"].notna().sum()
    )
    X_early = builder.transform(early)
    pd.testing.assert_frame_equal(X_early, full.loc[X_early.index], check_exact=True)


def test_fit_is_the_same_on_the_truncated_data(
    random_claims: ClaimsData, full: pd.DataFrame
) -> None:
    """A builder fitted before later data arrived gives the same features as one fitted after."""
    early = as_known_at(random_claims, CUT)
    b_early = FeatureBuilder(fit_end=FIT_END).fit(early)
    X = b_early.transform(random_claims)
    pd.testing.assert_frame_equal(X, full, check_exact=True)


def test_features_do_not_depend_on_the_batch(
    builder: FeatureBuilder, random_claims: ClaimsData, full: pd.DataFrame
) -> None:
    ids = random_claims.claims["claim_id"].to_numpy()
    rng = np.random.default_rng(0)
    chunks = np.array_split(rng.permutation(len(ids)), 5)
    parts = []
    for chunk in chunks:
        claims = random_claims.claims.iloc[np.sort(chunk)]
        parts.append(builder.transform(random_claims, claims=claims))
    X = pd.concat(parts).loc[full.index]
    pd.testing.assert_frame_equal(X, full, check_exact=False, rtol=1e-9, atol=1e-9)


def test_a_claim_alone_with_its_history_gets_its_batch_features(
    builder: FeatureBuilder, random_claims: ClaimsData, full: pd.DataFrame
) -> None:
    claims = random_claims.claims.sort_values(["submitted_at", "claim_id"])
    for pos in (5, 200, 450, len(claims) - 1):
        new = claims.iloc[[pos]]
        history = claims.iloc[:pos]  # the online service's store before the request
        data = ClaimsData(
            random_claims.persons,
            random_claims.employers,
            random_claims.providers,
            random_claims.contributions,
            history.reset_index(drop=True),
            random_claims.claim_items,
        )
        X = builder.transform(data, claims=new)
        cid = new["claim_id"].iloc[0]
        pd.testing.assert_frame_equal(X, full.loc[[cid]], check_exact=False, rtol=1e-9, atol=1e-9)


def test_norms_change_only_with_training_window_data(
    builder: FeatureBuilder, random_claims: ClaimsData
) -> None:
    claims = random_claims.claims.copy()
    after = claims["submitted_at"] >= FIT_END
    claims.loc[after, "amount_claimed"] *= 10.0
    later_changed = ClaimsData(
        random_claims.persons,
        random_claims.employers,
        random_claims.providers,
        random_claims.contributions,
        claims,
        random_claims.claim_items,
    )
    refit = FeatureBuilder(fit_end=FIT_END).fit(later_changed)
    for family, tables in builder.norms_.items():
        for name, table in tables.items():
            if name == "person_graph_key":
                continue  # a random key per fit: the person graph is compared under each key
            if name == "person_graph":
                table = table.drop(columns="person_key")
                got = refit.norms_[family][name].drop(columns="person_key")
                pd.testing.assert_frame_equal(got, table, obj=name)
                continue
            pd.testing.assert_frame_equal(refit.norms_[family][name], table, obj=name)

    claims = random_claims.claims.copy()
    claims.loc[~after, "amount_claimed"] *= 10.0
    inside_changed = ClaimsData(
        random_claims.persons,
        random_claims.employers,
        random_claims.providers,
        random_claims.contributions,
        claims,
        random_claims.claim_items,
    )
    refit = FeatureBuilder(fit_end=FIT_END).fit(inside_changed)
    medians = refit.norms_["claim"]["amount_bt"]["median"].to_numpy()
    before = builder.norms_["claim"]["amount_bt"]["median"].to_numpy()
    np.testing.assert_allclose(medians, before * 10.0)


def test_fit_window_start_excludes_earlier_claims(random_claims: ClaimsData) -> None:
    b = FeatureBuilder(fit_start="2024-03-01", fit_end=FIT_END).fit(random_claims)
    sub = random_claims.claims["submitted_at"]
    inside = ((sub >= pd.Timestamp("2024-03-01")) & (sub < FIT_END)).sum()
    assert b.n_fit_claims_ == inside


def test_a_new_claim_outside_the_data_is_scored_against_its_history(
    builder: FeatureBuilder, random_claims: ClaimsData, full: pd.DataFrame
) -> None:
    """The online path: the store holds the history, the request brings a claim it lacks."""
    claims = random_claims.claims.sort_values(["submitted_at", "claim_id"])
    new = claims.iloc[[600]]
    history = ClaimsData(
        random_claims.persons,
        random_claims.employers,
        random_claims.providers,
        random_claims.contributions,
        claims.iloc[:600].reset_index(drop=True),
        random_claims.claim_items,
    )
    # as a service would pass it on: plain Python objects, not the loader's dtypes
    request = new.astype(object)
    X = builder.transform(history, claims=request)
    cid = new["claim_id"].iloc[0]
    pd.testing.assert_frame_equal(X, full.loc[[cid]], check_exact=False, rtol=1e-9, atol=1e-9)

    bad = request.drop(columns=["benefit_type"])
    with pytest.raises(DataContractError, match="benefit_type"):
        builder.transform(history, claims=bad)


def test_chunks_with_only_the_history_they_need(
    builder: FeatureBuilder, random_claims: ClaimsData, full: pd.DataFrame
) -> None:
    """Batch scoring: each chunk with :func:`history_for` gets its one-pass features."""
    claims = random_claims.claims.sort_values(["submitted_at", "claim_id"])
    parts = []
    for chunk in np.array_split(np.arange(len(claims)), 4):
        part = claims.iloc[chunk]
        history = history_for(random_claims, part)
        assert history.claims["submitted_at"].max() <= part["submitted_at"].max()
        parts.append(builder.transform(history, claims=part))
    X = pd.concat(parts).loc[full.index]
    pd.testing.assert_frame_equal(X, full, check_exact=False, rtol=1e-9, atol=1e-9)
