"""The web face of caratflow: admin UI, JSON API v1 and the public certificate check.

``create_app`` takes its settings from the runtime's ``Settings`` (read once from the
environment: ``Settings.web`` holds the session and throttling policy, e.g.
``CARATFLOW_IDLE_MINUTES=10``), the fixed ``security.DEFAULTS``, then ``config`` (tests).
Each area is a blueprint whose routes read as its URL table.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.routing import IntegerConverter, PathConverter

from caratflow.config import Settings, scrub_logs
from caratflow.faces import WEB_FACE
from caratflow.inputs import MAX_ID
from caratflow.runtime import Runtime


def create_app(config: Mapping[str, Any] | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the app; ``runtime`` lets a test or ``caratflow serve`` share its own."""
    from caratflow.web import admin, api, auth, context, i18n, openapi, pages, security, shipments

    scrub_logs()  # issue 21: no personal number in a log line
    app = Flask(__name__)
    app.jinja_options = {**app.jinja_options, "bytecode_cache": COMPILED_TEMPLATES}
    runtime = runtime or Runtime.start(Settings.from_env())
    app.config.update(security.DEFAULTS)
    app.config.update(runtime.settings.web.flask_config())
    app.config.update(SECRET_KEY=runtime.settings.secret_key or secrets.token_hex(32))
    app.config.update(config or {})
    app.extensions["caratflow"] = runtime

    app.url_map.converters["int"] = WholeNumber
    app.url_map.converters["id"] = RecordId
    app.url_map.converters["anything"] = Anything
    security.init_app(app)
    app.wsgi_app = security.TrustedProxies(  # type: ignore[method-assign]
        app.wsgi_app, runtime.settings.trusted_proxies
    )
    app.before_request(openapi.refuse_unknown_query_parameters)
    i18n.init_app(app)
    app.teardown_appcontext(context.close_db)

    app.register_blueprint(api.blueprint)
    app.register_blueprint(auth.blueprint)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(shipments.blueprint)
    app.register_blueprint(admin.blueprint)
    from caratflow.web import deadlines_api  # issue 4: GET /api/v1/deadlines

    app.register_blueprint(deadlines_api.blueprint)
    from caratflow.web import ledger_api, verify  # issue 5: public check, ledger API

    app.register_blueprint(verify.blueprint)
    app.register_blueprint(ledger_api.blueprint)
    from caratflow.web import plugin_faces  # issue 20: what the enabled plugins serve themselves

    app.extensions[WEB_FACE] = plugin_faces.PluginWebFace()
    plugin_faces.register_plugin_blueprints(app, runtime.plugins.extend_web)
    from caratflow.web import exchange_api  # issue 10: signed messages from peer authorities

    app.register_blueprint(exchange_api.blueprint)
    from caratflow.web import work  # issue 26: an officer's start page, claims

    app.register_blueprint(work.blueprint)
    for unavailable in DATABASE_UNAVAILABLE:  # issue 11
        app.register_error_handler(unavailable, database_unavailable)
    return app


DATABASE_UNAVAILABLE = (OperationalError, PoolTimeout)
"""Down, restarting, locked or out of connections: a 503 to retry, not a bug (issue 11)."""


def database_unavailable(error: Exception) -> Response:
    """503 with ``Retry-After``: JSON under /api/, a plain page (no template, no session:
    both may need the database) elsewhere. Logged as one line without the SQL, whose
    parameters may carry personal data."""
    cause = getattr(error, "orig", None) or error
    first_line = (str(cause).splitlines() or [""])[0]
    current_app.logger.error(
        "database unavailable: %s %s: %s: %s",
        request.method,
        request.path,
        type(cause).__name__,
        first_line,
    )
    message = "the database is unavailable; try again in a few seconds"
    if request.path.startswith("/api/"):
        response = jsonify({"error": "DatabaseUnavailable", "message": message})
    else:
        response = Response(
            "<!doctype html><html lang=en><meta charset=utf-8><title>Service unavailable</title>"
            f"<h1>Service unavailable</h1><p>{message.capitalize()}.</p></html>",
            mimetype="text/html",
        )
    response.status_code = 503
    response.headers["Retry-After"] = "5"
    return response


class WholeNumber(IntegerConverter):
    """``<int:name>``: ASCII digits only, 0 to ``MAX_ID`` (issue 21). Werkzeug's own takes
    any script's digits (``\\d``, and ``int("١")`` is 1) and any length, so a 30-digit id
    reached the database; here such a path is simply not found."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map: Any, min: int = 0, max: int = MAX_ID) -> None:
        super().__init__(map, min=min, max=max)


class RecordId(WholeNumber):
    """``<id:name>``: a record's id, 1 to ``MAX_ID`` (a larger number is simply not found)."""

    def __init__(self, map: Any) -> None:
        super().__init__(map, min=1)


class Anything(PathConverter):
    """``<anything:name>``: ``path``, line breaks included (``path`` stops at one), so that
    whatever a caller typed reaches the view that says what is wrong with it."""

    regex = "[^/](?s:.*?)"


class _CompiledTemplates(BytecodeCache):
    """Templates compiled once per process, however many apps it makes (tests make many).

    Keyed by template name and source checksum, so an edited template is compiled anew.
    """

    def __init__(self) -> None:
        self._compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self._compiled:
            bucket.bytecode_from_string(self._compiled[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._compiled[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = _CompiledTemplates()
