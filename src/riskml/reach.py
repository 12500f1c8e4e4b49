"""Which rows a claim's features read: the one statement the features, the batch reader and the
service store all take their history from.

**How far back.** No feature reads further back than :data:`LOOKBACK_DAYS` (a year) before the
claim's submission, neither through the claimant's own claims nor through a provider, doctor,
employer or drug trace code: windows are at most a year, "earlier claims" are the earlier claims
of the past year, "a patient's first visit" is the first in a year, a contribution history is the
past year's months, and so on. So the history of a set of claims is bounded by
:data:`REACH_DAYS` (and :data:`CONTRIBUTION_REACH_MONTHS`) before the earliest of them, whatever
the age of the data: batch scoring reads, per chunk, only that much of the backlog, and an online
request only that much of the store.

**Through what.** An earlier claim is read when it shares one of :data:`CLAIM_RELATIONS` with a
claim being scored (when the column is recorded), or bills a drug trace code
(:data:`ITEM_RELATIONS`) that one of them bills; contributions are read for the claimants and the
members of the claims' employers (:data:`CONTRIBUTION_RELATIONS`); persons, providers and
employers are small tables read whole (the store reads only the persons its rows name).
Point-in-time filtering inside this history (strictly before each claim) is the feature builder's
job.

This module sits just above the contract: it imports nothing of riskml, so the store can use it
without importing the features.
"""

from __future__ import annotations

import pandas as pd

#: The furthest back a feature reads, through the claimant or anybody else.
LOOKBACK_DAYS = 365

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

#: Columns of ``claims`` through which a claim's features read other claims (``doctor_id`` only
#: when the data records it).
CLAIM_RELATIONS: tuple[str, ...] = ("person_id", "provider_id", "employer_id", "doctor_id")

#: Columns of ``claim_items`` through which claims billing the same thing are read.
ITEM_RELATIONS: tuple[str, ...] = ("trace_code",)

#: Columns of ``contributions`` matched against the claims' own columns of the same name: the
#: claimant's months and the months of the employer's members.
CONTRIBUTION_RELATIONS: tuple[str, ...] = ("person_id", "employer_id")


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
