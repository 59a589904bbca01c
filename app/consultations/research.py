"""Research on an approved topic (D11–D13). Services never commit.

- Only an approved topic is researched (D8: approval comes first).
- The platform's managers (convenor, CPPCC staff within reach) add tasks and assign them; the
  assignee or a manager writes the notes and completes the task. A completed task needs notes:
  it is the record that "no research, no consultation" (D11) checks.
- A finding marked sensitive or long-standing (D12) notifies, at once, the reviewers of the Party
  committee that approved the topic — once per task, whatever the retries.
- D13: a task may name the CPPCC inspection, special consultation or proposal it is part of.
"""
from __future__ import annotations

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from ..audit.services import record, snapshot
from ..db import utcnow
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..notify.services import Notice, dedupe_key, enqueue_many
from ..org.models import Person, Platform
from ..suggestions.models import Attachment
from ..topics.models import ApprovalStep, StepKind, StepState, Topic, TopicState
from ..topics.services import manages_platform, reviewers_of, get_topic_or_404, managed_topic
from .models import ResearchKind, ResearchLink, ResearchState, ResearchTask

NOTES_MAX = 20000


def _approved(topic: Topic) -> None:
    if topic.state is not TopicState.approved:
        raise Conflict("议题审定后才能开展调研", code="topic_not_approved")


def has_completed_research(session: Session, topic_id: int) -> bool:
    """D11 不调研不协商: at least one completed research record."""
    return bool(session.scalar(select(exists().where(
        ResearchTask.topic_id == topic_id, ResearchTask.state == ResearchState.completed))))


def add_research_task(session: Session, *, actor: Person, topic_id: int, kind: ResearchKind,
                      title: str, assignee_id: int | None = None,
                      link_kind: ResearchLink | None = None,
                      link_ref: str | None = None) -> ResearchTask:
    topic = managed_topic(session, topic_id, actor)
    _approved(topic)
    if assignee_id is not None and session.get(Person, assignee_id) is None:
        raise ValidationFailed("承担调研的人员不存在", code="assignee_not_found")
    if (link_kind is None) != (link_ref is None):
        raise ValidationFailed("关联的视察、专题协商或提案需同时给出类型和编号",
                               code="research_link_incomplete")
    task = ResearchTask(topic_id=topic.id, kind=kind, title=title, assignee_id=assignee_id,
                        created_by_id=actor.id, state=ResearchState.open, notes="",
                        link_kind=link_kind, link_ref=link_ref)
    session.add(task)
    session.flush()
    record(session, actor_id=actor.id, action="research.create", object_type="research_task",
           object_id=task.id, after=snapshot(task))
    return task


def get_task_or_404(session: Session, task_id: int, person: Person) -> ResearchTask:
    """Visible to whoever may see its topic, and to its assignee."""
    task = session.get(ResearchTask, task_id)
    if task is None:
        raise NotFound("调研任务不存在", code="research_not_found")
    if task.assignee_id != person.id:
        get_topic_or_404(session, task.topic_id, person)  # 404 outside reach
    return task


def _editable_by(session: Session, task: ResearchTask, person: Person) -> Topic:
    topic = session.get(Topic, task.topic_id)
    if task.assignee_id != person.id and not manages_platform(
            session, person, session.get(Platform, topic.platform_id)):
        raise Forbidden("只有承担人、本平台召集人或政协工作人员可以填写调研记录",
                        code="not_research_editor")
    if task.state is ResearchState.completed:
        raise Conflict("调研已完成，不能再修改", code="research_completed")
    return topic


def update_research_task(session: Session, *, actor: Person, task_id: int,
                         notes: str | None = None, is_sensitive: bool | None = None,
                         is_long_standing: bool | None = None) -> ResearchTask:
    task = get_task_or_404(session, task_id, actor)
    topic = _editable_by(session, task, actor)
    before = snapshot(task)
    if notes is not None:
        if len(notes) > NOTES_MAX:
            raise ValidationFailed(f"调研记录最多 {NOTES_MAX} 字", code="notes_too_long")
        task.notes = notes
    if is_sensitive is not None:
        task.is_sensitive = is_sensitive
    if is_long_standing is not None:
        task.is_long_standing = is_long_standing
    session.flush()
    record(session, actor_id=actor.id, action="research.update", object_type="research_task",
           object_id=task.id, before=before, after=snapshot(task))
    _escalate_if_flagged(session, topic, task)
    return task


MAX_PHOTOS = 20


def attach_photos(session: Session, *, actor: Person, task_id: int,
                  attachment_ids: list[int]) -> ResearchTask:
    """Photos of the research (site visits, notices on the wall): the editor's own unused
    uploads (POST /api/uploads), claimed in one conditional UPDATE."""
    task = get_task_or_404(session, task_id, actor)
    _editable_by(session, task, actor)
    ids = list(dict.fromkeys(attachment_ids))
    have = session.scalar(select(func.count()).select_from(Attachment).where(
        Attachment.research_task_id == task.id)) or 0
    if have + len(ids) > MAX_PHOTOS:
        raise ValidationFailed(f"每项调研最多 {MAX_PHOTOS} 张图片", code="too_many_photos")
    claimed = session.execute(
        update(Attachment)
        .where(Attachment.id.in_(ids), Attachment.uploaded_by_id == actor.id, Attachment.unused(),
               Attachment.is_photo())
        .values(research_task_id=task.id)
        .execution_options(synchronize_session=False)).rowcount
    if claimed != len(ids):
        # Someone else's upload looks the same as a missing one (no IDOR).
        raise ValidationFailed("图片不存在或已被使用，请重新上传", code="attachment_unavailable")
    record(session, actor_id=actor.id, action="research.photos", object_type="research_task",
           object_id=task.id, after={"attachment_ids": ids})
    return task


def photos_of(session: Session, task_ids: list[int]) -> dict[int, list[Attachment]]:
    out: dict[int, list[Attachment]] = {tid: [] for tid in task_ids}
    if task_ids:
        for a in session.scalars(select(Attachment).where(
                Attachment.research_task_id.in_(task_ids)).order_by(Attachment.id)):
            out[a.research_task_id].append(a)
    return out


def complete_research_task(session: Session, *, actor: Person, task_id: int) -> ResearchTask:
    task = get_task_or_404(session, task_id, actor)
    _editable_by(session, task, actor)
    if not task.notes.strip():
        raise ValidationFailed("请先填写调研记录（政策、实情、各方意见等）再完成",
                               code="research_notes_required")
    task.state = ResearchState.completed
    task.completed_at = utcnow()
    task.completed_by_id = actor.id
    session.flush()
    record(session, actor_id=actor.id, action="research.complete", object_type="research_task",
           object_id=task.id, after={"state": "completed"})
    return task


def _approving_body_id(session: Session, topic: Topic) -> int | None:
    """The Party committee (or CPPCC party group) that approved the topic in its last round."""
    return session.scalar(select(ApprovalStep.body_id).where(
        ApprovalStep.topic_id == topic.id, ApprovalStep.round == topic.approval_round,
        ApprovalStep.kind == StepKind.approve, ApprovalStep.state == StepState.approved))


def _escalate_if_flagged(session: Session, topic: Topic, task: ResearchTask) -> None:
    """D12: report a sensitive or long-standing finding to the approving Party committee at
    once. One notice per reviewer per task (dedupe key), however often the task is saved."""
    if not (task.is_sensitive or task.is_long_standing) or task.escalated_at is not None:
        return
    body_id = _approving_body_id(session, topic)
    what = "、".join(w for w, on in (("敏感问题", task.is_sensitive),
                                     ("长期未解决的难题", task.is_long_standing)) if on)
    notices = [Notice(
        kind="research_alert", recipient_id=pid, title="调研发现重要情况",
        body=f"议题“{topic.title}”调研中发现{what}，请及时研究并会同有关部门做好预案。",
        link=f"/pages/topic/topic?id={topic.id}",
        dedupe_key=dedupe_key("research_alert", f"research:{task.id}", pid),
    ) for pid in (reviewers_of(session, body_id) if body_id else [])]
    enqueue_many(session, notices)
    task.escalated_at = utcnow()
    record(session, actor_id=None, action="research.escalate", object_type="research_task",
           object_id=task.id, after={"body_id": body_id, "recipients": len(notices),
                                     "sensitive": task.is_sensitive,
                                     "long_standing": task.is_long_standing})


def research_of(session: Session, topic_id: int) -> list[ResearchTask]:
    return list(session.scalars(select(ResearchTask).where(ResearchTask.topic_id == topic_id)
                                .order_by(ResearchTask.id)))
