"""The history a set of claims needs for its features: what batch scoring and the service load.

:func:`history_for` is the features' own statement of which rows they read, so that a chunk of a
backlog (or an online request) gets exactly the features it would get in one pass over the whole
data set. Point-in-time filtering inside this history is still the builder's job.

**How far back features read.** A claim's own claimant is read over their whole history (a
person's claims are few). Through anything shared with other people (a provider, doctor,
employer or drug trace code) no feature reads further back than :data:`LOOKBACK_DAYS` before the
claim: windows are at most a year, "a patient's first visit" means the first in a year, and so
on. So the history of a set of claims is bounded by :data:`REACH_DAYS` before the earliest of
them, whatever the age of the data: batch scoring reads, per chunk, only that much of the
backlog, and its memory does not grow with the backlog.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.data import ClaimsData, isin
from riskml.features.context import DAY_S

#: The furthest back a feature reads through a provider, doctor, employer or trace code.
LOOKBACK_DAYS = 365
LOOKBACK_S = LOOKBACK_DAYS * DAY_S

#: What a set of claims needs, before its earliest claim, from claims of other people: the
#: lookback plus the longest window whose claims themselves look back (the provider's
#: new-patient share over 30 days), with a margin.
REACH_DAYS = 400

#: A member's return to an employer after this many months without contributions there counts
#: as a hire; the employer's hires are read over the 3 known months before the claim.
HIRE_GAP_MONTHS = 12

#: Contributions of an employer's members needed before the earliest claim's submission month:
#: the 3 hiring months, the 12-month gap, the month of delay before a month is known, a margin.
CONTRIBUTION_REACH_MONTHS = 18


def _upto(claims: pd.DataFrame, chunk: pd.DataFrame) -> np.ndarray:
    """Claims sorting at or before the chunk's last claim by (submitted_at, claim_id)."""
    last = chunk.sort_values(["submitted_at", "claim_id"]).iloc[-1]
    sub = claims["submitted_at"]
    return np.asarray(
        (sub < last["submitted_at"])
        | ((sub == last["submitted_at"]) & (claims["claim_id"] <= last["claim_id"]))
    )


def reach_start(claims: pd.DataFrame) -> pd.Timestamp:
    """The earliest submission time of another person's claim that ``claims`` may read."""
    return pd.Timestamp(claims["submitted_at"].min()) - pd.Timedelta(days=REACH_DAYS)


def contribution_reach_start(claims: pd.DataFrame) -> pd.Timestamp:
    """The earliest contribution month of an employer's members that ``claims`` may read."""
    first = pd.Timestamp(claims["submitted_at"].min()).to_period("M")
    return (first - CONTRIBUTION_REACH_MONTHS).to_timestamp()


def history_for(data: ClaimsData, claims: pd.DataFrame) -> ClaimsData:
    """The rows of ``data`` the features of ``claims`` read.

    Claims up to the last of ``claims`` that share with one of them a claimant (any time), or,
    submitted at most :data:`REACH_DAYS` before the earliest of them, a provider, employer or
    (when recorded) doctor, or a drug trace code one of them bills; the line items of those claims
    and of ``claims``; the contributions of the claimants (any time) and of the employers'
    members (from :data:`CONTRIBUTION_REACH_MONTHS` before); the small tables (persons,
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
    shared = isin(all_claims["provider_id"], claims["provider_id"]) | isin(
        all_claims["employer_id"], claims["employer_id"]
    )
    if "doctor_id" in all_claims.columns and "doctor_id" in claims.columns:
        shared |= isin(all_claims["doctor_id"], claims["doctor_id"])
    items = data.claim_items
    if "trace_code" in items.columns:
        own = items.loc[isin(items["claim_id"], claims["claim_id"]), "trace_code"].dropna()
        if len(own):
            sharing = items.loc[isin(items["trace_code"], own), "claim_id"]
            shared |= isin(all_claims["claim_id"], sharing)
    recent = np.asarray(all_claims["submitted_at"] >= reach_start(claims))
    related = isin(all_claims["person_id"], claims["person_id"]) | (recent & shared)
    hist = all_claims.loc[_upto(all_claims, claims) & related]
    wanted_items = isin(items["claim_id"], hist["claim_id"]) | isin(
        items["claim_id"], claims["claim_id"]
    )
    contributions = data.contributions
    needed = isin(contributions["person_id"], claims["person_id"]) | (
        isin(contributions["employer_id"], claims["employer_id"])
        & np.asarray(contributions["month"] >= contribution_reach_start(claims))
    )
    return ClaimsData(
        persons=data.persons,
        employers=data.employers,
        providers=data.providers,
        contributions=contributions.loc[needed],
        claims=hist,
        claim_items=items.loc[wanted_items],
        labels=None,
    )
