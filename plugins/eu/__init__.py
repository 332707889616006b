"""Council Regulation (EC) No 2368/2002: the Kimberley Process in the European Union.

Serves the competent Community authorities (Belgium: FPS Economy at the Antwerp
Diamond Office). Rules are in ``rules.py`` with their legal text in ``rules.toml``;
dated values (KP participants) in ``parameters/``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from caratflow.hookspecs import hookimpl
from caratflow.law import Rule
from caratflow.pluginhost import AuthorityProfile
from caratflow.plugins.eu.rules import RULES

HERE = Path(__file__).parent


@hookimpl
def caratflow_rules_register(register: Callable[[Rule], None]) -> None:
    for rule in RULES:
        register(rule)


@hookimpl
def caratflow_authorities_register(register: Callable[[AuthorityProfile], None]) -> None:
    register(
        AuthorityProfile(
            code="BE",
            name="FPS Economy, Diamond Office Antwerp",
            country="BE",
            zone="Europe/Brussels",
        )
    )


@hookimpl
def caratflow_demo_register(register: Callable[[Mapping[str, Any]], None]) -> None:
    for payload in json.loads((HERE / "demo.json").read_text("utf-8")):
        register(payload)
