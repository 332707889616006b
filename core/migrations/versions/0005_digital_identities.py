"""digital identities of parcels and stones, and the cuts that link them (issue 8)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import caratflow.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digital_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("authority_code", sa.String(length=16), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "rough_parcel",
                "intermediate",
                "polished",
                "synthetic",
                name="identity_kind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("carats", caratflow.types.ExactDecimal(16, 4), nullable=False),
        sa.Column("origin", sa.JSON(), nullable=False),
        sa.Column("origin_countries", sa.JSON(), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("registered_at", caratflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(length=120), nullable=False),
        sa.CheckConstraint("carats > 0", name=op.f("ck_digital_identity_carats_positive")),
        sa.ForeignKeyConstraint(
            ["authority_code"],
            ["authority.code"],
            name=op.f("fk_digital_identity_authority_code_authority"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digital_identity")),
        sa.UniqueConstraint("number", name=op.f("uq_digital_identity_number")),
    )
    op.create_table(
        "identity_cut",
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("carats", caratflow.types.ExactDecimal(16, 4), nullable=False),
        sa.CheckConstraint("carats > 0", name=op.f("ck_identity_cut_carats_positive")),
        sa.CheckConstraint(
            "parent_id <> child_id", name=op.f("ck_identity_cut_not_its_own_parent")
        ),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["digital_identity.id"],
            name=op.f("fk_identity_cut_child_id_digital_identity"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["digital_identity.id"],
            name=op.f("fk_identity_cut_parent_id_digital_identity"),
        ),
        sa.PrimaryKeyConstraint("parent_id", "child_id", name=op.f("pk_identity_cut")),
    )
    op.create_index(op.f("ix_identity_cut_child_id"), "identity_cut", ["child_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_identity_cut_child_id"), table_name="identity_cut")
    op.drop_table("identity_cut")
    op.drop_table("digital_identity")
