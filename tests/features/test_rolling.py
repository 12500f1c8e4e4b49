"""claims_v2's rolling entity features against a plain reading of their definitions.

Each claim's value is recomputed by brute force from the claims that sort before it (by
``(submitted_at, claim_id)``), so the vectorised windows are checked claim by claim; and a
provider that first appears after the training window gets real values from its first claims on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskml.data import ClaimsData
from riskml.features import FeatureBuilder
from riskml.features.network import (
    COVISIT_TOLERANCE_DAYS,
    COVISIT_WINDOW_DAYS,
    MAX_EVENT_SIZE,
    OCCASION_GAP_DAYS,
    VISIT_SPREAD_DAYS,
)

FIT_END = "2024-06-01"
YEAR = pd.Timedelta(days=365)


@pytest.fixture(scope="module")
def features(random_claims: ClaimsData) -> pd.DataFrame:
    return FeatureBuilder(fit_end=FIT_END).fit(random_claims).transform(random_claims)


@pytest.fixture(scope="module")
def history(random_claims: ClaimsData) -> pd.DataFrame:
    return random_claims.claims.sort_values(["submitted_at", "claim_id"]).reset_index(drop=True)


def test_how_much_is_known_about_the_provider(
    features: pd.DataFrame, history: pd.DataFrame
) -> None:
    checked = 0
    for i, claim in history.iterrows():
        if pd.isna(claim["provider_id"]):
            assert np.isnan(features.loc[claim["claim_id"], "provider_claims_365d"])
            continue
        earlier = history.iloc[: int(i)]
        own = earlier.loc[
            (earlier["provider_id"] == claim["provider_id"])
            & (earlier["submitted_at"] >= claim["submitted_at"] - YEAR)
        ]
        days = (
            (claim["submitted_at"] - own["submitted_at"].min()).total_seconds() / 86_400
            if len(own)
            else 0.0
        )
        got = features.loc[claim["claim_id"]]
        assert got["provider_claims_365d"] == len(own)
        assert got["provider_days_known"] == pytest.approx(days, abs=1e-9)
        checked += 1
    assert checked > 500


def test_volume_against_the_providers_own_past(
    features: pd.DataFrame, history: pd.DataFrame
) -> None:
    for i, claim in history.iloc[::7].iterrows():
        if pd.isna(claim["provider_id"]):
            continue
        earlier = history.iloc[: int(i)]
        own = earlier.loc[
            (earlier["provider_id"] == claim["provider_id"])
            & (earlier["submitted_at"] >= claim["submitted_at"] - YEAR)
        ]
        recent = (own["submitted_at"] >= claim["submitted_at"] - pd.Timedelta(days=30)).sum()
        got = features.loc[claim["claim_id"], "provider_volume_vs_own_past"]
        days = (
            (claim["submitted_at"] - own["submitted_at"].min()).total_seconds() / 86_400
            if len(own)
            else 0.0
        )
        if days - 30 < 30:
            assert np.isnan(got)
            continue
        expected = (len(own) - recent) * 30 / (days - 30)
        assert got == pytest.approx((recent + 1) / (expected + 1), rel=1e-9)


def _brute_covisits(history: pd.DataFrame) -> pd.DataFrame:
    """``repeat`` and ``partners`` of every claim, read off the definitions in
    :func:`riskml.features.network.covisits` one claim at a time."""
    h = history.loc[history["provider_id"].notna()].copy()
    h["day"] = h["service_start"].dt.normalize()
    spread = pd.Timedelta(days=VISIT_SPREAD_DAYS)
    window = pd.Timedelta(days=COVISIT_WINDOW_DAYS)
    # pair records: (provider, who, whom, day) -> when first known (position in history)
    known: dict[tuple[object, object, object, object], int] = {}
    at_time: dict[int, pd.Timestamp] = {}
    for i, c in h.iterrows():
        i = int(i)
        at_time[i] = c["submitted_at"]
        same = h.loc[
            (h.index < i)
            & (h["provider_id"] == c["provider_id"])
            & (h["day"] == c["day"])
            & (h["submitted_at"] >= c["submitted_at"] - spread)
        ]
        if len(same) >= MAX_EVENT_SIZE:
            continue
        for q in same["person_id"]:
            if q == c["person_id"]:
                continue
            for who, whom in ((c["person_id"], q), (q, c["person_id"])):
                known.setdefault((c["provider_id"], who, whom, c["day"]), i)
    rows = []
    for i, c in h.iterrows():
        i, t = int(i), c["submitted_at"]
        mine = {
            k: j for k, j in known.items() if k[0] == c["provider_id"] and k[1] == c["person_id"]
        }

        def visits_before(whom: object, j: int, mine: dict = mine) -> int:  # type: ignore[type-arg]
            tj = at_time[j]
            return sum(
                1 for k, m in mine.items() if k[2] == whom and m < j and at_time[m] >= tj - window
            )

        repeat = sum(1 for k, j in mine.items() if j == i and visits_before(k[2], j) >= 1)
        partners = {
            k[2]
            for k, j in mine.items()
            if j <= i and at_time[j] >= t - window and visits_before(k[2], j) >= 1
        }
        rows.append((c["claim_id"], repeat, len(partners)))
    return pd.DataFrame(rows, columns=["claim_id", "repeat", "partners"]).set_index("claim_id")


def test_covisits_follow_their_definition(random_claims: ClaimsData) -> None:
    # a small world where co-visits happen: 20 persons at 2 clinics over a few months
    rng = np.random.default_rng(3)
    claims = random_claims.claims
    clinics = claims["provider_id"].dropna().unique()[:2]
    sub = claims.loc[claims["provider_id"].isin(clinics)].head(300).copy()
    sub["person_id"] = rng.choice(random_claims.persons["person_id"].to_numpy()[:20], len(sub))
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 60, len(sub)), unit="D")
    sub["service_start"] = sub["service_end"] = day
    sub["submitted_at"] = day + pd.to_timedelta(rng.integers(1, 40 * 24, len(sub)), unit="h")
    data = ClaimsData(
        random_claims.persons,
        random_claims.employers,
        random_claims.providers,
        random_claims.contributions,
        sub,
        random_claims.claim_items.loc[random_claims.claim_items["claim_id"].isin(sub["claim_id"])],
    )
    X = FeatureBuilder(min_peers=1).fit(data).transform(data)
    brute = _brute_covisits(sub.sort_values(["submitted_at", "claim_id"]).reset_index(drop=True))
    got = X.loc[brute.index]
    assert (brute["repeat"] > 0).sum() > 10, "the test world should have repeat co-visits"
    np.testing.assert_array_equal(got["repeat_covisitors_same_day"], brute["repeat"])
    np.testing.assert_array_equal(got["covisit_partners_180d"], brute["partners"])


def _brute_covisits_within_a_day(history: pd.DataFrame) -> pd.DataFrame:
    """``repeat`` and ``partners`` of every claim, read off the definitions in
    :func:`riskml.features.network.covisits_within_a_day` one claim at a time."""
    h = history.loc[history["provider_id"].notna()].copy()
    h["day"] = h["service_start"].dt.normalize()
    spread = pd.Timedelta(days=VISIT_SPREAD_DAYS)
    window = pd.Timedelta(days=COVISIT_WINDOW_DAYS)
    tolerance = pd.Timedelta(days=COVISIT_TOLERANCE_DAYS)
    gap = pd.Timedelta(days=OCCASION_GAP_DAYS)

    def small(i: int) -> bool:
        c = h.loc[i]
        same = (
            (h.index < i)
            & (h["provider_id"] == c["provider_id"])
            & (h["day"] == c["day"])
            & (h["submitted_at"] >= c["submitted_at"] - spread)
        )
        return int(same.sum()) < MAX_EVENT_SIZE

    is_small = {int(i): small(int(i)) for i in h.index}
    # pair records: (provider, who, whom, occasion) -> the claim that first formed it
    known: dict[tuple[object, object, object, object], int] = {}
    for i, c in h.iterrows():
        i = int(i)
        if not is_small[i]:
            continue
        near = h.loc[
            (h.index < i)
            & (h["provider_id"] == c["provider_id"])
            & ((h["day"] - c["day"]).abs() <= tolerance)
            & (h["submitted_at"] >= c["submitted_at"] - spread)
        ]
        for j, q in near.iterrows():
            if not is_small[int(j)] or q["person_id"] == c["person_id"]:
                continue
            occasion = min(c["day"], q["day"])
            for who, whom in ((c["person_id"], q["person_id"]), (q["person_id"], c["person_id"])):
                known.setdefault((c["provider_id"], who, whom, occasion), i)

    def linked(key: tuple[object, object, object, object], j: int) -> bool:
        """Another record of the same two persons at the provider, known before claim ``j``
        within the window, on an occasion ``gap`` or more away."""
        tj = h.loc[j, "submitted_at"]
        return any(
            k[:3] == key[:3]
            and m < j
            and h.loc[m, "submitted_at"] >= tj - window
            and abs(k[3] - key[3]) >= gap
            for k, m in known.items()
        )

    rows = []
    for i, c in h.iterrows():
        i, t = int(i), c["submitted_at"]
        mine = {
            k: j for k, j in known.items() if k[0] == c["provider_id"] and k[1] == c["person_id"]
        }
        repeat = {k[2] for k, j in mine.items() if j == i and linked(k, j)}
        partners = {
            k[2]
            for k, j in mine.items()
            if j <= i and h.loc[j, "submitted_at"] >= t - window and linked(k, j)
        }
        rows.append((c["claim_id"], len(repeat), len(partners)))
    return pd.DataFrame(rows, columns=["claim_id", "repeat", "partners"]).set_index("claim_id")


def test_covisits_within_a_day_follow_their_definition(random_claims: ClaimsData) -> None:
    # groups of 6 persons who come to one of 2 clinics over two days, every 2-3 weeks, among
    # 20 other persons coming any day
    rng = np.random.default_rng(5)
    claims = random_claims.claims
    clinics = claims["provider_id"].dropna().unique()[:2]
    sub = claims.loc[claims["provider_id"].isin(clinics)].head(240).copy()
    persons = random_claims.persons["person_id"].to_numpy()
    group = rng.random(len(sub)) < 0.5
    sub["person_id"] = np.where(
        group, rng.choice(persons[:6], len(sub)), rng.choice(persons[6:26], len(sub))
    )
    sub["provider_id"] = np.where(group, clinics[0], sub["provider_id"])
    burst = 17 * rng.integers(0, 6, len(sub)) + rng.integers(0, 2, len(sub))
    any_day = rng.integers(0, 100, len(sub))
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.where(group, burst, any_day), unit="D")
    sub["service_start"] = sub["service_end"] = day
    sub["submitted_at"] = day + pd.to_timedelta(rng.integers(1, 40 * 24, len(sub)), unit="h")
    data = ClaimsData(
        random_claims.persons,
        random_claims.employers,
        random_claims.providers,
        random_claims.contributions,
        sub,
        random_claims.claim_items.loc[random_claims.claim_items["claim_id"].isin(sub["claim_id"])],
    )
    X = FeatureBuilder(min_peers=1).fit(data).transform(data)
    brute = _brute_covisits_within_a_day(
        sub.sort_values(["submitted_at", "claim_id"]).reset_index(drop=True)
    )
    got = X.loc[brute.index]
    assert (brute["repeat"] > 0).sum() > 10, "the test world should have repeat co-visits"
    assert (brute["repeat"] > got["repeat_covisitors_same_day"]).any(), "and two-day visits"
    np.testing.assert_array_equal(got["repeat_covisitors_within_a_day"], brute["repeat"])
    np.testing.assert_array_equal(got["covisit_partners_within_a_day_180d"], brute["partners"])
    # the share of the provider's claims of the previous 90 days with a repeat co-visitor within
    # a day, each claim reading the claims before it
    h = sub.sort_values(["submitted_at", "claim_id"]).reset_index(drop=True)
    h["grouped"] = (brute.loc[h["claim_id"], "repeat"] > 0).to_numpy()
    window = pd.Timedelta(days=90)
    expected = []
    for i, c in h.iterrows():
        before = h.loc[
            (h.index < i)
            & (h["submitted_at"] >= c["submitted_at"] - window)
            & (h["provider_id"] == c["provider_id"])
        ]
        expected.append(before["grouped"].mean() if len(before) else np.nan)
    assert np.nanmax(expected) > 0
    np.testing.assert_allclose(
        X.loc[h["claim_id"], "provider_group_visit_share_90d"].to_numpy(),
        np.array(expected),
        rtol=1e-12,
    )
