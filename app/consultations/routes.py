"""Consultation API. Thin: the rules are in research.py, services.py and rules.py; each request
commits once."""
from __future__ import annotations

from flask import Blueprint

from ..api import endpoint
from ..auth.current import require_person
from ..db import get_session
from ..topics.services import get_topic_or_404
from . import research
from .schemas import PhotosIn, ResearchIn, ResearchList, ResearchOut, ResearchPatch

bp = Blueprint("consultations", __name__, url_prefix="/api")
TAG_RESEARCH = "调研"


def _out(session, task) -> ResearchOut:
    return ResearchOut.of(task, research.photos_of(session, [task.id])[task.id])


@endpoint(bp, "/topics/<int:topic_id>/research", methods=("POST",), summary="新建调研任务",
          tags=[TAG_RESEARCH], body=ResearchIn, response=ResearchOut, status=201, auth="login")
def add_research(topic_id: int, body: ResearchIn):
    """议题审定后，召集人或政协工作人员安排调研（D11），可指定承担人，可关联政协视察、专题协商或
    提案办理（D13）。议题未审定返回 409 `topic_not_approved`。"""
    session = get_session()
    task = research.add_research_task(session, actor=require_person(), topic_id=topic_id,
                                      **body.model_dump())
    session.commit()
    return _out(session, task), 201


@endpoint(bp, "/topics/<int:topic_id>/research", summary="议题的调研任务", tags=[TAG_RESEARCH],
          response=ResearchList, auth="login")
def list_research(topic_id: int):
    session = get_session()
    get_topic_or_404(session, topic_id, require_person())
    tasks = research.research_of(session, topic_id)
    photos = research.photos_of(session, [t.id for t in tasks])
    return ResearchList(items=[ResearchOut.of(t, photos[t.id]) for t in tasks],
                        has_completed=research.has_completed_research(session, topic_id))


@endpoint(bp, "/research/<int:task_id>", methods=("PATCH",), summary="填写调研记录",
          tags=[TAG_RESEARCH], body=ResearchPatch, response=ResearchOut, auth="login")
def update_research(task_id: int, body: ResearchPatch):
    """承担人、召集人或政协工作人员填写调研记录。标记敏感问题或长期难题时，立即通知审定该议题的
    党委审核人（D12，每个任务只通知一次）。"""
    session = get_session()
    task = research.update_research_task(session, actor=require_person(), task_id=task_id,
                                         **body.model_dump())
    session.commit()
    return _out(session, task)


@endpoint(bp, "/research/<int:task_id>/photos", methods=("POST",), summary="调研图片",
          tags=[TAG_RESEARCH], body=PhotosIn, response=ResearchOut, auth="login")
def add_photos(task_id: int, body: PhotosIn):
    """把本人上传的图片（先用 `POST /api/uploads` 上传）附到调研记录上，例如实地察看的照片，
    每项调研最多 20 张。完成后不能再添加。"""
    session = get_session()
    task = research.attach_photos(session, actor=require_person(), task_id=task_id,
                                  attachment_ids=body.attachment_ids)
    session.commit()
    return _out(session, task)


@endpoint(bp, "/research/<int:task_id>/complete", methods=("POST",), summary="完成调研",
          tags=[TAG_RESEARCH], response=ResearchOut, auth="login")
def complete_research(task_id: int):
    """调研记录不能为空（422 `research_notes_required`）。完成后不能再修改。"""
    session = get_session()
    task = research.complete_research_task(session, actor=require_person(), task_id=task_id)
    session.commit()
    return _out(session, task)
