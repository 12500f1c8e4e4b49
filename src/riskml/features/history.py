"""The history a set of claims needs for its features: what batch scoring and the service load.

:func:`history_for` is the features' own statement of which rows they read, so that a chunk of a
backlog (or an online request) gets exactly the features it would get in one pass over the whole
data set. Point-in-time filtering inside this history is still the builder's job.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.data import ClaimsData


def _upto(claims: pd.DataFrame, chunk: pd.DataFrame) -> np.ndarray:
    """Claims sorting at or before the chunk's last claim by (submitted_at, claim_id)."""
    last = chunk.sort_values(["submitted_at", "claim_id"]).iloc[-1]
    sub = claims["submitted_at"]
    return np.asarray(
        (sub < last["submitted_at"])
        | ((sub == last["submitted_at"]) & (claims["claim_id"] <= last["claim_id"]))
    )


def history_for(data: ClaimsData, claims: pd.DataFrame) -> ClaimsData:
    """The rows of ``data`` the features of ``claims`` read.

    Claims up to the last of ``claims`` that share with one of them a claimant, provider,
    employer or (when recorded) doctor, or bill a drug trace code one of them bills; the line
    items of those claims and of ``claims``; the contributions of the claimants and of the
    employers' members; the small tables (persons, employers, providers) whole.
    """
    all_claims = data.claims
    if claims.empty:
        return ClaimsData(
            data.persons,
            data.employers,
            data.providers,
            data.contributions.iloc[:0],
            all_claims.iloc[:0],
            data.claim_items.iloc[:0],
        )
    related = (
        all_claims["person_id"].isin(claims["person_id"])
        | all_claims["provider_id"].isin(claims["provider_id"].dropna())
        | all_claims["employer_id"].isin(claims["employer_id"].dropna())
    )
    if "doctor_id" in all_claims.columns and "doctor_id" in claims.columns:
        related |= all_claims["doctor_id"].isin(claims["doctor_id"].dropna())
    items = data.claim_items
    if "trace_code" in items.columns:
        own = items.loc[items["claim_id"].isin(claims["claim_id"]), "trace_code"].dropna()
        if len(own):
            sharing = items.loc[items["trace_code"].isin(own), "claim_id"]
            related |= all_claims["claim_id"].isin(sharing)
    hist = all_claims.loc[_upto(all_claims, claims) & np.asarray(related)]
    wanted_items = items["claim_id"].isin(hist["claim_id"]) | items["claim_id"].isin(
        claims["claim_id"]
    )
    contributions = data.contributions
    needed = contributions["person_id"].isin(claims["person_id"]) | contributions[
        "employer_id"
    ].isin(claims["employer_id"].dropna())
    return ClaimsData(
        persons=data.persons,
        employers=data.employers,
        providers=data.providers,
        contributions=contributions.loc[needed],
        claims=hist,
        claim_items=items.loc[wanted_items],
        labels=None,
    )
