"""documents off the decision path, a deadline's leaves counted on its row (issue 28)

A decision seals what a document says (``issued_document.digest``, the SHA-256 of its
canonical form); its PDF and the PDF's signature come after the commit, so both may wait
empty. A deadline counts its sealed changes (``deadline.sealed_changes``) instead of
counting its ledger entries at each change.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("issued_document", schema=None) as table:
        table.add_column(sa.Column("digest", sa.String(length=64), nullable=True))
        table.alter_column("pdf", existing_type=sa.LargeBinary(), nullable=True)
        table.alter_column("signature", existing_type=sa.String(length=100), nullable=True)
    with op.batch_alter_table("deadline", schema=None) as table:
        table.add_column(
            sa.Column("sealed_changes", sa.Integer(), nullable=False, server_default="0")
        )
    # What the ledger holds already: the n-th change of deadline 7 is sealed as "7:n".
    op.execute(
        "UPDATE deadline SET sealed_changes = (SELECT count(*) FROM ledger_entry "
        "WHERE ledger_entry.kind = 'deadline' AND ledger_entry.record_key "
        "LIKE CAST(deadline.id AS VARCHAR(20)) || ':%')"
    )


def downgrade() -> None:
    with op.batch_alter_table("deadline", schema=None) as table:
        table.drop_column("sealed_changes")
    with op.batch_alter_table("issued_document", schema=None) as table:
        table.alter_column("signature", existing_type=sa.String(length=100), nullable=False)
        table.alter_column("pdf", existing_type=sa.LargeBinary(), nullable=False)
        table.drop_column("digest")
