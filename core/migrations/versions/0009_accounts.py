"""accounts: API tokens expire, idempotency keys belong to an account, repeated
anonymous refusals are one counted security event (issue 21)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import caratflow.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tokens made before tokens expired keep working this long after the upgrade (the
# default lifetime of a new one), so that no integration stops the day of the upgrade.
GRACE = timedelta(days=90)


def upgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expires_at", caratflow.types.UTCDateTime(timezone=True), nullable=True)
        )
    token = sa.table("api_token", sa.column("expires_at", caratflow.types.UTCDateTime()))
    op.execute(token.update().values(expires_at=datetime.now(UTC) + GRACE))
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.alter_column(
            "expires_at", existing_type=caratflow.types.UTCDateTime(timezone=True), nullable=False
        )

    with op.batch_alter_table("security_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("count", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(
            sa.Column("last_at", caratflow.types.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_owner", sa.String(length=120), nullable=True))
    # A key used before belongs to whoever presented that shipment.
    op.execute(
        "UPDATE shipment SET idempotency_owner = (SELECT event.actor FROM event "
        "WHERE event.shipment_id = shipment.id AND event.action = 'present' "
        "ORDER BY event.id LIMIT 1) WHERE idempotency_key IS NOT NULL"
    )
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.drop_constraint("uq_shipment_authority_code_idempotency_key", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_shipment_authority_code_idempotency_owner_idempotency_key"),
            ["authority_code", "idempotency_owner", "idempotency_key"],
        )


def downgrade() -> None:
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.drop_constraint(
            "uq_shipment_authority_code_idempotency_owner_idempotency_key", type_="unique"
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_shipment_authority_code_idempotency_key"),
            ["authority_code", "idempotency_key"],
        )
        batch_op.drop_column("idempotency_owner")
    with op.batch_alter_table("security_event", schema=None) as batch_op:
        batch_op.drop_column("last_at")
        batch_op.drop_column("count")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
