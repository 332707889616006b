"""Server-rendered pages (the admin UI grows here)."""

from __future__ import annotations

from flask import Blueprint, render_template_string
from sqlalchemy import func, select

from caratflow.models import Shipment
from caratflow.web.context import runtime

blueprint = Blueprint("pages", __name__)

INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>caratflow</title></head>
<body><h1>caratflow</h1>
<p>Border control of the diamond trade. Enabled plugins: {{ plugins|join(", ") }}.</p>
<p>{{ count }} shipment(s) on record. The JSON API lives under <code>/api/v1</code>.</p>
</body></html>"""


@blueprint.get("/")
def index() -> str:
    with runtime().sessions() as session:
        count = session.scalar(select(func.count()).select_from(Shipment))
    return render_template_string(INDEX, plugins=runtime().plugins.plugin_names, count=count)
