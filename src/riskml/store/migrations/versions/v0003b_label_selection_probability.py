"""labels.selection_probability: the chance a random-audit label had of being drawn.

Revision ID: 0003b
Revises: 0003
Create Date: 2026-12-02

CONTRACT.md's labels table gained the optional column ``selection_probability`` (issue 16): a
random audit's label carries the probability with which its claim was drawn, so that evaluation
can weight it (unbiased prevalence, precision and recall). Nullable: investigation labels have
none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from riskml.contract import TABLES
from riskml.store.schema import SQL_TYPES

revision = "0003b"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    spec = TABLES["labels"].column("selection_probability")
    op.add_column(
        "labels",
        sa.Column(spec.name, SQL_TYPES[spec.kind](), nullable=True, comment=spec.description),
    )


def downgrade() -> None:
    with op.batch_alter_table("labels") as batch:
        batch.drop_column("selection_probability")
