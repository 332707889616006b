"""Statutory reports through the API v1 and the reports page: JSON, CSV, and who may see."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from html import unescape

from caratflow.models import Role
from caratflow.testing.api import act

IMPORTS = "/api/v1/reports/eu.report.import_monthly"


def present(client, auth, payload, **changes) -> None:
    response = client.post("/api/v1/shipments", json=payload(**changes), headers=auth)
    assert response.status_code == 201, response.json


def test_the_monthly_import_report_as_json_and_as_csv(client, auth, payload):
    present(client, auth, payload)  # 20 November 2026, in Antwerp
    response = client.get(f"{IMPORTS}?period=2026-11", headers=auth)  # BE: the only authority
    assert response.status_code == 200, response.json
    report = response.json
    assert (report["report"], report["authority"], report["period"]) == (
        "eu.report.import_monthly",
        "BE",
        "2026-11",
    )
    assert report["basis"] == "Reg. (EC) 2368/2002 Art. 10(1)"
    assert (report["from"], report["until"]) == ("2026-11-01", "2026-12-01")
    [row] = report["rows"]
    assert row["certificate_number"] == "CA123456"
    assert Decimal(row["carats"]) == Decimal("123.45")  # exact, as a decimal string
    assert set(row) == set(report["columns"])
    october = client.get(f"{IMPORTS}?period=2026-10&authority=BE", headers=auth).json
    assert october["rows"] == []

    response = client.get(f"{IMPORTS}?period=2026-11&authority=BE&format=csv", headers=auth)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="eu.report.import_monthly-BE-2026-11.csv"'
    )
    [line] = list(csv.DictReader(io.StringIO(response.text)))
    assert list(line) == report["columns"]
    assert line["certificate_number"] == "CA123456"
    assert (Decimal(line["carats"]), Decimal(line["value_usd"])) == (
        Decimal("123.45"),
        Decimal("456789.00"),
    )


def test_the_quarterly_statistics_add_up_the_quarter(client, auth, payload):
    present(client, auth, payload)
    present(client, auth, payload, **{"certificate.number": "CA123457"})
    response = client.get("/api/v1/reports/kp.statistics?period=2026-Q4", headers=auth)
    assert response.status_code == 200, response.json
    [row] = response.json["rows"]
    assert (row["shipments"], Decimal(row["carats"])) == (2, Decimal("246.90"))


def test_asking_wrongly_names_what_is_wrong(client, auth, make_token):
    def error(url: str, headers=auth) -> tuple[int, list[str]]:
        response = client.get(url, headers=headers)
        assert response.is_json
        return response.status_code, [e["field"] for e in response.json.get("errors") or []]

    assert error(f"{IMPORTS}?period=2026-13") == (422, ["period"])
    assert error(f"{IMPORTS}?period=2026-Q3") == (422, ["period"])
    assert error(IMPORTS) == (422, ["period"])
    assert error(f"{IMPORTS}?period=2026-11&format=xml") == (422, ["format"])
    assert error(f"{IMPORTS}?period=2026-11&authority=XX") == (422, ["authority"])
    two = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'BE', 'NO')}"}
    assert error(f"{IMPORTS}?period=2026-11", two) == (422, ["authority"])
    assert client.get(f"{IMPORTS}?period=2026-11&authority=BE", headers=two).status_code == 200
    unknown = client.get("/api/v1/reports/eu.report.weekly?period=2026-11", headers=auth)
    assert unknown.status_code == 404
    assert "eu.report.export_monthly" in unknown.json["message"]
    # Norway's report is not Belgium's
    assert error("/api/v1/reports/no.authority.fees?period=2026") == (404, [])
    assert client.get(IMPORTS).status_code == 401


def test_another_authoritys_report_is_refused(client, auth, payload, make_token):
    present(client, auth, payload)
    norwegian = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'NO')}"}
    for url in (f"{IMPORTS}?period=2026-11&authority=BE", f"{IMPORTS}?period=2026-11&format=csv"):
        response = client.get(
            url.replace("&format=csv", "&authority=BE&format=csv"), headers=norwegian
        )
        assert response.status_code == 403, response.data
        assert response.is_json and "CA123456" not in response.text
    fees = client.get("/api/v1/reports/no.authority.fees?period=2026", headers=norwegian)
    assert fees.status_code == 200, fees.json
    assert fees.json["authority"] == "NO"
    belgian = client.get("/api/v1/reports/no.authority.fees?period=2026&authority=NO", headers=auth)
    assert belgian.status_code == 403


def test_the_report_is_in_the_openapi_document(client):
    served = client.get("/api/v1/openapi.json").json
    described = served["paths"]["/api/v1/reports/{report}"]["get"]
    assert {p["name"] for p in described["parameters"]} == {
        "report",
        "period",
        "authority",
        "format",
    }
    assert set(described["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert set(described["responses"]) >= {"200", "401", "403", "404", "422"}


def test_an_officer_reads_the_report_on_the_page_and_downloads_it(
    client, auth, payload, browser, make_person
):
    present(client, auth, payload)
    officer = browser(make_person(Role.OFFICER, "BE"))
    form = officer.get("/reports")
    assert form.status_code == 200
    assert 'value="eu.report.import_monthly"' in form.text and 'value="kp.statistics"' in form.text
    assert "no.authority.fees" not in form.text  # not Belgium's
    assert "a quarter such as 2026-Q3" in form.text
    assert 'id="report"' not in form.text.split("</form>")[-1]  # no table before asking

    page = officer.get("/reports?authority=BE&report=eu.report.import_monthly&period=2026-11")
    assert page.status_code == 200
    table = page.text.split('<section class="card" id="report">')[1]
    heading = '<th scope="col" data-column="certificate_number">certificate number</th>'
    assert heading in table and "Reg. (EC) 2368/2002 Art. 10(1)" in table
    assert '<div class="table-scroll">' in table  # a wide table scrolls inside its card
    assert "<td>CA123456</td>" in table
    assert '<td class="num">123.45</td>' in table and "456,789.00" in table
    assert "<td>10 Nov 2026</td>" in table  # issued on, as the reader's language writes it
    link = unescape(re.search(r'href="(/reports/[^"]+\.csv[^"]*)"', table).group(1))
    download = officer.get(link)
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "eu.report.import_monthly-BE-2026-11.csv" in download.headers["Content-Disposition"]
    assert download.text.splitlines()[1].startswith("CA123456,")

    wrong = officer.get("/reports?authority=BE&report=eu.report.import_monthly&period=November")
    assert wrong.status_code == 422
    assert "a month such as 2026-11" in wrong.text and "<td>CA123456</td>" not in wrong.text


def test_every_date_of_a_report_reads_in_one_format_of_the_readers_language(
    client, auth, payload, browser, make_person
):
    response = client.post("/api/v1/shipments", json=payload(), headers=auth)
    shipment = response.json["id"]
    verify = f"/api/v1/shipments/{shipment}/actions/verify"
    assert act(client, verify, headers=auth).status_code == 200
    officer = browser(make_person(Role.OFFICER, "BE"))
    officer.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    table = _report(officer, "2026-11")  # presented on 20 November 2026
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", table)
    assert not [c for c in cells if re.fullmatch(r"\d{4}-\d{2}-\d{2}", c)]  # no ISO date
    assert "10.11.2026" in cells  # issued on, as German writes a date
    verified = cells[-1]  # the last column: verified on
    assert re.fullmatch(r"\d{2}\.\d{2}\.\d{4}", verified), verified


def test_the_words_in_a_reports_cells_read_in_the_readers_language(
    client, auth, payload, browser, make_person
):
    """Issue 23: the reconciliation's cells (direction, status) are words a person reads:
    in German, an import nobody announced reads "Einfuhr", "nicht angekündigt"."""
    present(client, auth, payload)
    officer = browser(make_person(Role.OFFICER, "BE"))
    officer.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    url = "/reports?authority=BE&report=kp.electronic_messages&period=2026-11"
    page = officer.get(url)
    assert page.status_code == 200, page.text[:300]
    table = page.text.split('<section class="card" id="report">')[1]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", table)
    assert "Einfuhr" in cells and "nicht angekündigt" in cells, cells
    assert "import" not in cells and "not announced" not in cells


def _report(officer, period: str) -> str:
    url = f"/reports?authority=BE&report=eu.report.import_monthly&period={period}"
    page = officer.get(url)
    assert page.status_code == 200
    return page.text.split('<section class="card" id="report">')[1]


def test_the_page_keeps_to_the_users_own_authorities(client, auth, payload, browser, make_person):
    present(client, auth, payload)
    norwegian = browser(make_person(Role.OFFICER, "NO"))
    form = norwegian.get("/reports").text
    assert 'value="no.authority.fees"' in form and "eu.report.import_monthly" not in form
    page = norwegian.get("/reports?authority=BE&report=eu.report.import_monthly&period=2026-11")
    assert page.status_code == 403 and "CA123456" not in page.text
    download = norwegian.get("/reports/eu.report.import_monthly.csv?authority=BE&period=2026-11")
    assert download.status_code == 403 and "CA123456" not in download.text
    fees = norwegian.get("/reports?authority=NO&report=no.authority.fees&period=2026")
    assert fees.status_code == 200 and 'id="report"' in fees.text


def test_a_formula_in_a_certificate_reaches_the_csv_as_text(client, auth, payload):
    formulas = {
        "certificate.issuing_authority": '=HYPERLINK("http://evil.example/","Natural Resources")',
        "certificate.validating_authority": "@SUM(1+1)*cmd|' /C calc'!A0",
    }
    present(client, auth, payload, **formulas)
    response = client.get(f"{IMPORTS}?period=2026-11&authority=BE&format=csv", headers=auth)
    assert response.status_code == 200
    [line] = list(csv.DictReader(io.StringIO(response.text)))
    assert line["issuing_authority"] == "'" + formulas["certificate.issuing_authority"]
    assert line["validating_authority"] == "'" + formulas["certificate.validating_authority"]
    assert Decimal(line["carats"]) == Decimal("123.45")  # numbers stay numbers
