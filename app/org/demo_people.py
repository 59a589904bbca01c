"""One demo person per role, for newcomers in sandbox mode (issue 10 item 18).

`make run` prints them (`banner`); docs/auth.md and docs/miniprogram.md say how to act as each:

- mini-program (WeChat DevTools, or any client of the sandbox server): the login code
  ``user-demo_<key>-<anything>`` — the local fake WeChat turns it into the openid
  ``openid_for("demo_<key>")``, which the demo seed links to the person (`link_demo_logins`);
  in DevTools ``wx.setStorageSync('sandbox.login_as', 'demo_<key>')`` does exactly that;
- ``POST /sandbox/login {"key": "<key>"}`` (or ``{"person_id": N}``) → the same token as
  ``/api/auth/wx-login``; with ``"console": true`` a console session (cookie + CSRF token);
- the demo console accounts for CPPCC staff (password in demo_data.DEMO_PASSWORD).

Everyone is found by structure (the room of demo_activity, its bodies, the console accounts),
not by name, so the list follows the demo city. Sandbox only: the routes answer 404 elsewhere
and the demo city cannot be loaded outside sandbox mode (demo.check_demo_allowed).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import StaffAccount
from ..wechat.fake_apis import SANDBOX_MP_APPID, openid_for, unionid_for
from .demo_activity import DEPARTMENT, _room
from .demo_data import DEMO_PASSWORD
from .models import (Body, BodyKind, Person, PlatformMember, Region, Role, RoleAssignment,
                     WechatApp, WechatIdentity)

LOGIN_PREFIX = "demo_"


@dataclass(frozen=True)
class DemoPerson:
    key: str                 # POST /sandbox/login {"key": …}
    label: str               # the role, in Chinese
    person_id: int
    name: str
    where: str               # the body, platform or region the role is held for
    does: str                # what to try first, in Chinese
    console: str | None = None  # demo console account, if any

    @property
    def login_as(self) -> str:
        """The mini-program's sandbox.login_as value (login code user-<login_as>-…)."""
        return f"{LOGIN_PREFIX}{self.key}"


def _first(session: Session, stmt) -> Person | None:
    return session.scalar(stmt.order_by(Person.id).limit(1))


def _holder(role: Role, **where) -> select:
    stmt = (select(Person).join(RoleAssignment, RoleAssignment.person_id == Person.id)
            .where(RoleAssignment.role == role, RoleAssignment.is_active.is_(True),
                   Person.is_active.is_(True)))
    for column, value in where.items():
        stmt = stmt.where(getattr(RoleAssignment, column) == value)
    return stmt


def _body(session: Session, region: Region, kind: BodyKind, suffix: str = "") -> Body | None:
    stmt = select(Body).where(Body.region_id == region.id, Body.kind == kind)
    if suffix:
        stmt = stmt.where(Body.name.endswith(suffix))
    return session.scalar(stmt.order_by(Body.id).limit(1))


def demo_people(session: Session) -> list[DemoPerson]:
    """The demo person of every role, in banner order; roles the database lacks are left out
    (an empty list without the demo city)."""
    room = _room(session)
    if room is None:
        return []
    town = session.get(Region, room.region_id)
    county = session.get(Region, town.parent_id)
    city = session.get(Region, county.parent_id)
    party = _body(session, town, BodyKind.party_committee)
    cppcc = _body(session, county, BodyKind.cppcc)
    dept = _body(session, county, BodyKind.department, DEPARTMENT)
    gov = _body(session, county, BodyKind.government)
    villages = select(Region.id).where(Region.parent_id == town.id)
    county_account = _account_for_region(session, county)
    city_account = _account_for_region(session, city)

    found: list[tuple[str, str, Person | None, str, str, str | None]] = [
        ("resident", "群众", _first(session, _holder(Role.resident).where(
            RoleAssignment.region_id.in_(villages))), town.name,
         f"在{room.name}提建议、支持、评论；查看办理结果、评价（“滨河公园步道破损修缮”）", None),
        ("member", "政协委员", _first(session, _holder(Role.member).join(
            PlatformMember, PlatformMember.person_id == Person.id).where(
            PlatformMember.platform_id == room.id, Person.id != room.convenor_id)),
         room.name, "荐题（以委员身份提建议）；答复协商会议邀请；跟踪督办（/api/me/supervision）",
         None),
        ("convenor", "召集人", session.get(Person, room.convenor_id) if room.convenor_id else None,
         room.name, "把建议列为议题、提交审核、安排协商会议、公众号里问“出席情况”", None),
        ("party_reviewer", "审核人（党委）",
         _first(session, _holder(Role.reviewer, body_id=party.id)) if party else None,
         party.name if party else "",
         "审核本镇（街道）平台的议题（/api/me/reviews）；逐条研究意见、交办（/api/opinion-items/queue）",
         None),
        ("cppcc_reviewer", "审核人（政协）",
         _first(session, _holder(Role.reviewer, body_id=cppcc.id)) if cppcc else None,
         cppcc.name if cppcc else "", "议题报县区政协备案（/api/me/reviews）", None),
        # D19/D20: the county government decides the county items of the room's lists and
        # assigns them to its departments (the town has no departments to assign to).
        ("county_reviewer", "审核人（县区政府）",
         _first(session, _holder(Role.reviewer, body_id=gov.id)) if gov else None,
         gov.name if gov else "",
         "逐条研究意见、交办承办部门、审批延期申请（/api/opinion-items/queue）", None),
        ("dept_handler", "承办部门经办人",
         _first(session, _holder(Role.dept_handler, body_id=dept.id)) if dept else None,
         dept.name if dept else "",
         "签收、报送进展、办结（/api/handling/tasks）；答复协商会议邀请（可委派他人参加）", None),
        ("county_staff", "县区政协工作人员", county_account[1], county.name,
         "代党委政府点题、审核内容、查看本县区报表", county_account[0]),
        ("city_staff", "市政协工作人员", city_account[1], city.name,
         "查看全市覆盖情况等报表", city_account[0]),
    ]
    return [DemoPerson(key, label, p.id, p.name, where, does, console)
            for key, label, p, where, does, console in found if p is not None]


def _account_for_region(session: Session, region: Region) -> tuple[str | None, Person | None]:
    """The demo console account of the staff member of `region` (its username and person)."""
    row = session.execute(
        select(StaffAccount.username, Person)
        .join(Person, Person.id == StaffAccount.person_id)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .where(RoleAssignment.role == Role.staff, RoleAssignment.region_id == region.id,
               RoleAssignment.is_active.is_(True), Person.is_active.is_(True))
        .order_by(StaffAccount.id).limit(1)).first()
    return (row[0], row[1]) if row else (None, None)


def find_demo_person(session: Session, key: str) -> DemoPerson | None:
    return next((d for d in demo_people(session) if d.key == key), None)


def link_demo_logins(session: Session, people: list[DemoPerson] | None = None) -> int:
    """Link each demo person to the fake WeChat's openid of ``demo_<key>`` in the sandbox
    mini-program, so the login code ``user-demo_<key>-…`` signs in as them. Idempotent; returns
    how many links were added. Only for the demo city (sandbox mode)."""
    added = 0
    for d in people if people is not None else demo_people(session):
        openid = openid_for(d.login_as, SANDBOX_MP_APPID)
        if session.scalar(select(WechatIdentity.id).where(
                WechatIdentity.app == WechatApp.mp, WechatIdentity.openid == openid)) is None:
            session.add(WechatIdentity(person_id=d.person_id, app=WechatApp.mp, openid=openid,
                                       unionid=unionid_for(d.login_as)))
            added += 1
    if added:
        session.flush()
    return added


def banner(session: Session, base_url: str) -> str:
    """The `make run` lines naming one demo person per role and how to sign in as each."""
    people = demo_people(session)
    if not people:
        return ""
    lines = [
        "演示人员（仅沙箱模式）/ demo people, one per role (sandbox only):",
        "  小程序登录 mini-program: 开发者工具 Console 输入 wx.setStorageSync('sandbox.login_as', '<登录名>')，"
        "或登录码 user-<登录名>-任意后缀",
        f"  接口登录 API sign-in:    POST {base_url}/sandbox/login "
        '{"key": "<key>"}  → token（同 /api/auth/wx-login）；加 "console": true → 控制台会话',
    ]
    for d in people:
        console = f" · 控制台 console {d.console} / {DEMO_PASSWORD}" if d.console else ""
        lines.append(f"  {d.label}：{d.name}（{d.where}）key={d.key} 登录名 login_as={d.login_as}"
                     f"{console} — {d.does}")
    return "\n".join(lines)
