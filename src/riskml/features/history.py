"""The history a set of claims needs for its features, cut from a data directory in memory.

:func:`history_for` applies :mod:`riskml.reach` (which rows a claim's features read, stated once
for the features, the batch reader and the service store) to a loaded data set, so that a chunk of
a backlog gets exactly the features it would get in one pass over the whole data set.
Point-in-time filtering inside this history is still the builder's job.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.data import ClaimsData, isin
from riskml.features.context import DAY_S
from riskml.reach import (
    CLAIM_RELATIONS,
    CONTRIBUTION_REACH_MONTHS,
    CONTRIBUTION_RELATIONS,
    HIRE_GAP_MONTHS,
    ITEM_RELATIONS,
    LOOKBACK_DAYS,
    contribution_reach_start,
    reach_start,
)

__all__ = [
    "CONTRIBUTION_REACH_MONTHS",
    "HIRE_GAP_MONTHS",
    "LOOKBACK_DAYS",
    "LOOKBACK_S",
    "history_for",
]

#: :data:`riskml.reach.LOOKBACK_DAYS` in seconds, the unit of the features' time axis.
LOOKBACK_S = LOOKBACK_DAYS * DAY_S


def _upto(claims: pd.DataFrame, chunk: pd.DataFrame) -> np.ndarray:
    """Claims sorting at or before the chunk's last claim by (submitted_at, claim_id)."""
    last = chunk.sort_values(["submitted_at", "claim_id"]).iloc[-1]
    sub = claims["submitted_at"]
    return np.asarray(
        (sub < last["submitted_at"])
        | ((sub == last["submitted_at"]) & (claims["claim_id"] <= last["claim_id"]))
    )


def history_for(data: ClaimsData, claims: pd.DataFrame) -> ClaimsData:
    """The rows of ``data`` the features of ``claims`` read (:mod:`riskml.reach`).

    Claims up to the last of ``claims``, submitted at most :data:`~riskml.reach.REACH_DAYS`
    before the earliest of them, that share with one of them a claimant, a provider, an employer,
    a doctor (when recorded) or a drug trace code one of them bills; the line items of those
    claims and of ``claims``; the contributions of the claimants and of the employers' members
    from :data:`~riskml.reach.CONTRIBUTION_REACH_MONTHS` before; the small tables (persons,
    employers, providers) whole.
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
    shared = np.zeros(len(all_claims), dtype=bool)
    for column in CLAIM_RELATIONS:
        if column in all_claims.columns and column in claims.columns:
            shared |= isin(all_claims[column], claims[column])
    items = data.claim_items
    for column in ITEM_RELATIONS:
        if column in items.columns:
            own = items.loc[isin(items["claim_id"], claims["claim_id"]), column].dropna()
            if len(own):
                sharing = items.loc[isin(items[column], own), "claim_id"]
                shared |= isin(all_claims["claim_id"], sharing)
    recent = np.asarray(all_claims["submitted_at"] >= reach_start(claims))
    hist = all_claims.loc[_upto(all_claims, claims) & recent & shared]
    wanted_items = isin(items["claim_id"], hist["claim_id"]) | isin(
        items["claim_id"], claims["claim_id"]
    )
    contributions = data.contributions
    related = np.zeros(len(contributions), dtype=bool)
    for column in CONTRIBUTION_RELATIONS:
        related |= isin(contributions[column], claims[column])
    needed = related & np.asarray(contributions["month"] >= contribution_reach_start(claims))
    return ClaimsData(
        persons=data.persons,
        employers=data.employers,
        providers=data.providers,
        contributions=contributions.loc[needed],
        claims=hist,
        claim_items=items.loc[wanted_items],
        labels=None,
    )
