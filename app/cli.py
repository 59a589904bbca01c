"""Flask CLI commands (flask --app app ...): demo data and spreadsheet imports for staff.

Output is Chinese (staff read it). Import exit codes, for staff who script them
(docs/imports.md): 0 every row imported, 1 some rows failed (the good ones were imported),
2 the file was refused as a whole (nothing written), 3 the import stopped on an unexpected error
(nothing written).
"""
from __future__ import annotations

import logging
from pathlib import Path

import click
from flask import current_app
from sqlalchemy import inspect

log = logging.getLogger(__name__)

MAX_PRINTED_ERRORS = 30
EXIT_ROWS_FAILED, EXIT_FILE_REJECTED, EXIT_ABORTED = 1, 2, 3

COUNT_LABELS = {
    "regions": "区域", "enterprises": "企事业单位", "sectors": "界别", "bodies": "机构",
    "duty_groups": "履职小组", "platforms": "协商平台", "platform_checks": "六有核查记录",
    "platform_served_units": "平台服务单位", "platform_members": "平台联系委员",
    "people": "人员", "role_assignments": "角色", "staff_accounts": "控制台账号",
    "suggestions": "群众建议", "topics": "议题", "consultations": "协商会议",
    "wechat_identities": "微信身份（演示人员登录）",
}


def _db():
    return current_app.extensions["db"]


def _require_tables() -> None:
    names = set(inspect(_db().engine).get_table_names())
    if not {"regions", "people", "staff_accounts"} <= names:
        click.echo("数据库尚未初始化：请先运行 make migrate（alembic upgrade head）", err=True)
        raise click.exceptions.Exit(EXIT_FILE_REJECTED)


def seed_demo_command() -> None:
    """载入演示城市（可重复运行：已有的数据不会重复创建，也不会被修改）。"""
    from .config import ConfigError
    from .org.demo import check_demo_allowed, seed_demo

    try:
        check_demo_allowed(current_app.config["APP"])
    except ConfigError as err:
        click.echo(str(err), err=True)
        raise click.exceptions.Exit(EXIT_FILE_REJECTED) from None
    _require_tables()
    with _db().session_scope() as session:
        summary = seed_demo(session)
    click.echo(seed_report(summary))


def seed_report(summary: dict) -> str:
    """What seed-demo did, and the demo console logins, for the person at the terminal."""
    from .org.demo_data import DEMO_ACCOUNTS, DEMO_PASSWORD

    lines = [f"演示数据已就绪（本次新增 {summary['created']} 条记录）：" if summary["created"]
             else "演示数据已存在，本次未做任何更改：",
             "  " + "，".join(f"{label} {summary[key]}" for key, label in COUNT_LABELS.items()),
             f"控制台演示账号（仅供演示环境使用，密码均为 {DEMO_PASSWORD}）："]
    lines += [f"  {username:<15} {label}" for username, _role, _slug, label in DEMO_ACCOUNTS]
    return "\n".join(lines)


def _run_import(kind: str, file: str, dry_run: bool) -> None:
    from .org.import_sheet import FileRejected, write_error_file
    from .org.imports import import_people, import_platforms

    _require_tables()
    importer, title = {"platforms": (import_platforms, "导入平台"),
                       "people": (import_people, "导入人员")}[kind]
    click.echo(f"{title}：{Path(file).name}")
    session = _db().new_session()
    try:
        report = importer(session, file, progress=None)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    except FileRejected as exc:
        session.rollback()
        click.echo(f"文件未导入：{exc.message}", err=True)
        raise click.exceptions.Exit(EXIT_FILE_REJECTED)
    except Exception as exc:  # nothing half-written: the whole import is rolled back
        session.rollback()
        log.error("import aborted: %s", type(exc).__name__)
        click.echo(f"导入意外中断（{type(exc).__name__}），未写入任何数据，请联系管理员。", err=True)
        raise click.exceptions.Exit(EXIT_ABORTED)
    finally:
        session.close()

    click.echo(report.summary_zh())
    for warning in report.warnings:
        click.echo(f"注意：{warning}")
    for note in report.notes:
        click.echo(f"提示：{note}")
    for err in report.errors[:MAX_PRINTED_ERRORS]:
        click.echo(f"第 {err.row} 行：{err.message}")
    try:
        target = write_error_file(file, report)
    except OSError:
        target = None
        if report.errors:
            click.echo("注意：错误明细文件无法写入（目录不可写），请以上面的列表为准", err=True)
    if len(report.errors) > MAX_PRINTED_ERRORS:
        click.echo(f"……其余 {len(report.errors) - MAX_PRINTED_ERRORS} 条错误见错误明细文件")
    if target is not None:
        click.echo(f"错误明细已写入：{target}")
    if dry_run:
        click.echo("试运行：以上为检查结果，未写入任何数据")
    elif report.errors:
        click.echo("以上出错的行未导入，其余行已导入；改正后可重新导入整个文件（不会重复创建）")
    if report.errors:
        raise click.exceptions.Exit(EXIT_ROWS_FAILED)


def register_cli(app) -> None:
    from .auth import cli as auth_cli

    auth_cli.register(app)  # create-staff, set-staff-password, unlock-staff, issue-link-code
    app.cli.command("seed-demo")(seed_demo_command)

    @app.cli.command("import-platforms")
    @click.argument("file", type=click.Path(dir_okay=False))
    @click.option("--dry-run", is_flag=True, help="只检查并报告错误，不写入数据库")
    def import_platforms_command(file: str, dry_run: bool) -> None:
        """从 Excel（.xlsx）导入协商平台，格式见 docs/imports.md。"""
        _run_import("platforms", file, dry_run)

    @app.cli.command("import-people")
    @click.argument("file", type=click.Path(dir_okay=False))
    @click.option("--dry-run", is_flag=True, help="只检查并报告错误，不写入数据库")
    def import_people_command(file: str, dry_run: bool) -> None:
        """从 Excel（.xlsx）导入人员及其角色，格式见 docs/imports.md。"""
        _run_import("people", file, dry_run)
