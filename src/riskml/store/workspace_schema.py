"""The investigators' workspace tables (revision 0005), as SQLAlchemy Core objects.

Kept apart from the scoring tables of :mod:`riskml.store.schema`: who works on which claim
(``assignments``), which claims were drawn at random for audit and with what probability
(``random_audits``), what a decision is besides its outcome (``decision_details``: a first decision
or a review/appeal of an earlier one, the improper amount found), the band cut-off proposals and
their approvals (``band_proposals``), and the kill switch's history (``kill_switch``).
"""

from __future__ import annotations

import sqlalchemy as sa

#: Status of a claim in the workspace queue.
STATUSES: tuple[str, ...] = ("new", "in_review", "decided")
#: Kinds of decision: the first one on a claim, or a later one that references it.
DECISION_KINDS: tuple[str, ...] = ("decision", "review", "appeal")


def add_workspace_tables(metadata: sa.MetaData) -> None:
    """Add the workspace tables to ``metadata``."""
    sa.Table(
        "assignments",
        metadata,
        sa.Column("claim_id", sa.String(), primary_key=True),
        sa.Column("assignee", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("updated_by", sa.String(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        comment="who works on a queued claim and how far it is (new, in_review, decided)",
    )
    sa.Table(
        "random_audits",
        metadata,
        sa.Column("claim_id", sa.String(), primary_key=True),
        sa.Column("draw_id", sa.String(), nullable=False, index=True),
        sa.Column("drawn_at", sa.DateTime(), nullable=False),
        sa.Column("drawn_by", sa.String(), nullable=False),
        sa.Column("selection_probability", sa.Double(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(), nullable=True),
        sa.Column("risk_score", sa.Double(), nullable=True),
        sa.Column("risk_band", sa.String(), nullable=True),
        comment="claims drawn uniformly at random from the scored claims for audit (DOMAIN R11); "
        "the score is kept for evaluation but never shown to the investigator",
    )
    sa.Table(
        "decision_details",
        metadata,
        sa.Column("decision_id", sa.Integer(), primary_key=True),
        sa.Column("claim_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column(
            "review_of",
            sa.Integer(),
            nullable=False,
            comment="decision_id this one reviews; 0 for the first decision on the claim",
        ),
        sa.Column("improper_amount", sa.Double(), nullable=True),
        sa.Column("model_version", sa.String(), nullable=True),
        sa.UniqueConstraint("claim_id", "review_of", name="uq_decision_details_claim_review_of"),
        comment="one first decision per claim; each later one reviews exactly the one before",
    )
    sa.Table(
        "band_proposals",
        metadata,
        sa.Column("proposal_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("model_version", sa.String(), nullable=False),
        sa.Column("high", sa.Double(), nullable=False),
        sa.Column("medium", sa.Double(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("proposed_by", sa.String(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        comment="band cut-off changes: proposed by one person, approved by another",
    )
    sa.Table(
        "kill_switch",
        metadata,
        sa.Column("event_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("engaged", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        comment="kill switch history: while engaged, new scores do not reach the queue",
    )
