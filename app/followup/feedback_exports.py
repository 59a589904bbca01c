"""The feedback list (D21) as documents: Word in the opinion list's GB/T 9704-like layout (A4,
its margins, title and body typefaces, page numbers "— 1 —" at the foot) and a spreadsheet with
one row per item and every field (A4 landscape when printed)."""
from __future__ import annotations

import io

from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from ..consultations.exports import (
    BODY_FONT, HEADING_FONT, TITLE_FONT, _font, _para, grid_table, official_document, signed_bytes,
)
from .feedback import FeedbackDocument, FeedbackItem

COLUMNS = ("序号", "意见建议", "解决层级", "研究决定", "是否经向上级反映", "决定机构", "决定日期",
           "解释说明", "牵头办理部门", "协办部门", "工作方案", "办理结果", "交办日期", "原定办结期限",
           "办结期限（含延期）", "延期次数", "办结日期", "是否按期办结")


def _date(d) -> str:
    return f"{d:%Y-%m-%d}" if d is not None else ""


def row_values(i: FeedbackItem) -> list:
    return [i.seq, i.text, i.scope_label, i.decision_label, "是" if i.escalated else "否",
            i.decided_by, _date(i.decided_on), i.explanation or "", i.lead or "",
            "、".join(i.co_handlers), i.plan or "", i.result or "", _date(i.assigned_on),
            _date(i.original_due_on), _date(i.due_on), len(i.extensions) if i.due_on else "",
            _date(i.completed_on), i.on_time_label]


def _page_number_footer(section) -> None:
    """GB/T 9704: the page number at the foot, "— 1 —", in the body's typeface."""
    p = section.footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(p.add_run("— "), BODY_FONT, 14)
    run = p.add_run()
    _font(run, BODY_FONT, 14)
    for kind, text in (("begin", None), (None, "PAGE"), ("separate", None), (None, "1"),
                       ("end", None)):
        if kind is not None:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        elif text == "PAGE":
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = " PAGE "
        else:
            el = OxmlElement("w:t")
            el.text = text
        run._r.append(el)
    _font(p.add_run(" —"), BODY_FONT, 14)


def _detail(i: FeedbackItem) -> list[str]:
    lines = [f"研究决定：{i.decision_text}"
             + (f"（{i.decided_by}，{_date(i.decided_on)}）" if i.decided_by and not i.escalated
                else "")]
    if i.explanation:
        lines.append(f"解释说明：{i.explanation}")
    if i.lead:
        lines.append(f"办理部门：{i.lead}牵头" + (f"，{'、'.join(i.co_handlers)}协办"
                                               if i.co_handlers else ""))
        lines.append(f"工作方案：{i.plan or '—'}")
        lines.append(f"办理结果：{i.result or '—'}")
        lines.append(f"交办日期：{_date(i.assigned_on)}；办结期限：{i.due_text}；"
                     f"办结日期：{_date(i.completed_on) or '—'}；{i.on_time_label}")
    return lines


def feedback_list_docx(d: FeedbackDocument) -> bytes:
    doc = official_document()  # as the opinion list: A4 and GB/T 9704's margins
    _page_number_footer(doc.sections[0])
    _para(doc, d.title, TITLE_FONT, 22, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False)
    _para(doc, f"（{d.platform}  {d.compiled_on}）", BODY_FONT, 16,
          align=WD_ALIGN_PARAGRAPH.CENTER, indent=False)
    _para(doc, f"{d.held_on}，{d.platform}围绕“{d.topic}”开展协商，形成的意见建议已全部研究办理。"
               f"{d.summary}。现将办理结果反馈如下：", BODY_FONT, 16)
    _para(doc, "一、逐条办理结果", HEADING_FONT, 16)
    for i in d.items:
        _para(doc, f"{i.seq}．{i.text}（{i.scope_label}）", BODY_FONT, 16)
        for line in _detail(i):
            _para(doc, line, BODY_FONT, 16)
    _para(doc, "二、汇总", HEADING_FONT, 16)
    grid_table(doc, ("序号", "意见建议", "研究决定", "办理部门", "办理结果", "交办日期", "办结期限",
                     "办结日期"),
               [(str(i.seq), i.text, i.decision_text,
                 (i.lead or "") + (f"（协办：{'、'.join(i.co_handlers)}）" if i.co_handlers else ""),
                 i.result or i.explanation or "", _date(i.assigned_on), i.due_text,
                 _date(i.completed_on)) for i in d.items], 10.5)
    return signed_bytes(doc, d.platform, d.compiled_on)


def feedback_list_xlsx(d: FeedbackDocument) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "结果反馈清单"
    ws.append([d.title])
    ws.append([f"平台：{d.platform}", f"协商日期：{d.held_on}", f"议题：{d.topic}",
               f"形成日期：{d.compiled_on}", d.summary])
    ws.append(list(COLUMNS))
    for i in d.items:
        ws.append(row_values(i))
        # Text written by people ("=HYPERLINK(…)") stays text, never a formula.
        for col in (2, 8, 11, 12):
            ws.cell(row=ws.max_row, column=col).data_type = "s"
    ws["A1"].font = Font(bold=True, size=14)
    for cell in ws[3]:
        cell.font = Font(bold=True)
    widths = {"A": 6, "B": 40, "H": 30, "K": 30, "L": 30}
    for col, width in widths.items():
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=4):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "3:3"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
