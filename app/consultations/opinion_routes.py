"""Opinion list API (D17, D18): compile, route, read, export, and the receiving bodies' inbox.
Thin: the rules are in opinions.py and rules.py; each request commits once."""
from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from ..api import DOWNLOAD_TYPES, download, endpoint
from ..auth.current import require_person
from ..db import get_session
from ..org.models import Body, Platform
from . import opinions
from .exports import opinion_list_docx, opinion_list_xlsx
from .models import Consultation, OpinionItem, OpinionList, OpinionRouting, RoutingState
from .rules import GROUP_LABELS, SCOPE_LABELS
from .schemas import (
    DecisionIn, InboxEntry, OpinionInbox, OpinionItemOut, OpinionListIn, OpinionListOut,
    RoutingOut,
)

bp = Blueprint("opinions", __name__, url_prefix="/api")
TAG = "意见清单"
ROUTING_STATE_LABELS = {RoutingState.waiting: "待上一环节转送", RoutingState.pending: "待处理",
                        RoutingState.forwarded: "已转送", RoutingState.received: "已收到",
                        RoutingState.held_back: "暂不转送"}


def item_out(i: OpinionItem) -> OpinionItemOut:
    return OpinionItemOut(seq=i.seq, text=i.text, raised_by=i.raised_by,
                          raised_by_label=GROUP_LABELS[i.raised_by],
                          raised_by_person_id=i.raised_by_person_id, scope=i.scope,
                          scope_label=SCOPE_LABELS[i.scope])


def routing_out(r: OpinionRouting, names: dict[int, str],
                unread: frozenset[int] | set[int] = frozenset()) -> RoutingOut:
    blocked = r.state is RoutingState.pending and r.body_id in unread
    return RoutingOut(id=r.id, scope=r.scope, scope_label=SCOPE_LABELS[r.scope], stage=r.stage,
                      action=r.action, body_id=r.body_id, body_name=names.get(r.body_id, ""),
                      state=r.state, state_label=ROUTING_STATE_LABELS[r.state],
                      decided_at=r.decided_at, note=r.note,
                      blocked_reason=opinions.NO_READER if blocked else None)


def _body_names(session, rows) -> dict[int, str]:
    ids = {r.body_id for r in rows}
    return dict(session.execute(select(Body.id, Body.name).where(Body.id.in_(ids))).all()) \
        if ids else {}


def list_out(session, c: Consultation, lst: OpinionList) -> OpinionListOut:
    rows = list(session.scalars(select(OpinionRouting).where(OpinionRouting.list_id == lst.id)
                                .order_by(OpinionRouting.id)))
    names = _body_names(session, rows)
    pending = {r.body_id for r in rows if r.state is RoutingState.pending}
    unread = pending - opinions.bodies_with_reader(session, pending)
    doc = opinions.document(session, c, lst)
    base = f"/api/consultations/{c.id}/opinions"
    return OpinionListOut(consultation_id=c.id, title=doc.title, state=lst.state,
                          routed_at=lst.routed_at, items=[item_out(i) for i in lst.items],
                          routings=[routing_out(r, names, unread) for r in rows],
                          word_url=f"{base}.docx", excel_url=f"{base}.xlsx")


@endpoint(bp, "/consultations/<int:consultation_id>/opinions", methods=("PUT",),
          summary="整理意见清单", tags=[TAG], body=OpinionListIn, response=OpinionListOut,
          auth="login")
def save(consultation_id: int, body: OpinionListIn):
    """会后整理简明的意见清单（D17）：每条意见的内容、提出方和解决层级（本级 / 县区 / 市级）。
    报送前可以反复修改，整份替换。解决层级须能按 D18 报送：市政协界别议事室之上没有县（区），
    其意见不能选“需县（区）解决”（422 `scope_not_routable`）。"""
    session = get_session()
    person = require_person()
    lst = opinions.save_opinion_list(
        session, actor=person, consultation_id=consultation_id,
        items=[(i.text, i.raised_by, i.scope, i.raised_by_person_id) for i in body.items])
    session.commit()
    return list_out(session, session.get(Consultation, consultation_id), lst)


@endpoint(bp, "/consultations/<int:consultation_id>/opinions", summary="意见清单", tags=[TAG],
          response=OpinionListOut, auth="login")
def read(consultation_id: int):
    """受邀人员、召集人、政协工作人员、议题审核人，以及收到清单的机构审核人可以查看。"""
    session = get_session()
    c, lst = opinions.opinion_list_for(session, person=require_person(),
                                       consultation_id=consultation_id)
    return list_out(session, c, opinions.require_list(lst))


@endpoint(bp, "/consultations/<int:consultation_id>/opinions/route", methods=("POST",),
          summary="报送意见清单", tags=[TAG], response=OpinionListOut, auth="login")
def route(consultation_id: int):
    """按 D18 报送：乡镇议事室 → 同级党（工）委；村、社区、企业议事室 → 乡镇党（工）委；界别议事室
    → 政协相关专委会。需县（区）解决的意见 → 县（区）政协党组审核 → 县（区）委、县（区）政府；
    需市级解决的 → 市政协党组审核 → 市委、市政府。报送后清单不能再改。"""
    session = get_session()
    person = require_person()
    opinions.route_opinion_list(session, actor=person, consultation_id=consultation_id)
    session.commit()
    c, lst = opinions.opinion_list_for(session, person=person, consultation_id=consultation_id)
    return list_out(session, c, lst)


def _document(consultation_id: int):
    session = get_session()
    c, lst = opinions.opinion_list_for(session, person=require_person(),
                                       consultation_id=consultation_id)
    return opinions.document(session, c, opinions.require_list(lst))


@endpoint(bp, "/consultations/<int:consultation_id>/opinions.docx", summary="意见清单 Word",
          tags=[TAG], auth="login", produces=DOWNLOAD_TYPES[".docx"])
def export_docx(consultation_id: int):
    """意见清单的正式公文格式 Word 文件（与意见清单相同的查看范围）。"""
    doc = _document(consultation_id)
    return download(opinion_list_docx(doc), f"{doc.title}.docx")


@endpoint(bp, "/consultations/<int:consultation_id>/opinions.xlsx", summary="意见清单 Excel",
          tags=[TAG], auth="login", produces=DOWNLOAD_TYPES[".xlsx"])
def export_xlsx(consultation_id: int):
    """意见清单的 Excel 文件（与意见清单相同的查看范围）。"""
    doc = _document(consultation_id)
    return download(opinion_list_xlsx(doc), f"{doc.title}.xlsx")


@endpoint(bp, "/me/opinion-inbox", summary="本机构收到的意见清单", tags=[TAG],
          response=OpinionInbox, auth="login")
def inbox():
    """党委、政府、政协党组、专委会的审核人：本机构待处理的意见清单（各自只看到与本机构有关的
    意见）。"""
    session = get_session()
    person = require_person()
    rows = opinions.inbox(session, person)
    names = _body_names(session, rows)
    entries = []
    for r in rows:
        lst = session.get(OpinionList, r.list_id)
        c = session.get(Consultation, lst.consultation_id)
        entries.append(InboxEntry(
            routing=routing_out(r, names), consultation_id=c.id,
            title=opinions.document(session, c, lst).title,
            platform_name=session.get(Platform, c.platform_id).name,
            items=[item_out(i) for i in opinions.items_for(session, r)]))
    return OpinionInbox(items=entries)


@endpoint(bp, "/opinion-routings/<int:routing_id>/decision", methods=("POST",),
          summary="处理收到的意见清单", tags=[TAG], body=DecisionIn, response=RoutingOut,
          auth="login")
def decision(routing_id: int, body: DecisionIn):
    """政协党组：转送（forward=true，清单随即进入党委、政府的待办）或暂不转送（须说明理由）。
    党委、政府、专委会：确认收到。只能处理一次：本人重复提交同一决定按第一次的结果回答（200），
    已处理后再提交不同决定返回 409 `routing_decided`。"""
    session = get_session()
    row = opinions.decide(session, actor=require_person(), routing_id=routing_id,
                          forward=body.forward, note=body.note)
    session.commit()
    return routing_out(row, _body_names(session, [row]))
