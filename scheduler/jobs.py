"""The job list. Stable ids; misfire grace in minutes; coalesce so a scheduler that was down
runs a missed job once, not once per missed tick."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy.orm import Session

from app.auth.maintenance import purge_expired_sessions, purge_stale_login_shadows
from app.consultations.briefing import send_due_briefings
from app.idempotency import purge_idempotency_records
from app.suggestions.uploads import purge_orphan_uploads

log = logging.getLogger("scheduler")


class LeadershipLost(Exception):
    """This process is no longer the active scheduler (scheduler/__main__.py)."""


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable[[Session], Any]
    trigger: str
    trigger_args: dict = field(default_factory=dict)
    misfire_grace_minutes: int = 60
    description: str = ""


JOBS: list[JobSpec] = [
    JobSpec(
        id="purge_expired_sessions",
        func=purge_expired_sessions,
        trigger="cron",
        trigger_args={"hour": 3, "minute": 17},
        misfire_grace_minutes=12 * 60,
        description="删除过期 30 天以上的登录会话",
    ),
    JobSpec(
        id="purge_stale_login_shadows",
        func=purge_stale_login_shadows,
        trigger="cron",
        trigger_args={"hour": 3, "minute": 29},
        misfire_grace_minutes=12 * 60,
        description="删除 30 天未再尝试的不存在控制台用户名的失败计数",
    ),
    JobSpec(
        id="purge_idempotency_records",
        func=purge_idempotency_records,
        trigger="cron",
        trigger_args={"minute": 41},
        misfire_grace_minutes=60,
        description="删除 24 小时前的重复提交防护记录（Idempotency-Key）",
    ),
    JobSpec(
        id="purge_orphan_uploads",
        func=purge_orphan_uploads,
        trigger="cron",
        trigger_args={"hour": 4, "minute": 23},
        misfire_grace_minutes=12 * 60,
        description="删除上传后 24 小时仍未用于任何建议的图片",
    ),
    JobSpec(
        id="send_due_briefings",
        func=send_due_briefings,
        trigger="cron",
        trigger_args={"minute": "*/10"},
        misfire_grace_minutes=60,
        description="发送到期的会前通报（D15；未完成调研的提醒召集人）",
    ),
]


def run_job(app, spec: JobSpec, leadership=None) -> Any:
    """Run one job in its own transaction; a failure is logged and rolled back. Under
    `leadership` (scheduler.__main__.Leadership) the transaction first checks that this process
    still leads, and the job is skipped if it does not."""
    with app.app_context():
        try:
            scope = (leadership.job_session() if leadership is not None
                     else app.extensions["db"].session_scope())
            with scope as session:
                result = spec.func(session)
            log.info("job done", extra={"fields": {"job": spec.id, "result": result}})
            return result
        except LeadershipLost:
            log.error("job skipped: no longer the active scheduler",
                      extra={"fields": {"job": spec.id}})
            return None
        except Exception:
            log.exception("job failed", extra={"fields": {"job": spec.id}})
            raise


def add_jobs(scheduler, app, jobs: list[JobSpec] | None = None, leadership=None) -> None:
    for spec in jobs or JOBS:
        scheduler.add_job(
            run_job, spec.trigger, args=(app, spec, leadership), id=spec.id, name=spec.description or spec.id,
            replace_existing=True, coalesce=True, max_instances=1,
            misfire_grace_time=spec.misfire_grace_minutes * 60, **spec.trigger_args,
        )
