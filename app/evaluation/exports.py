"""Spreadsheets of the staff reports: evaluations by level (D26, D27) and the three rates per
department (item 6)."""
from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font

LEVEL_LABELS = {"platform": "平台", "town": "乡镇（街道）", "county": "县（区）"}


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def _num(v: float | None):
    return "—" if v is None else v


def _save(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _sheet(wb: Workbook, title: str, heading: str, headers: list[str]):
    ws = wb.active
    ws.title = title
    ws.append([heading])
    ws.append(headers)
    ws["A1"].font = Font(bold=True, size=14)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    return ws


def evaluation_report_xlsx(report: dict) -> bytes:
    wb = Workbook()
    level = LEVEL_LABELS[report["level"]]
    ws = _sheet(wb, "协商评价", f"协商评价汇总（按{level}，{report['date_from']} 至 "
                f"{report['date_to']}）",
                [level, "协商次数", "评价类别", "评价阶段", "评价数", "结果满意度（均分）",
                 "过程满意度（均分）"])
    for g in report["groups"]:
        for row in g["by_kind"]:
            ws.append([g["name"], g["consultations"], row["kind_label"], row["phase_label"],
                       row["count"], _num(row["outcome_mean"]), _num(row["process_mean"])])
        o = g["overall"]
        ws.append([g["name"], g["consultations"], "合计", "", o["count"],
                   _num(o["outcome_mean"]), _num(o["process_mean"])])
    return _save(wb)


def department_rates_xlsx(report: dict) -> bytes:
    wb = Workbook()
    ws = _sheet(wb, "承办部门三率", f"承办部门三率（{report['date_from']} 至 {report['date_to']}，"
                f"响应时限 {report['response_workdays']} 个工作日）",
                ["承办部门", "所属区域", "应响应件数", "按时响应件数", "响应率", "应办结件数",
                 "按期办结件数", "办结率", "其中延期件数", "群众评价数", "满意度（均分）",
                 "满意（4 分及以上）占比"])
    for d in report["departments"]:
        ws.append([d["name"], d["region_name"], d["assigned"], d["responded"],
                   _pct(d["response_rate"]), d["due"], d["resolved"],
                   _pct(d["resolution_rate"]), d["extended"], d["ratings"],
                   _num(d["satisfaction_mean"]), _pct(d["satisfied_share"])])
    return _save(wb)
