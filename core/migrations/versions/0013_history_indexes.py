"""cost flat with history: an index on every foreign key a decision or page follows, and
the traders' tallies the risk analysis reads instead of walking their history (issue 28)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("container", "shipment_id"),  # every decision and every API get loads the containers
    ("api_token", "user_id"),  # a password reset or a disabled user ends their tokens
    ("deadline", "opened_by_event_id"),  # ON DELETE SET NULL when a purge deletes events
    ("deadline", "closed_by_event_id"),
)

# Each shipment counts once for each of its traders (UNION: once if importer and exporter
# are the same), and as held when any of its decisions detained it.
TALLY = """
INSERT INTO trader_tally (authority_code, name, shipments, held)
SELECT shipment.authority_code, traders.name, COUNT(*),
       SUM(CASE WHEN EXISTS (SELECT 1 FROM event WHERE event.shipment_id = shipment.id
                             AND event.action = 'hold') THEN 1 ELSE 0 END)
FROM shipment
JOIN (SELECT shipment_id, importer_name AS name FROM certificate
      UNION SELECT shipment_id, exporter_name AS name FROM certificate) AS traders
  ON traders.shipment_id = shipment.id
GROUP BY shipment.authority_code, traders.name
"""


def upgrade() -> None:
    for table, column in INDEXES:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column])
    op.create_table(
        "trader_tally",
        sa.Column("authority_code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("shipments", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["authority_code"],
            ["authority.code"],
            name=op.f("fk_trader_tally_authority_code_authority"),
        ),
        sa.PrimaryKeyConstraint("authority_code", "name", name=op.f("pk_trader_tally")),
    )
    op.execute(TALLY)


def downgrade() -> None:
    op.drop_table("trader_tally")
    for table, column in reversed(INDEXES):
        op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
