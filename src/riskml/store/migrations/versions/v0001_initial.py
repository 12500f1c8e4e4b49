"""Initial store: the contract tables of CONTRACT.md v1 and the service tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

The contract tables are generated from riskml.contract, limited to the columns the contract had
at this revision (``V1_COLUMNS``); a column added to the contract later needs a new revision
(tests/store compares the migrated database with the current metadata and fails until it exists).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from riskml.contract import TABLES
from riskml.store.schema import contract_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

V1_COLUMNS: dict[str, tuple[str, ...]] = {
    "persons": (
        "person_id",
        "birth_date",
        "sex",
        "region_code",
        "hukou_type",
        "enrolled_on",
        "death_date",
        "death_reported_on",
    ),
    "employers": ("employer_id", "region_code", "industry", "size_band", "registered_on"),
    "providers": (
        "provider_id",
        "provider_type",
        "tier",
        "ownership",
        "region_code",
        "designated_on",
        "beds",
    ),
    "contributions": ("person_id", "employer_id", "month", "contribution_base"),
    "claims": (
        "claim_id",
        "person_id",
        "benefit_type",
        "provider_id",
        "employer_id",
        "region_code",
        "submitted_at",
        "service_start",
        "service_end",
        "diagnosis_code",
        "amount_claimed",
        "channel",
        "doctor_id",
    ),
    "claim_items": (
        "claim_id",
        "line_no",
        "item_code",
        "item_category",
        "quantity",
        "unit_price",
        "amount",
        "trace_code",
    ),
    "labels": ("claim_id", "is_fraud", "typology", "decided_at", "source", "outcome"),
}


def upgrade() -> None:
    bind = op.get_bind()
    metadata = sa.MetaData()
    for name, columns in V1_COLUMNS.items():
        contract_table(metadata, TABLES[name], columns)
    metadata.create_all(bind)

    op.create_table(
        "scores",
        sa.Column("claim_id", sa.String(), primary_key=True),
        sa.Column("model_version", sa.String(), primary_key=True),
        sa.Column("risk_score", sa.Double(), nullable=False),
        sa.Column("risk_band", sa.String(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        comment="latest score of a claim per model version, with its reasons",
    )
    op.create_index("ix_scores_band_scored_at", "scores", ["risk_band", "scored_at"])
    op.create_table(
        "decisions",
        sa.Column("decision_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("claim_id", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("typology", sa.String(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=False),
        sa.Column("decided_role", sa.String(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        comment="investigators' decisions, append-only; the latest per claim counts",
    )
    op.create_index("ix_decisions_claim_id", "decisions", ["claim_id"])
    op.create_table(
        "audit_log",
        sa.Column("audit_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("claim_id", sa.String(), nullable=True),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("model_version", sa.String(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
        comment="append-only audit trail; subject is a keyed-hash pseudonym, never a person id",
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "api_keys",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("key_hash", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
        comment="API keys: only a keyed hash of each key is stored",
    )


def downgrade() -> None:
    for name in ("api_keys", "audit_log", "decisions", "scores", *reversed(V1_COLUMNS)):
        op.drop_table(name)
