"""The service store's tables, as SQLAlchemy Core objects.

The contract tables (persons ... labels) are generated from :data:`riskml.contract.TABLES`, so the
store can never drift from the data contract; the service's own tables (scores, decisions, audit
log, API keys) are defined here. Migrations (:mod:`riskml.store.migrations`) create them; a test
compares the migrated database with this metadata.

A key column that may be null (``contributions.employer_id`` for flexible contributors) cannot be
part of a SQL primary key, so such a column gets a non-null companion ``<column>_key`` holding the
value or ``''``; the primary key and upserts use the companion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from riskml.contract import TABLES, Kind, TableSpec
from riskml.store.workspace_schema import add_workspace_tables

#: SQL type of each contract column kind (float is double precision: money in CNY).
SQL_TYPES: dict[Kind, type[sa.types.TypeEngine[Any]]] = {
    "str": sa.String,
    "date": sa.Date,
    "timestamp": sa.DateTime,
    "float": sa.Double,
    "int": sa.BigInteger,
    "bool": sa.Boolean,
}

#: Secondary indexes of the contract tables created by revision 0001, by table.
CONTRACT_INDEXES: dict[str, tuple[tuple[str, ...], ...]] = {
    "claims": (("person_id",), ("provider_id",), ("employer_id",), ("submitted_at",)),
    "contributions": (("employer_id",),),
}

#: Indexes added by revision 0003: with every relation of the online history query indexed
#: (doctor, drug trace code), the database answers its OR with one index search per relation
#: instead of scanning every claim (and every line item) up to the cut-off.
HISTORY_INDEXES: dict[str, tuple[tuple[str, ...], ...]] = {
    "claims": (("doctor_id",),),
    "claim_items": (("trace_code",),),
}

#: Every secondary index of the contract tables at the newest revision.
ALL_CONTRACT_INDEXES: dict[str, tuple[tuple[str, ...], ...]] = {
    name: CONTRACT_INDEXES.get(name, ()) + HISTORY_INDEXES.get(name, ())
    for name in sorted(set(CONTRACT_INDEXES) | set(HISTORY_INDEXES))
}

#: Suffix of the non-null companion of a nullable key column.
KEY_SUFFIX = "_key"

CONTRACT_TABLE_NAMES: tuple[str, ...] = tuple(TABLES)


def key_columns(spec: TableSpec) -> list[str]:
    """The SQL primary-key columns of a contract table (companions for nullable key columns)."""
    return [c + KEY_SUFFIX if spec.column(c).nullable else c for c in spec.key]


def contract_table(
    metadata: sa.MetaData,
    spec: TableSpec,
    columns: Iterable[str] | None = None,
    indexes: Mapping[str, tuple[tuple[str, ...], ...]] = CONTRACT_INDEXES,
) -> sa.Table:
    """Build the SQL table of one contract table from its spec.

    ``columns`` limits the table to those column names (a migration freezes the columns that
    existed at its revision); by default every column of the spec, optional ones included
    (nullable in SQL, since a data directory may lack them). ``indexes`` are the secondary
    indexes to declare; the default is revision 0001's set, which that migration relies on
    (later revisions add theirs with ``op.create_index``).
    """
    wanted = set(columns) if columns is not None else set(spec.column_names)
    cols: list[sa.Column[Any]] = []
    for col in spec.columns:
        if col.name not in wanted:
            continue
        in_key = col.name in spec.key and not col.nullable
        cols.append(
            sa.Column(
                col.name,
                SQL_TYPES[col.kind](),
                primary_key=in_key,
                nullable=(col.nullable or col.optional) and not in_key,
                comment=col.description,
            )
        )
        if col.name in spec.key and col.nullable:
            cols.append(
                sa.Column(
                    col.name + KEY_SUFFIX,
                    sa.String(),
                    primary_key=True,
                    comment=f"{col.name} or '' when null (primary-key companion)",
                )
            )
    declared = [
        sa.Index(f"ix_{spec.name}_{'_'.join(idx)}", *idx)
        for idx in indexes.get(spec.name, ())
        if set(idx) <= wanted
    ]
    return sa.Table(spec.name, metadata, *cols, *declared, comment=spec.description or None)


def build_metadata(contract_columns: Mapping[str, Iterable[str]] | None = None) -> sa.MetaData:
    """All store tables: the contract tables generated from the specs plus the service tables."""
    metadata = sa.MetaData()
    for name, spec in TABLES.items():
        cols = None if contract_columns is None else contract_columns[name]
        contract_table(metadata, spec, cols, ALL_CONTRACT_INDEXES)
    add_service_tables(metadata)
    add_workspace_tables(metadata)
    return metadata


def add_service_tables(metadata: sa.MetaData) -> None:
    """The service's own tables: claim versions, scores, decisions, audit log and API keys."""
    sa.Table(
        "claim_versions",
        metadata,
        sa.Column("version_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("claim_id", sa.String(), nullable=False, index=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("claim", sa.JSON(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("superseded_at", sa.DateTime(), nullable=False),
        sa.Column("superseded_by", sa.String(), nullable=False),
        sa.Column("superseded_role", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.UniqueConstraint("claim_id", "version", name="uq_claim_versions_claim_version"),
        comment="earlier versions of corrected claims (claim row and items as JSON), "
        "append-only; the claims table holds the current version",
    )
    sa.Table(
        "scores",
        metadata,
        sa.Column("claim_id", sa.String(), primary_key=True),
        sa.Column("model_version", sa.String(), primary_key=True),
        sa.Column("risk_score", sa.Double(), nullable=False),
        sa.Column("risk_band", sa.String(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.Index("ix_scores_band_scored_at", "risk_band", "scored_at"),
        comment="latest score of a claim per model version, with its reasons",
    )
    sa.Table(
        "decisions",
        metadata,
        sa.Column("decision_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("claim_id", sa.String(), nullable=False, index=True),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("typology", sa.String(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=False),
        sa.Column("decided_role", sa.String(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        comment="investigators' decisions, append-only; the latest per claim counts",
    )
    sa.Table(
        "audit_log",
        metadata,
        sa.Column("audit_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False, index=True),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("claim_id", sa.String(), nullable=True),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("model_version", sa.String(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),  # revision 0006
        comment="append-only audit trail; subject is a keyed-hash pseudonym, never a person id",
    )
    sa.Table(
        "shadow_scores",
        metadata,
        sa.Column("claim_id", sa.String(), primary_key=True),
        sa.Column("model_version", sa.String(), primary_key=True),
        sa.Column("risk_score", sa.Double(), nullable=False),
        sa.Column("risk_band", sa.String(), nullable=False),
        sa.Column("champion_version", sa.String(), nullable=False),
        sa.Column("champion_score", sa.Double(), nullable=False),
        sa.Column("champion_band", sa.String(), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=False, index=True),
        comment="challenger scores of live claims, scored in shadow beside the champion "
        "on the same history; never shown to investigators, never in the queue",
    )
    sa.Table(
        "api_keys",
        metadata,
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("key_hash", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False, default=False),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
        comment="API keys: only a keyed hash of each key is stored",
    )


METADATA = build_metadata()
