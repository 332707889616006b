"""A document as a PDF (reportlab): the plugin's wording and fields, the issuing authority,
the dates, and a QR code (segno) to the public check.

Imported once, not at each rendering (issue 28: the imports inside ``render_pdf`` were paid
on every decision that issues a document); reportlab's C accelerator (``rl_accel``, the
``reportlab[accel]`` extra) takes its hot paths when installed.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import segno
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

QR_MASK = 0
"""The QR code's mask pattern, fixed: any of the eight reads the same, and segno's choice of
the best one scored all eight at every rendering (issue 28). Fixed, the code is the same
for the same address whatever segno's scoring does in a later version."""


SCAN = (
    "Scan the code or open the address below to see whether this document is genuine and "
    "still valid. No account is needed."
)
FRAME = ("No.", "Issuing authority", "Date of issue", "Date of expiry", "Check this document", SCAN)
"""The words every document prints around its plugin's fields: printed in the document's
languages when it is issued (``content["printed"]``, with its title, wording and labels),
in English where it has none."""


def render_pdf(form: Mapping[str, Any], *, digest: str) -> bytes:
    """An A4 PDF of a document's canonical form (``documents.canonical_form``): title,
    number, statement, fields, issuer, dates, QR check; ``digest``, the form's sealed
    SHA-256, goes in its keywords, so a signed PDF names the one document it shows.

    Rendered in reportlab's invariant mode, so the same form gives the same bytes.
    """
    number, content = form["number"], form["content"]
    issued_on: date = form["issued_on"]
    valid_until: date | None = form["valid_until"]
    issuer, check_url, signer = content["issuer"], content["check_url"], form["signer"]
    regular, bold = _fonts()
    ink = colors.HexColor("#14213d")
    # in two languages every text is about twice as long: a smaller type keeps one page
    scale = 0.86 if len(content.get("languages", ("en",))) > 1 else 1.0
    style = ParagraphStyle("body", fontName=regular, fontSize=9.5 * scale, leading=12.5 * scale)
    small = ParagraphStyle(
        "small", parent=style, fontSize=8 * scale, leading=10.5 * scale, textColor=colors.grey
    )
    label_style = ParagraphStyle("label", parent=style, fontName=bold, textColor=ink)
    title_style = ParagraphStyle(
        "title", parent=style, fontName=bold, fontSize=17 * scale, leading=21 * scale, textColor=ink
    )

    def cell(text: Any, cell_style: ParagraphStyle = style) -> Paragraph:
        return Paragraph(_escape(str(text)).replace("\n", "<br/>"), cell_style)

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"{content['title']} {number}",
        author=issuer["name"],
        subject=content.get("basis", ""),
        keywords=digest,
        creator="caratflow",
        invariant=True,
    )
    width = A4[0] - 36 * mm
    in_languages = content.get("printed", {})

    def framed(text: str) -> str:
        """``text`` in the document's languages, as issued (issue 23)."""
        return in_languages.get(text, text)

    heading = Table(
        [
            [
                [
                    cell(framed(content["title"]), title_style),
                    cell(framed(content.get("subtitle", "")), style),
                ],
                [cell(framed("No."), small), cell(number, title_style)],
            ]
        ],
        colWidths=[width * 0.68, width * 0.32],
    )
    heading.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, 0), 1.2, ink),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
            ]
        )
    )
    rows = [
        [
            cell(framed("Issuing authority"), label_style),
            cell(f"{issuer['name']} ({issuer['country']})"),
        ],
        [cell(framed("Date of issue"), label_style), cell(issued_on.isoformat())],
    ]
    if valid_until is not None:
        rows.append([cell(framed("Date of expiry"), label_style), cell(valid_until.isoformat())])
    rows += [[cell(framed(f["label"]), label_style), cell(f["value"])] for f in content["fields"]]
    body = Table(rows, colWidths=[width * 0.32, width * 0.68])
    body.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.lightgrey),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    validation = (
        f"Issued and validated by {issuer['name']} ({issuer['country']}) on "
        f"{issued_on.isoformat()}. Legal basis: {content.get('basis', '')}."
    )
    check = Table(
        [
            [
                QrCode(check_url, 34 * mm),
                [
                    cell(framed("Check this document"), label_style),
                    cell(framed(SCAN)),
                    Spacer(1, 2 * mm),
                    cell(check_url, label_style),
                    Spacer(1, 2 * mm),
                    cell(
                        "This file is signed (Ed25519, detached signature of the PDF bytes; key "
                        f"{signer}) and sealed in the issuing authority's tamper-evident ledger; "
                        "the check page gives the signature and the ledger proof.",
                        small,
                    ),
                ],
            ]
        ],
        colWidths=[40 * mm, width - 40 * mm],
    )
    check.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BOX", (0, 0), (-1, -1), 0.6, ink),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    story = [heading, Spacer(1, 5 * mm)]
    if content.get("statement"):
        story += [cell(framed(content["statement"]), style), Spacer(1, 5 * mm)]
    story += [body, Spacer(1, 5 * mm), cell(validation), Spacer(1, 6 * mm), check]
    document.build(story)
    return buffer.getvalue()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
)


@cache
def _fonts() -> tuple[str, str]:
    """DejaVu Sans where the system has it (Latin, Greek, Cyrillic: every EU language and
    most names); otherwise the Vera fonts that ship with reportlab (Latin-1)."""
    regular_file, bold_file = _FONT_CANDIDATES
    if not (regular_file.exists() and bold_file.exists()):
        folder = Path(rl_config.__file__).parent / "fonts"
        regular_file, bold_file = folder / "Vera.ttf", folder / "VeraBd.ttf"
    pdfmetrics.registerFont(TTFont("caratflow-regular", str(regular_file)))
    pdfmetrics.registerFont(TTFont("caratflow-bold", str(bold_file)))
    return "caratflow-regular", "caratflow-bold"


def qr_matrix(data: str) -> tuple[tuple[int, ...], ...]:
    """The QR code's modules for ``data`` (error correction M, the mask fixed)."""
    return segno.make(data, error="m", micro=False, mask=QR_MASK).matrix


class QrCode(Flowable):  # type: ignore[misc]
    """A vector QR code (segno's module matrix drawn as squares): sharp at any zoom."""

    def __init__(self, data: str, size: float):
        super().__init__()
        self.matrix, self.size = qr_matrix(data), size

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        step = self.size / (len(self.matrix) + 8)  # a quiet zone of four modules each side
        self.canv.setFillColorRGB(0, 0, 0)
        for row_number, row in enumerate(self.matrix):
            y = self.size - (row_number + 5) * step
            for column, dark in enumerate(row):
                if dark:
                    self.canv.rect((column + 4) * step, y, step, step, stroke=0, fill=1)
