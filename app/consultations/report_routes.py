"""Consultation figures: D25 frequency and the D29/D30 member ledger (with its spreadsheet for
the annual assessment). Thin: the queries are in reports.py."""
from __future__ import annotations

from flask import Blueprint

from ..api import DOWNLOAD_TYPES, download, endpoint
from ..auth.current import require_person
from ..db import get_session
from . import reports
from .exports import member_ledger_xlsx
from .schemas import FrequencyReport, MemberLedger, MembersLedger, YearQuery

bp = Blueprint("consultation_reports", __name__, url_prefix="/api")
REPORTS = "org.reports.view"
TAG = "统计报表"

@endpoint(bp, "/reports/consultation-frequency", summary="协商频次（每年至少 2 次）", tags=[TAG],
          query=YearQuery, response=FrequencyReport, auth=REPORTS)
def frequency(query: YearQuery):
    """D25：每个平台每年至少开展 2 次协商。列出管辖范围内每个平台本年度已召开的次数、不足 2 次的
    平台，以及各县区的汇总；另列出管辖范围内报送受阻的意见清单（接收机构没有在岗的审核人：
    无人接收）。"""
    return FrequencyReport.model_validate(reports.frequency_report(
        get_session(), require_person(), year=query.year, region_id=query.region_id))


@endpoint(bp, "/members/<int:person_id>/ledger", summary="委员履职台账", tags=[TAG],
          query=YearQuery, response=MemberLedger, auth="login")
def ledger(person_id: int, query: YearQuery):
    """D29/D30：委员本人或管辖范围内的政协工作人员查看：受邀、答复、到场、调研、发言、意见。"""
    return MemberLedger.model_validate(reports.member_ledger(
        get_session(), require_person(), person_id=person_id, year=query.year))


@endpoint(bp, "/reports/member-ledger", summary="委员履职台账（汇总）", tags=[TAG],
          query=YearQuery, response=MembersLedger, auth=REPORTS)
def members_ledger(query: YearQuery):
    """管辖范围内全部政协委员本年度的参与情况，用于年度履职考核（D30）；导出 Excel 见
    `/api/reports/member-ledger.xlsx`。"""
    return MembersLedger.model_validate(reports.members_ledger(
        get_session(), require_person(), year=query.year, region_id=query.region_id))


@endpoint(bp, "/reports/member-ledger.xlsx", summary="委员履职台账（汇总）Excel", tags=[TAG],
          query=YearQuery, auth=REPORTS, produces=DOWNLOAD_TYPES[".xlsx"])
def members_ledger_xlsx(query: YearQuery):
    """与“委员履职台账（汇总）”相同的内容，Excel 文件。"""
    data = reports.members_ledger(get_session(), require_person(), year=query.year,
                                  region_id=query.region_id)
    return download(member_ledger_xlsx(query.year, data["members"], reports.LEDGER_COLUMNS),
                    f"{query.year}年委员履职台账.xlsx")
