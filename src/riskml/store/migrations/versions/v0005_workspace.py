"""The investigators' workspace: assignments, random audits, decision details, band proposals,
the kill switch (the labels' ``selection_probability`` came with revision 0003b).

Revision ID: 0005
Revises: 0004
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
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("assignments", "random_audits", "decision_details", "band_proposals", "kill_switch")


def upgrade() -> None:
    metadata = sa.MetaData()
    add_workspace_tables(metadata)
    bind = op.get_bind()
    for name in TABLES:
        metadata.tables[name].create(bind)


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
