"""findings keep their message id and parameters, to be read in any language (issue 23)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 01:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("message_params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.drop_column("message_params")
        batch_op.drop_column("message_id")
