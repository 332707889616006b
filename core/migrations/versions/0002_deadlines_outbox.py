"""deadlines, reminders and the outbox: deadline rows swept through a partial index on the
open ones, outbox messages, authority closure days and message recipients

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import caratflow.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")
PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table(
        "closure_day",
        sa.Column("authority_code", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("added_by", sa.String(length=120), nullable=False),
        sa.Column("added_at", caratflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["authority_code"],
            ["authority.code"],
            name=op.f("fk_closure_day_authority_code_authority"),
        ),
        sa.PrimaryKeyConstraint("authority_code", "day", name=op.f("pk_closure_day")),
    )
    op.create_table(
        "recipient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("authority_code", sa.String(length=16), nullable=False),
        sa.Column("audience", sa.String(length=60), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("added_at", caratflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["authority_code"],
            ["authority.code"],
            name=op.f("fk_recipient_authority_code_authority"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipient")),
        sa.UniqueConstraint(
            "authority_code",
            "audience",
            "address",
            name=op.f("uq_recipient_authority_code_audience_address"),
        ),
    )
    op.create_table(
        "deadline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("authority_code", sa.String(length=16), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=True),
        sa.Column("rule", sa.String(length=80), nullable=False),
        sa.Column("basis", sa.String(length=200), nullable=False),
        sa.Column("plugin", sa.String(length=60), nullable=False),
        sa.Column("period", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "suspended",
                "met",
                "missed",
                "cancelled",
                name="deadline_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("starts_at", caratflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("due_at", caratflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_at", caratflow.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminders", sa.JSON(), nullable=False),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("escalate_to", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.Integer(), nullable=False),
        sa.Column("suspended_on", sa.Date(), nullable=True),
        sa.Column("suspended_days", sa.Integer(), nullable=False),
        sa.Column("opened_by_event_id", sa.Integer(), nullable=True),
        sa.Column("closed_by_event_id", sa.Integer(), nullable=True),
        sa.Column("created_at", caratflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("met_at", caratflow.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", caratflow.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["authority_code"],
            ["authority.code"],
            name=op.f("fk_deadline_authority_code_authority"),
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_event_id"],
            ["event.id"],
            name=op.f("fk_deadline_closed_by_event_id_event"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_event_id"],
            ["event.id"],
            name=op.f("fk_deadline_opened_by_event_id_event"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipment.id"],
            name=op.f("fk_deadline_shipment_id_shipment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline")),
    )
    with op.batch_alter_table("deadline", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deadline_board", ["authority_code", "status", "due_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_deadline_shipment_id"), ["shipment_id"], unique=False)
        # Only open rows: a claim never walks past the finished ones (DESIGN.md).
        batch_op.create_index(
            "ix_deadline_sweep",
            ["next_at"],
            unique=False,
            postgresql_where=OPEN,
            sqlite_where=OPEN,
        )

    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("authority_code", sa.String(length=16), nullable=True),
        sa.Column("shipment_id", sa.Integer(), nullable=True),
        sa.Column("deadline_id", sa.Integer(), nullable=True),
        sa.Column("fulfils_deadline", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("audience", sa.String(length=60), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sent",
                "failed",
                "cancelled",
                name="outbox_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("scheduled_for", caratflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", caratflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", caratflow.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", caratflow.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["authority_code"],
            ["authority.code"],
            name=op.f("fk_outbox_message_authority_code_authority"),
        ),
        sa.ForeignKeyConstraint(
            ["deadline_id"],
            ["deadline.id"],
            name=op.f("fk_outbox_message_deadline_id_deadline"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipment.id"],
            name=op.f("fk_outbox_message_shipment_id_shipment"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_message_key")),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_message_deadline_id"), ["deadline_id"], unique=False
        )
        batch_op.create_index(
            "ix_outbox_message_dispatch",
            ["next_attempt_at"],
            unique=False,
            postgresql_where=PENDING,
            sqlite_where=PENDING,
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_message_shipment_id"), ["shipment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_message_shipment_id"))
        batch_op.drop_index("ix_outbox_message_dispatch")
        batch_op.drop_index(batch_op.f("ix_outbox_message_deadline_id"))
    op.drop_table("outbox_message")
    with op.batch_alter_table("deadline", schema=None) as batch_op:
        batch_op.drop_index("ix_deadline_sweep")
        batch_op.drop_index(batch_op.f("ix_deadline_shipment_id"))
        batch_op.drop_index("ix_deadline_board")
    op.drop_table("deadline")
    op.drop_table("recipient")
    op.drop_table("closure_day")
