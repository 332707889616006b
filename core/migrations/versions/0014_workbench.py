"""workbench: officers claim cases, shown to colleagues (issue 26)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import caratflow.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_claim",
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=120), nullable=False),
        sa.Column("claimed_at", caratflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipment.id"],
            name=op.f("fk_case_claim_shipment_id_shipment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shipment_id", name=op.f("pk_case_claim")),
    )
    with op.batch_alter_table("case_claim", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_claim_claimed_by"), ["claimed_by"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_claim", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_claim_claimed_by"))
    op.drop_table("case_claim")
