"""The history a set of claims needs for its features: what batch scoring and the service load.

:func:`history_for` is the features' own statement of which rows they read, so that a chunk of a
backlog (or an online request) gets exactly the features it would get in one pass over the whole
data set. Point-in-time filtering inside this history is still the builder's job.

**How far back features read.** No feature reads further back than :data:`LOOKBACK_DAYS` (a
year) before the claim's submission, neither through the claimant's own claims nor through a
provider, doctor, employer or drug trace code: windows are at most a year, "earlier claims" are
the earlier claims of the past year, "a patient's first visit" is the first in a year, a
contribution history is the past year's months, and so on. So the history of a set of claims is
bounded by :data:`REACH_DAYS` (and :data:`CONTRIBUTION_REACH_MONTHS`) before the earliest of
them, whatever the age of the data: batch scoring reads, per chunk, only that much of the
backlog, and its memory does not grow with the length of the backlog.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.data import ClaimsData, isin
from riskml.features.context import DAY_S

#: The furthest back a feature reads, through the claimant or anybody else.
LOOKBACK_DAYS = 365
LOOKBACK_S = LOOKBACK_DAYS * DAY_S

#: What a set of claims needs before its earliest claim: the lookback plus the longest window
#: whose claims themselves look back (the provider's new-patient share over 30 days), with a
#: margin.
REACH_DAYS = 400

#: A member's return to an employer after this many months without contributions there counts
#: as a hire; the employer's hires are read over the 3 known months before the claim.
HIRE_GAP_MONTHS = 12

#: Contributions needed before the earliest claim's submission month: for an employer's members,
#: the 3 hiring months, the 12-month gap, the month of delay before a month is known and a
#: margin; the claimant's own months (the past year, an unemployment spell) lie within it.
CONTRIBUTION_REACH_MONTHS = 18


def _upto(claims: pd.DataFrame, chunk: pd.DataFrame) -> np.ndarray:
    """Claims sorting at or before the chunk's last claim by (submitted_at, claim_id)."""
    last = chunk.sort_values(["submitted_at", "claim_id"]).iloc[-1]
    sub = claims["submitted_at"]
    return np.asarray(
        (sub < last["submitted_at"])
        | ((sub == last["submitted_at"]) & (claims["claim_id"] <= last["claim_id"]))
    )


def reach_before(earliest: pd.Timestamp) -> pd.Timestamp:
    """The earliest submission time of a claim that the features of claims submitted from
    ``earliest`` on may read."""
    return pd.Timestamp(earliest) - pd.Timedelta(days=REACH_DAYS)


def reach_start(claims: pd.DataFrame) -> pd.Timestamp:
    """The earliest submission time of a claim that the features of ``claims`` may read."""
    return reach_before(claims["submitted_at"].min())


def contribution_reach_start(claims: pd.DataFrame) -> pd.Timestamp:
    """The earliest contribution month that the features of ``claims`` may read."""
    first = pd.Timestamp(claims["submitted_at"].min()).to_period("M")
    return (first - CONTRIBUTION_REACH_MONTHS).to_timestamp()


def history_for(data: ClaimsData, claims: pd.DataFrame) -> ClaimsData:
    """The rows of ``data`` the features of ``claims`` read.

    Claims up to the last of ``claims``, submitted at most :data:`REACH_DAYS` before the earliest
    of them, that share with one of them a claimant, a provider, an employer, a doctor (when
    recorded) or a drug trace code one of them bills; the line items of those claims and of
    ``claims``; the contributions of the claimants and of the employers' members from
    :data:`CONTRIBUTION_REACH_MONTHS` before; the small tables (persons, employers, providers)
    whole.
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
    shared = (
        isin(all_claims["person_id"], claims["person_id"])
        | isin(all_claims["provider_id"], claims["provider_id"])
        | isin(all_claims["employer_id"], claims["employer_id"])
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
    hist = all_claims.loc[_upto(all_claims, claims) & recent & shared]
    wanted_items = isin(items["claim_id"], hist["claim_id"]) | isin(
        items["claim_id"], claims["claim_id"]
    )
    contributions = data.contributions
    needed = (
        isin(contributions["person_id"], claims["person_id"])
        | isin(contributions["employer_id"], claims["employer_id"])
    ) & np.asarray(contributions["month"] >= contribution_reach_start(claims))
    return ClaimsData(
        persons=data.persons,
        employers=data.employers,
        providers=data.providers,
        contributions=contributions.loc[needed],
        claims=hist,
        claim_items=items.loc[wanted_items],
        labels=None,
    )
