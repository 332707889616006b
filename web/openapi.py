"""The OpenAPI 3.1 document of the API, generated from the code that serves it.

A view says what it takes and answers with ``@operation(...)`` (pydantic models for
bodies, plus its query parameters and headers); ``document(app)`` walks the app's URL
map, so a route and its description cannot drift apart, and a route nobody described
still appears (with a minimal entry) instead of hiding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, request
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from werkzeug.routing import Rule

from caratflow import __name__ as package_name
from caratflow.errors import FieldError, InvalidInput
from caratflow.faces import ErrorOut, Operation, Param

DOCUMENTED_PREFIXES = ("/api/", "/verify/")
REF = "#/components/schemas/{model}"
# Before its view runs, an operation that takes query parameters refuses a NUL in one
# (``web/security.py``) and one it does not take (``refuse_unknown_query_parameters``).
QUERY_REFUSED = {
    400: ("a parameter contains a NUL character", ErrorOut),
    422: ("invalid input: every bad field is named", ErrorOut),
}


def refuse_unknown_query_parameters() -> None:
    """An operation that takes query parameters refuses one it does not know, naming what
    it takes, and a value outside a parameter's enumeration, naming the values: a misspelt
    filter (``?stat=held``, ``?state=stuck``) would otherwise answer as if none had been
    given, or with an empty page that looks like an answer."""
    view = current_app.view_functions.get(request.endpoint or "")
    described: Operation | None = getattr(view, "__openapi__", None)
    if described is None or not described.query:
        return
    known = sorted(p.name for p in described.query)
    unknown = sorted(set(request.args) - set(known))
    if unknown:
        takes = f"not a parameter of this operation, which takes: {', '.join(known)}"
        raise InvalidInput([FieldError(name, takes) for name in unknown])
    errors = [
        FieldError(param.name, f"one of {', '.join(allowed)}")
        for param in described.query
        if param.name in request.args
        and (allowed := param.allowed()) is not None
        and any(value not in allowed for value in request.args.getlist(param.name))
    ]
    if errors:
        raise InvalidInput(errors)


def document(app: Flask, title: str = "caratflow API", version: str = "1") -> dict[str, Any]:
    models: dict[str, tuple[type[BaseModel], str]] = {}
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(DOCUMENTED_PREFIXES):
            continue
        described: Operation | None = getattr(
            app.view_functions[rule.endpoint], "__openapi__", None
        )
        path, parameters = _path(rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = (
                _operation(described, parameters, rule.endpoint, models)
                if described
                else _undescribed(rule, parameters)
            )
    schemas = _schemas(models)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": (
                "The integration contract for customs systems and other authorities "
                f"({package_name}). Errors are JSON; bad input never gives a 500."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _operation(
    op: Operation,
    parameters: list[dict[str, Any]],
    endpoint: str,
    models: dict[str, tuple[type[BaseModel], str]],
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "operationId": endpoint,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": [
            *parameters,
            *(_param("query", p) for p in op.query),
            *(_param("header", p) for p in op.headers),
        ],
        "responses": {},
    }
    if op.description:
        result["description"] = op.description
    if op.public:
        result["security"] = []
    if op.body is not None:
        models[op.body.__name__] = (op.body, "validation")
        result["requestBody"] = {
            "description": " ".join((op.body.__doc__ or "").split()),
            "required": op.body_required,
            "content": {
                "application/json": {
                    "schema": {"$ref": _ref(op.body)},
                    "example": body_example(op),
                }
            },
        }
    responses = dict(op.responses)
    if op.query:
        responses = {**QUERY_REFUSED, **responses}
    for status, (description, model) in sorted(responses.items()):
        answer: dict[str, Any] = {"description": description}
        if model is not None:
            models.setdefault(model.__name__, (model, "serialization"))
            answer["content"] = {"application/json": {"schema": {"$ref": _ref(model)}}}
        for media_type, schema in op.other_content.get(status, {}).items():
            answer.setdefault("content", {})[media_type] = {"schema": dict(schema)}
        if status in op.response_headers:
            answer["headers"] = {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in op.response_headers[status].items()
            }
        result["responses"][str(status)] = answer
    return result


def body_example(op: Operation) -> Any:
    """The example an integrator starts from: the operation's own, else the model's first."""
    if op.body_example is not None:
        return dict(op.body_example)
    extra = op.body.model_config.get("json_schema_extra") if op.body is not None else None
    examples = extra.get("examples") if isinstance(extra, Mapping) else None
    return examples[0] if examples else None


def _undescribed(rule: Rule, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "operationId": rule.endpoint,
        "summary": f"{rule.endpoint} (not described yet)",
        "parameters": parameters,
        "responses": {"default": {"description": "see the endpoint's documentation"}},
    }


_VARIABLE = re.compile(r"<(?:(?P<converter>\w+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")
# Path parameter schemas by Flask converter: ``id`` and ``anything`` are the app's own.
_CONVERTERS: Mapping[str, Mapping[str, Any]] = {
    "id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    "int": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
    "path": {"type": "string", "pattern": "^.+$"},
    "anything": {"type": "string", "pattern": "^[\\s\\S]+$"},
    "string": {"type": "string", "pattern": "^[^/]+$"},
}


def _path(rule: Rule) -> tuple[str, list[dict[str, Any]]]:
    """``/shipments/<id:shipment_id>`` → ``/shipments/{shipment_id}`` and its parameter."""
    parameters = [
        {
            "name": match["name"],
            "in": "path",
            "required": True,
            "schema": dict(_CONVERTERS.get(match["converter"] or "string", _CONVERTERS["string"])),
        }
        for match in _VARIABLE.finditer(rule.rule)
    ]
    return _VARIABLE.sub(lambda m: "{" + m["name"] + "}", rule.rule), parameters


def _param(where: str, param: Param) -> dict[str, Any]:
    schema = dict(param.schema)
    if param.choices is not None:
        schema["enum"] = list(param.choices())
    return {
        "name": param.name,
        "in": where,
        "required": param.required,
        "description": param.description,
        "schema": schema,
    }


def _ref(model: type[BaseModel]) -> str:
    return REF.format(model=model.__name__)


def _schemas(models: Mapping[str, tuple[type[BaseModel], str]]) -> dict[str, Any]:
    """Every model's JSON schema (bodies as validated, answers as serialised), flat."""
    if not models:
        return {}
    _, top = models_json_schema(list(models.values()), ref_template=REF)  # type: ignore[arg-type]
    return dict(top.get("$defs", {}))
