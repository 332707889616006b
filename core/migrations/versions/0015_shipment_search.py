"""shipment search: one text per shipment, indexed for fragments (issue 26)

PostgreSQL indexes it by trigrams (``pg_trgm``, GIN); SQLite by an FTS5 table with the
trigram tokenizer over it, kept by triggers. Existing shipments get their text here.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_INDEX = (
    "CREATE VIRTUAL TABLE shipment_search_fts USING fts5(document, content='shipment_search',"
    " content_rowid='shipment_id', tokenize='trigram')",
    "CREATE TRIGGER shipment_search_ai AFTER INSERT ON shipment_search BEGIN"
    " INSERT INTO shipment_search_fts(rowid, document) VALUES (new.shipment_id, new.document);"
    " END",
    "CREATE TRIGGER shipment_search_ad AFTER DELETE ON shipment_search BEGIN"
    " INSERT INTO shipment_search_fts(shipment_search_fts, rowid, document)"
    " VALUES ('delete', old.shipment_id, old.document); END",
    "CREATE TRIGGER shipment_search_au AFTER UPDATE ON shipment_search BEGIN"
    " INSERT INTO shipment_search_fts(shipment_search_fts, rowid, document)"
    " VALUES ('delete', old.shipment_id, old.document);"
    " INSERT INTO shipment_search_fts(rowid, document) VALUES (new.shipment_id, new.document);"
    " END",
)
POSTGRESQL_INDEX = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # fastupdate off: a new shipment's trigrams go into the index at once, not into a
    # pending list that every search reads through until a vacuum merges it
    "CREATE INDEX ix_shipment_search_trigrams ON shipment_search"
    " USING gin (document gin_trgm_ops) WITH (fastupdate = off)",
)


def upgrade() -> None:
    op.create_table(
        "shipment_search",
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipment.id"],
            name=op.f("fk_shipment_search_shipment_id_shipment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shipment_id", name=op.f("pk_shipment_search")),
    )
    bind = op.get_bind()
    for statement in SQLITE_INDEX if bind.dialect.name == "sqlite" else POSTGRESQL_INDEX:
        op.execute(statement)
    _index_existing(bind)


def _index_existing(bind: sa.Connection) -> None:
    """The text of each shipment recorded before this revision, a thousand at a time."""
    from caratflow.case.search import text_of

    shipment = sa.table("shipment", sa.column("id"), sa.column("details", sa.JSON))
    cert = sa.table(
        "certificate",
        *(sa.column(n) for n in ("shipment_id", "number", "importer_name", "exporter_name")),
    )
    box = sa.table(
        "container", sa.column("shipment_id"), sa.column("label"), sa.column("seals", sa.JSON)
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(
                shipment.c.id,
                shipment.c.details,
                cert.c.number,
                cert.c.importer_name,
                cert.c.exporter_name,
            )
            .join(cert, cert.c.shipment_id == shipment.c.id)
            .where(shipment.c.id > last)
            .order_by(shipment.c.id)
            .limit(1000)
        ).all()
        if not rows:
            break
        ids = [row.id for row in rows]
        boxes: dict[int, list[tuple[str, list[str]]]] = {}
        for found in bind.execute(
            sa.select(box.c.shipment_id, box.c.label, box.c.seals)
            .where(box.c.shipment_id.in_(ids))
            .order_by(box.c.shipment_id)
        ):
            boxes.setdefault(found.shipment_id, []).append((found.label, found.seals or []))
        texts = [
            text_of(
                [row.number, row.importer_name, row.exporter_name],
                boxes.get(row.id, []),
                row.details or {},
            )
            for row in rows
        ]
        search = sa.table("shipment_search", sa.column("shipment_id"), sa.column("document"))
        bind.execute(
            sa.insert(search),
            [{"shipment_id": i, "document": t} for i, t in zip(ids, texts, strict=True)],
        )
        last = ids[-1]


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE shipment_search_fts")  # its triggers go with shipment_search
    op.drop_table("shipment_search")
