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
    return rows_reached(data, claims, CLAIM_RELATIONS, ITEM_RELATIONS, CONTRIBUTION_RELATIONS)


def rows_reached(
    data: ClaimsData,
    claims: pd.DataFrame,
    claim_relations: tuple[str, ...],
    item_relations: tuple[str, ...],
    contribution_relations: tuple[str, ...],
) -> ClaimsData:
    """:func:`history_for` through the given relations only: the claims up to the last of
    ``claims`` within the reach of the earliest that are one of them or share with one of them a
    column of ``claim_relations`` (when both record it) or a code of ``item_relations`` one of
    them bills; their line items and those of ``claims``; the contributions matching
    ``contribution_relations``."""
    all_claims = data.claims
    items = data.claim_items
    contributions = data.contributions
    if claims.empty:
        return ClaimsData(
            data.persons,
            data.employers,
            data.providers,
            contributions.iloc[:0],
            all_claims.iloc[:0],
            items.iloc[:0],
        )
    shared = isin(all_claims["claim_id"], claims["claim_id"])
    for column in claim_relations:
        if column in all_claims.columns and column in claims.columns:
            shared |= isin(all_claims[column], claims[column])
    for column in item_relations:
        if column in items.columns:
            own = items.loc[isin(items["claim_id"], claims["claim_id"]), column].dropna()
            if len(own):
                sharing = items.loc[isin(items[column], own), "claim_id"]
                shared |= isin(all_claims["claim_id"], sharing)
    recent = np.asarray(all_claims["submitted_at"] >= reach_start(claims))
    hist = all_claims.loc[_upto(all_claims, claims) & recent & shared]
    related = np.zeros(len(contributions), dtype=bool)
    for column in contribution_relations:
        related |= isin(contributions[column], claims[column])
    needed = related & np.asarray(contributions["month"] >= contribution_reach_start(claims))
    return ClaimsData(
        persons=data.persons,
        employers=data.employers,
        providers=data.providers,
        contributions=contributions.loc[needed],
        claims=hist,
        claim_items=items.loc[
            isin(items["claim_id"], hist["claim_id"]) | isin(items["claim_id"], claims["claim_id"])
        ],
        labels=None,
    )
