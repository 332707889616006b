"""Request-scoped access to the process's runtime and database session."""

from __future__ import annotations

from flask import current_app, g, request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from caratflow.db import open_session
from caratflow.runtime import Runtime

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def runtime() -> Runtime:
    return current_app.extensions["caratflow"]


def db() -> Session:
    """One session per request: write endpoints commit it; closing rolls back the rest.

    A request whose method may change something opens a writing session (on SQLite its
    transactions take the write lock at once: ``caratflow.db.open_session``); a page or
    a GET reads beside the writers, and its rare writes (a session's last-seen time, a
    refusal recorded) start their own transaction.
    """
    if "db" not in g:
        g.db = open_session(runtime().sessions, write=request.method not in READ_ONLY_METHODS)
    return g.db


def read_db() -> Session:
    """The request's session for what only reads and may be a moment behind: reports,
    lists, the public check. On the replica named by ``CARATFLOW_READ_DATABASE_URL``
    when there is one (issue 27); else simply ``db()``. Never written."""
    replica = runtime().read_sessions
    if replica is None:
        return db()
    if "read_db" not in g:
        g.read_db = open_session(replica, write=False)
    return g.read_db


def close_db(_error: BaseException | None = None) -> None:
    for name in ("db", "read_db"):
        _close(g.pop(name, None))


def _close(session: Session | None) -> None:
    if session is not None:
        try:
            session.close()
        except DBAPIError as error:  # issue 11: lost with the connection, nothing to roll back
            if not error.connection_invalidated:
                raise
            current_app.logger.warning("the database connection was lost as a request ended")
