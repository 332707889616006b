"""Alembic environment: always run through ``caratflow.db.upgrade`` with a live connection."""

from alembic import context

from caratflow.case.search import in_models
from caratflow.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=in_models,
)
with context.begin_transaction():
    context.run_migrations()
