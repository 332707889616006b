"""The schema comes from the migrations alone, and they match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from caratflow.case.search import in_models
from caratflow.db import make_engine, schema_is_current, upgrade
from caratflow.models import Base
from caratflow.testing.databases import temporary_database


def test_migrations_upgrade_an_empty_database_to_the_models_exactly(backend, tmp_path):
    with temporary_database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            assert not schema_is_current(engine)
            upgrade(engine)
            upgrade(engine)  # repeating is harmless
            assert schema_is_current(engine)
            assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
            with engine.connect() as connection:
                context = MigrationContext.configure(
                    connection, opts={"compare_type": True, "include_name": in_models}
                )
                assert compare_metadata(context, Base.metadata) == []
        finally:
            engine.dispose()


def test_the_migrations_form_one_line_of_history():
    from alembic.script import ScriptDirectory

    from caratflow.db import alembic_config

    script = ScriptDirectory.from_config(alembic_config(None))
    assert script.get_heads() == [script.get_current_head()]
    revisions = [r.revision for r in script.walk_revisions()]
    assert revisions == sorted(revisions, reverse=True)  # 0004, 0003, …, 0001, in order
