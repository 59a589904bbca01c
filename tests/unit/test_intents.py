"""The chat parser (bots/intents.py): real-world wordings, full-width digits, punctuation and
emoji, reasons and suggestion texts kept, numbered choices, menu clicks, nonsense → the menu,
oversized text without error."""
from __future__ import annotations

import time

import pytest

from bots.intents import (
    ACCEPT, ATTENDANCE, BIND, BRIEFING, CHECKIN, DECLINE, HELP, LOCK, MY_MEETINGS, PROPOSE,
    SUBSCRIBE, UNKNOWN, UNSUBSCRIBE, Intent, from_event, parse,
)


@pytest.mark.parametrize("text, kind, choice", [
    ("参加", ACCEPT, None), ("参会", ACCEPT, None), ("确认", ACCEPT, None),
    ("确认参加", ACCEPT, None), ("好的我参加", ACCEPT, None), ("好的，我参加！", ACCEPT, None),
    ("出席", ACCEPT, None), ("1", ACCEPT, None), ("１", ACCEPT, None), (" 1。", ACCEPT, None),
    ("我会准时参加的", ACCEPT, None), ("确认参加👍", ACCEPT, None), ("参加，谢谢", ACCEPT, None),
    ("参加 2", ACCEPT, 2), ("参加2", ACCEPT, 2), ("参加第２个", ACCEPT, 2),
    ("参加第二个", ACCEPT, 2), ("确认参加 第3场", ACCEPT, 3),
    ("我的会议", MY_MEETINGS, None), ("会议", MY_MEETINGS, None), ("我的活动", MY_MEETINGS, None),
    ("查看 我的会议！", MY_MEETINGS, None),
    ("简报", BRIEFING, None), ("会前通报", BRIEFING, None), ("材料", BRIEFING, None),
    ("简报 2", BRIEFING, 2),
    ("出席情况", ATTENDANCE, None), ("回复情况？", ATTENDANCE, None), ("谁来", ATTENDANCE, None),
    ("出席情况 2", ATTENDANCE, 2),
    ("确认名单", LOCK, None), ("锁定名单", LOCK, None), ("确认名单 1", LOCK, 1),
    ("签到", CHECKIN, None), ("签到码", CHECKIN, None), ("签到码 2", CHECKIN, 2),
    ("帮助", HELP, None), ("菜单", HELP, None), ("?", HELP, None), ("？", HELP, None),
    ("help", HELP, None), ("HELP", HELP, None), ("😀", HELP, None), ("", HELP, None),
    ("今天天气不错", UNKNOWN, None), ("参加个屁的会议都开了", UNKNOWN, None),
    ("12", UNKNOWN, None), ("3", UNKNOWN, None), ("asdfgh", UNKNOWN, None),
])
def test_kinds_and_choices(text, kind, choice):
    intent = parse(text)
    assert (intent.kind, intent.choice) == (kind, choice)


@pytest.mark.parametrize("text, choice, reason", [
    ("请假", None, ""), ("2", None, ""), ("２", None, ""),
    ("请假 家里有事", None, "家里有事"), ("2，出差", None, "出差"), ("２，出差", None, "出差"),
    ("请假：住院", None, "住院"), ("请假:住院，下周出院", None, "住院，下周出院"),
    ("不参加，要带孙子", None, "要带孙子"), ("去不了 出差", None, "出差"),
    ("参加不了😭 腰疼", None, "腰疼"), ("我要请假，村里有事", None, "村里有事"),
    ("请假 1 家里有事", 1, "家里有事"), ("请假 １ 家里有事", 1, "家里有事"),
    ("请假第二个 出差", 2, "出差"),
    # A number that is part of the reason is not a choice.
    ("请假1天", None, "1天"), ("请假 3天出差", None, "3天出差"), ("请假 两个孩子要接", None, "两个孩子要接"),
])
def test_declines_keep_the_reason(text, choice, reason):
    assert parse(text) == Intent(DECLINE, choice=choice, text=reason)


@pytest.mark.parametrize("text, suggestion", [
    ("提议 村口路灯坏了", "村口路灯坏了"),
    ("提议：村口路灯坏了，晚上出行不方便。", "村口路灯坏了，晚上出行不方便。"),
    ("我要提议：修路", "修路"), ("建议在村口装路灯", "在村口装路灯"),
    ("提议 第一行\n第二行", "第一行\n第二行"), ("提议", ""), ("我要提议！", ""),
])
def test_suggestions_keep_the_persons_text(text, suggestion):
    assert parse(text) == Intent(PROPOSE, text=suggestion)


@pytest.mark.parametrize("text, code", [
    ("绑定 123456", "123456"), ("绑定123456", "123456"), ("绑定：１２３４５６", "123456"),
    ("绑定 123 456", "123456"), ("BIND 654321", "654321"), ("绑定", ""), ("绑定 12345", ""),
    ("绑定 1234567", ""), ("绑定 abc123", ""),
])
def test_binding_codes(text, code):
    assert parse(text) == Intent(BIND, text=code)


def test_events_and_menu_keys():
    assert from_event("subscribe") == Intent(SUBSCRIBE)
    assert from_event("unsubscribe") == Intent(UNSUBSCRIBE)
    assert from_event("CLICK", "MY_MEETINGS") == Intent(MY_MEETINGS)
    assert from_event("click", "briefing") == Intent(BRIEFING)
    assert from_event("click", "LOCK_LIST") == Intent(LOCK)
    assert from_event("click", "NO_SUCH_KEY") == Intent(HELP)
    assert from_event("SCAN", "qrscene_1") == Intent(HELP)


def test_oversized_and_malicious_text_is_handled_quickly():
    started = time.monotonic()
    assert parse("啊" * 10_000).kind == UNKNOWN
    assert parse("参加" + "，" * 10_000).kind == ACCEPT
    long = parse("提议 " + "路灯坏了。" * 2000)
    assert long.kind == PROPOSE and len(long.text) < 10_000  # cut, then refused by its length rule
    assert parse("请假" + " 1" * 5000).kind == DECLINE
    assert parse("\x00\u202e参加\u200b").kind == ACCEPT
    assert parse(None).kind == HELP  # type: ignore[arg-type]
    assert time.monotonic() - started < 2
