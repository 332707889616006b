"""The pages' forms (Flask-WTF: each carries its CSRF token).

Forms only collect what was typed; the rules about what a shipment, a party or a user
must be live in the core (``caratflow.case.schemas``, ``caratflow.case.parties``,
``caratflow.accounts``), whose field errors are shown back beside the fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
    widgets,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from caratflow import inputs
from caratflow.case.schemas import exact_amount
from caratflow.errors import FieldError, InvalidInput


def options(pairs: Iterable[tuple[str, Any]]) -> list[SelectChoice]:
    """Choices for a select or checkbox list: (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


class SignInForm(FlaskForm):
    name = StringField(_l("User name"), validators=[DataRequired(), Length(max=120)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code from your authenticator app"),
        validators=[DataRequired(), Length(min=6, max=10)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class ReauthForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])
    code = StringField(
        _l("Code from your authenticator app"),
        validators=[Optional(), Length(max=10)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class LocaleForm(FlaskForm):
    locale = SelectField(_l("Language"), validators=[DataRequired()])


class EmptyForm(FlaskForm):
    """A button: only the CSRF token travels."""


class DigestForm(FlaskForm):
    """The officer's daily e-mail of "My work" (issue 26): where to, and when."""

    address = StringField(
        _l("E-mail address"),
        validators=[DataRequired(), Length(max=320)],
        render_kw={"type": "email", "autocomplete": "email"},
    )
    send_at = TimeField(_l("Every day at"), validators=[DataRequired()])


# -- presenting a shipment --------------------------------------------------------------


class ContainerForm(Form):
    label = StringField(_l("Container"), validators=[Optional(), Length(max=40)])
    seals = StringField(_l("Seals (comma-separated)"), validators=[Optional(), Length(max=400)])
    seals_intact = BooleanField(_l("Seals intact"), default=True)


class ShipmentForm(FlaskForm):
    """A presentation as typed at the counter; ``payload()`` makes the API's JSON of it."""

    authority = SelectField(_l("Authority"), validators=[DataRequired()])
    direction = SelectField(
        _l("Direction"),
        choices=options(
            [("import", _l("import")), ("export", _l("export")), ("transit", _l("transit"))]
        ),
    )
    goods = SelectField(
        _l("Goods"),
        choices=options(
            [("rough", _l("rough")), ("polished", _l("polished")), ("synthetic", _l("synthetic"))]
        ),
    )
    presented_at = DateTimeLocalField(
        _l("Presented at (local time; empty: now)"), validators=[Optional()]
    )
    entry_point = StringField(_l("Entry point"), validators=[Optional(), Length(max=40)])
    certificate_number = StringField(_l("Certificate number"), validators=[InputRequired()])
    certificate_issuing_country = StringField(
        _l("Issuing country (ISO code)"), validators=[InputRequired(), Length(max=2)]
    )
    certificate_issuing_authority = StringField(
        _l("Issuing authority"), validators=[InputRequired()]
    )
    certificate_validating_authority = StringField(
        _l("Validating authority"), validators=[Optional()]
    )
    certificate_issued_on = DateField(_l("Issued on"), validators=[InputRequired()])
    certificate_expires_on = DateField(_l("Expires on"), validators=[InputRequired()])
    certificate_exporter_name = StringField(_l("Exporter"), validators=[InputRequired()])
    certificate_exporter_address = TextAreaField(
        _l("Exporter's address"), validators=[InputRequired()]
    )
    certificate_importer_name = StringField(_l("Importer"), validators=[InputRequired()])
    certificate_importer_address = TextAreaField(
        _l("Importer's address"), validators=[InputRequired()]
    )
    certificate_parcels = IntegerField(_l("Parcels"), validators=[InputRequired()])
    certificate_carats = StringField(
        _l("Carats"), validators=[InputRequired()], render_kw={"inputmode": "decimal"}
    )
    certificate_value_usd = StringField(
        _l("Value (USD)"), validators=[InputRequired()], render_kw={"inputmode": "decimal"}
    )
    certificate_hs_codes = StringField(
        _l("HS codes (comma-separated)"), validators=[InputRequired()]
    )
    certificate_origin = StringField(
        _l("Countries of origin (comma-separated ISO codes)"), validators=[Optional()]
    )
    certificate_provenance = StringField(
        _l("Country of provenance (ISO code)"), validators=[InputRequired(), Length(max=2)]
    )
    containers = FieldList(FormField(ContainerForm), min_entries=3, max_entries=20)
    details = TextAreaField(
        _l("Further particulars the jurisdiction asks for (JSON object, optional)"),
        validators=[Optional(), Length(max=20_000)],
    )

    def payload(self, zone: str) -> tuple[dict[str, Any], list[FieldError]]:
        """The presentation as the API takes it, and what could not even be read."""
        problems: list[FieldError] = []
        payload: dict[str, Any] = {
            "authority": self.authority.data,
            "direction": self.direction.data,
            "goods": self.goods.data,
            "entry_point": (self.entry_point.data or "").strip() or None,
        }
        if self.presented_at.data is not None:
            local: datetime = self.presented_at.data
            payload["presented_at"] = local.replace(tzinfo=ZoneInfo(zone)).isoformat()
        certificate: dict[str, Any] = {
            "number": "".join((self.certificate_number.data or "").split()).upper(),
            "issuing_country": (self.certificate_issuing_country.data or "").strip().upper(),
            "issuing_authority": self.certificate_issuing_authority.data,
            "issued_on": _iso(self.certificate_issued_on.data),
            "expires_on": _iso(self.certificate_expires_on.data),
            "exporter": {
                "name": self.certificate_exporter_name.data,
                "address": self.certificate_exporter_address.data,
            },
            "importer": {
                "name": self.certificate_importer_name.data,
                "address": self.certificate_importer_address.data,
            },
            "parcels": self.certificate_parcels.data,
            "hs_codes": _codes(self.certificate_hs_codes.data),
            "origin": [c.upper() for c in _codes(self.certificate_origin.data)],
            "provenance": (self.certificate_provenance.data or "").strip().upper(),
        }
        if (self.certificate_validating_authority.data or "").strip():
            certificate["validating_authority"] = self.certificate_validating_authority.data
        for name in ("carats", "value_usd"):
            raw = getattr(self, f"certificate_{name}").data or ""
            try:
                certificate[name] = str(parse_amount(raw))
            except ValueError as error:
                problems.append(FieldError(f"certificate.{name}", str(error)))
        payload["certificate"] = certificate
        payload["containers"] = [
            {
                "id": entry.form.label.data.strip(),
                "seals": _codes(entry.form.seals.data),
                "seals_intact": bool(entry.form.seals_intact.data),
            }
            for entry in self.containers
            if (entry.form.label.data or "").strip()
        ]
        if (self.details.data or "").strip():
            try:
                extra = inputs.loads(self.details.data, "details")
            except inputs.NotJson:
                extra = None
            except InvalidInput as error:
                problems += error.errors
                extra = {}
            if not isinstance(extra, dict):
                problems.append(FieldError("details", 'must be a JSON object, e.g. {"key": 1}'))
            else:
                payload = {**extra, **payload}
        return payload, problems

    def show_errors(self, errors: list[FieldError]) -> list[FieldError]:
        """Put each error beside its field; return those that belong to no field."""
        unplaced = []
        for error in errors:
            field = self._field_for(error.field)
            if field is None:
                unplaced.append(error)
            else:
                field.errors = [*field.errors, error.message]  # type: ignore[list-item]
        return unplaced

    def _field_for(self, path: str) -> Any:
        parts = path.split(".")
        if parts[0] == "containers" and len(parts) >= 3 and parts[1].isdigit():
            filled = [e for e in self.containers if (e.form.label.data or "").strip()]
            index = int(parts[1])
            if index < len(filled):
                name = {"id": "label"}.get(parts[2], parts[2])
                return getattr(filled[index].form, name, None)
            return None
        if parts[0] == "certificate" and len(parts) >= 2:
            name = "certificate_" + "_".join(p for p in parts[1:] if not p.isdigit())
            return getattr(self, name, None)
        return getattr(self, parts[0], None) if parts[0] != "csrf_token" else None


def parse_amount(raw: str) -> Decimal:
    """An exact amount typed with a decimal point or comma, and no thousands separators
    (then read as the API reads one: ``caratflow.case.schemas.exact_amount``)."""
    text = raw.strip().replace(" ", "").replace("\u00a0", "")
    if text.count(",") + text.count(".") > 1:
        raise ValueError("write the amount without thousands separators, e.g. 1234.50")
    try:
        return exact_amount(text.replace(",", "."))
    except ValueError:
        raise ValueError("not a number") from None


def _codes(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").replace(";", ",").split(",") if part.strip()]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


class CheckFileForm(FlaskForm):
    """The broker's pre-check: a presentation file as the API takes it."""

    document = TextAreaField(
        _l("Presentation file (JSON, as sent to the API)"),
        validators=[Optional(), Length(max=1_000_000)],
    )


# -- deciding ---------------------------------------------------------------------------


class DecisionForm(FlaskForm):
    """A decision on a shipment; ``version`` is what the officer saw (stale: 409).

    ``particulars`` are what the jurisdiction's rules read from a decision (the ground
    of a remedial release, the containers opened…), one ``name = value`` per line.
    """

    version = HiddenField(validators=[DataRequired()])
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=4000)])
    particulars = TextAreaField(
        _l("Particulars the rules ask for (one 'name = value' per line)"),
        validators=[Optional(), Length(max=4000)],
    )

    def inputs(self) -> tuple[dict[str, Any], list[FieldError]]:
        found: dict[str, Any] = {}
        problems = []
        for number, line in enumerate((self.particulars.data or "").splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, value = line.partition("=")
            if not sep:
                name, sep, value = line.partition(":")
            if not sep or not name.strip():
                problems.append(FieldError("particulars", f"line {number}: write name = value"))
                continue
            try:
                found[name.strip()] = inputs.loads(value)
            except inputs.NotJson:
                found[name.strip()] = value.strip()
            except InvalidInput as error:
                reason = error.errors[0].message
                problems.append(FieldError("particulars", f"line {number}: {reason}"))
        return found, problems


# -- parties and administration ---------------------------------------------------------


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class PartyForm(FlaskForm):
    authority = SelectField(_l("Authority"), validators=[DataRequired()])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    address = TextAreaField(_l("Address"), validators=[DataRequired(), Length(max=2000)])
    phone = StringField(_l("Phone"), validators=[DataRequired(), Length(max=40)])
    roles = MultiCheckboxField(
        _l("Registered as"),
        choices=options([("importer", _l("importer")), ("exporter", _l("exporter"))]),
    )
    organisation_number = StringField(
        _l("Organisation number"), validators=[Optional(), Length(max=40)]
    )
    national_id = StringField(
        _l("National identity number (persons)"), validators=[Optional(), Length(max=40)]
    )


ROLE_CHOICES = options(
    [
        ("officer", _l("officer")),
        ("supervisor", _l("supervisor")),
        ("auditor", _l("auditor")),
        ("admin", _l("administrator")),
    ]
)


class NewUserForm(FlaskForm):
    name = StringField(_l("User name"), validators=[DataRequired(), Length(max=120)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    authorities = MultiCheckboxField(_l("Acts for"))
    duties = MultiCheckboxField(_l("Duties"))
    password = PasswordField(
        _l("Initial password (12 characters or more; empty: API only)"),
        validators=[Optional(), Length(max=128)],
    )


class EditUserForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    authorities = MultiCheckboxField(_l("Acts for"))
    duties = MultiCheckboxField(_l("Duties"))
    active = BooleanField(_l("May sign in"))


class PasswordResetForm(FlaskForm):
    password = PasswordField(
        _l("New password (12 characters or more)"), validators=[DataRequired(), Length(max=128)]
    )


class ClosureDayForm(FlaskForm):
    day = DateField(_l("Day"), validators=[InputRequired()])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=200)])


class DirectoryEntryForm(FlaskForm):
    """An addressee of an authority's directory and its channel (issue 24)."""

    audience = StringField(_l("Audience"), validators=[DataRequired(), Length(max=60)])
    address = StringField(_l("Address"), validators=[DataRequired(), Length(max=320)])
    name = StringField(_l("Name"), validators=[Length(max=200)])


class FourEyesForm(FlaskForm):
    four_eyes = MultiCheckboxField(_l("Decisions a second officer confirms"))
