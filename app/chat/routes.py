"""Binding a WeChat to a person (thin: app/chat/services.py, one code table, one service).

- `POST /api/me/chat-binding-code`: a new one-time code (replaces the earlier one);
- `GET /api/me/chat-binding`: bound or not;
- `DELETE /api/me/chat-binding`: unbind (the chat then asks to bind again);
- `POST /api/people/<id>/link-code`: CPPCC staff issue a link code for a named person;
- `POST /api/consultations/<cid>/invitations/<person_id>/link-code`: the convenor's way, for a
  person invited to the meeting;
- `POST /api/auth/link`: the mini-program user enters (or scans) that code."""
from __future__ import annotations

from flask import Blueprint

from ..api import endpoint
from ..auth import ratelimit
from ..auth.current import require_person
from ..db import get_session
from ..errors import NotFound, ValidationFailed
from ..org.models import Person
from ..redis_client import get_redis
from . import links, services
from .schemas import BindingCodeOut, BindingOut, LinkCodeOut, LinkIn, LinkOut

bp = Blueprint("chat", __name__, url_prefix="/api")
TAG = "公众号"
CODE_LIMIT = ratelimit.Limit("chat-binding-code", 10, 600)


def _binding(session, person) -> BindingOut:
    identity = services.binding_of(session, person)
    return BindingOut(bound=identity is not None,
                      bound_at=identity.created_at if identity is not None else None)


@endpoint(bp, "/me/chat-binding-code", methods=("POST",), summary="获取公众号绑定码",
          tags=[TAG], response=BindingCodeOut, status=201, auth="login")
def binding_code():
    """6 位数字，10 分钟内有效，只能用一次；再次获取时原来的绑定码作废。在“有事好商量”公众号里
    发送“绑定 123456”即可把公众号和本账号绑定，会议通知和办理结果会发到公众号。"""
    session = get_session()
    person = require_person()
    ratelimit.check(get_redis(), CODE_LIMIT, f"p{person.id}")
    code, expires_at = services.issue_code(session, person)
    session.commit()
    minutes = int(services.CODE_TTL.total_seconds() // 60)
    return BindingCodeOut(code=code, expires_at=expires_at,
                          instruction=f"在公众号里发送：绑定 {code}（{minutes}分钟内有效）"), 201


@endpoint(bp, "/me/chat-binding", summary="公众号绑定状态", tags=[TAG], response=BindingOut,
          auth="login")
def binding():
    return _binding(get_session(), require_person())


@endpoint(bp, "/me/chat-binding", methods=("DELETE",), summary="解除公众号绑定", tags=[TAG],
          response=BindingOut, auth="login")
def unbind():
    """解除后公众号不再代您办理事项，通知只发到小程序；需要时可以重新绑定。重复解除不会出错。"""
    session = get_session()
    person = require_person()
    services.unbind(session, person)
    session.commit()
    return _binding(session, person)


# --- staff link codes -----------------------------------------------------------------------------

TAG_LINK = "绑定码（工作人员代为关联微信）"
LINK_LIMIT = ratelimit.Limit("link-code-issue", 30, 600)


def _link_code(person_id: int, consultation_id: int | None, via: str):
    from ..consultations.checkin import qr_png

    session = get_session()
    actor = require_person()
    ratelimit.check(get_redis(), LINK_LIMIT, f"p{actor.id}")
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("该人员不存在或不在您的管辖范围内", code="person_not_found")
    code, expires_at = links.issue_link_code(session, person, actor=actor, via=via,
                                                consultation_id=consultation_id)
    session.commit()
    return LinkCodeOut(code=code, expires_at=expires_at,
                       instruction=links.link_instruction(code, expires_at),
                       qr_png=qr_png(code)), 201


@endpoint(bp, "/people/<int:person_id>/link-code", methods=("POST",),
          summary="为人员生成绑定码（关联微信）", tags=[TAG_LINK], response=LinkCodeOut,
          status=201, auth="person.link")
def person_link_code(person_id: int):
    """审核人、承办部门经办人、工作人员等不能用手机号自动绑定（409 privileged_account），没有
    小程序的人也无法自己获取绑定码：由管辖范围内的政协工作人员核实身份后为其生成一次性绑定码
    （10 位数字，24 小时内有效，只能用一次，再次生成时原来的作废）。本人在小程序“我的 →
    使用绑定码”输入或扫码，或在公众号发送“绑定 绑定码”，其微信即关联到该人员。人员超出管辖范围
    返回 404；其担任的职务超出管辖范围返回 403 `link_out_of_reach`。生成和使用都记入审计日志。"""
    return _link_code(person_id, None, "people_api")


@endpoint(bp, "/consultations/<int:consultation_id>/invitations/<int:person_id>/link-code",
          methods=("POST",), summary="为受邀人员生成绑定码", tags=[TAG_LINK],
          response=LinkCodeOut, status=201, auth="login")
def invitee_link_code(consultation_id: int, person_id: int):
    """召集人（或管理本会议的政协工作人员）为本次会议的受邀人员生成绑定码，可在屏幕上出示、
    电话读给本人或打印在邀请函上；本人在公众号发送“绑定 绑定码”后即可用聊天答复会议。
    受邀人员担任职务（委员、审核人、工作人员等）时返回 403 `link_needs_staff`（请由政协工作人员
    生成）；已经绑定了微信的返回 409 `person_has_wechat`；不在邀请名单中返回 404
    `invitation_not_found`。"""
    return _link_code(person_id, consultation_id, "invitation")


@endpoint(bp, "/auth/link", methods=("POST",), summary="使用绑定码关联账号",
          tags=["登录与账号"], body=LinkIn, response=LinkOut, auth="login")
def use_link_code(body: LinkIn):
    """小程序“我的 → 使用绑定码”：输入或扫描工作人员给的绑定码，本微信即关联到该人员（获得其
    角色），当前令牌继续有效、此后以该人员身份操作。绑定码错误、过期、已用过分别返回
    `binding_code_wrong`、`binding_code_expired`（422）、`binding_code_used`（409）；
    15 分钟内输错 5 次后返回 429 `binding_attempts`。本微信已是另一位有角色或手机号的人员：
    409 `wechat_bound_to_other`；该人员已关联其他微信：409 `person_has_wechat`。"""
    from ..auth import people

    session = get_session()
    person = require_person()
    code = links.normalise_code(body.code)
    if code is None:
        raise ValidationFailed("绑定码不正确，请核对后重新输入", code="binding_code_wrong")
    linked = links.link_mini_program(session, person, code)
    answer = LinkOut(person={"id": linked.person.id, "name": linked.person.name,
                             "roles": people.role_codes(session, linked.person)},
                     merged=linked.merged)
    session.commit()
    return answer
