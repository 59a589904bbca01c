"""Spreadsheet imports: good rows in, bad rows reported (Excel row numbers, Chinese reasons),
each row all-or-nothing, re-import idempotent, hostile cells handled, CLI exit codes."""
from __future__ import annotations

import csv
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

import app.org.imports as imports_module
from app.audit.models import AuditEntry
from app.crypto import get_cipher
from app.org import factories as f
from app.org.import_sheet import FileRejected, RowInvalid, error_file_path, write_error_file
from app.org.imports import import_people, import_platforms
from app.org.models import (
    BodyKind, HostType, Person, Platform, PlatformCheck, PlatformKind, PlatformMember,
    PlatformServedUnit, Role, RoleAssignment, Sector, SixMust,
)

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
P_HEAD = ["平台类型", "承载单位类型", "所属区域编码", "企事业单位名称", "平台名称", "地址", "纬度",
          "经度", "召集人姓名", "召集人手机号", "服务单位编码", "有组织", "有场所"]
H_HEAD = ["姓名", "手机号", "所属区域编码", "角色", "角色范围类型", "角色范围", "界别", "委员层级",
          "履职小组", "关联平台"]


def xlsx(path: Path, headers: list, rows: list[list]) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def prow(**cells) -> list:
    return [cells.get(h) for h in P_HEAD]


def hrow(**cells) -> list:
    return [cells.get(h) for h in H_HEAD]


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def org(session):
    city = f.create_region(session, code="3299", name="海州湾市", kind="city")
    county = f.create_region(session, code="329901", name="海滨区", kind="district", parent=city)
    other = f.create_region(session, code="329902", name="云台区", kind="district", parent=city)
    town = f.create_region(session, code="329901003", name="锦屏镇", kind="township",
                           parent=county)
    far_town = f.create_region(session, code="329902002", name="宿城乡", kind="township",
                               parent=other)
    v1 = f.create_region(session, code="329901003001", name="新坝村", kind="village", parent=town)
    v2 = f.create_region(session, code="329901003002", name="桃李村", kind="village", parent=town)
    c1 = f.create_region(session, code="329901003005", name="锦屏社区", kind="community",
                         parent=town)
    far = f.create_region(session, code="329902002001", name="宿城村", kind="village",
                          parent=far_town)
    cppcc = f.create_body(session, name="政协海滨区委员会", kind=BodyKind.cppcc, region=county)
    f.create_body(session, name="政协海滨区委员会锦屏镇工作委员会",
                  kind=BodyKind.cppcc_work_committee, region=town, parent=cppcc)
    f.create_body(session, name="海滨区住房和城乡建设局", kind=BodyKind.department, region=county)
    f.create_sector(session, name="教育界", region=county)
    room = f.create_platform(session, kind="room", host_type="town", region=town)
    session.commit()
    return {"county": county, "town": town, "v1": v1, "v2": v2, "c1": c1, "far": far,
            "room": room}


def test_platforms_good_rows_imported_bad_rows_reported(session, org, tmp_path):
    path = xlsx(tmp_path / "平台.xlsx", P_HEAD, [
        prow(平台类型="协商议事室", 承载单位类型="村", 所属区域编码="329901003001",
             地址="锦屏镇新坝村党群服务中心", 纬度=34.55, 经度=119.19, 召集人姓名="周立新",
             召集人手机号="139 0518 0001", 有组织="是", 有场所="否：借用村委会会议室"),
        prow(平台类型="联合协商议事室", 承载单位类型="村", 所属区域编码=329901003002,  # a number
             服务单位编码="329901003005、329901003001"),
        prow(平台类型="协商议事室", 承载单位类型="村", 所属区域编码="999999"),                 # 4
        prow(平台类型="议事厅", 承载单位类型="村", 所属区域编码="329901003001"),              # 5
        prow(平台类型="协商议事室", 承载单位类型="社区", 所属区域编码="329901003005",
             服务单位编码="329901003001"),                                                   # 6
        prow(平台类型="协商议事室", 承载单位类型="企事业单位", 所属区域编码="329901003"),    # 7
        prow(平台类型="协商议事室", 承载单位类型="社区", 所属区域编码="329901003005",
             纬度=119.19, 经度=34.55),                                                        # 8
        prow(平台类型="协商议事室", 承载单位类型="社区", 所属区域编码="329901003005",
             地址="=cmd|' /C calc'!A0"),                                                      # 9
        prow(平台类型="协商议事室", 承载单位类型="村", 所属区域编码="329901003001"),          # 10
        prow(平台类型="协商议事室", 承载单位类型="社区", 所属区域编码="329901003005",
             召集人姓名="钱某", 召集人手机号="12345"),                                        # 11
        prow(平台类型="协商议事室", 承载单位类型="社区", 所属区域编码="329901003005",
             平台名称="百姓议事厅"),                                                          # 12
        prow(平台类型="联合协商议事室", 承载单位类型="社区", 所属区域编码="329901003005",
             服务单位编码="329902002001"),                                                    # 13
        prow(),                                                                              # blank
        prow(平台类型="协商议事室", 承载单位类型="村", 所属区域编码="329901003001",
             有组织="也许"),                                                                  # 15
    ])
    report = import_platforms(session, path)
    session.commit()
    assert (report.rows, report.created, report.updated, report.unchanged) == (13, 2, 0, 0)
    reasons = {e.row: e.message for e in report.errors}
    assert sorted(reasons) == [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15]
    assert "999999 不存在" in reasons[4]
    assert "「平台类型」" in reasons[5] and "委员协商联系点" in reasons[5]
    assert "服务单位编码" in reasons[6]
    assert "企事业单位名称" in reasons[7]
    assert "纬度" in reasons[8] and "填反" in reasons[8]
    assert "公式" in reasons[9]
    assert reasons[10] == "与第 2 行重复"
    assert "手机号" in reasons[11]
    assert "统一名称" in reasons[12] and "D4" in reasons[12]
    assert "不在本平台所在县区" in reasons[13]
    assert "「有组织」" in reasons[15]

    platforms = {p.region.code: p for p in session.scalars(
        select(Platform).where(Platform.id != org["room"].id))}
    assert set(platforms) == {"329901003001", "329901003002"}
    room = platforms["329901003001"]
    assert room.name == "新坝村“有事好商量”协商议事室" and room.latitude == 34.55
    convenor = session.get(Person, room.convenor_id)
    assert convenor.name == "周立新"
    assert convenor.phone_hash == get_cipher().lookup_hash("13905180001")
    assert session.scalar(select(RoleAssignment.id).where(
        RoleAssignment.person_id == convenor.id, RoleAssignment.role == Role.convenor,
        RoleAssignment.platform_id == room.id))
    checks = {c.must: c for c in session.scalars(
        select(PlatformCheck).where(PlatformCheck.platform_id == room.id))}
    assert set(checks) == {SixMust.organisation, SixMust.venue}  # D3: only what was given
    assert checks[SixMust.organisation].is_met and not checks[SixMust.venue].is_met
    assert checks[SixMust.venue].evidence == "借用村委会会议室"
    joint = platforms["329901003002"]
    assert joint.kind is PlatformKind.joint
    served = set(session.scalars(select(PlatformServedUnit.region_id).where(
        PlatformServedUnit.platform_id == joint.id)))
    assert served == {org["c1"].id, org["v1"].id}
    # Only the good row's convenor was created: the bad-phone row left no person behind.
    assert count(session, Person) == 1

    assert write_error_file(path, report) == error_file_path(path)  # what the CLI writes
    with error_file_path(path).open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["行号", "错误原因"]
    assert [int(r[0]) for r in rows[1:]] == sorted(reasons)
    assert report.error_file == str(error_file_path(path))


def test_people_rows_are_all_or_nothing(session, org, tmp_path):
    room_name = org["room"].name
    path = xlsx(tmp_path / "people.xlsx", H_HEAD, [
        hrow(姓名="甲一", 手机号="13900000002", 角色="联络员", 角色范围类型="机构",
             角色范围="不存在的机构"),
        hrow(姓名="乙二", 手机号="13900000003", 角色="政协委员", 角色范围类型="区域",
             角色范围="329901"),
        hrow(姓名="丙三", 手机号=13900000004, 所属区域编码="329901003", 角色="政协委员",
             角色范围类型="区域", 角色范围=329901, 界别="教育界", 委员层级="县（区）",
             履职小组="第一履职小组", 关联平台=room_name),
        hrow(姓名="丁四", 手机号="13900000004", 角色="群众", 所属区域编码="329901003001"),
        hrow(姓名="戊五", 手机号="13900000005", 角色="系统管理员", 角色范围类型="区域",
             角色范围="3299"),
        hrow(姓名="己六", 手机号="13900000006", 角色="群众"),
        hrow(姓名="庚七", 手机号="13900000007", 角色="承办部门经办人", 角色范围类型="机构",
             角色范围="政协海滨区委员会锦屏镇工作委员会"),
        hrow(姓名="辛八", 手机号="13900000008", 所属区域编码="329901003", 角色="召集人",
             角色范围类型="平台", 角色范围=room_name),
        hrow(姓名="壬九", 手机号="13900000009", 角色="群众", 所属区域编码="329901003001",
             界别="教育界"),
        hrow(姓名="癸十", 手机号="13900000010", 所属区域编码="329901003002", 角色="群众"),
    ])
    report = import_people(session, path)
    session.commit()
    reasons = {e.row: e.message for e in report.errors}
    assert sorted(reasons) == [2, 3, 5, 6, 7, 8, 10]
    assert "不存在的机构" in reasons[2]
    assert "界别" in reasons[3]
    assert "丙*" in reasons[5] and "不一致" in reasons[5]  # masked, never the full name
    assert "系统管理员" not in reasons[6].split("可选")[1]  # admin cannot be imported
    assert "所属区域编码" in reasons[7]
    assert "政府部门" in reasons[8]
    assert "只有角色为“政协委员”" in reasons[10]
    assert report.created == 3
    # Neither the person nor the role of a refused row exists.
    assert sorted(session.scalars(select(Person.name))) == sorted(["丙三", "辛八", "癸十"])
    member = session.scalar(select(Person).where(Person.name == "丙三"))
    ra = session.scalar(select(RoleAssignment).where(RoleAssignment.person_id == member.id))
    assert ra.role is Role.member and ra.region_id == org["county"].id
    assert session.get(Sector, ra.sector_id).name == "教育界" and ra.duty_group_id is not None
    assert ra.member_level.value == "county"
    assert any("第一履职小组" in n for n in report.notes)
    assert session.scalar(select(PlatformMember.id).where(
        PlatformMember.person_id == member.id, PlatformMember.platform_id == org["room"].id))
    convenor = session.scalar(select(Person).where(Person.name == "辛八"))
    assert session.get(Platform, org["room"].id).convenor_id == convenor.id  # D28 role set
    resident = session.scalar(select(Person).where(Person.name == "癸十"))
    assert session.scalar(select(RoleAssignment.region_id).where(
        RoleAssignment.person_id == resident.id)) == org["v2"].id


def test_failure_after_writes_rolls_the_row_back(session, org, tmp_path, monkeypatch):
    """A row that fails after its person and role were written leaves neither (savepoint)."""
    original = imports_module._person_row

    def failing_on_second(s, values, notes, cipher):
        key, outcome = original(s, values, notes, cipher)
        if values["name"] == "乙二":
            assert s.scalar(select(Person.id).where(Person.name == "乙二"))  # written...
            raise RowInvalid("模拟失败")
        return key, outcome

    monkeypatch.setattr(imports_module, "_person_row", failing_on_second)
    path = xlsx(tmp_path / "p.xlsx", H_HEAD, [
        hrow(姓名="甲一", 手机号="13900000001", 所属区域编码="329901003001", 角色="群众"),
        hrow(姓名="乙二", 手机号="13900000002", 所属区域编码="329901003001", 角色="群众"),
        hrow(姓名="丙三", 手机号="13900000003", 所属区域编码="329901003001", 角色="群众"),
    ])
    report = import_people(session, path)
    session.commit()
    assert [(e.row, e.message) for e in report.errors] == [(3, "模拟失败")]
    assert sorted(session.scalars(select(Person.name))) == ["丙三", "甲一"]  # ...and undone
    assert count(session, RoleAssignment) == 2


def test_crash_mid_file_writes_nothing(app, session, org, tmp_path, monkeypatch):
    original = imports_module._person_row

    def crash_on_third(s, values, notes, cipher):
        if values["name"] == "丙三":
            raise RuntimeError("disk on fire")
        return original(s, values, notes, cipher)

    monkeypatch.setattr(imports_module, "_person_row", crash_on_third)
    path = xlsx(tmp_path / "p.xlsx", H_HEAD, [
        hrow(姓名=n, 手机号=f"1390000000{i}", 所属区域编码="329901003001", 角色="群众")
        for i, n in enumerate(["甲一", "乙二", "丙三"], start=1)])
    result = app.test_cli_runner().invoke(args=["import-people", str(path)])
    assert result.exit_code == 3
    assert "未写入任何数据" in result.output
    session.expire_all()
    assert count(session, Person) == 0 and count(session, RoleAssignment) == 0


def test_reimport_changes_nothing_then_updates_what_changed(session, org, tmp_path):
    prows = [prow(平台类型="协商议事室", 承载单位类型="村", 所属区域编码="329901003001",
                  地址="新坝村村部", 召集人姓名="周立新", 召集人手机号="13905180001",
                  有组织="是", 有场所="否：借用会议室"),
             prow(平台类型="流动协商议事室", 承载单位类型="乡镇（街道、园区）",
                  所属区域编码="329901003", 服务单位编码="329901003002")]
    hrows = [hrow(姓名="丙三", 手机号="13900000004", 角色="政协委员", 角色范围类型="区域",
                  角色范围="329901", 界别="教育界", 关联平台=org["room"].name),
             hrow(姓名="周立新", 手机号="13905180001", 所属区域编码="329901003001", 角色="群众")]
    p_path = xlsx(tmp_path / "p.xlsx", P_HEAD, prows)
    h_path = xlsx(tmp_path / "h.xlsx", H_HEAD, hrows)
    first = (import_platforms(session, p_path), import_people(session, h_path))
    session.commit()
    assert [r.created for r in first] == [2, 2] and all(r.ok for r in first)
    models = [Platform, Person, RoleAssignment, PlatformCheck, PlatformMember,
              PlatformServedUnit, Sector]
    before = [count(session, m) for m in models]
    audit_before = session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.object_type != "import"))
    second = (import_platforms(session, p_path), import_people(session, h_path))
    session.commit()
    assert [(r.created, r.updated, r.unchanged, r.failed) for r in second] == [
        (0, 0, 2, 0), (0, 0, 2, 0)]
    assert [count(session, m) for m in models] == before
    assert session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.object_type != "import")) == audit_before

    prows[0][P_HEAD.index("地址")] = "新坝村新村部"
    prows[0][P_HEAD.index("有场所")] = "是"
    third = import_platforms(session, xlsx(tmp_path / "p2.xlsx", P_HEAD, prows))
    session.commit()
    assert (third.created, third.updated, third.unchanged) == (0, 1, 1)
    room = session.scalar(select(Platform).where(Platform.region_id == org["v1"].id))
    assert room.venue_address == "新坝村新村部"
    venue = session.scalar(select(PlatformCheck).where(
        PlatformCheck.platform_id == room.id, PlatformCheck.must == SixMust.venue))
    assert venue.is_met and venue.evidence is None
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "import.platform.update"))
    assert entry.before["venue_address"] == "新坝村村部"
    assert entry.after["venue_address"] == "新坝村新村部"


def test_hostile_and_mistyped_cells_are_reported_not_crashed(session, org, tmp_path):
    path = xlsx(tmp_path / "h.xlsx", H_HEAD, [
        hrow(姓名="张" * 10_000, 手机号="13900000001"),
        hrow(姓名="=HYPERLINK(\"http://x\",\"点我\")", 手机号="13900000002"),
        hrow(姓名="@SUM(1+1)*cmd|' /C calc'!A0", 手机号="13900000003"),
        hrow(姓名="-2+3", 手机号="13900000004"),
        hrow(姓名="李四", 手机号=datetime(2024, 1, 1)),
        hrow(姓名="李四", 手机号=True),
        hrow(姓名=12345, 手机号="13900000005"),
        hrow(姓名="王\t五", 手机号="13900000006"),
        hrow(姓名="赵六", 手机号="13900000007", 角色="群众", 角色范围类型="区域",
             角色范围=329901.5),
        hrow(姓名="孙七", 手机号="1" * 5000),
        hrow(姓名="周八", 手机号="13900000008", 所属区域编码="329901003001", 角色="群众",
             角色范围类型="区域", 角色范围="329901003001' OR '1'='1"),
        hrow(姓名="吴九", 手机号="+86 139-0000-0009", 所属区域编码=329901003001, 角色="群众"),
    ])
    report = import_people(session, path)
    session.commit()
    reasons = {e.row: e.message for e in report.errors}
    assert sorted(reasons) == list(range(2, 13))
    assert "过长" in reasons[2]
    assert "公式" in reasons[3]
    assert "不能以" in reasons[4] and "不能以" in reasons[5]
    assert "手机号" in reasons[6] and "手机号" in reasons[7] and "手机号" in reasons[11]
    assert "应为文字" in reasons[8] and "应为文字" in reasons[10]
    assert "控制字符" in reasons[9]
    assert "不存在" in reasons[12]
    assert all(len(m) < 200 for m in reasons.values())  # nothing echoed back at length
    # The well-formed row with an international prefix and numeric code got in.
    assert session.scalars(select(Person.name)).all() == ["吴九"]
    write_error_file(path, report)
    with error_file_path(path).open(encoding="utf-8-sig") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)

    p_path = xlsx(tmp_path / "p.xlsx", P_HEAD, [
        prow(平台类型="协商议事室", 承载单位类型="村", 所属区域编码="329901003001", 纬度="abc"),
        prow(平台类型="协商议事室", 承载单位类型="村", 所属区域编码="329901003001",
             经度="1e999"),
        prow(平台类型=True, 承载单位类型="村", 所属区域编码="329901003001"),
        prow(平台类型="协商议事室", 承载单位类型="村", 所属区域编码="329901003001",
             地址="路" * 300),
    ])
    p_report = import_platforms(session, p_path)
    assert [e.row for e in p_report.errors] == [2, 3, 4, 5] and p_report.created == 0


def test_unreadable_files_are_refused_whole(session, org, tmp_path):
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("姓名,手机号\n张三,13900000001\n", encoding="utf-8")
    with pytest.raises(FileRejected, match="xlsx"):
        import_people(session, csv_file)
    garbage = tmp_path / "people.xlsx"
    garbage.write_bytes(b"PK\x03\x04 not really a zip" * 10)
    with pytest.raises(FileRejected, match="无法读取"):
        import_people(session, garbage)
    missing = xlsx(tmp_path / "m.xlsx", ["姓名", "电话"], [["张三", "13900000001"]])
    with pytest.raises(FileRejected, match="缺少必填列：手机号"):
        import_people(session, missing)
    twice = xlsx(tmp_path / "t.xlsx", ["姓名", "手机号", "姓名"], [["张三", "13900000001", "李"]])
    with pytest.raises(FileRejected, match="两次"):
        import_people(session, twice)
    assert count(session, Person) == 0


def damaged(path: Path) -> Path:
    """A real .xlsx whose sheet XML is cut off half-way (a broken download or USB copy): the
    zip and the workbook open, the rows fail while being read."""
    import zipfile

    rebuilt = path.with_name("damaged-" + path.name)
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(rebuilt, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) * 2 // 3]
            dst.writestr(item, data)
    return rebuilt


def test_a_damaged_sheet_is_refused_whole_with_exit_2(app, session, org, tmp_path):
    rows = [hrow(姓名=f"居民{i:03d}", 手机号=f"139{i:08d}", 所属区域编码="329901003001", 角色="群众")
            for i in range(60)]
    path = damaged(xlsx(tmp_path / "people.xlsx", H_HEAD, rows))
    with pytest.raises(FileRejected, match="文件内容已损坏"):
        import_people(session, path)
    session.rollback()
    result = app.test_cli_runner().invoke(args=["import-people", str(path)])
    assert result.exit_code == 2, result.output
    assert "文件未导入" in result.output and "重新保存" in result.output
    assert count(session, Person) == 0


def test_cli_exit_codes_error_file_and_dry_run(app, session, org, tmp_path):
    runner = app.test_cli_runner()
    good = hrow(姓名="甲一", 手机号="13900000001", 所属区域编码="329901003001", 角色="群众")
    bad = hrow(姓名="乙二", 手机号="123", 所属区域编码="329901003001", 角色="群众")
    path = xlsx(tmp_path / "people.xlsx", H_HEAD, [good, bad])

    dry = runner.invoke(args=["import-people", str(path), "--dry-run"])
    assert dry.exit_code == 1 and "试运行" in dry.output
    assert count(session, Person) == 0
    session.rollback()  # end the read (SQLite: BEGIN IMMEDIATE holds the write lock)

    result = runner.invoke(args=["import-people", str(path)])
    assert result.exit_code == 1, result.output
    assert "共 2 行：新增 1" in result.output and "第 3 行：「手机号」格式不正确" in result.output
    errors = error_file_path(path)
    assert errors.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel shows Chinese
    assert "3," in errors.read_text(encoding="utf-8-sig")
    assert session.scalars(select(Person.name)).all() == ["甲一"]
    session.rollback()

    xlsx(path, H_HEAD, [good, hrow(姓名="乙二", 手机号="13900000002",
                                   所属区域编码="329901003001", 角色="群众")])
    fixed = runner.invoke(args=["import-people", str(path)])
    assert fixed.exit_code == 0, fixed.output
    assert "新增 1，更新 0，无变化 1，失败 0" in fixed.output
    assert not errors.exists()  # a stale report is removed

    rejected = runner.invoke(args=["import-platforms", str(tmp_path / "nope.xlsx")])
    assert rejected.exit_code == 2 and "找不到文件" in rejected.output


def test_committed_samples_import_cleanly_into_the_demo_city(session, tmp_path):
    from app.org.demo import seed_demo

    seed_demo(session)
    session.commit()
    for name in ("platforms.xlsx", "people.xlsx"):
        shutil.copy(SAMPLES / name, tmp_path / name)
    first = [import_platforms(session, tmp_path / "platforms.xlsx"),
             import_people(session, tmp_path / "people.xlsx")]
    session.commit()
    assert [r.errors for r in first] == [[], []]
    assert first[0].created >= 3 and first[1].created >= 5
    # The sample's contact point closes one of the demo's D2 gaps.
    point = session.scalar(select(Platform).where(Platform.name.like("岗埠村%")))
    assert point.kind is PlatformKind.contact_point and point.host_type is HostType.village
    again = [import_platforms(session, tmp_path / "platforms.xlsx"),
             import_people(session, tmp_path / "people.xlsx")]
    assert [(r.created, r.updated, r.failed) for r in again] == [(0, 0, 0), (0, 0, 0)]
