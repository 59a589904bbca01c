"""What a chat message asks for: one Chinese text (or menu click) → one Intent. Pure: no database,
no network, never raises on any input.

Forgiving of the ways people type on a phone: full-width letters and digits (NFKC), spaces,
punctuation and emoji around or between the words, polite words before or after ("好的，我参加！",
"请假：住院"), Chinese numerals for the choice ("参加第二个"). The number after a verb selects a
meeting from the numbered list the bot shows (see docs/chatbot.md); a 6- or 10-digit code
follows 绑定.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Kinds of intent.
ACCEPT, DECLINE = "accept", "decline"
MY_MEETINGS, BRIEFING = "my_meetings", "briefing"
ATTENDANCE, LOCK, CHECKIN = "attendance", "lock", "checkin"
PROPOSE, BIND, HELP, UNKNOWN = "propose", "bind", "help", "unknown"
SUBSCRIBE, UNSUBSCRIBE = "subscribe", "unsubscribe"

# Longer texts are cut before parsing; a suggestion that long is refused by its own length rule.
MAX_TEXT = 6000

# Official Account menu keys (CLICK events) → intents; listed in docs/chatbot.md.
MENU_KEYS = {
    "MY_MEETINGS": MY_MEETINGS,
    "BRIEFING": BRIEFING,
    "ATTENDANCE": ATTENDANCE,
    "LOCK_LIST": LOCK,
    "CHECKIN": CHECKIN,
    "PROPOSE": PROPOSE,
    "BIND": BIND,
    "HELP": HELP,
}


@dataclass(frozen=True)
class Intent:
    kind: str
    choice: int | None = None  # "参加 2": the 2nd meeting of the numbered list
    text: str = ""             # the reason (decline), the suggestion (propose), the code (bind)


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)
# Anything that is not a letter, a digit or a CJK character: spaces, punctuation, emoji.
_SEP = r"[\W_]*"
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9, "十": 10}
# "第2个" / "2号" / "第二场": a choice from the numbered list.
_CHOICE = (rf"{_SEP}(?:第)?(?P<choice>\d{{1,2}}|[一二两三四五六七八九十])(?:个|号|场|项)?"
           r"(?=[\W_]|$)")


def normalise(text: str) -> str:
    """Full-width → half-width (NFKC), zero-width characters removed, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text or "").translate(_INVISIBLE)
    return " ".join(text.split())


def _strip(text: str, *, end_too: bool = True) -> str:
    """Without spaces, punctuation, symbols (emoji) and control characters at the start (and at
    the end; else only whitespace there: a suggestion keeps its final "。")."""
    start, end = 0, len(text)
    while start < end and unicodedata.category(text[start])[0] in "ZPSC":
        start += 1
    if not end_too:
        return text[start:end].rstrip()
    while end > start and unicodedata.category(text[end - 1])[0] in "ZPSC":
        end -= 1
    return text[start:end]


def _choice(value: str | None) -> int | None:
    if not value:
        return None
    return _CN_DIGITS[value] if value in _CN_DIGITS else int(unicodedata.normalize("NFKC", value))


def _verbs(*words: str) -> str:
    return "(?:" + "|".join(sorted(words, key=len, reverse=True)) + ")"


_POLITE_BEFORE = rf"(?:(?:好的?|好滴|行|可以|没问题|收到|嗯+){_SEP})?(?:我{_SEP})?(?:会|能|可以|一定|准时)*"
_POLITE_AFTER = rf"(?:{_SEP}(?:谢谢|感谢|收到|好的|了|的|吧|啊|呀|哈|哦|嗯|啦))*"

_BIND = re.compile(rf"^{_verbs('绑定', '绑定码', '绑定公众号', 'bind')}{_SEP}(?P<rest>.*)$",
                   re.S | re.I)
# Decline first: "不参加" and "参加不了" contain "参加".
_DECLINE = re.compile(
    rf"^(?:我{_SEP})?(?:要)?{_verbs('请假', '请个假', '不参加', '参加不了', '去不了', '来不了', '不能参加', '无法参加', '不能来', '不去了', '不去', '来不了了')}"
    rf"(?:{_CHOICE})?(?P<rest>.*)$", re.S)
_DECLINE_DIGIT = re.compile(rf"^2(?![0-9])(?:{_CHOICE})?(?P<rest>.*)$", re.S)
_LOCK = re.compile(
    rf"^{_verbs('确认名单', '锁定名单', '名单确认', '确认参会名单', '确定名单', '确认最终名单')}"
    rf"(?:{_CHOICE})?{_POLITE_AFTER}$")
_ACCEPT = re.compile(
    rf"^{_POLITE_BEFORE}{_verbs('参加', '参会', '出席', '到会', '确认', '确认参加', '确认参会', '确认出席', '报名', '报名参加')}"
    rf"(?:{_CHOICE})?{_POLITE_AFTER}$")
_ACCEPT_DIGIT = re.compile(r"^1(?:[\W_]+(?P<choice>\d{1,2}))?$")
_ATTENDANCE = re.compile(
    rf"^(?:查看|查询|看看)?{_verbs('出席情况', '回复情况', '答复情况', '参会情况', '报名情况', '谁来', '谁来了', '谁参加', '谁会来', '到会情况')}"
    rf"(?:{_CHOICE})?{_POLITE_AFTER}$")
_CHECKIN = re.compile(rf"^{_verbs('签到', '签到码', '签到二维码', '签到码是多少')}(?:{_CHOICE})?$")
_MY_MEETINGS = re.compile(
    rf"^(?:查看|查询|看看)?(?:我的)?{_verbs('会议', '活动', '协商会议', '会议列表', '会议安排', '会', '开会')}$")
_BRIEFING = re.compile(
    rf"^(?:查看|看看|发)?(?:会前)?{_verbs('简报', '通报', '会前通报', '材料', '会议材料', '资料')}"
    rf"(?:{_CHOICE})?$")
_PROPOSE = re.compile(
    rf"^(?:我{_SEP})?(?:要|想)?{_verbs('提议', '建议', '提建议', '提个建议', '出题', '反映', '反映问题', '提意见')}"
    rf"(?P<rest>.*)$", re.S)
_HELP = re.compile(rf"^{_verbs('帮助', '菜单', 'help', '怎么用', '使用说明', '功能', '你好', '您好', 'hi', 'hello', '在吗', '在么')}$",
                   re.I)


def _tight(text: str) -> str:
    """For fixed phrases: without any spaces, punctuation or emoji ("我的 会议!" → "我的会议")."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in "ZPSC")


def parse(text: str) -> Intent:
    """The intent of one text message."""
    raw = normalise((text or "")[:MAX_TEXT])
    body = _strip(raw)
    if not body:
        return Intent(HELP)  # "?", "？", an emoji alone, nothing: the menu
    m = _BIND.match(body)
    if m:
        digits = re.sub(r"[\s\W_]", "", m["rest"])
        # 6 digits: the person's own code; 10: a link code staff or the convenor issued.
        return Intent(BIND, text=digits if re.fullmatch(r"\d{6}|\d{10}", digits) else "")
    # Reasons and suggestions keep the person's own characters and line breaks.
    own = _strip((text or "")[:MAX_TEXT].translate(_INVISIBLE), end_too=False)
    for pattern in (_DECLINE, _DECLINE_DIGIT):
        m = pattern.match(own) or pattern.match(body)
        if m:
            return Intent(DECLINE, choice=_choice(m["choice"]), text=_strip(m["rest"]))
    tight = _tight(body)
    for pattern, kind in ((_LOCK, LOCK), (_ACCEPT, ACCEPT), (_ACCEPT_DIGIT, ACCEPT),
                          (_ATTENDANCE, ATTENDANCE), (_CHECKIN, CHECKIN),
                          (_BRIEFING, BRIEFING)):
        m = pattern.match(body) or pattern.match(tight)
        if m:
            return Intent(kind, choice=_choice(m["choice"]))
    if _MY_MEETINGS.match(tight):
        return Intent(MY_MEETINGS)
    m = _PROPOSE.match(own) or _PROPOSE.match(body)
    if m:
        return Intent(PROPOSE, text=_strip(m["rest"], end_too=False))
    if _HELP.match(tight):
        return Intent(HELP)
    return Intent(UNKNOWN)


def from_event(event: str, event_key: str = "") -> Intent:
    """Official Account events: follow / unfollow, menu clicks (MENU_KEYS), scans."""
    event = (event or "").lower()
    if event == "subscribe":
        return Intent(SUBSCRIBE)
    if event == "unsubscribe":
        return Intent(UNSUBSCRIBE)
    if event == "click":
        return Intent(MENU_KEYS.get((event_key or "").strip().upper(), HELP))
    return Intent(HELP)  # scan, view, location…: the menu
