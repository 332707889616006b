"""FOR-2004-02-24-470: Norway's regulation on the Kimberley Process for rough diamonds.

The controlling authority is Norges Gullsmedforbund; customs is Tollvesenet; appeals
go to Utenriksdepartementet. Rules in ``rules.py``, legal text in ``rules.toml``,
dated values in ``parameters/``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from caratflow.hookspecs import hookimpl
from caratflow.law import Rule
from caratflow.pluginhost import AuthorityProfile
from caratflow.plugins.norway.rules import RULES

HERE = Path(__file__).parent


@hookimpl
def caratflow_rules_register(register: Callable[[Rule], None]) -> None:
    for rule in RULES:
        register(rule)


@hookimpl
def caratflow_authorities_register(register: Callable[[AuthorityProfile], None]) -> None:
    register(
        AuthorityProfile(code="NO", name="Norges Gullsmedforbund", country="NO", zone="Europe/Oslo")
    )


@hookimpl
def caratflow_demo_register(register: Callable[[Mapping[str, Any]], None]) -> None:
    for payload in json.loads((HERE / "demo.json").read_text("utf-8")):
        register(payload)
