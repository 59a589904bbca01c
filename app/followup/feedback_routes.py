"""Feedback list API (D21): the list as JSON, Word and Excel. Thin: the rules are in
feedback.py; reading changes nothing (the list is compiled by tracks.settle)."""
from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint
from pydantic import BaseModel, Field

from ..api import DOWNLOAD_TYPES, download, endpoint
from ..auth.current import require_person
from ..db import get_session
from . import feedback
from .links import results_link
from .feedback_exports import feedback_list_docx, feedback_list_xlsx
from .models import ItemState, Outcome

bp = Blueprint("feedback_list", __name__, url_prefix="/api")
TAG = "结果反馈清单"


class FeedbackItemOut(BaseModel):
    seq: int
    text: str
    scope_label: str
    state: ItemState
    outcome: Outcome | None
    decision_label: str = Field(description="最终研究决定：采纳 / 部分采纳 / 不予采纳")
    decision_text: str = Field(description="经向上级政协反映的，注明由哪一级机构决定（D22）")
    escalated: bool
    decided_by: str = Field(description="作出最终决定的机构")
    decided_on: date | None
    explanation: str | None = Field(description="解释说明（D23）")
    lead: str | None = Field(description="牵头办理部门")
    co_handlers: list[str] = Field(description="协办部门")
    plan: str | None = Field(description="工作方案（D20）")
    result: str | None = Field(description="办理结果")
    assigned_on: date | None
    original_due_on: date | None
    due_on: date | None = Field(description="办结期限（含批准的延期）")
    extensions: list[date] = Field(description="批准延期后的期限，按批准先后")
    completed_on: date | None
    on_time: bool | None = Field(description="是否在办结期限（含延期）内办结")


class FeedbackListOut(BaseModel):
    consultation_id: int
    topic_id: int
    title: str
    platform_name: str
    held_on: str
    compiled_at: datetime
    summary: str
    items_count: int
    adopted: int
    partly: int
    not_adopted: int
    done: int
    on_time: int
    items: list[FeedbackItemOut]
    word_url: str
    excel_url: str
    results_page: str = Field(description="小程序中公开的议题办理结果页面")


def _load(consultation_id: int):
    session = get_session()
    c, lst, fl = feedback.feedback_list_for(session, person=require_person(),
                                           consultation_id=consultation_id)
    return c, fl, feedback.document(session, c, lst, fl)


@endpoint(bp, "/consultations/<int:consultation_id>/feedback-list", summary="结果反馈清单",
          tags=[TAG], response=FeedbackListOut, auth="login")
def read(consultation_id: int):
    """意见清单的每条意见都办结（不予采纳并解释说明，或承办部门办结）后自动形成（D21）：逐条的
    研究决定、解释说明、办理部门、工作方案、办理结果和交办、期限、办结日期。能查看意见清单的人员
    和承办部门经办人可以查看；尚未形成时返回 404 `feedback_list_not_found`。"""
    c, fl, doc = _load(consultation_id)
    items = [FeedbackItemOut(
        seq=i.seq, text=i.text, scope_label=i.scope_label, state=i.state, outcome=i.outcome,
        decision_label=i.decision_label, decision_text=i.decision_text, escalated=i.escalated,
        decided_by=i.decided_by, decided_on=i.decided_on, explanation=i.explanation,
        lead=i.lead, co_handlers=i.co_handlers, plan=i.plan, result=i.result,
        assigned_on=i.assigned_on, original_due_on=i.original_due_on, due_on=i.due_on,
        extensions=i.extensions, completed_on=i.completed_on, on_time=i.on_time)
        for i in doc.items]
    return FeedbackListOut(
        consultation_id=c.id, topic_id=fl.topic_id, title=doc.title, platform_name=doc.platform,
        held_on=doc.held_on, compiled_at=fl.compiled_at, summary=doc.summary,
        items_count=fl.items, adopted=fl.adopted, partly=fl.partly, not_adopted=fl.not_adopted,
        done=fl.done, on_time=fl.on_time, items=items, **feedback.document_urls(c.id),
        results_page=results_link(fl.topic_id))


@endpoint(bp, "/consultations/<int:consultation_id>/feedback-list.docx",
          summary="结果反馈清单 Word", tags=[TAG], auth="login", produces=DOWNLOAD_TYPES[".docx"])
def export_docx(consultation_id: int):
    """结果反馈清单的正式公文格式 Word 文件（A4，与结果反馈清单相同的查看范围）。"""
    _, _, doc = _load(consultation_id)
    return download(feedback_list_docx(doc), f"{doc.title}.docx")


@endpoint(bp, "/consultations/<int:consultation_id>/feedback-list.xlsx",
          summary="结果反馈清单 Excel", tags=[TAG], auth="login", produces=DOWNLOAD_TYPES[".xlsx"])
def export_xlsx(consultation_id: int):
    """结果反馈清单的 Excel 文件，每条意见一行、列出全部字段（与结果反馈清单相同的查看范围）。"""
    _, _, doc = _load(consultation_id)
    return download(feedback_list_xlsx(doc), f"{doc.title}.xlsx")
