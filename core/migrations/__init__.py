"""Alembic migrations of the caratflow schema, shipped inside the package."""
