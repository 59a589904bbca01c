"""Documents: the opinion list (D17) as a Word file in the formal style of a government list
(title, platform, date, topic, numbered items) and as a spreadsheet with one row per item; the
member ledger (D30) as a spreadsheet for the annual assessment."""
from __future__ import annotations

import io

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from .opinions import ListDocument

TITLE_FONT = "方正小标宋简体"   # the customary typeface of official titles
BODY_FONT = "仿宋_GB2312"       # and of their text
HEADING_FONT = "黑体"
A4 = (Cm(21.0), Cm(29.7))       # GB/T 9704 paper: width, height


def _font(run, name: str, size: float, bold: bool = False) -> None:
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    # Word picks Chinese characters' font from the eastAsia slot, not from font.name.
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)


def _para(doc, text: str, font: str, size: float, *, align=None, bold=False, indent=True):
    p = doc.add_paragraph()
    if align is not None:
        p.alignment = align
    if indent:
        p.paragraph_format.first_line_indent = Pt(size * 2)
    p.paragraph_format.line_spacing = Pt(28)
    _font(p.add_run(text), font, size, bold)
    return p


def official_document() -> Document:
    """An empty Word document in the GB/T 9704 page layout: A4 paper (python-docx's default
    template is US Letter) and its margins, top 3.7 cm, bottom 3.5, left 2.8, right 2.6."""
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = A4
    section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
    section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
    return doc


def grid_table(doc, heads, rows, size: float) -> None:
    """A ruled table: the heads in the heading typeface, the rows in the body's."""
    table = doc.add_table(rows=1, cols=len(heads))
    table.style = "Table Grid"
    for cell, head in zip(table.rows[0].cells, heads):
        cell.text = ""
        _font(cell.paragraphs[0].add_run(head), HEADING_FONT, size)
    for values in rows:
        for cell, value in zip(table.add_row().cells, values):
            cell.text = ""
            _font(cell.paragraphs[0].add_run(value), BODY_FONT, size)


def signed_bytes(doc, issuer: str, on: str) -> bytes:
    """The issuer and the date at the foot, right-aligned; the file's bytes."""
    _para(doc, issuer, BODY_FONT, 16, align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
    _para(doc, on, BODY_FONT, 16, align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def opinion_list_docx(d: ListDocument) -> bytes:
    doc = official_document()
    _para(doc, d.title, TITLE_FONT, 22, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False)
    _para(doc, f"（{d.platform}  {d.held_on}）", BODY_FONT, 16,
          align=WD_ALIGN_PARAGRAPH.CENTER, indent=False)
    _para(doc, f"{d.held_on}，{d.platform}围绕“{d.topic}”开展协商，现将协商形成的意见建议整理如下：",
          BODY_FONT, 16)
    _para(doc, "一、意见建议", HEADING_FONT, 16)
    for seq, text, raised_by, scope in d.items:
        _para(doc, f"{seq}．{text}（提出：{raised_by}；{scope}）", BODY_FONT, 16)
    _para(doc, "二、汇总", HEADING_FONT, 16)
    grid_table(doc, ("序号", "意见建议", "提出方", "解决层级"),
               [(str(seq), text, raised_by, scope) for seq, text, raised_by, scope in d.items],
               12)
    return signed_bytes(doc, d.platform, d.held_on)


def opinion_list_xlsx(d: ListDocument) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "意见清单"
    ws.append([d.title])
    ws.append([f"平台：{d.platform}", f"协商日期：{d.held_on}", f"议题：{d.topic}"])
    ws.append(["序号", "意见建议", "提出方", "解决层级"])
    for seq, text, raised_by, scope in d.items:
        ws.append([seq, text, raised_by, scope])
        # A resident's "=HYPERLINK(…)" must stay text, never become a formula.
        ws.cell(row=ws.max_row, column=2).data_type = "s"
    ws["A1"].font = Font(bold=True, size=14)
    for cell in ws[3]:
        cell.font = Font(bold=True)
    ws.column_dimensions["A"].width = 6
    ws.column_dimensions["B"].width = 70
    ws.column_dimensions["C"].width = 12
    ws.column_dimensions["D"].width = 16
    for row in ws.iter_rows(min_row=4):
        row[1].alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


LEDGER_HEADERS = ("姓名", "所属区域", "受邀次数", "答复参加", "请假", "实际到场", "完成调研",
                  "会上发言", "提出意见")


def member_ledger_xlsx(year: int, members: list[dict], columns: tuple[str, ...]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = f"{year}年委员履职"
    ws.append([f"{year}年度政协委员参加协商议事情况"])
    ws.append(list(LEDGER_HEADERS))
    for m in members:
        ws.append([m["name"], m["region_name"]] + [m[c] for c in columns])
    ws["A1"].font = Font(bold=True, size=14)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
