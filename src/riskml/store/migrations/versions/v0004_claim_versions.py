"""Corrected claims keep their earlier versions: the ``claim_versions`` table, append-only.

Revision ID: 0004
Revises: 0003b
Create Date: 2026-12-02

History is append-only in meaning (issue 17.1): a stored claim changes only through a
correction, which first copies the claim row and its items, as they were, into
``claim_versions`` (who replaced them, when and why). Like the audit log and the decisions
(revision 0002), the table refuses UPDATE and DELETE.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003b"
branch_labels = None
depends_on = None

TABLE = "claim_versions"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("version_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("claim_id", sa.String(), nullable=False),
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
    op.create_index(f"ix_{TABLE}_claim_id", TABLE, ["claim_id"])
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":  # riskml_append_only() is revision 0002's
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION riskml_append_only()"
        )
    elif dialect == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {TABLE}_no_{event.lower()} BEFORE {event} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only'); END"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"DROP TRIGGER {TABLE}_append_only ON {TABLE}")
    elif dialect == "sqlite":
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER {TABLE}_no_{event}")
    op.drop_index(f"ix_{TABLE}_claim_id", table_name=TABLE)
    op.drop_table(TABLE)
