"""The web face of caratflow: admin UI, JSON API v1 and the public certificate check."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask

from caratflow.config import Settings
from caratflow.runtime import Runtime


def create_app(config: Mapping[str, Any] | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the app; ``runtime`` lets a test or ``caratflow serve`` share its own."""
    app = Flask(__name__)
    runtime = runtime or Runtime.start(Settings.from_env())
    app.config.update(SECRET_KEY=runtime.settings.secret_key or secrets.token_hex(32))
    app.config.update(config or {})
    app.extensions["caratflow"] = runtime

    from caratflow.web import api, pages

    app.register_blueprint(api.blueprint)
    app.register_blueprint(pages.blueprint)
    return app
