"""tamper evidence against a database insider: each leaf authenticated; legal holds (issue 25)

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from caratflow.types import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_entry") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
    op.create_table(
        "legal_hold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=True),
        sa.Column("authority_code", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("lifts", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["authority_code"],
            ["authority.code"],
            name=op.f("fk_legal_hold_authority_code_authority"),
        ),
        sa.ForeignKeyConstraint(
            ["lifts"], ["legal_hold.id"], name=op.f("fk_legal_hold_lifts_legal_hold")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipment.id"],
            name=op.f("fk_legal_hold_shipment_id_shipment"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_hold")),
        sa.UniqueConstraint("lifts", name=op.f("uq_legal_hold_lifts")),
    )
    op.create_index(op.f("ix_legal_hold_shipment_id"), "legal_hold", ["shipment_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_legal_hold_shipment_id"), table_name="legal_hold")
    op.drop_table("legal_hold")
    with op.batch_alter_table("ledger_entry") as batch:
        batch.drop_column("mac")
        batch.drop_column("key_id")
