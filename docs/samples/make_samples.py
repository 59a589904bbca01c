"""Build the sample spreadsheets docs/samples/platforms.xlsx and people.xlsx.

Run from the project root: .venv/bin/python docs/samples/make_samples.py
The rows refer to the demo city (`flask --app app seed-demo`), so on a demo database
`import-platforms docs/samples/platforms.xlsx` then `import-people docs/samples/people.xlsx`
import without errors. Column headers come from app/org/imports.py, so they cannot drift.
"""
from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from openpyxl import Workbook  # noqa: E402
from openpyxl.styles import Font, PatternFill  # noqa: E402

from app.org.imports import PEOPLE_COLUMNS, PLATFORM_COLUMNS  # noqa: E402

PLATFORMS = [
    {"平台类型": "委员协商联系点", "承载单位类型": "村", "所属区域编码": "329901003004",
     "原有名称": "岗埠说事点", "地址": "海州湾市海滨区锦屏镇岗埠村村部", "纬度": 34.5521,
     "经度": 119.1893, "召集人姓名": "周立新", "召集人手机号": "13905180001",
     "有组织": "是", "有制度": "是", "有场所": "否：暂借村委会会议室", "有标识": "否：统一标识牌已订制，待安装",
     "有活动": "是", "有成效": "是", "核查日期": datetime(2025, 3, 18)},
    {"平台类型": "协商议事室", "承载单位类型": "界别", "所属区域编码": "329901", "界别": "农业界",
     "地址": "海州湾市海滨区农业农村局三楼", "纬度": 34.6012, "经度": 119.2011,
     "有组织": "是", "有制度": "是", "有场所": "是", "有标识": "是", "有活动": "是：本年度已开展2次",
     "有成效": "是", "核查日期": datetime(2025, 3, 18)},
    {"平台类型": "协商议事室", "承载单位类型": "企事业单位", "所属区域编码": "329903",
     "企事业单位名称": "东沭县中医院", "地址": "海州湾市东沭县牛山街道和平东路", "有组织": "是",
     "有制度": "否：议事规则待院党委审定"},
    {"平台类型": "流动协商议事室", "承载单位类型": "乡镇（街道、园区）", "所属区域编码": "329902002",
     "服务单位编码": "329902002002、329902002003、329902002004"},
]

PEOPLE = [
    {"姓名": "周立新", "手机号": "13905180001", "所属区域编码": "329901003004", "角色": "召集人",
     "角色范围类型": "平台", "角色范围": "岗埠村“有事好商量”委员协商联系点"},
    {"姓名": "陈海燕", "手机号": "13905180002", "所属区域编码": "329901001", "角色": "政协委员",
     "角色范围类型": "区域", "角色范围": "329901", "界别": "农业界", "委员层级": "县（区）",
     "履职小组": "海滨区政协第一履职小组",
     "关联平台": "海滨区政协农业界“有事好商量”协商议事室、岗埠村“有事好商量”委员协商联系点"},
    {"姓名": "刘建国", "手机号": "13905180003", "所属区域编码": "329901003004", "角色": "群众"},
    {"姓名": "孙丽", "手机号": "13905180004", "所属区域编码": "329901003", "角色": "联络员",
     "角色范围类型": "机构", "角色范围": "政协海州湾市海滨区委员会锦屏镇工作委员会"},
    {"姓名": "王涛", "手机号": "13905180005", "所属区域编码": "329901", "角色": "承办部门经办人",
     "角色范围类型": "机构", "角色范围": "海滨区住房和城乡建设局"},
    {"姓名": "赵敏", "手机号": "13905180006", "所属区域编码": "329901", "角色": "政协工作人员",
     "角色范围类型": "区域", "角色范围": "329901"},
    {"姓名": "钱文博", "手机号": "13905180007", "所属区域编码": "329903002", "角色": "政协委员",
     "角色范围类型": "区域", "角色范围": "329903", "界别": "农业界", "履职小组": "东沭县政协第二履职小组",
     "关联平台": "东沭县中医院“有事好商量”协商议事室"},
]


def build(path: Path, columns, rows) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "导入"
    headers = [c.header for c in columns]
    ws.append(headers)
    for cell, col in zip(ws[1], columns):
        cell.font = Font(bold=True)
        if col.required:
            cell.fill = PatternFill("solid", fgColor="FFF2CC")  # required columns highlighted
    for row in rows:
        unknown = set(row) - set(headers)
        assert not unknown, unknown
        ws.append([row.get(h) for h in headers])
    for col in ws.columns:
        ws.column_dimensions[col[0].column_letter].width = 18
    ws.freeze_panes = "A2"
    wb.properties.creator = "有事好商量"
    # Fixed document dates (the zip entries still carry the build time).
    wb.properties.created = wb.properties.modified = datetime(2025, 1, 1)
    wb.save(path)


if __name__ == "__main__":
    build(HERE / "platforms.xlsx", PLATFORM_COLUMNS, PLATFORMS)
    build(HERE / "people.xlsx", PEOPLE_COLUMNS, PEOPLE)
    print("已生成 docs/samples/platforms.xlsx、docs/samples/people.xlsx")
