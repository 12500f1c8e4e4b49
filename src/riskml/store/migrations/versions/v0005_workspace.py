"""The investigators' workspace: assignments, random audits, decision details, band proposals,
the kill switch; the labels' optional ``selection_probability``.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-02

``decision_details`` completes the append-only ``decisions`` rows without changing them: the
kind (a first decision, or a review or appeal of the one before), the improper amount found and
the model version the claim was scored with. Its unique (claim_id, review_of) lets the database
itself refuse a second first decision on a claim, or two reviews of the same decision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from riskml.store.workspace_schema import add_workspace_tables

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("assignments", "random_audits", "decision_details", "band_proposals", "kill_switch")


def upgrade() -> None:
    metadata = sa.MetaData()
    add_workspace_tables(metadata)
    bind = op.get_bind()
    for name in TABLES:
        metadata.tables[name].create(bind)
    # the contract's optional labels column (CONTRACT.md section 1): random audits' probability
    op.add_column(
        "labels",
        sa.Column(
            "selection_probability",
            sa.Double(),
            nullable=True,
            comment="probability the claim was drawn for a random audit (source random_audit), "
            "so training and evaluation can weight it; null otherwise",
        ),
    )


def downgrade() -> None:
    op.drop_column("labels", "selection_probability")
    for name in reversed(TABLES):
        op.drop_table(name)
