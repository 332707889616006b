"""The declared fields of the enabled plugins in the OpenAPI document (issue 23).

``openapi.document`` describes the routes; this adds what each plugin's law asks for: a
shipment's ``details`` and the presentation's extra fields become the declared
presentation fields (with their plugin, scope, rule and article), and an action's
``inputs`` the declared inputs of each action, so no field reaches the engine
undocumented. Generated from the same declaration the engine validates against.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from caratflow.jurisdiction.contributions import Plugins
from caratflow.jurisdiction.fields import FieldSet

REF = "#/components/schemas/{model}"


def field_sets(plugins: Plugins) -> list[FieldSet]:
    return [s for name in plugins.plugin_names for s in _sets(plugins, name)]


def _sets(plugins: Plugins, name: str) -> list[FieldSet]:
    registrar = plugins.contributions(name).fields
    return list(registrar.sets) if registrar else []


def _scope(fieldset: FieldSet) -> str:
    parts = [f"plugin {fieldset.plugin}"]
    if fieldset.directions:
        parts.append("direction " + " or ".join(sorted(fieldset.directions)))
    if fieldset.goods:
        parts.append("goods " + " or ".join(sorted(fieldset.goods)))
    return ", ".join(parts)


def describe(document: dict[str, Any], plugins: Plugins) -> dict[str, Any]:
    """``document`` with every declared field set in its schemas."""
    sets = field_sets(plugins)
    if not sets:
        return document
    schemas = document["components"]["schemas"]
    refs, top = models_json_schema([(s.model, "validation") for s in sets], ref_template=REF)
    schemas.update(top.get("$defs", {}))

    def ref(fieldset: FieldSet) -> str:
        return str(refs[(fieldset.model, "validation")]["$ref"])

    presented: dict[str, Any] = {}
    for fieldset in (s for s in sets if s.where == "presentation"):
        own = schemas[ref(fieldset).rsplit("/", 1)[1]]["properties"]
        for name, schema in own.items():
            said = f"{schema.get('description', '')} ({_scope(fieldset)})"
            if name in presented:  # several plugins (or scopes) ask for it: each is said
                said = f"{presented[name]['description']}; {said}"
            presented[name] = {**presented.get(name, schema), "description": said}
    by_action: dict[str, list[dict[str, Any]]] = {}
    for fieldset in (s for s in sets if s.where != "presentation"):
        assert fieldset.action is not None
        by_action.setdefault(fieldset.action, []).append(
            {
                "$ref": ref(fieldset),
                "description": f"the inputs of '{fieldset.action}' ({_scope(fieldset)})",
            }
        )
    if "ShipmentIn" in schemas:
        schemas["ShipmentIn"].setdefault("properties", {}).update(presented)
        schemas["ShipmentIn"]["additionalProperties"] = False  # none reaches the engine
        schemas["ShipmentIn"]["description"] = (
            "A presentation: the core fields, and the fields each enabled plugin declares "
            "for its law (kept in the shipment's details)."
        )
    if "ShipmentOut" in schemas:
        schemas["ShipmentOut"]["properties"]["details"] = {
            "type": "object",
            "description": "the declared presentation fields as stored (their JSON form)",
            "properties": presented,
        }
    if "ActionIn" in schemas:
        schemas["ActionIn"]["properties"]["inputs"] = {
            "type": "object",
            "description": "the fields the action declares, by action: "
            + ", ".join(sorted(by_action)),
            "anyOf": [{"type": "object", "maxProperties": 0}]
            + [ref for refs in by_action.values() for ref in refs],
            "x-inputs-by-action": by_action,
        }
    return document
