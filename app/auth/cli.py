"""Console accounts from the command line (registered by app/cli.py through `register`).

    flask --app app create-staff zhangsan --person-id 12
    flask --app app create-staff admin --name 系统管理员 --role admin --region-code 320700
    flask --app app set-staff-password zhangsan
    flask --app app unlock-staff zhangsan
    flask --app app issue-link-code --person-id 12 --png code.png

Passwords are asked for twice without echo, or read from the first line of standard input with
--password-stdin (for scripts); they are never printed, logged or audited.
"""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from ..audit.services import record
from ..db import get_db
from ..errors import AppError
from ..org.factories import assign_role, create_person
from ..org.models import Person, Region, Role
from . import staff
from .models import StaffAccount

CONSOLE_ROLES = ("staff", "admin")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return click.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _account(session, username: str) -> StaffAccount:
    account = session.scalar(select(StaffAccount).where(
        StaffAccount.username == staff.normalise_username(username)))
    if account is None:
        _fail(f"控制台账号 {username} 不存在")
    return account


@click.command("create-staff")
@click.argument("username")
@click.option("--person-id", type=int, help="为已有人员开通控制台账号")
@click.option("--name", help="新建人员的姓名（不指定 --person-id 时必填）")
@click.option("--phone", help="新建人员的手机号（可选）")
@click.option("--role", type=click.Choice(CONSOLE_ROLES), help="同时授予的角色")
@click.option("--region-code", help="角色的范围：区域代码（与 --role 一起使用）")
@click.option("--password-stdin", is_flag=True, help="从标准输入第一行读取密码")
@with_appcontext
def create_staff(username, person_id, name, phone, role, region_code, password_stdin):
    """开通工作人员控制台账号。"""
    if (person_id is None) == (name is None):
        _fail("请指定 --person-id（已有人员）或 --name（新建人员）之一")
    if (role is None) != (region_code is None):
        _fail("--role 与 --region-code 须同时指定")
    password = _password(password_stdin)
    try:
        with get_db().session_scope() as session:
            if person_id is not None:
                person = session.get(Person, person_id)
                if person is None:
                    _fail(f"人员 {person_id} 不存在")
            else:
                person = create_person(session, name=name, phone=phone)
                record(session, actor_id=None, action="person.created",
                                object_type="person", object_id=person.id,
                                after={"via": "cli"})
            account = staff.create_staff_account(session, person=person, username=username,
                                                    password=password)
            if role is not None:
                region = session.scalar(select(Region).where(Region.code == region_code))
                if region is None:
                    _fail(f"区域代码 {region_code} 不存在")
                assignment = assign_role(session, person, Role(role), region=region)
                record(session, actor_id=None, action="role.assigned",
                                object_type="role_assignment", object_id=assignment.id,
                                after={"person_id": person.id, "role": role,
                                       "region_id": region.id})
            click.echo(f"已开通控制台账号 {account.username}（人员编号 {person.id}）")
    except AppError as exc:
        _fail(exc.message)


@click.command("set-staff-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="从标准输入第一行读取密码")
@with_appcontext
def set_staff_password(username, password_stdin):
    """重设控制台账号密码（同时解除锁定并使该账号已登录的会话失效）。"""
    password = _password(password_stdin)
    try:
        with get_db().session_scope() as session:
            account = _account(session, username)
            staff.set_staff_password(session, account, password)
            click.echo(f"已重设 {account.username} 的密码")
    except AppError as exc:
        _fail(exc.message)


@click.command("unlock-staff")
@click.argument("username")
@with_appcontext
def unlock_staff(username):
    """解除控制台账号的临时锁定。"""
    with get_db().session_scope() as session:
        account = _account(session, username)
        staff.unlock_staff_account(session, account)
        click.echo(f"已解除 {account.username} 的锁定")


@click.command("issue-link-code")
@click.option("--person-id", type=int, required=True, help="为哪位人员生成")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, writable=True),
              help="同时把二维码保存为 PNG 文件")
@with_appcontext
def issue_link_code(person_id, png_path):
    """为人员生成一次性绑定码（关联微信：小程序“使用绑定码”或公众号“绑定 绑定码”）。"""
    import base64

    from ..chat import links as chat
    from ..consultations.checkin import qr_png

    try:
        with get_db().session_scope() as session:
            person = session.get(Person, person_id)
            if person is None:
                _fail(f"人员 {person_id} 不存在")
            code, expires_at = chat.issue_link_code(session, person, actor=None, via="cli")
            instruction = chat.link_instruction(code, expires_at)
    except AppError as exc:
        _fail(exc.message)
    if png_path:
        with open(png_path, "wb") as out:
            out.write(base64.b64decode(qr_png(code).split(",", 1)[1]))
    click.echo(f"{person.name}（人员编号 {person_id}）的绑定码：{code}")
    click.echo(instruction)


def register(app) -> None:
    for command in (create_staff, set_staff_password, unlock_staff, issue_link_code):
        app.cli.add_command(command)
