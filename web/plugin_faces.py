"""The web face plugins build their routes with (``caratflow.faces.WebFace``).

``create_app`` keeps one in the app's extensions and registers each enabled plugin's
blueprints (``caratflow_web_extend``): an API blueprint gets the API's error answers, so a
plugin's routes refuse, record and answer exactly as core's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, request
from sqlalchemy.orm import Session

from caratflow.case.access import Actor, Permission
from caratflow.web import api, security
from caratflow.web.context import db


class PluginWebFace:
    """The API's and the pages' conventions, for a plugin's views."""

    def actor(self) -> Actor:
        return api._actor() if request.path.startswith("/api/") else security.current_actor()

    def session(self) -> Session:
        return db()

    def body(self, required: bool = True) -> dict[str, Any]:
        return api._body(required)

    def json(self, body: Any, status: int = 200) -> Response:
        return api._json(body, status)

    def guard(self, permission: Permission, view: Callable[..., Any]) -> Callable[..., Any]:
        return security.requires(permission)(view)


def register_plugin_blueprints(app: Flask, extend: Callable[..., None]) -> None:
    """Register what each enabled plugin serves (``PluginHost.extend_web``)."""

    def register(blueprint: Blueprint, *, api: bool = False) -> None:
        # The API's answers to errors (refusals recorded, one JSON shape, 503s), given
        # once: a plugin's blueprint outlives the apps a process makes (tests make many).
        if api and not blueprint.error_handler_spec[None][None]:
            for error, handler in api_error_handlers().items():
                blueprint.register_error_handler(error, handler)
        app.register_blueprint(blueprint)

    extend(register)


def api_error_handlers() -> dict[Any, Callable[..., Any]]:
    return dict(api.blueprint.error_handler_spec[None][None])
