"""Evaluation API (D26, D27), model cases and the staff reports (item 5, item 6). Thin: the
rules are in services.py and reports.py; each request commits once."""
from __future__ import annotations

from flask import Blueprint, current_app

from ..api import DOWNLOAD_TYPES, download, endpoint
from ..auth.current import require_person
from ..db import get_session
from . import reports, services
from .exports import department_rates_xlsx, evaluation_report_xlsx
from .schemas import (
    ConsultationEvaluations, DepartmentRatesReport, EvaluationIn, EvaluationOut,
    EvaluationReport, EvaluationReportQuery, ModelCaseIn, ModelCaseList, ModelCaseState,
    MyRatings, PeriodQuery,
)

bp = Blueprint("evaluation", __name__, url_prefix="/api")
TAG = "评价与典型案例"
REPORT_TAG = "统计报表"
REPORTS = "org.reports.view"


@endpoint(bp, "/consultations/<int:consultation_id>/evaluations/<phase>/<kind>",
          methods=("PUT",), summary="提交或修改评价", tags=[TAG], body=EvaluationIn,
          response=EvaluationOut, auth="login")
def put_evaluation(consultation_id: int, phase: str, kind: str, body: EvaluationIn):
    """D27 四类评价（party_government 党政点评 / member 委员评议 / resident 群众评价 /
    organiser 组织者评析），每类对结果和过程各打 1–5 分，可附意见；分两个阶段：after_meeting
    会后评价（协商召开后）、after_feedback 反馈后评价（意见清单全部办结或说明后）。每人每次协商
    每个阶段每类一条，再次提交即修改；内容相同的重复提交原样返回。评分超出 1–5：422；
    无权进行该类评价：403 `not_evaluator`；阶段未开放：409 `phase_not_open`。"""
    session = get_session()
    row = services.evaluate(
        session, actor=require_person(), consultation_id=consultation_id,
        phase=services.parse_phase(phase), kind=services.parse_kind(kind),
        outcome_score=body.outcome_score, process_score=body.process_score,
        comment=body.comment)
    out = EvaluationOut.model_validate(services.evaluation_dict(row))
    session.commit()
    return out


@endpoint(bp, "/consultations/<int:consultation_id>/evaluations", summary="协商评价汇总",
          tags=[TAG], response=ConsultationEvaluations, auth=None)
def consultation_evaluations(consultation_id: int):
    """公开：按评价类别和阶段统计的评价数、结果和过程满意度均分，不含评价人和意见内容。"""
    return ConsultationEvaluations.model_validate(
        services.consultation_summary(get_session(), consultation_id))


@endpoint(bp, "/me/ratings/<int:consultation_id>", summary="我对协商的评价", tags=[TAG],
          response=MyRatings, auth="login")
def my_ratings(consultation_id: int):
    """小程序评价页：两个阶段是否开放、本人的群众评价（可修改），以及本人能否评价。"""
    return MyRatings.model_validate(
        services.my_ratings(get_session(), require_person(), consultation_id))


@endpoint(bp, "/consultations/<int:consultation_id>/model-case", methods=("POST",),
          summary="列为典型案例", tags=[TAG], body=ModelCaseIn, response=ModelCaseState,
          status=201, also=(200,), auth=REPORTS)
def mark_model_case(consultation_id: int, body: ModelCaseIn):
    """D27：管辖该平台的政协工作人员把已召开的协商列为典型案例，须写明理由。已列入时再次提交
    修改理由（200）。"""
    session = get_session()
    row, created = services.mark_model_case(session, actor=require_person(),
                                            consultation_id=consultation_id,
                                            reason=body.reason)
    out = ModelCaseState(consultation_id=row.consultation_id, is_model_case=True,
                         reason=row.reason, marked_at=row.marked_at)
    session.commit()
    return out, 201 if created else 200


@endpoint(bp, "/consultations/<int:consultation_id>/model-case", methods=("DELETE",),
          summary="取消典型案例", tags=[TAG], response=ModelCaseState, auth=REPORTS)
def unmark_model_case(consultation_id: int):
    """取消典型案例；本来就不是典型案例时同样返回 200。"""
    session = get_session()
    services.unmark_model_case(session, actor=require_person(), consultation_id=consultation_id)
    session.commit()
    return ModelCaseState(consultation_id=consultation_id, is_model_case=False)


@endpoint(bp, "/model-cases", summary="典型案例", tags=[TAG], response=ModelCaseList, auth=None)
def model_cases():
    """公开：议题、平台、协商日期、列为典型的理由和评价均分，不含个人信息。"""
    return ModelCaseList(cases=services.model_cases(get_session()))


def _evaluation_report(query: EvaluationReportQuery) -> dict:
    return reports.evaluation_report(get_session(), require_person(), level=query.level,
                                     date_from=query.date_from, date_to=query.date_to,
                                     region_id=query.region_id)


@endpoint(bp, "/reports/evaluations", summary="协商评价汇总（平台 / 乡镇 / 县区）",
          tags=[REPORT_TAG], query=EvaluationReportQuery, response=EvaluationReport,
          auth=REPORTS)
def evaluation_report(query: EvaluationReportQuery):
    """D26：管辖范围内期内召开的协商，按平台、乡镇（街道）或县（区）汇总四类评价两个阶段的
    评价数和均分。默认本年度（北京时间）。Excel 见 `/api/reports/evaluations.xlsx`。"""
    return EvaluationReport.model_validate(_evaluation_report(query))


@endpoint(bp, "/reports/evaluations.xlsx", summary="协商评价汇总 Excel", tags=[REPORT_TAG],
          query=EvaluationReportQuery, auth=REPORTS, produces=DOWNLOAD_TYPES[".xlsx"])
def evaluation_report_file(query: EvaluationReportQuery):
    """与“协商评价汇总”相同的内容，Excel 文件。"""
    return download(evaluation_report_xlsx(_evaluation_report(query)), "协商评价汇总.xlsx")


def _rates(query: PeriodQuery) -> dict:
    return reports.department_rates(
        get_session(), require_person(), date_from=query.date_from, date_to=query.date_to,
        region_id=query.region_id,
        response_workdays=current_app.config["APP"].followup_response_workdays)


@endpoint(bp, "/reports/department-rates", summary="承办部门三率", tags=[REPORT_TAG],
          query=PeriodQuery, response=DepartmentRatesReport, auth=REPORTS)
def department_rates(query: PeriodQuery):
    """管辖范围内每个承办部门期内的响应率（交办后 N 个工作日内报送工作方案，N 为设置
    FOLLOWUP_RESPONSE_WORKDAYS，默认 5）、按期办结率（含经批准的延期）和群众满意度（反馈后
    群众评价的结果满意度均分及 4 分以上占比）。Excel 见 `/api/reports/department-rates.xlsx`。"""
    return DepartmentRatesReport.model_validate(_rates(query))


@endpoint(bp, "/reports/department-rates.xlsx", summary="承办部门三率 Excel", tags=[REPORT_TAG],
          query=PeriodQuery, auth=REPORTS, produces=DOWNLOAD_TYPES[".xlsx"])
def department_rates_file(query: PeriodQuery):
    """与“承办部门三率”相同的内容，Excel 文件。"""
    return download(department_rates_xlsx(_rates(query)), "承办部门三率.xlsx")
