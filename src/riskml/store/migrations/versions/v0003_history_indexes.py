"""Index every relation the online history query follows: claims by doctor, items by trace code.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

The history of a claim is one query over ``person_id OR provider_id OR employer_id OR doctor_id
OR claim_id IN (items sharing a trace code)``. Revision 0001 indexed only the first three, so
the database scanned every claim up to the cut-off (and every line item for the trace codes) on
each request. With all five indexed, SQLite and PostgreSQL answer the OR by one index search per
relation. The index names follow :func:`riskml.store.schema.contract_table`.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_claims_doctor_id", "claims", "doctor_id"),
    ("ix_claim_items_trace_code", "claim_items", "trace_code"),
)


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _column in reversed(INDEXES):
        op.drop_index(name, table_name=table)
