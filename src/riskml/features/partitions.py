"""Feature families partitioned by entity: which rows one family's features read, per key.

A family's features read other claims only through the entities their declarations name
(:class:`~riskml.features.registry.Entity`): the claimant's own claims, the provider's, the
doctor's, the employer's, the claims billing the same drug trace code. So a family can run on
the claims of a *subset of its entities* (a hash bucket of its partition key) and give exactly
the values it gives on the whole data set, provided the bucket also holds the rows reached
through the family's other entities (a doctor who also works elsewhere, a box of drugs billed by
somebody else). This is how the Spark engine runs a family per entity key
(:mod:`riskml.spark.entities`); :func:`family_history` states the same cut for a loaded data set,
and the tests check it against the whole-data computation.

**Cost.** A claim is read once by each family's bucket of its own key, plus once per *other*
bucket that reaches it through a secondary relation (a doctor's claims at another provider,
another claim with the same trace code): a handful of copies per claim whatever the size of the
backlog, against the time chunks' ``(400 days + chunk span) / chunk span``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from riskml.data import ClaimsData
from riskml.features.registry import FAMILIES, FEATURES, Entity

#: Where each entity's rows are found: the table and the column that names the entity. A
#: co-visit pair is two persons seen by one provider on a day: read through the provider.
ENTITY_COLUMN: dict[Entity, tuple[str, str]] = {
    Entity.PERSON: ("claims", "person_id"),
    Entity.PROVIDER: ("claims", "provider_id"),
    Entity.DOCTOR: ("claims", "doctor_id"),
    Entity.EMPLOYER: ("claims", "employer_id"),
    Entity.COVISIT_PAIR: ("claims", "provider_id"),
    Entity.TRACE_CODE: ("claim_items", "trace_code"),
}

#: The key each family is partitioned by: the entity most of its features are about.
FAMILY_KEY: dict[str, Entity] = {
    "claim": Entity.PERSON,
    "claimant": Entity.PERSON,
    "provider": Entity.PROVIDER,
    "employer": Entity.EMPLOYER,
    "network": Entity.PROVIDER,
}

#: Contributions (monthly, by person and employer) read by features about these entities: the
#: claimant's own months, and the months of the employer's members.
CONTRIBUTIONS_OF: dict[Entity, str] = {Entity.PERSON: "person_id", Entity.EMPLOYER: "employer_id"}


@dataclass(frozen=True)
class FamilyPartition:
    """How one family runs per entity key.

    ``key`` is the claims column the family is bucketed by; a bucket reads the claims sharing
    any of ``claim_relations`` with its claims, the claims billing a code of ``item_relations``
    one of its claims bills, and the contributions matching ``contribution_relations``.
    """

    family: str
    key: str
    claim_relations: tuple[str, ...]
    item_relations: tuple[str, ...]
    contribution_relations: tuple[str, ...]

    @property
    def secondary(self) -> tuple[str, ...]:
        """The claim relations other than the key (rows copied in from other buckets)."""
        return tuple(c for c in self.claim_relations if c != self.key)


def family_partition(family: str, names: list[str] | None = None) -> FamilyPartition:
    """The partition of ``family`` for the features ``names`` (default: all registered).

    An entity's claims (or line items) are read when one of the family's features about it has
    a window of hours or days, or none; a feature over known calendar months reads the entity's
    contributions only (contributions are monthly), so an employer's job does not copy in its
    members' claims at other employers for their contribution months."""
    if family not in FAMILIES:
        raise KeyError(family)
    wanted = [FEATURES[n] for n in (names or list(FEATURES)) if FEATURES[n].family == family]
    entities = {spec.entity for spec in wanted} | {FAMILY_KEY[family]}
    reads_rows = {
        spec.entity for spec in wanted if spec.window is None or spec.window.unit != "months"
    }
    key = ENTITY_COLUMN[FAMILY_KEY[family]][1]
    claim_relations = [key]
    item_relations: list[str] = []
    for entity in sorted(reads_rows - {Entity.CLAIM}):
        table, column = ENTITY_COLUMN[entity]
        target = claim_relations if table == "claims" else item_relations
        if column not in target:
            target.append(column)
    contributions = tuple(CONTRIBUTIONS_OF[e] for e in sorted(entities) if e in CONTRIBUTIONS_OF)
    return FamilyPartition(
        family, key, tuple(claim_relations), tuple(item_relations), contributions
    )


def family_history(
    data: ClaimsData, claims: pd.DataFrame, partition: FamilyPartition
) -> ClaimsData:
    """The rows of ``data`` that ``partition.family``'s features of ``claims`` read.

    As :func:`riskml.features.history.history_for`, restricted to the family's relations: claims
    up to the last of ``claims`` within the reach of the earliest, sharing a relation of the
    partition with one of them; their line items; the contributions of the partition's
    relations. The family's features of ``claims`` computed on it equal those computed on
    ``data`` (``tests/features/test_partitions.py``).
    """
    from riskml.features.history import rows_reached

    return rows_reached(
        data,
        claims,
        partition.claim_relations,
        partition.item_relations,
        partition.contribution_relations,
    )
