"""certificates by trader: the risk analysis reads one trader's history at every presentation

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 02:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_certificate_exporter_name"), "certificate", ["exporter_name"])
    op.create_index(op.f("ix_certificate_importer_name"), "certificate", ["importer_name"])


def downgrade() -> None:
    op.drop_index(op.f("ix_certificate_importer_name"), table_name="certificate")
    op.drop_index(op.f("ix_certificate_exporter_name"), table_name="certificate")
