"""ledger (entries, stored perfect subtrees, signed tree heads) and issued documents

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import caratflow.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENT_STATUS = ("valid", "returned", "revoked")


def _document_status() -> sa.Enum:
    return sa.Enum(
        *DOCUMENT_STATUS,
        name="document_status",
        native_enum=False,
        create_constraint=True,
        length=16,
    )


def upgrade() -> None:
    op.create_table(
        "ledger_entry",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("record_key", sa.String(length=120), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("logged_at", caratflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("leaf_data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "record_key", name=op.f("pk_ledger_entry")),
        sa.UniqueConstraint("seq", name=op.f("uq_ledger_entry_seq")),
    )
    op.create_index(
        "ix_ledger_entry_pending",
        "ledger_entry",
        ["logged_at"],
        unique=False,
        postgresql_where=sa.text("seq IS NULL"),
        sqlite_where=sa.text("seq IS NULL"),
    )
    op.create_table(
        "ledger_node",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_ledger_node")),
    )
    op.create_table(
        "ledger_tree_head",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("previous_size", sa.BigInteger(), nullable=True),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("timestamp", caratflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_ledger_tree_head")),
    )
    op.create_table(
        "issued_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=80), nullable=False),
        sa.Column("serial", sa.BigInteger(), nullable=False),
        sa.Column("authority_code", sa.String(length=16), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=True),
        sa.Column("issued_at", caratflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("status", _document_status(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["authority_code"],
            ["authority.code"],
            name=op.f("fk_issued_document_authority_code_authority"),
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipment.id"],
            name=op.f("fk_issued_document_shipment_id_shipment"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_document")),
        sa.UniqueConstraint(
            "kind",
            "authority_code",
            "serial",
            name=op.f("uq_issued_document_kind_authority_code_serial"),
        ),
        sa.UniqueConstraint("number", name=op.f("uq_issued_document_number")),
    )
    op.create_index(
        op.f("ix_issued_document_shipment_id"), "issued_document", ["shipment_id"], unique=False
    )
    op.create_table(
        "document_status_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("status", _document_status(), nullable=False),
        sa.Column("at", caratflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["issued_document.id"],
            name=op.f("fk_document_status_change_document_id_issued_document"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_status_change")),
    )
    op.create_index(
        op.f("ix_document_status_change_document_id"),
        "document_status_change",
        ["document_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_document_status_change_document_id"), table_name="document_status_change"
    )
    op.drop_table("document_status_change")
    op.drop_index(op.f("ix_issued_document_shipment_id"), table_name="issued_document")
    op.drop_table("issued_document")
    op.drop_table("ledger_tree_head")
    op.drop_table("ledger_node")
    op.drop_index("ix_ledger_entry_pending", table_name="ledger_entry")
    op.drop_table("ledger_entry")
