"""The chatbot through `answer()` in a consult_world city: RSVP by chat (accept, decline with a
reason, numbered choice among several meetings, a locked list), my meetings, the D15 briefing,
the convenor's attendance by group, final list and check-in code (and the same intents refused
to a member as the API refuses them), suggestions with the same content checks as the
mini-program, nothing twice, follow / unfollow, help."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.chat.models import ChatAccount
from app.consultations.models import Invitation
from app.db import utcnow
from app.org.models import Person, WechatApp, WechatIdentity
from app.suggestions.models import Suggestion
from app.wechat.fake_apis import openid_for, unionid_for
from bots.conversation import Inbound, answer

from .. import consult_world
from ..consult_world import as_
from ..helpers import committed_session
from .test_meetings import FULL, complete_research, invite, rsvp, schedule


@pytest.fixture
def world(app):
    w = consult_world.build(app)
    # Everyone is bound to the Official Account as oa_<key>; the mini-program identity of the
    # residents gives the content check an openid, as after a mini-program login.
    with committed_session(app) as s:
        for key, pid in w["people"].items():
            s.add(WechatIdentity(person_id=pid, app=WechatApp.oa, openid=f"oa_{key}"))
            s.add(WechatIdentity(person_id=pid, app=WechatApp.mp, openid=openid_for(key),
                                 unionid=unionid_for(key)))
    return w


def say(app, who: str, text: str, msg_id: int = 0):
    """One text message from `who` (a world key, or a raw openid o_…)."""
    openid = who if who.startswith("o_") else f"oa_{who}"
    with committed_session(app) as s:
        reply = answer(s, Inbound(openid=openid, kind="text", content=text, msg_id=msg_id))
    return reply.text if reply else None


def event(app, openid: str, name: str, key: str = ""):
    with committed_session(app) as s:
        reply = answer(s, Inbound(openid=openid, kind="event", event=name, event_key=key))
    return reply.text if reply else None


def meeting(client, world, days=7, room="village", people=FULL, notices=True):
    start = (utcnow() + timedelta(days=days)).replace(microsecond=0)
    c = schedule(client, world, room=room, starts_at=start.isoformat(),
                 ends_at=(start + timedelta(hours=2)).isoformat()).json
    assert "id" in c, c
    if people:
        assert invite(client, world, c["id"], people, who=f"conv_{room}").status_code == 200
    if notices:
        client.post(f"/api/consultations/{c['id']}/notices", json={"confirm": True},
                    headers=as_(world, f"conv_{room}"))
    return c["id"], start


def invitation(app, world, cid, who):
    with committed_session(app) as s:
        return s.scalar(select(Invitation).where(Invitation.consultation_id == cid,
                                                 Invitation.person_id == world["people"][who]))


def count(app, model, *where):
    with committed_session(app) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


# --- RSVP -------------------------------------------------------------------------------------------

def test_accept_and_decline_with_a_reason_by_chat(client, app, world):
    cid, _ = meeting(client, world)
    text = say(app, "resident", "好的，我参加！")
    assert text.startswith("已为您登记参加：") and "前进村文化广场" in text
    assert "议题“village议题：加装电梯”" in text and "（周" in text
    assert invitation(app, world, cid, "resident").answer.value == "accepted"

    # Full-width digit 2 with a reason after a Chinese comma: a decline, reason kept.
    text = say(app, "resident", "２，家里老人住院")
    assert "已为您登记请假" in text and "原因：家里老人住院" in text
    inv = invitation(app, world, cid, "resident")
    assert (inv.answer.value, inv.reason) == ("declined", "家里老人住院")
    # The convenor sees it as from the mini-program.
    r = client.get(f"/api/consultations/{cid}/invitations", headers=as_(world, "conv_village"))
    row = next(i for i in r.json["invitations"] if i["person_id"] == world["people"]["resident"])
    assert (row["answer"], row["reason"]) == ("declined", "家里老人住院")


def test_decline_without_a_reason_asks_for_one_and_changes_nothing(client, app, world):
    cid, _ = meeting(client, world)
    assert say(app, "member", "请假") == "请假请说明原因，例如：请假 家里有事"
    assert invitation(app, world, cid, "member").answer.value == "pending"


def test_several_pending_invitations_need_a_number(client, app, world):
    later, _ = meeting(client, world, days=9)
    sooner, _ = meeting(client, world, days=3, room="town")
    text = say(app, "member", "参加")
    assert "您有 2 场会议" in text and "1. " in text and "2. " in text
    assert text.index("town议题") < text.index("village议题")  # by start time
    assert invitation(app, world, sooner, "member").answer.value == "pending"
    assert invitation(app, world, later, "member").answer.value == "pending"

    assert "town议题" in say(app, "member", "参加第一个")
    assert invitation(app, world, sooner, "member").answer.value == "accepted"
    # One left unanswered: "请假 原因" without a number acts on it, and says which.
    text = say(app, "member", "请假 出差")
    assert "village议题" in text and "原因：出差" in text
    assert invitation(app, world, later, "member").answer.value == "declined"
    # Both answered now: a bare verb does not guess again.
    assert "请在后面加上序号" in say(app, "member", "参加")
    assert say(app, "member", "参加 3") == "没有第 3 场会议（共 2 场）。回复“我的会议”查看序号。"
    text = say(app, "member", "我的会议")
    assert "1. " in text and "——参加" in text and "——请假" in text


def test_a_locked_list_is_refused_with_the_services_message(client, app, world):
    cid, _ = meeting(client, world)
    client.post(f"/api/consultations/{cid}/lock", headers=as_(world, "conv_village"))
    assert say(app, "resident", "参加") == "召集人已确认参会名单，如需变更请直接联系召集人"
    assert invitation(app, world, cid, "resident").answer.value == "pending"


def test_answers_close_at_the_start_time_by_chat_as_by_the_api(client, app, world):
    """Issue 10 item 4: once the meeting has started (nobody checked in yet, so it is still
    `scheduled`), "参加" and "请假" by chat are refused with the API's own words."""
    cid, start = meeting(client, world)
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        api = rsvp(client, world, cid, "resident", answer="accepted")
        assert api.status_code == 409 and api.json["error"] == "consultation_held"
        assert say(app, "resident", "参加") == api.json["message"]
        assert say(app, "member", "请假 临时有事") == api.json["message"]
    assert invitation(app, world, cid, "resident").answer.value == "pending"
    assert invitation(app, world, cid, "member").answer.value == "pending"


def test_no_meeting_and_not_invited(client, app, world):
    assert say(app, "outsider", "参加") == "您目前没有需要答复的会议邀请。回复“我的会议”可以查看会议。"
    meeting(client, world, people=[("member", "member")])
    assert say(app, "outsider", "我的会议") == "您目前没有受邀参加的会议。"
    assert say(app, "outsider", "简报") == "您目前没有受邀参加的会议。"


def test_the_same_rsvp_twice_is_one_answer_and_one_audit_entry(client, app, world):
    cid, _ = meeting(client, world)
    first = say(app, "resident", "参加", msg_id=101)
    second = say(app, "resident", "参加", msg_id=101)
    assert first == second
    inv = invitation(app, world, cid, "resident")
    assert count(app, Invitation, Invitation.person_id == world["people"]["resident"]) == 1
    assert count(app, AuditEntry, AuditEntry.action == "consultation.rsvp",
                 AuditEntry.object_id == str(inv.id)) == 1


# --- my meetings and the briefing -----------------------------------------------------------------

def test_my_meetings_lists_coming_meetings_with_my_answer(client, app, world):
    meeting(client, world)
    rsvp(client, world, meeting(client, world, room="town", days=2)[0], "member",
         answer="accepted")
    text = say(app, "member", "查看 我的会议")
    assert text.startswith("您受邀的会议：\n1. ")
    assert "town议题：加装电梯”——参加" in text and "village议题：加装电梯”——未答复" in text
    assert "参加 序号" in text


def test_briefing_of_my_next_meeting_as_the_api_shows_it(client, app, world):
    cid, start = meeting(client, world)
    text = say(app, "resident", "简报")
    assert text.startswith("会前通报（")
    assert "会前通报将于" in text and "以下是目前的内容" in text  # not sent yet: the due date
    assert "议题：village议题：加装电梯" in text and "暂无已完成的调研" in text
    api = client.get(f"/api/consultations/{cid}/briefing", headers=as_(world, "resident")).json
    assert api["text"].splitlines()[0] in text
    complete_research(client, world)
    client.post(f"/api/consultations/{cid}/briefing", headers=as_(world, "conv_village"))
    text = say(app, "resident", "会前通报")
    assert "将于" not in text and "入户走访——走访 20 户" in text
    assert len(text) <= 600


# --- the convenor --------------------------------------------------------------------------------------

def test_convenor_attendance_lock_and_checkin(client, app, world):
    cid, start = meeting(client, world)
    rsvp(client, world, cid, "member", answer="accepted")
    rsvp(client, world, cid, "resident", answer="declined", reason="出差")
    text = say(app, "conv_village", "出席情况")
    assert text.startswith("出席情况：")
    assert "政协委员：邀请1人，参加1，请假0，委派0，未答复0" in text
    assert "群众代表：邀请2人，参加0，请假1，委派0，未答复1" in text

    text = say(app, "conv_village", "确认名单")
    assert text.startswith("参会名单已确认：") and "政协委员：邀请1人，参加1" in text
    r = client.get(f"/api/consultations/{cid}", headers=as_(world, "conv_village"))
    assert r.json["list_locked_at"] is not None
    assert "（名单已确认）" in say(app, "conv_village", "出席情况")

    assert say(app, "conv_village", "签到") == "不在签到时间内（会前 1 小时至会后 30 分钟）"
    with time_machine.travel(start - timedelta(minutes=10), tick=False):
        text = say(app, "conv_village", "签到码")
        api = client.get(f"/api/consultations/{cid}/checkin-code",
                         headers=as_(world, "conv_village")).json
    assert api["code"] in text and "前有效" in text and "扫码签到" in text


def test_attendance_by_chat_names_the_people_of_each_group(client, app, world):
    """Issue 10 item 21: who is coming, who declined and why, who has not answered — by name,
    per group, the names the convenor's API (GET …/invitations) lists."""
    cid, _ = meeting(client, world)
    rsvp(client, world, cid, "member", answer="accepted")
    rsvp(client, world, cid, "resident", answer="declined", reason="出差")
    rsvp(client, world, cid, "stakeholder", answer="accepted")
    text = say(app, "conv_village", "出席情况")
    lines = text.splitlines()
    member = lines.index("政协委员：邀请1人，参加1，请假0，委派0，未答复0")
    assert lines[member + 1] == "  参加：钱委员"
    residents = lines.index("群众代表：邀请2人，参加0，请假1，委派0，未答复1")
    assert lines[residents + 1:residents + 3] == ["  请假：张居民（出差）", "  未答复：王大爷"]
    assert "  参加：赵店主" in lines and "  未答复：周镇长" in lines
    api = client.get(f"/api/consultations/{cid}/invitations",
                     headers=as_(world, "conv_village")).json
    for inv in api["invitations"]:
        assert inv["name"] in text


def test_attendance_by_chat_fits_wechat_s_text_limit_with_how_many_were_left_out(client, app,
                                                                                   world):
    """A big meeting: the reply stays within 2048 bytes (WeChat's text limit), every group keeps
    its counts, and a cut list ends with "…等 N 人" (N = everyone in that list)."""
    cid, _ = meeting(client, world)
    with committed_session(app) as s:
        for n in range(120):
            p = Person(name=f"群众代表第{n:03d}号")
            s.add(p)
            s.flush()
            s.add(Invitation(consultation_id=cid, person_id=p.id, group="resident",
                             invited_at=utcnow(), invited_by_id=world["people"]["conv_village"],
                             answer="declined" if n % 3 == 0 else "pending",
                             reason="家里有事需要照顾老人" if n % 3 == 0 else None))
    text = say(app, "conv_village", "出席情况")
    assert len(text.encode("utf-8")) <= 2048
    assert "群众代表：邀请122人，参加0，请假40，委派0，未答复82" in text
    assert "政协委员：邀请1人" in text and "职能部门：邀请1人" in text
    lines = text.splitlines()
    at = lines.index("群众代表：邀请122人，参加0，请假40，委派0，未答复82")
    declined, pending = lines[at + 1:at + 3]
    assert declined.startswith("  请假：群众代表第000号（家里有事需要照顾老人）")
    assert declined.endswith("…等 40 人")
    assert pending.startswith("  未答复：张居民、王大爷、群众代表第001号") and pending.endswith("…等 82 人")
    assert lines[-2:] == ["职能部门：邀请1人，参加0，请假0，委派0，未答复1", "  未答复：郑科长"]


def test_convenor_intents_refused_to_a_member_as_the_api_refuses(client, app, world):
    cid, start = meeting(client, world)
    api = client.get(f"/api/consultations/{cid}/invitations", headers=as_(world, "member"))
    assert api.status_code == 403
    for text in ("出席情况", "确认名单", "签到"):
        assert say(app, "member", text) == api.json["message"]
    with time_machine.travel(start - timedelta(minutes=10), tick=False):
        assert say(app, "member", "签到") == api.json["message"]
    r = client.get(f"/api/consultations/{cid}", headers=as_(world, "conv_village"))
    assert r.json["list_locked_at"] is None
    # Someone neither invited nor managing anything: nothing to convene.
    assert say(app, "outsider", "出席情况") == "您目前没有由您召集的、尚未结束的协商会议。"


def test_locking_with_several_meetings_needs_a_number(client, app, world):
    first, _ = meeting(client, world, days=3)
    # County staff manage both rooms (the same reach as the API's managed_consultation).
    town, _ = meeting(client, world, days=4, room="town")
    text = say(app, "county_staff", "确认名单")
    assert "请在后面加上序号" in text
    assert client.get(f"/api/consultations/{first}", headers=as_(world, "county_staff")) \
        .json["list_locked_at"] is None
    text = say(app, "county_staff", "确认名单 2")
    assert "town议题" in text
    assert client.get(f"/api/consultations/{town}", headers=as_(world, "county_staff")) \
        .json["list_locked_at"] is not None
    assert client.get(f"/api/consultations/{first}", headers=as_(world, "county_staff")) \
        .json["list_locked_at"] is None
    # Read-only intents act on the next one and say how to see the other.
    assert "回复“出席情况 2”" in say(app, "county_staff", "出席情况")


# --- suggestions ---------------------------------------------------------------------------------------

def test_a_suggestion_by_chat_is_the_same_as_one_from_the_mini_program(client, app, world):
    text = say(app, "resident", "提议：村口路灯坏了，晚上出行不方便。希望尽快修好。", msg_id=7001)
    assert text.startswith("已收到您的建议“村口路灯坏了，晚上出行不方便”")
    assert "已公开" in text and "类别暂定为“实事”" in text and "小程序" in text
    with committed_session(app) as s:
        sug = s.scalar(select(Suggestion))
        sid, platform_id = sug.id, sug.platform_id
        assert sug.description == "村口路灯坏了，晚上出行不方便。希望尽快修好。"
    assert platform_id == world["rooms"]["village"]  # the home village's room
    public = client.get(f"/api/suggestions/{sid}")
    assert public.status_code == 200
    assert (public.json["state"], public.json["source"]) == ("open", "proposed")
    listed = client.get(f"/api/suggestions?platform_id={platform_id}").json
    assert [i["id"] for i in listed["items"]] == [sid]
    # A member recommends (D7), as in the mini-program.
    say(app, "member", "建议 村里小广场增设健身器材", msg_id=7002)
    with committed_session(app) as s:
        assert s.scalar(select(Suggestion.source).where(Suggestion.id != sid)).value \
            == "recommended"


def test_a_suggestion_to_review_is_held_and_a_risky_one_refused(client, app, world):
    text = say(app, "resident", "提议 待审测试词 的问题要处理", msg_id=7101)
    assert "已提交，审核通过后公开" in text
    with committed_session(app) as s:
        sid = s.scalar(select(Suggestion.id))
        assert s.get(Suggestion, sid).state.value == "held"
    assert client.get(f"/api/suggestions/{sid}").status_code == 404  # not public
    assert client.get(f"/api/suggestions/{sid}", headers=as_(world, "resident")).status_code == 200

    assert say(app, "resident", "提议 违禁测试词 出现在这里", msg_id=7102) \
        == "内容含有不当信息，请修改后再提交"
    assert count(app, Suggestion) == 1


def test_the_same_suggestion_message_twice_creates_one(client, app, world):
    first = say(app, "resident", "提议 修一修村东头的小桥", msg_id=7201)
    again = say(app, "resident", "提议 修一修村东头的小桥", msg_id=7201)
    assert first == again and "已收到您的建议" in first
    assert count(app, Suggestion) == 1
    assert count(app, AuditEntry, AuditEntry.action == "suggestion.create") == 1
    # A new message with the same words is a new suggestion (as a second tap in the app).
    say(app, "resident", "提议 修一修村东头的小桥", msg_id=7202)
    assert count(app, Suggestion) == 2


def test_suggestion_without_text_or_home_region(app, world):
    assert "请在“提议”后面写上您的建议" in say(app, "resident", "我要提议")
    assert say(app, "handler", "提议 路灯坏了", msg_id=1) == (
        "还不知道您所在的村（社区），无法确定交给哪个协商议事平台。请在小程序中选择平台后提出建议。")
    assert say(app, "resident", "提议 短") == "标题应为 4–60 个字"
    assert "具体说明最多 5000 字" in say(app, "resident", "提议 " + "很长的说明。" * 2000)
    assert count(app, Suggestion) == 0


# --- events, help, strangers ----------------------------------------------------------------------------

def test_follow_unfollow_and_the_48_hour_window(app, world):
    assert "欢迎关注" in event(app, "oa_resident", "subscribe")
    assert event(app, "oa_resident", "unsubscribe") is None
    with committed_session(app) as s:
        acc = s.scalar(select(ChatAccount).where(ChatAccount.openid == "oa_resident"))
        assert acc.followed is False and acc.last_inbound_at is not None
        first_seen = acc.last_inbound_at
    say(app, "resident", "帮助")
    with committed_session(app) as s:
        acc = s.scalar(select(ChatAccount).where(ChatAccount.openid == "oa_resident"))
        assert acc.last_inbound_at >= first_seen
    assert count(app, ChatAccount) == 1


def test_help_menu_clicks_and_unknown_text(app, world):
    assert "参加 / 请假 原因" in say(app, "resident", "？")
    assert say(app, "resident", "今天天气不错").startswith("抱歉，没有看懂您的意思。")
    assert event(app, "oa_resident", "CLICK", "MY_MEETINGS") == "您目前没有受邀参加的会议。"
    assert "参加 / 请假 原因" in event(app, "oa_resident", "click", "HELP")
    with committed_session(app) as s:
        reply = answer(s, Inbound(openid="oa_resident", kind="image"))
    assert reply.text.startswith("目前只能看懂文字消息") and reply.person_id


def test_a_stranger_is_told_how_to_bind(app, world):
    text = say(app, "o_nobody_stranger", "参加")
    assert "我的 → 绑定公众号" in text and "绑定 123456" in text
    assert "欢迎关注" in event(app, "o_nobody_stranger", "subscribe")
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(WechatIdentity).where(
            WechatIdentity.openid == "o_nobody_stranger")) == 0
    # Bad input has no effect: no openid, an oversized one.
    with committed_session(app) as s:
        assert answer(s, Inbound(openid="", kind="text", content="参加")) is None
        assert answer(s, Inbound(openid="o" * 65, kind="text", content="参加")) is None


def test_a_disabled_account_gets_no_service(client, app, world):
    cid, _ = meeting(client, world)
    with committed_session(app) as s:
        s.get(Person, world["people"]["resident"]).is_active = False
    assert say(app, "resident", "参加") == "您的账号已停用，如有疑问请联系工作人员。"
    assert invitation(app, world, cid, "resident").answer.value == "pending"
