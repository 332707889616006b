"""Request-scoped access to the process's runtime and database session."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from caratflow.runtime import Runtime


def runtime() -> Runtime:
    return current_app.extensions["caratflow"]


def db() -> Session:
    """One session per request: write endpoints commit it; closing rolls back the rest."""
    if "db" not in g:
        g.db = runtime().sessions()
    return g.db


def close_db(_error: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        try:
            session.close()
        except DBAPIError as error:  # issue 11: lost with the connection, nothing to roll back
            if not error.connection_invalidated:
                raise
            current_app.logger.warning("the database connection was lost as a request ended")
