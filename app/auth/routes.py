"""Login (mini-program and staff console), /api/me and the staff people endpoints. Thin: the
rules live in services.py and permissions.py; each request commits once."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, jsonify, request

from ..api import endpoint
from ..crypto import get_cipher, mask_phone
from ..db import get_session
from ..errors import AppError
from ..org.demo_data import DEMO_PASSWORD
from ..redis_client import get_redis
from ..wechat import get_wechat
from . import people, ratelimit, services, staff
from .current import STAFF_COOKIE, current_login, require_person
from .models import SessionKind
from .schemas import (
    LoginResponse, MeResponse, MeUpdate, OkResponse, PeoplePage, PeopleQuery, PersonDetail,
    PhoneBindRequest, PhoneBindResponse, StaffLoginRequest, StaffLoginResponse, WxLoginRequest,
)

bp = Blueprint("auth", __name__, url_prefix="/api")

TAG_AUTH = "登录与账号"
TAG_PEOPLE = "人员（工作人员）"


def _config():
    return current_app.config["APP"]


def _client_address() -> str:
    # Behind a reverse proxy, deploy with ProxyFix so remote_addr is the client's address.
    return request.remote_addr or "unknown"


def brief(session, person) -> dict:
    return {"id": person.id, "name": person.name, "roles": people.role_codes(session, person)}


# --- mini-program ------------------------------------------------------------------------------

@endpoint(bp, "/auth/wx-login", methods=("POST",), summary="小程序登录（wx.login 的 code 换会话令牌）",
          tags=[TAG_AUTH], body=WxLoginRequest, response=LoginResponse, auth=None)
def wx_login(body: WxLoginRequest):
    """用 wx.login() 得到的 code 登录；首次登录自动注册为群众。返回的 token 放在之后请求的
    `Authorization: Bearer <token>` 中。code 只能用一次；无效或已使用返回 401 wx_code_invalid，
    微信服务不可用返回 503 wechat_unavailable。"""
    ratelimit.check(get_redis(), ratelimit.WX_LOGIN, _client_address())
    session = get_session()
    result = services.login_with_wechat(
        session, js_code=body.code, mp=get_wechat().mp, cipher=get_cipher(),
        ttl=timedelta(hours=_config().session_ttl_hours))
    answer = LoginResponse(token=result.token, expires_at=result.login.expires_at,
                           is_new=result.is_new, person=brief(session, result.person))
    session.commit()
    return answer


@endpoint(bp, "/auth/phone", methods=("POST",), summary="绑定手机号（手机号快速验证组件的 code）",
          tags=[TAG_AUTH], body=PhoneBindRequest, response=PhoneBindResponse, auth="login")
def bind_phone(body: PhoneBindRequest):
    """用 getPhoneNumber 回调中的 code 绑定本人手机号（加密保存）。若工作人员已按该手机号录入
    人员（如政协委员），本微信账号会并入该人员并获得其角色（merged=true）。"""
    person = require_person()
    ratelimit.check(get_redis(), ratelimit.PHONE_BIND, f"person:{person.id}")
    session = get_session()
    result = services.bind_phone(session, person, phone_code=body.code, mp=get_wechat().mp,
                                 cipher=get_cipher())
    answer = PhoneBindResponse(phone_masked=mask_phone(result.phone),
                               merged=result.merged_from is not None,
                               person=brief(session, result.person))
    session.commit()
    return answer


@endpoint(bp, "/auth/logout", methods=("POST",), summary="退出登录（吊销当前会话）",
          tags=[TAG_AUTH], response=OkResponse, auth="login")
def logout():
    """吊销当前会话令牌（小程序令牌或控制台会话）；之后该令牌返回 401。"""
    return _logout()


def _logout():
    login = current_login()
    session = get_session()
    services.logout(session, login)
    session.commit()
    response = jsonify(OkResponse().model_dump())
    if login.kind is SessionKind.staff:
        response.delete_cookie(STAFF_COOKIE, path="/", samesite="Lax", httponly=True,
                               secure=_secure_cookie())
    return response


# --- staff console -----------------------------------------------------------------------------

def _secure_cookie() -> bool:
    config = _config()
    return not (config.testing or config.sandbox)


@endpoint(bp, "/auth/staff/login", methods=("POST",), summary="工作人员控制台登录",
          tags=[TAG_AUTH], body=StaffLoginRequest, response=StaffLoginResponse, auth=None)
def staff_login(body: StaffLoginRequest):
    """用户名 + 密码登录，成功后设置 HttpOnly 会话 Cookie（staff_session）并返回 CSRF 令牌；
    之后的修改类请求须带 `X-CSRF-Token` 请求头。连续输错密码达到上限后账号临时锁定（423）。"""
    address = _client_address()
    ratelimit.check(get_redis(), ratelimit.STAFF_LOGIN, address)
    config = _config()
    session = get_session()
    try:
        result = staff.staff_login(
            session, username=body.username, password=body.password,
            ttl=timedelta(hours=config.staff_session_ttl_hours),
            max_attempts=config.staff_lockout_attempts,
            lock_minutes=config.staff_lockout_minutes, ip=address,
            # Item 24: demo accounts seeded in sandbox keep no power once credentials are set.
            refused_password=None if config.sandbox else DEMO_PASSWORD)
    except AppError:
        session.commit()  # the failure counter, the lock and the audit entries stay
        raise
    answer = StaffLoginResponse(csrf_token=result.login.csrf_token,
                                expires_at=result.login.expires_at,
                                person=brief(session, result.person))
    session.commit()
    response = jsonify(answer.model_dump(mode="json"))
    set_staff_cookie(response, result.token)
    return response


def set_staff_cookie(response, token: str) -> None:
    """The console session cookie (also set by the sandbox sign-in, app/auth/sandbox_routes.py)."""
    response.set_cookie(STAFF_COOKIE, token,
                        max_age=int(timedelta(hours=_config().staff_session_ttl_hours)
                                    .total_seconds()),
                        path="/", httponly=True, samesite="Lax", secure=_secure_cookie())


@endpoint(bp, "/auth/staff/logout", methods=("POST",), summary="工作人员退出登录",
          tags=[TAG_AUTH], response=OkResponse, auth="login")
def staff_logout():
    """吊销控制台会话并清除 Cookie（需带 X-CSRF-Token）。"""
    return _logout()


# --- me ----------------------------------------------------------------------------------------

@endpoint(bp, "/me", summary="我的信息（角色、平台）", tags=[TAG_AUTH], response=MeResponse,
          auth="login")
def me():
    """本人姓名、打码手机号、所在区域、角色（含范围）以及担任召集人或联系的平台。"""
    session = get_session()
    return MeResponse.model_validate(people.describe_me(
        session, require_person(), current_login(), get_cipher()))


@endpoint(bp, "/me", methods=("PATCH",), summary="修改我的称呼或所在区域", tags=[TAG_AUTH],
          body=MeUpdate, response=MeResponse, auth="login")
def update_me(body: MeUpdate):
    """群众首次登录后可在此选择所在区域（村/社区等）并填写称呼。"""
    session = get_session()
    person = people.update_me(session, require_person(), name=body.name,
                                home_region_id=body.home_region_id)
    session.flush()
    answer = MeResponse.model_validate(people.describe_me(
        session, person, current_login(), get_cipher()))
    session.commit()
    return answer


# --- people (staff) ----------------------------------------------------------------------------

@endpoint(bp, "/people", summary="人员列表（管辖范围内）", tags=[TAG_PEOPLE], query=PeopleQuery,
          response=PeoplePage, auth="people.view")
def people_list(query: PeopleQuery):
    """工作人员查看本辖区人员；region_id 超出管辖范围返回 404。按完整手机号查询会记入审计日志。"""
    session = get_session()
    rows, total = people.list_people(
        session, require_person(), cipher=get_cipher(), region_id=query.region_id, q=query.q,
        page=query.page, per_page=query.per_page)
    session.commit()
    return PeoplePage(items=rows, total=total, page=query.page, per_page=query.per_page)


@endpoint(bp, "/people/<int:person_id>", summary="人员详情（手机号打码）", tags=[TAG_PEOPLE],
          response=PersonDetail, auth="people.view")
def person_detail(person_id: int):
    """管辖范围外的人员一律返回 404；每次查看记入审计日志（个人信息访问）。"""
    session = get_session()
    detail = people.view_person(session, require_person(), person_id, get_cipher())
    session.commit()
    return PersonDetail.model_validate(detail)
