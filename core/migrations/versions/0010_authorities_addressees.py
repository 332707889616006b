"""authorities as data: each one's entry points, offices, number series and duties; a
directory of addressees (named recipients); undeliverable legal notices (issue 24)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUTHORITY_LISTS = ("entry_points", "offices", "duties")
STATUSES = ("pending", "sent", "failed", "cancelled")


def _statuses(*values: str) -> sa.Enum:
    return sa.Enum(
        *values, name="outbox_status", native_enum=False, create_constraint=True, length=16
    )


def upgrade() -> None:
    with op.batch_alter_table("authority") as table:
        for column in AUTHORITY_LISTS:
            table.add_column(sa.Column(column, sa.JSON(), nullable=False, server_default="[]"))
        table.add_column(sa.Column("series", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("recipient") as table:
        table.add_column(sa.Column("name", sa.String(200), nullable=False, server_default=""))
    with op.batch_alter_table("outbox_message") as table:
        table.alter_column(
            "status",
            existing_type=_statuses(*STATUSES),
            type_=_statuses(*STATUSES, "undeliverable"),
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_message") as table:
        table.alter_column(
            "status",
            existing_type=_statuses(*STATUSES, "undeliverable"),
            type_=_statuses(*STATUSES),
        )
    with op.batch_alter_table("recipient") as table:
        table.drop_column("name")
    with op.batch_alter_table("authority") as table:
        for column in (*AUTHORITY_LISTS, "series"):
            table.drop_column(column)
