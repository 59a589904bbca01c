"""The chatbot's conversation: one inbound Official Account message or event → one reply.

Interface used by the webhook (bots/webhook.py) and the sandbox chat page:

    reply = answer(session, Inbound(openid=…, kind="text", content="参加"))

``answer`` records the inbound (chat_accounts: the 48-hour customer-service window, follow /
unfollow), works out the intent (bots/intents.py) and calls the same services as the API, with
the same permission checks. It writes through ``session`` but never commits: the caller commits
once. It returns the reply text for the person (Chinese), or None when there is nothing to say.
A service's AppError becomes its Chinese message (and whatever the intent wrote is rolled back
to a savepoint); any other exception propagates (the webhook apologises and rolls back).

Numbered choices (docs/chatbot.md): "我的会议" lists my coming meetings by start time; the
number after a verb ("参加 2", "请假 1 出差") selects from that same list. Convenor intents
number the coming meetings they manage the same way. Without a number the bot acts only when
it cannot be wrong (one meeting, or exactly one still unanswered) and otherwise shows the list.

Nothing twice: an RSVP repeats harmlessly (answer_invitation changes nothing for the same
answer and writes no audit entry); a suggestion is keyed by the inbound MsgId (an
idempotency record in the same transaction), so the same message never creates two.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from sqlalchemy.orm import Session

from app.auth import ratelimit
from app.auth.permissions import has_any_role
from app.chat import services as chat
from app.consultations import services as meetings
from app.consultations.briefing import briefing_text
from app.consultations.checkin import current_code
from app.consultations.models import ANSWER_LABELS, Answer, Consultation, Invitation
from app.consultations.rules import briefing_due_at
from app.errors import AppError
from app.idempotency import first_answer_in_transaction, record_in_transaction
from app.org.models import Person
from app.redis_client import get_redis
from app.suggestions import safety
from app.suggestions.models import SuggestionState
from app.suggestions.routes import SUGGEST_LIMIT
from app.suggestions.schemas import TITLE_MAX
from app.suggestions.services import home_platform, propose_suggestion
from app.topics.models import CATEGORY_LABELS, Category
from app.topics.services import MANAGE
from app.workdays import CHINA_TZ

from . import intents, replies
from .intents import Intent

LIST_LIMIT = 20
# A suggestion from the chat has no category field: 实事 (livelihood, D6) fits most of what
# residents raise; the reply says so.
DEFAULT_CATEGORY = Category.livelihood
NOT_TEXT = "not_text"


@dataclass(frozen=True)
class Inbound:
    openid: str               # FromUserName
    kind: str                 # "text", "event", or another MsgType ("image", "voice"…)
    content: str = ""         # text messages
    event: str = ""           # events, lower case: subscribe, unsubscribe, click, scan…
    event_key: str = ""       # menu key (click) or scene (scan)
    msg_id: int = 0           # MsgId; 0 for events
    create_time: int = 0      # CreateTime (seconds)


@dataclass(frozen=True)
class Reply:
    text: str
    person_id: int | None = None  # the bound person, when known (a late reply goes via the outbox)


@dataclass
class Turn:
    session: Session
    person: Person
    intent: Intent
    inbound: Inbound
    budget: int = replies.TEXT_MAX_BYTES  # UTF-8 bytes left for the handler's text


def intent_of(inbound: Inbound) -> Intent:
    if inbound.kind == "text":
        return intents.parse(inbound.content)
    if inbound.kind == "event":
        return intents.from_event(inbound.event, inbound.event_key)
    return Intent(NOT_TEXT)


def answer(session: Session, inbound: Inbound) -> Reply | None:
    openid = inbound.openid
    if not chat.valid_openid(openid):
        return None
    intent = intent_of(inbound)
    if intent.kind == intents.UNSUBSCRIBE:
        chat.record_inbound(session, openid, followed=False)
        return None
    chat.record_inbound(session, openid,
                        followed=True if intent.kind == intents.SUBSCRIBE else None)
    person = chat.person_for_openid(session, openid)
    if intent.kind == intents.BIND and intent.text:
        return _bind(session, openid, intent.text, person)
    greeting = replies.WELCOME + "\n" if intent.kind == intents.SUBSCRIBE else ""
    if person is None:
        person = chat.bind_by_unionid(session, openid)
        if person is None:
            return Reply(greeting + UNBOUND_REPLIES.get(intent.kind, replies.HOW_TO_BIND))
        greeting += f"您好{_name(person)}！已为您关联小程序账号。\n"
    if not person.is_active:
        return Reply(replies.DISABLED, person.id)
    handler = HANDLERS.get(intent.kind, _unknown)
    turn = Turn(session, person, intent, inbound,
                budget=replies.TEXT_MAX_BYTES - len(greeting.encode("utf-8")))
    try:
        if handler in READ_ONLY:  # nothing to undo: no savepoint (two round trips saved)
            text = handler(turn)
        else:
            with session.begin_nested():  # an AppError leaves nothing of this intent behind
                text = handler(turn)
    except AppError as exc:
        text = exc.message
    return Reply(replies.fit(greeting + text), person.id)


def _name(person: Person) -> str:
    from app.auth.services import NEW_USER_NAME

    return "" if not person.name or person.name == NEW_USER_NAME else f"，{person.name}"


# --- binding ------------------------------------------------------------------------------------

def _bind(session: Session, openid: str, code: str, current: Person | None) -> Reply:
    try:
        with session.begin_nested():
            bound = chat.bind_by_code(session, openid, code)
    except AppError as exc:
        return Reply(exc.message, current.id if current else None)
    if bound.already:
        name = _name(bound.person).lstrip("，")
        text = f"这个微信已经绑定了您的账号{f'（{name}）' if name else ''}，无需重复绑定。"
    else:
        text = f"绑定成功{_name(bound.person)}！以后的会议通知和办理结果会发到这里。"
        if bound.moved:
            text += "您原来绑定的另一个微信已解除，今后只发到这个微信。"
    return Reply(text + "\n回复“帮助”查看可以办理的事项。", bound.person.id)


# --- meetings: the numbered lists ---------------------------------------------------------------

@dataclass(frozen=True)
class Item:
    consultation: Consultation
    title: str
    invitation: Invitation | None = None

    def line(self) -> str:
        return replies.meeting_line(self.consultation, self.title)


def my_meetings(session: Session, person: Person) -> list[Item]:
    """My coming meetings, soonest first: the API's "my meetings" (not ended, not cancelled)."""
    return [Item(c, title, inv) for c, inv, title in
            meetings.coming_invitations(session, person.id, limit=LIST_LIMIT)]


def managed_meetings(session: Session, person: Person) -> list[Item]:
    """The coming (or running) meetings on platforms this person manages (the API's reach)."""
    return [Item(c, title) for c, title in
            meetings.managed_coming(session, person, limit=LIST_LIMIT)]


class Choice(AppError):
    """Not an error of the person's: the bot needs a number (or the number is out of range)."""

    status = 200
    code = "choice_needed"


def pick(items: list[Item], choice: int | None, verb_hint: str,
         default: Callable[[list[Item]], Item | None] = lambda items: None) -> Item:
    if choice is not None:
        if not 1 <= choice <= len(items):
            raise Choice(replies.out_of_range(choice, len(items)))
        return items[choice - 1]
    if len(items) == 1:
        return items[0]
    chosen = default(items)
    if chosen is None:
        raise Choice(replies.choose([i.line() for i in items], verb_hint))
    return chosen


def _only_pending(items: list[Item]) -> Item | None:
    pending = [i for i in items if i.invitation.answer is Answer.pending]
    return pending[0] if len(pending) == 1 else None


def _next(items: list[Item]) -> Item:
    return items[0]


# --- invitee intents ------------------------------------------------------------------------------

def _rsvp(t: Turn) -> str:
    """Accept, or decline with a reason (D14: the determined participants answer)."""
    items = my_meetings(t.session, t.person)
    if not items:
        return replies.NO_PENDING
    accept = t.intent.kind == intents.ACCEPT
    hint = "例如：参加 1" if accept else "例如：请假 1 家里有事"
    item = pick(items, t.intent.choice, hint, _only_pending)
    c = item.consultation
    try:
        meetings.answer_invitation(
            t.session, person=t.person, consultation_id=c.id,
            answer=Answer.accepted if accept else Answer.declined,
            reason=None if accept else t.intent.text)
    except AppError as exc:
        if exc.code != "reason_required":
            raise
        number = f" {items.index(item) + 1}" if len(items) > 1 else ""
        return f"请假请说明原因，例如：请假{number} 家里有事"
    if accept:
        return f"已为您登记参加：{item.line()}。"
    return f"已为您登记请假：{item.line()}。原因：{replies.cut(t.intent.text, 100, '…')}"


def _my_meetings(t: Turn) -> str:
    items = my_meetings(t.session, t.person)
    if not items:
        return replies.NO_MEETINGS
    lines = [f"{i.line()}——{ANSWER_LABELS[i.invitation.answer]}" for i in items]
    text = "您受邀的会议：\n" + replies.numbered(lines)
    if any(i.invitation.answer is Answer.pending for i in items):
        text += "\n答复请回复“参加 序号”或“请假 序号 原因”。"
    return replies.cut(text, more="……（更多会议请在小程序“我的会议”中查看）")


def _briefing(t: Turn) -> str:
    """D15: what participants are told before the meeting."""
    items = my_meetings(t.session, t.person)
    if not items:
        return replies.NO_MEETINGS
    item = pick(items, t.intent.choice, "例如：简报 1", _next)
    # The same visibility as GET /api/consultations/<id>/briefing.
    c = meetings.get_consultation_or_404(t.session, item.consultation.id, t.person)
    head = f"会前通报（{item.line()}）"
    if c.briefing_sent_at is None:
        due = briefing_due_at(c.starts_at, c.briefing_days_before).astimezone(CHINA_TZ)
        head += f"\n会前通报将于{due.month}月{due.day}日 {due:%H:%M} 发给参会人员，以下是目前的内容。"
    more = ""
    if len(items) > 1 and t.intent.choice is None:
        more = f"\n（您共有 {len(items)} 场会议，回复“简报 2”查看第 2 场的通报）"
    return replies.cut(f"{head}\n{briefing_text(t.session, c)}", replies.REPLY_MAX - len(more)) + more


# --- convenor intents -------------------------------------------------------------------------------

def _managed(t: Turn, hint: str, default=_next) -> Item:
    items = managed_meetings(t.session, t.person)
    if items:
        return pick(items, t.intent.choice, hint, default)
    if not has_any_role(t.session, t.person, MANAGE):
        invited = my_meetings(t.session, t.person)
        if invited:
            # The API's own refusal for an invitee who does not manage the meeting (403).
            meetings.managed_consultation(t.session, invited[0].consultation.id, t.person)
    raise Choice(replies.NO_MANAGED)


def _others(t: Turn, verb: str) -> str:
    n = len(managed_meetings(t.session, t.person))
    if n > 1 and t.intent.choice is None:
        return f"\n（您召集的会议共 {n} 场，回复“{verb} 2”查看第 2 场）"
    return ""


# The name lists under each group's counts, in this order (who is coming first).
ROSTER_ORDER = ((Answer.accepted, "参加"), (Answer.substitute, "委派"),
                (Answer.declined, "请假"), (Answer.pending, "未答复"))
REASON_SHOWN = 20


def _roster_name(inv: Invitation, name: str) -> str:
    if inv.answer is Answer.declined and inv.reason:
        return f"{name}（{replies.cut(inv.reason, REASON_SHOWN, '…')}）"
    if inv.answer is Answer.substitute and inv.substitute_name:
        return f"{name}（委派{inv.substitute_name}）"
    return name


def _tally(t: Turn, c: Consultation, budget: int) -> str:
    """Counts by group and, under each, the names per answer (the convenor's API roster:
    meetings.roster), shortened to fit `budget` UTF-8 bytes ("…等 N 人")."""
    names: dict[tuple, list[str]] = {}
    for inv, name in meetings.roster(t.session, c.id):
        names.setdefault((inv.group, inv.answer), []).append(_roster_name(inv, name))
    lines: list = []
    for g in meetings.attendance_by_group(t.session, c.id):
        lines.append(f"{g.label}：邀请{g.invited}人，参加{g.accepted}，请假{g.declined}，"
                     f"委派{g.substitute}，未答复{g.pending}")
        lines += [(label, names[(g.group, answer)]) for answer, label in ROSTER_ORDER
                  if names.get((g.group, answer))]
    if not lines:
        lines.append("还没有邀请参加人员。")
    lines += meetings.list_warnings(t.session, c)
    return replies.fit_names(lines, budget)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _attendance(t: Turn) -> str:
    """Answers by group (D9: members, residents, stakeholders, officials, departments), with
    the names: who is coming, who declined and why, who has not answered."""
    item = _managed(t, "例如：出席情况 1")
    c = meetings.managed_consultation(t.session, item.consultation.id, t.person)
    state = "（名单已确认）" if c.list_locked_at else ""
    head, others = f"出席情况{state}：{item.line()}\n", _others(t, "出席情况")
    return head + _tally(t, c, t.budget - _size(head) - _size(others)) + others


def _lock(t: Turn) -> str:
    # Locking cannot be undone: with several meetings the convenor must say which one.
    item = _managed(t, "例如：确认名单 1", default=lambda items: None)
    c = meetings.lock_list(t.session, actor=t.person, consultation_id=item.consultation.id)
    head = f"参会名单已确认：{item.line()}。受邀人员不能再改答复。\n"
    return head + _tally(t, c, t.budget - _size(head))


def _checkin(t: Turn) -> str:
    item = _managed(t, "例如：签到 1")
    code = current_code(t.session, actor=t.person, consultation_id=item.consultation.id)
    until = code.expires_at.astimezone(CHINA_TZ)
    return (f"签到码（{until:%H:%M} 前有效，每 5 分钟更换）：{code.code}\n"
            f"会议：{item.line()}\n"
            "请在小程序会议页面点“签到二维码”投到屏幕上；参会人员在小程序会议页面点“扫码签到”。"
            f"{_others(t, '签到')}")


# --- proposing a suggestion ---------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[。！？!?\n；;]")


def split_suggestion(text: str) -> tuple[str, str]:
    """(title, description): a short text is the title; a longer one gives its first sentence
    (cut to the title length) as the title and keeps the whole text as the description."""
    text = text.strip()
    if len(text) <= TITLE_MAX and not _SENTENCE_END.search(text.rstrip("。！？!?；;")):
        return text, ""
    first = _SENTENCE_END.split(text, maxsplit=1)[0].strip()
    title = first if len(first) <= TITLE_MAX else first[:TITLE_MAX - 1] + "…"
    return title, text


def _propose(t: Turn) -> str:
    """A suggestion (D6 category, D7 source decided by the service as in the mini-program)."""
    if not t.intent.text:
        return replies.PROPOSE_USAGE
    platform = home_platform(t.session, t.person)
    if platform is None:
        return replies.NO_PLATFORM
    key = f"oa-msg-{t.inbound.msg_id}" if t.inbound.msg_id else None
    if key is not None:
        first = first_answer_in_transaction(t.session, person_id=t.person.id, key=key,
                                            endpoint="chat:propose")
        if first is not None:  # the same message again: the first answer again, nothing new
            return first.get("reply") or "这条建议已经收到了。"
    ratelimit.check(get_redis(), SUGGEST_LIMIT, f"p{t.person.id}")  # the API's limit too
    title, description = split_suggestion(t.intent.text)
    suggestion, _ = propose_suggestion(t.session, person=t.person, platform_id=platform.id,
                                       title=title, description=description,
                                       category=DEFAULT_CATEGORY)
    if suggestion.state is SuggestionState.held:
        status = f"{safety.HELD_MESSAGE}。"
    else:
        status = "已公开，欢迎邻居们支持。"
    text = (f"已收到您的建议“{title}”，交给{platform.name}。{status}\n"
            f"类别暂定为“{CATEGORY_LABELS[DEFAULT_CATEGORY]}”。需要附照片、写明位置的，"
            "请在小程序中提出。")
    if key is not None:
        record_in_transaction(t.session, person_id=t.person.id, key=key, status_code=201,
                              body={"suggestion_id": suggestion.id, "reply": text})
    return text


# --- the rest -----------------------------------------------------------------------------------------

def _help(t: Turn) -> str:
    return replies.HELP


def _welcome(t: Turn) -> str:
    return replies.HELP


def _unknown(t: Turn) -> str:
    return replies.UNKNOWN


def _not_text(t: Turn) -> str:
    return replies.NOT_TEXT


def _bind_usage(t: Turn) -> str:
    return replies.BIND_USAGE


# What an unbound follower is told (anything else: replies.HOW_TO_BIND).
UNBOUND_REPLIES = {
    intents.BIND: replies.BIND_USAGE,
    intents.HELP: replies.UNBOUND_HELP,
    intents.ACCEPT: replies.UNBOUND_RSVP,
    intents.DECLINE: replies.UNBOUND_RSVP,
}

HANDLERS: dict[str, Callable[[Turn], str]] = {
    intents.ACCEPT: _rsvp,
    intents.DECLINE: _rsvp,
    intents.MY_MEETINGS: _my_meetings,
    intents.BRIEFING: _briefing,
    intents.ATTENDANCE: _attendance,
    intents.LOCK: _lock,
    intents.CHECKIN: _checkin,
    intents.PROPOSE: _propose,
    intents.BIND: _bind_usage,
    intents.HELP: _help,
    intents.SUBSCRIBE: _welcome,
    intents.UNKNOWN: _unknown,
    NOT_TEXT: _not_text,
}

# Handlers that only read (tests/integration/test_chat_inbound_costs.py checks that they write
# nothing): they run without a savepoint.
READ_ONLY: frozenset[Callable[[Turn], str]] = frozenset({
    _my_meetings, _briefing, _attendance, _help, _welcome, _unknown, _not_text, _bind_usage})
