"""exchange between authorities: peers and the signed messages received from them (issue 10)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import caratflow.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "peer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("authority_code", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("base_url", sa.String(length=300), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("accepts", sa.JSON(), nullable=False),
        sa.Column("added_by", sa.String(length=120), nullable=False),
        sa.Column("added_at", caratflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["authority_code"], ["authority.code"], name=op.f("fk_peer_authority_code_authority")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peer")),
        sa.UniqueConstraint("authority_code", "code", name=op.f("uq_peer_authority_code_code")),
    )
    op.create_table(
        "exchange_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("authority_code", sa.String(length=16), nullable=False),
        sa.Column("peer_code", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=80), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=True),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.Column("received_at", caratflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["authority_code"],
            ["authority.code"],
            name=op.f("fk_exchange_message_authority_code_authority"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_message")),
        sa.UniqueConstraint(
            "authority_code",
            "peer_code",
            "message_id",
            name=op.f("uq_exchange_message_authority_code_peer_code_message_id"),
        ),
    )
    op.create_index(
        "ix_exchange_message_reference",
        "exchange_message",
        ["authority_code", "reference"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_exchange_message_reference", table_name="exchange_message")
    op.drop_table("exchange_message")
    op.drop_table("peer")
