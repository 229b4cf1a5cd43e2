"""A batch of vouchers laid out to print and cut (docs/logins.md, "Vouchers"): cards on A4 with
the store's name, the code in large monospace, what the voucher gives, and a QR code of the
code; as HTML (QR codes as inline SVG, segno) and as PDF (fpdf2).

Chinese text in the PDF needs a CJK font: Debian's fonts-noto-cjk (Noto Sans CJK SC, a CFF
font in a TrueType collection, which fpdf2 embeds as a subset). Without it the PDF is made in
English and a name that is not Latin-1 is left out; the HTML sheet uses the browser's fonts.

Most of a sheet's time is its QR codes (about 3 ms each: segno tries the eight masks) and, in
the PDF, the CJK font (loading and subsetting it) and drawing the QR codes. A code's QR code
never changes: it is made once per process and kept (CODES_KEPT). A PDF is kept by what it
shows (SHEETS_KEPT): the same batch printed again is not laid out again, and a sheet whose
codes, texts or language changed (a code revoked, the batch renamed) is another sheet. A new
batch's sheet is made ahead (portal/console_vouchers.py, `warm_sheet`), so that even its first
view is quick in the process that created it: the caches are the process's own.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import segno
from fpdf import FPDF
from markupsafe import Markup

from portal.vouchers import format_code

# (file, face in the collection): Noto Sans CJK SC is the third face of Debian's collections.
CJK_FONTS = (
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 2),
    (Path("/usr/share/fonts/opentype/noto-cjk/NotoSansCJK-Regular.ttc"), 2),
)

# A4 portrait, in millimetres: 2 columns by 5 rows of cards.
PAGE_W, PAGE_H, MARGIN = 210.0, 297.0, 10.0
COLUMNS, ROWS = 2, 5
CARD_W = (PAGE_W - 2 * MARGIN) / COLUMNS
CARD_H = (PAGE_H - 2 * MARGIN) / ROWS
PAD = 4.0
QR_SIZE = 27.0
CODES_KEPT = 2048  # QR codes kept per process: two sheets of the largest batch
SHEETS_KEPT = 4  # PDFs kept per process (a 500-card PDF is about 320 KB)


@dataclass(frozen=True)
class Facts:
    """A card's texts, already in the sheet's language: (label, value) pairs."""

    card: str  # "Free WiFi voucher"
    how: str  # how to use it
    duration: tuple[str, str]
    data: tuple[str, str]
    devices: tuple[str, str]
    valid_until: tuple[str, str]

    def lines(self) -> list[str]:
        pairs = (self.duration, self.data, self.devices, self.valid_until)
        return [f"{label}: {value}" for label, value in pairs]


@dataclass(frozen=True)
class Sheet:
    title: str  # the batch's name
    brand: str  # the store's (or merchant's) name on each card
    lang: str
    codes: tuple[str, ...]
    facts: Facts


def cjk_font() -> tuple[Path, int] | None:
    """Where the CJK font is on this machine, or None."""
    return next(((path, face) for path, face in CJK_FONTS if path.is_file()), None)


# -- HTML -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    code: str  # as printed: ABCDE-23456
    qr: Markup  # an inline <svg>


@functools.lru_cache(maxsize=CODES_KEPT)
def qr_code(code: str) -> segno.QRCode:
    """The code's QR code, made once (the HTML and the PDF sheet draw the same one)."""
    return segno.make(code, error="m", micro=False)


@functools.lru_cache(maxsize=CODES_KEPT)
def qr_svg(code: str) -> Markup:
    """The code as a QR code, inline SVG (segno writes only its own markup)."""
    svg = qr_code(code).svg_inline(scale=4, border=2, dark="#111", omitsize=True)
    return Markup(svg)  # noqa: S704


def html_cards(sheet: Sheet) -> list[Card]:
    return [Card(format_code(code), qr_svg(code)) for code in sheet.codes]


# -- PDF ------------------------------------------------------------------------------------------


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


class _Pdf:
    """fpdf2 with the sheet's text font: the CJK font when there is one, else Helvetica."""

    def __init__(self, font: tuple[Path, int] | None) -> None:
        self.doc = FPDF(orientation="P", unit="mm", format="A4")
        self.doc.set_auto_page_break(False)
        self.doc.set_margins(MARGIN, MARGIN)
        self.cjk = font is not None
        if font is not None:
            path, face = font
            self.doc.add_font("cjk", fname=str(path), collection_font_number=face)

    def text_font(self, size: float) -> None:
        self.doc.set_font("cjk" if self.cjk else "helvetica", size=size)

    def shows(self, text: str) -> bool:
        return self.cjk or _latin1(text)


@functools.lru_cache(maxsize=SHEETS_KEPT)
def pdf(sheet: Sheet, font: tuple[Path, int] | None) -> bytes:
    """The sheet as a PDF, its texts in `font` (cjk_font()); with None, in Helvetica: then a
    text that is not Latin-1 is left out (give such a sheet English texts). Kept: the same
    sheet asked for again is the same bytes."""
    out = _Pdf(font)
    doc = out.doc
    doc.set_title(sheet.title if out.shows(sheet.title) else "WiFi vouchers")
    doc.set_creator("Portico")
    for index, code in enumerate(sheet.codes):
        slot = index % (COLUMNS * ROWS)
        if slot == 0:
            doc.add_page()
        x = MARGIN + (slot % COLUMNS) * CARD_W
        y = MARGIN + (slot // COLUMNS) * CARD_H
        _card(out, sheet, code, x, y)
    if not sheet.codes:
        doc.add_page()
    return bytes(doc.output())


def _card(out: _Pdf, sheet: Sheet, code: str, x: float, y: float) -> None:
    doc = out.doc
    doc.set_draw_color(150, 150, 150)
    doc.set_line_width(0.2)
    with doc.local_context():
        doc.set_dash_pattern(dash=1.5, gap=1.5)  # where to cut
        doc.rect(x, y, CARD_W, CARD_H)
    text_w = CARD_W - 2 * PAD - QR_SIZE - 2
    left, top = x + PAD, y + PAD
    doc.set_text_color(20, 20, 20)
    if out.shows(sheet.brand):
        out.text_font(11)
        doc.set_xy(left, top)
        doc.cell(text_w, 5.5, sheet.brand[:60])
    facts = sheet.facts
    doc.set_text_color(90, 90, 90)
    out.text_font(8)
    doc.set_xy(left, top + 6)
    doc.cell(text_w, 4, facts.card if out.shows(facts.card) else "Free WiFi voucher")
    doc.set_text_color(0, 0, 0)
    doc.set_font("courier", style="B", size=19)  # the code: monospace, in a core font
    doc.set_xy(left, top + 12)
    doc.cell(text_w, 9, format_code(code))
    doc.set_text_color(40, 40, 40)
    out.text_font(7.5)
    line_y = top + 23
    for line in facts.lines():
        if out.shows(line):
            doc.set_xy(left, line_y)
            doc.cell(text_w, 3.8, line)
        line_y += 3.8
    if out.shows(facts.how):
        doc.set_text_color(90, 90, 90)
        out.text_font(6.5)
        doc.set_xy(left, line_y + 1)
        doc.multi_cell(CARD_W - 2 * PAD, 3, facts.how)
    _qr(doc, code, x + CARD_W - PAD - QR_SIZE, y + PAD)


def _qr(doc: FPDF, code: str, x: float, y: float) -> None:
    """The QR code as filled rectangles: one per run of dark modules in a row."""
    matrix = qr_code(code).matrix
    module = QR_SIZE / len(matrix)
    doc.set_fill_color(0, 0, 0)
    for row, cells in enumerate(matrix):
        start = None
        for col, dark in enumerate([*cells, 0]):
            if dark and start is None:
                start = col
            elif not dark and start is not None:
                doc.rect(x + start * module, y + row * module, (col - start) * module, module, "F")
                start = None
