"""Shadow scores of the challenger, and a detail column in the audit log.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

``shadow_scores`` keeps what the ``challenger`` version said of each live claim the champion
scored, on the same history, with the champion's score beside it, so the two can be compared on
the same claims (issue 16). Nobody reads it but that comparison: no queue, no page, no band.
``audit_log.detail`` carries free text an audit row needs beyond its outcome, such as a
supervisor's justification of a promotion the gate refused (DESIGN principle 6). Adding a nullable
column keeps the table's append-only triggers of revision 0002 in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLE = "shadow_scores"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("claim_id", sa.String(), primary_key=True),
        sa.Column("model_version", sa.String(), primary_key=True),
        sa.Column("risk_score", sa.Double(), nullable=False),
        sa.Column("risk_band", sa.String(), nullable=False),
        sa.Column("champion_version", sa.String(), nullable=False),
        sa.Column("champion_score", sa.Double(), nullable=False),
        sa.Column("champion_band", sa.String(), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        comment="challenger scores of live claims, scored in shadow beside the champion "
        "on the same history; never shown to investigators, never in the queue",
    )
    op.create_index(f"ix_{TABLE}_scored_at", TABLE, ["scored_at"])
    op.add_column("audit_log", sa.Column("detail", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("detail")
    op.drop_index(f"ix_{TABLE}_scored_at", TABLE)
    op.drop_table(TABLE)
