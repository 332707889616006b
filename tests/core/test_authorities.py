"""Issue 24, point 1: authorities are a deployment's data. A Belgian and a
Rhineland-Palatinate authority run side by side in one deployment, each with its own
holidays, number series, duties and reports, and neither sees the other's shipments."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from caratflow.accounts import authorities
from caratflow.case.access import Actor
from caratflow.deadlines.keeping import calendar_for
from caratflow.errors import Forbidden, InvalidInput, NotFound
from caratflow.models import Authority, IssuedDocument, Role
from caratflow.testing.payloads import export_payload, shipment_payload

VALIDATED = {"sealed_under_supervision": "yes"}
GERMAN_SERIES = {
    "eu.community_certificate": {"prefix": "EC", "digits": 6, "first": 500001, "last": 599999},
    "eu.certified_copy": {"prefix": "DE-BK-", "digits": 6},
}


def german_authority(host, **changes):
    """The Annex III profile of Germany, with the series this deployment was allocated."""
    [profile] = [p for p in authorities.offered(host) if p.code == "DE"]
    return {**profile.as_data(), "series": GERMAN_SERIES, **changes}


@pytest.fixture
def germany(session, plugin_host):
    [profile] = authorities.checked([german_authority(plugin_host)], plugin_host)
    authorities.apply(session, [profile])
    return session.get(Authority, "DE")


def officer_of(code: str, duties=frozenset()) -> Actor:
    return Actor(f"officer.{code.lower()}", Role.OFFICER, frozenset({code}), frozenset(duties))


def german(payload):
    return {**payload, "authority": "DE", "entry_point": "FRA"}


def test_the_plugins_offer_annex_iii_profiles_and_set_up_only_the_default_ones(plugin_host):
    offered = {p.code: p for p in authorities.offered(plugin_host)}
    assert {"BE", "DE", "NO"} <= set(offered)
    defaults = {p.code for p in authorities.defaults(plugin_host)}
    assert {"BE", "NO"} <= defaults and not {"CZ", "DE", "PT"} & defaults
    assert offered["DE"].subdivision == "RP" and offered["DE"].zone == "Europe/Berlin"
    assert "Annex III" in offered["DE"].source
    assert "NOT verified" in offered["DE"].source  # said so in the data itself
    assert offered["BE"].plugins == ("belgium_g7", "eu")


def test_each_authority_keeps_the_holidays_of_its_own_country_and_land(session, germany):
    belgium, rhineland = calendar_for(session, "BE"), calendar_for(session, germany)
    corpus_christi, belgian_national_day = date(2026, 6, 4), date(2026, 7, 21)
    assert rhineland.why_closed(corpus_christi) is not None  # a holiday in the Land
    assert belgium.is_working_day(corpus_christi)
    assert belgium.why_closed(belgian_national_day) is not None
    assert rhineland.is_working_day(belgian_national_day)


def test_each_authority_numbers_its_community_certificates_from_its_own_series(
    session, service, officer, germany, clock
):
    clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    deutsch = officer_of("DE")
    de_export = service.present(session, german(export_payload()), deutsch).shipment
    service.act(session, de_export.id, "verify", deutsch, inputs=VALIDATED)
    be_export = service.present(session, export_payload(), officer).shipment
    service.act(session, be_export.id, "verify", officer, inputs=VALIDATED)

    numbers = dict(
        session.execute(
            select(IssuedDocument.authority_code, IssuedDocument.number).where(
                IssuedDocument.kind == "eu.community_certificate"
            )
        ).all()
    )
    assert numbers["DE"] == "EC500001"  # the first of the range allocated to it
    assert re.fullmatch(r"EC\d{6}", numbers["BE"]) and numbers["BE"] < "EC500001"


def test_neither_authority_sees_the_other_s_shipments(session, service, officer, germany):
    deutsch = officer_of("DE")
    de_import = service.present(session, german(shipment_payload()), deutsch).shipment
    be_import = service.present(session, shipment_payload(), officer).shipment
    with pytest.raises(NotFound):
        service.get(session, de_import.id, officer)
    with pytest.raises(NotFound):
        service.get(session, be_import.id, deutsch)
    with pytest.raises(Forbidden):
        service.present(session, german(shipment_payload()), officer)


def test_an_authority_without_duties_lets_every_officer_decide_and_belgium_keeps_its_bodies(
    session, service, germany
):
    deutsch, belgian = officer_of("DE"), officer_of("BE")
    de_import = service.present(session, german(shipment_payload()), deutsch).shipment
    assert service.act(session, de_import.id, "verify", deutsch).state == "verified"
    be_import = service.present(session, shipment_payload(), belgian).shipment
    with pytest.raises(Forbidden, match="fps_economy"):
        service.act(session, be_import.id, "verify", belgian)


def test_the_duties_an_authority_declares_replace_those_of_its_plugins(
    session, service, plugin_host
):
    zoll = {"code": "zoll", "name": "Zollamt", "actions": ["verify"], "basis": "Art. 19(1)"}
    [profile] = authorities.checked([german_authority(plugin_host, duties=[zoll])], plugin_host)
    authorities.apply(session, [profile])
    without = officer_of("DE")
    shipment = service.present(session, german(shipment_payload()), without).shipment
    with pytest.raises(Forbidden, match="Zollamt"):
        service.act(session, shipment.id, "verify", without)
    assert service.act(session, shipment.id, "verify", officer_of("DE", {"zoll"})).state == (
        "verified"
    )


def test_each_authority_reports_only_its_own_shipments(
    session, client, make_token, service, officer, germany
):
    de_token = make_token(Role.OFFICER, "DE")
    service.present(session, german(shipment_payload()), officer_of("DE"))
    service.present(session, shipment_payload(**{"certificate.number": "CA999999"}), officer)
    session.flush()
    answer = client.get(
        "/api/v1/reports/eu.report.import_monthly?period=2026-11",
        headers={"Authorization": f"Bearer {de_token}"},
    )
    assert answer.status_code == 200, answer.get_json()
    rows = answer.get_json()["rows"]
    assert [r["certificate_number"] for r in rows] == ["CA123456"]
    refused = client.get(
        "/api/v1/reports/eu.report.import_monthly?period=2026-11&authority=BE",
        headers={"Authorization": f"Bearer {de_token}"},
    )
    assert refused.status_code in (403, 404)


def test_a_declaration_with_bad_fields_is_refused_naming_each_and_nothing_is_applied(
    session, plugin_host
):
    bad = german_authority(
        plugin_host,
        code="de",
        zone="Europe/Nowhere",
        plugins=["eu", "atlantis"],
    )
    overlapping = german_authority(
        plugin_host,
        code="DX",
        series={"eu.community_certificate": GERMAN_SERIES["eu.community_certificate"]},
    )
    with pytest.raises(InvalidInput) as refused:
        authorities.checked([bad, german_authority(plugin_host), overlapping], plugin_host)
    fields = {e.field for e in refused.value.errors}
    assert {"authority[0].code", "authority[2].series.eu.community_certificate"} <= fields
    assert session.get(Authority, "DX") is None
    with pytest.raises(InvalidInput) as refused:
        authorities.checked(
            [german_authority(plugin_host, subdivision="ZZ", plugins=["atlantis"])], plugin_host
        )
    assert {e.field for e in refused.value.errors} == {
        "authority[0].subdivision",
        "authority[0].plugins",
    }


def test_the_declaration_survives_being_written_and_read_back(tmp_path, plugin_host):
    [profile] = authorities.checked([german_authority(plugin_host)], plugin_host)
    path = authorities.config_path(tmp_path)
    authorities.write(path, [profile])
    assert authorities.read(path, plugin_host) == [profile]
