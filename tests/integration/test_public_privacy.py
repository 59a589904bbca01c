"""No phone number in any public answer (issue 10 #9, PIPL; DESIGN "nothing personal in public
views").

The demo city is seeded (app/org/demo.py), public activity it lacks is added (a declined
suggestion whose reason quotes a phone number, a campaign, a comment with a reply, a timeline
note), and then a mobile number — in the spellings people type: plain, +86, with spaces or
hyphens — is planted in every free-text column of every table (titles, bodies, descriptions,
decline reasons, comments, replies, notes, names, addresses, opinion items…). Every public
endpoint (auth=None in the OpenAPI registry, and every other no-login GET route of the app) is
then called with every id the seeded data has for its path, every value of its query's choice
fields, and every page of a paged answer. No answer may carry a mobile number."""
from __future__ import annotations

import json
import re
import typing
from datetime import timedelta
from enum import Enum

from pydantic import BaseModel
from sqlalchemy import Enum as SAEnum
from sqlalchemy import String, Text, func, literal, select, type_coerce

from app.api import OPERATIONS
from app.consultations.models import Consultation
from app.db import Base
from app.org.demo import seed_demo
from app.org.models import Person, Platform, Region
from app.org.services import today_local
from app.suggestions.models import (
    Attachment, Campaign, Comment, CommentState, Suggestion, SuggestionState,
)
from app.suggestions.trail import add_timeline
from app.topics.models import Topic

from ..helpers import committed_session

DECLINE_REASON = "已有同类项目在办，请联系13812345678"
# What people type: plain, with the country code, in groups.
SPELLINGS = ["13912345678", "+86 137 1234 5678", "136-1234-5678", "8615012345678",
             "+86-13512345678"]
# Columns that are codes, keys, hashes or machine text, never shown as free text — and tables
# that no public answer reads from (audit, delivery bookkeeping, idempotency, sessions).
STRUCTURAL = re.compile(r"(code|path|key|hash|_enc$|token|openid|unionid|url|username|password|"
                        r"sha256|content_type|^kind$|_kind$|state|status|scope|channel|level|"
                        r"dedupe|link|^object_|^action$|request_id|^endpoint$|worker|claimed_by|"
                        r"last_error|^response$)")
INTERNAL_TABLES = {"audit_entries", "idempotency_records", "login_sessions", "delivery_attempts",
                   "channel_pauses", "chat_binding_codes", "subscription_credits"}
# Sandbox-only developer tools (absent in production), static files, WeChat's signed webhook.
NOT_PUBLIC_API = re.compile(r"^/(sandbox|static)/|^/wechat/")
MOBILE = re.compile(r"(?<!\d)(?:86)?1[3-9]\d{9}(?!\d)")


def _free_text_columns():
    for table in Base.metadata.sorted_tables:
        if table.name in INTERNAL_TABLES:
            continue
        for column in table.columns:
            if (isinstance(column.type, (String, Text)) and not isinstance(column.type, SAEnum)
                    and not column.foreign_keys and not STRUCTURAL.search(column.name)):
                yield table, column


def _plant(session) -> list[str]:
    planted = []
    for n, (table, column) in enumerate(_free_text_columns()):
        phone = "电话" + SPELLINGS[n % len(SPELLINGS)]
        length = getattr(column.type, "length", None)
        kept = column if length is None else func.substr(column, 1, max(length - len(phone), 0))
        value = type_coerce(kept, String) + literal(phone)
        session.execute(table.update().where(column.is_not(None)).values({column: value}))
        planted.append(f"{table.name}.{column.name}")
    return planted


def _add_public_activity(session) -> None:
    """What the demo does not have yet: a declined suggestion with a reason quoting a phone
    number, an open campaign, a visible comment with a visible reply, a timeline note."""
    room_sug = session.scalar(select(Suggestion).where(Suggestion.state == SuggestionState.open)
                              .order_by(Suggestion.id))
    person = session.scalar(select(Person).order_by(Person.id))
    declined = Suggestion(
        platform_id=room_sug.platform_id, proposer_id=person.id, source=room_sug.source,
        category=room_sug.category, title="楼道堆物清理", description="楼道里堆满杂物",
        address="新浦街道幸福小区3号楼", state=SuggestionState.declined,
        decline_reason=DECLINE_REASON, vote_count=0, comment_count=0, follower_count=0)
    session.add(declined)
    session.flush()
    add_timeline(session, suggestion_id=declined.id, kind="declined",
                 text=f"暂不采纳：{DECLINE_REASON}")
    add_timeline(session, suggestion_id=room_sug.id, kind="note", text="召集人已到现场查看")
    today = today_local()
    session.add(Campaign(title="征集：背街小巷整治", description="欢迎提出背街小巷整治的建议",
                         platform_id=room_sug.platform_id, opens_on=today - timedelta(days=1),
                         closes_on=today + timedelta(days=30), created_by_id=person.id))
    comment = Comment(suggestion_id=room_sug.id, author_id=person.id, body="我也遇到过",
                      state=CommentState.visible)
    session.add(comment)
    session.flush()
    session.add(Comment(suggestion_id=room_sug.id, author_id=person.id, parent_id=comment.id,
                        body="已记录", state=CommentState.visible))
    room_sug.comment_count = 2
    session.flush()


def _ids(session) -> dict[str, list]:
    return {
        "suggestion_id": list(session.scalars(select(Suggestion.id))),
        "platform_id": list(session.scalars(select(Platform.id))),
        "region_id": list(session.scalars(select(Region.id))),
        "campaign_id": list(session.scalars(select(Campaign.id))),
        "comment_id": list(session.scalars(select(Comment.id))),
        "topic_id": list(session.scalars(select(Topic.id))),
        "consultation_id": list(session.scalars(select(Consultation.id))),
        "key": list(session.scalars(select(Attachment.storage_key))) or ["no-such-key"],
    }


def _choices(annotation) -> list:
    """The values of an enum or Literal field (through Optional)."""
    for arg in typing.get_args(annotation) or (annotation,):
        if isinstance(arg, type) and issubclass(arg, Enum):
            return [m.value for m in arg]
        if typing.get_origin(arg) is typing.Literal:
            return list(typing.get_args(arg))
    return []


def _query_variants(model: type[BaseModel] | None) -> list[dict]:
    if model is None:
        return [{}]
    base = {name: "电梯" for name, f in model.model_fields.items()
            if f.is_required() and f.annotation is str}
    variants = [base]
    for name, f in model.model_fields.items():
        variants += [{**base, name: value} for value in _choices(f.annotation)]
    return variants


def _public_routes(app) -> list[tuple[str, str, type[BaseModel] | None]]:
    """(method, rule, query model) of every no-login route."""
    declared = {(op.rule, op.method.upper()): op for op in OPERATIONS}
    routes = []
    for rule in app.url_map.iter_rules():
        if NOT_PUBLIC_API.search(rule.rule):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            op = declared.get((rule.rule, method))
            if op is None and method != "GET":
                continue
            if op is not None and op.auth is not None:
                continue
            routes.append((method, rule.rule, op.query if op else None))
    return routes


def _paths(rule: str, ids: dict[str, list]) -> list[str]:
    names = re.findall(r"<(?:\w+:)?(\w+)>", rule)
    paths = [rule]
    for name in names:
        paths = [re.sub(rf"<(?:\w+:)?{name}>", str(value), p, count=1)
                 for p in paths for value in ids[name]]
    return paths


def _text(resp) -> str:
    data = resp.get_json(silent=True)
    if data is not None:
        return json.dumps(data, ensure_ascii=False)
    if resp.mimetype.startswith(("text/", "application/")):
        return resp.get_data(as_text=True)
    return ""  # an image


def _leaks(text: str) -> list[str]:
    return MOBILE.findall(re.sub(r"[\s+\-()]", "", text))


def test_no_public_answer_carries_a_phone_number(app, client):
    with committed_session(app) as s:
        seed_demo(s)
        _add_public_activity(s)
        planted = _plant(s)
        ids = _ids(s)
    # The planting reached what the issue names.
    for column in ("suggestions.title", "suggestions.description", "suggestions.address",
                   "suggestions.decline_reason", "comments.body", "campaigns.title",
                   "campaigns.description", "timeline_entries.text", "people.name",
                   "platforms.name", "regions.name", "bodies.name", "topics.title",
                   "opinion_items.text", "approval_steps.note", "research_tasks.notes"):
        assert column in planted

    routes = _public_routes(app)
    assert {r for _, r, _ in routes} >= {
        "/api/suggestions/<int:suggestion_id>", "/api/suggestions",
        "/api/suggestions/<int:suggestion_id>/comments", "/api/comments/<int:comment_id>/replies",
        "/api/suggestions/<int:suggestion_id>/timeline", "/api/topics/<int:topic_id>/timeline",
        "/api/campaigns", "/api/platforms/<int:platform_id>", "/api/platforms", "/api/regions"}
    leaks, seen, calls = [], [], 0
    for method, rule, query in routes:
        for path in _paths(rule, ids):
            for params in _query_variants(query):
                for _page in range(5):
                    resp = client.open(path, method=method, query_string=params,
                                       json={} if method != "GET" else None)
                    calls += 1
                    assert resp.status_code < 500, (method, path, params, resp.get_json())
                    text = _text(resp)
                    seen.append(text)
                    leaks += [(method, path, params, found) for found in _leaks(text)]
                    cursor = (resp.get_json(silent=True) or {}).get("next_cursor") \
                        if isinstance(resp.get_json(silent=True), dict) else None
                    if not cursor:
                        break
                    params = {**params, "cursor": cursor}
    assert leaks == [], leaks[:20]
    everything = "\n".join(seen)
    # The walk did read the planted texts (masked), not only empty pages and errors.
    assert "已有同类项目在办，请联系***" in everything
    for text in ("我也遇到过", "已记录", "征集：背街小巷整治", "楼道堆物清理", "召集人已到现场查看"):
        assert text in everything, text
    assert calls > 100
