"""What a plugin needs to bring faces of its own: pages and API routes, CLI commands.

A plugin contributes blueprints with ``caratflow_web_extend`` and commands with
``caratflow_cli_extend`` (``caratflow.jurisdiction.hookspecs``), and builds them from
this module alone, never from ``caratflow.web`` or ``caratflow.cli``: so a plugin's
routes keep the API's conventions (bearer tokens, roles, one JSON error shape, the
OpenAPI description) while the faces import no plugin and the plugins no face. A
deployment that does not enable a plugin serves none of its routes.

- ``operation`` describes a view for the OpenAPI document (``web/openapi.py`` reads it);
  the models here are the answer shapes every face shares.
- ``web()`` is the web face while a request is served (the actor, its unit of work, the
  JSON body and answer); ``requires`` guards a page by permission.
- ``cli()`` is the command line's face while a command runs (the runtime, a unit of work,
  the acting user).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from functools import wraps
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, TypeVar

import click
from flask import Response, current_app
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from caratflow.case.access import Actor, Permission


WEB_FACE = "caratflow.web_face"
"""Where ``create_app`` keeps the web face among the app's extensions."""


# -- the web face ----------------------------------------------------------------------------


class WebFace(Protocol):
    """The web's conventions, as a plugin's views use them while a request is served."""

    def actor(self) -> Actor:
        """Who asks: the bearer token's user under ``/api/``, the signed-in user on a page."""

    def session(self) -> Session:
        """The request's unit of work (committed by the view that writes)."""

    def body(self, required: bool = True) -> dict[str, Any]:
        """The JSON object sent, refused with a clear 422 when it is not one."""

    def json(self, body: Any, status: int = 200) -> Response:
        """An answer in JSON."""

    def guard(self, permission: Permission, view: Callable[..., Any]) -> Callable[..., Any]:
        """``view`` for signed-in users whose role grants ``permission`` (else 403, recorded)."""


Register = Callable[..., None]
"""``register(blueprint, api=False)``: ``api=True`` gives the blueprint the API's error answers."""


def web() -> WebFace:
    """The web face of the app serving this request."""
    return current_app.extensions[WEB_FACE]


def requires(permission: Permission) -> Callable[[F], F]:
    """A page for signed-in users whose role grants ``permission`` (as core's pages)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            return web().guard(permission, view)(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


# -- the command line's face -----------------------------------------------------------------


class CliFace(Protocol):
    """The command line's conventions, as a plugin's commands use them."""

    def unit(self) -> AbstractContextManager[Session]:
        """One unit of work: committed when the block ends, rolled back on an error."""

    def actor(self) -> Actor:
        """The user the command acts as (``--as``)."""


def cli() -> CliFace:
    """The face of the ``caratflow`` command that is running."""
    return click.get_current_context().find_root().obj


# -- the answers' shapes, shared by every face --------------------------------------------------

Exact = Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+)?$")]


Outcome = Literal["pass", "info", "warn", "hold", "refuse"]


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class FindingOut(Out):
    """One rule's verdict: the LAW.md rule id, the article of law, the rule's version."""

    rule: str
    outcome: Outcome
    basis: str = Field(description="the article of law, e.g. 'Reg. (EC) 2368/2002 Art. 3(b)'")
    message: str = Field(description="as recorded (English), the text the ledger seals")
    version: date = Field(description="the date the applied version of the rule took effect")
    data: dict[str, Any]
    message_id: str | None = Field(None, description="the message's id in its plugin's catalogue")
    params: dict[str, Any] = Field(default_factory=dict, description="the message's parameters")
    text: str | None = Field(
        None, description="the message in the reader's language (Accept-Language)"
    )


class TreeHeadOut(Out):
    """A signed tree head (RFC 9162 §4.10): the log's size and root, vouched for by its key."""

    tree_size: int
    root_hash: str = Field(description="lower-case hex of the 32-byte Merkle root")
    timestamp: str = Field(description="ISO 8601 in UTC, ending in Z")
    key_id: str
    signature: str = Field(description="standard base64 of the Ed25519 signature")


class FieldErrorOut(Out):
    field: str = Field(description="dotted path, e.g. 'certificate.carats'; '$': the whole body")
    message: str


class ErrorOut(Out):
    error: str
    message: str
    errors: list[FieldErrorOut] | None = None
    findings: list[FindingOut] | None = None


F = TypeVar("F", bound=Callable[..., Any])


# -- the OpenAPI description of a view -------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """A query parameter or request header."""

    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False
    # The values a deployment allows, where only the running app knows them (the states
    # its plugins add): the document lists them as the enum and a request outside is a 422.
    choices: Callable[[], Sequence[str]] | None = None

    def allowed(self) -> Sequence[str] | None:
        """The enumeration of values, if the parameter has one."""
        if self.choices is not None:
            return list(self.choices())
        enum = self.schema.get("enum")
        return list(enum) if enum is not None else None


@dataclass(frozen=True)
class Operation:
    summary: str
    description: str = ""
    tag: str = "shipments"
    body: type[BaseModel] | None = None
    body_required: bool = True
    # The request body's example where the model's own (its ``examples``) is not this one's.
    body_example: Mapping[str, Any] | None = None
    responses: Mapping[int, tuple[str, type[BaseModel] | None]] = field(default_factory=dict)
    query: Sequence[Param] = ()
    headers: Sequence[Param] = ()
    response_headers: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    # Other media types an answer may have (e.g. ``{200: {"text/csv": {"type": "string"}}}``).
    other_content: Mapping[int, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    public: bool = False


def operation(**kwargs: Any) -> Callable[[F], F]:
    """Describe a view for the OpenAPI document (see ``Operation``)."""

    def describe(view: F) -> F:
        view.__openapi__ = Operation(**kwargs)  # type: ignore[attr-defined]
        return view

    return describe
