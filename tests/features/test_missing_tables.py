"""A scheme without employer-linked or contribution-linked benefits: no ``employers`` and no
``contributions`` table. The loader takes it (CONTRACT.md: both optional), the builder fits and
transforms it, and the features that need an employer say "not known" (NaN) instead of
crashing; every other feature is what it is with the tables present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from riskml.contract import MEDICAL_BENEFITS
from riskml.data import ClaimsData, empty_table, load_data_dir
from riskml.features import FEATURES, FeatureBuilder

FIT_END = pd.Timestamp("2024-06-01")
EMPLOYER_FEATURES = {
    "tenure_with_employer_days",
    "contribution_months_with_employer",
    "contribution_base_vs_regional_median",
    "contributions_during_unemployment",
    "employer_new_members_3m",
    "employer_hiring_burst",
    "employer_members",
    "employer_benefit_claims_per_member",
    "employer_age_days",
}


def _medical_only(data: ClaimsData) -> ClaimsData:
    claims = data.claims.loc[data.claims["benefit_type"].isin(MEDICAL_BENEFITS)]
    claims = claims.assign(employer_id=pd.Series(None, index=claims.index, dtype="str"))
    keep = data.claim_items["claim_id"].isin(claims["claim_id"])
    return ClaimsData(
        persons=data.persons,
        employers=empty_table("employers"),
        providers=data.providers,
        contributions=empty_table("contributions"),
        claims=claims.reset_index(drop=True),
        claim_items=data.claim_items.loc[keep].reset_index(drop=True),
    )


def test_builder_runs_without_employers_and_contributions(
    random_claims: ClaimsData, tmp_path: Path
) -> None:
    medical = _medical_only(random_claims)
    medical.write(tmp_path / "d")
    for name in ("employers", "contributions"):
        (tmp_path / "d" / f"{name}.parquet").unlink()
    loaded = load_data_dir(tmp_path / "d")
    assert loaded.employers.empty and loaded.contributions.empty
    X = FeatureBuilder(fit_end=FIT_END).fit(loaded).transform(loaded)
    assert len(X) == len(medical.claims) > 100
    assert set(X.columns) >= EMPLOYER_FEATURES & set(X.columns)
    # what needs an employer is not known, never a made-up zero; the claimant's own count of
    # contribution months reads 0, as for anyone without a known contribution
    for name in EMPLOYER_FEATURES & set(X.columns):
        assert X[name].isna().all(), name
    assert (X["contribution_months_12m"] == 0).all()
    # the rest does not depend on the absent tables: same as with the tables present
    with_tables = ClaimsData(
        persons=medical.persons,
        employers=random_claims.employers,
        providers=medical.providers,
        contributions=random_claims.contributions.iloc[:0],
        claims=medical.claims,
        claim_items=medical.claim_items,
    )
    Y = FeatureBuilder(fit_end=FIT_END).fit(with_tables).transform(with_tables)
    others = [c for c in X.columns if FEATURES[c].family != "employer"]
    others = [c for c in others if c not in EMPLOYER_FEATURES]
    pd.testing.assert_frame_equal(X[others], Y.loc[X.index, others], check_exact=True)
    assert np.isfinite(X[others].to_numpy(dtype=float)).any(axis=0).sum() > len(others) // 2
