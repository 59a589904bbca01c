"""The organisation API (thin): public regions and platforms, staff reports, six musts, members."""
from __future__ import annotations

from flask import Blueprint

from ..api import endpoint
from ..auth.current import require_person
from ..auth.permissions import get_platform_or_404
from ..db import get_session
from ..errors import ValidationFailed
from . import reports, services
from .models import SixMust
from .rules import six_musts_required
from .schemas import (
    CheckResult, CheckUpdate, ConvenorsReportOut, CoverageReportOut, MemberLinkResult,
    MemberLinksReportOut, PlatformDetail, PlatformListQuery, PlatformPage, RegionList, RegionQuery,
    ReportQuery, SixMustsReportOut,
)

bp = Blueprint("org", __name__, url_prefix="/api")

MANAGE = "platform.manage"
REPORTS = "org.reports.view"


@endpoint(bp, "/regions", summary="区域列表（树）", tags=["区域与平台"], query=RegionQuery,
          response=RegionList, auth=None)
def regions(query: RegionQuery):
    """某区域的下级区域（不填 parent_id 则为最上级），depth 指定展开层数。公开：仅名称与类型。"""
    items = services.list_regions(get_session(), query.parent_id, query.depth)
    return RegionList.model_validate({"items": items})


@endpoint(bp, "/platforms", summary="平台列表 / 附近的平台", tags=["区域与平台"],
          query=PlatformListQuery, response=PlatformPage, auth=None)
def platforms(query: PlatformListQuery):
    """在用的协商议事平台。region_id 含其下所有区域；给出 near=纬度,经度 时按距离由近到远排列
    （radius_km 以内）。分页：把返回的 next_cursor 作为下一次请求的 cursor。不含任何个人信息。"""
    point = query.near_point()
    near = services.NearPoint(point[0], point[1], query.radius_km) if point else None
    items, next_cursor = services.list_platforms(
        get_session(), region_id=query.region_id, kind=query.kind, host_type=query.host_type,
        near=near, limit=query.limit, cursor=query.cursor)
    return PlatformPage.model_validate({"items": items, "next_cursor": next_cursor})


@endpoint(bp, "/platforms/<int:platform_id>", summary="平台详情", tags=["区域与平台"],
          response=PlatformDetail, auth=None)
def platform_detail(platform_id: int):
    """公开信息：名称、副标识、类型、承载单位、地址与坐标、“六有”情况、联系委员人数；
    召集人只显示角色与脱敏姓名，不显示电话。"""
    return PlatformDetail.model_validate(services.platform_detail(get_session(), platform_id))


# --- staff: six musts and members --------------------------------------------------------------

def _must(value: str) -> SixMust:
    try:
        return SixMust(value)
    except ValueError:
        raise ValidationFailed("must：取值不在允许范围内", details=[
            {"field": "must", "message": "取值不在允许范围内"}]) from None


@endpoint(bp, "/platforms/<int:platform_id>/checks/<must>", methods=("PUT",),
          summary="更新“六有”中的一项", tags=["平台管理"], body=CheckUpdate,
          response=CheckResult, auth=MANAGE)
def update_check(platform_id: int, must: str, body: CheckUpdate):
    """must 取 organisation / rules / venue / signage / activities / results（有组织、有制度、
    有场所、有标识、有活动、有成效）。限本区域工作人员或该平台召集人；记录审计日志。"""
    which = _must(must)
    session = get_session()
    person = require_person()
    platform = get_platform_or_404(session, platform_id, person, MANAGE)
    services.update_platform_check(session, actor=person, platform=platform, must=which,
                                   is_met=body.is_met, evidence=body.evidence,
                                   checked_on=body.checked_on)
    status = services.load_six_musts(session, platform.id)
    session.commit()
    return CheckResult.model_validate({
        "platform_id": platform.id, "must": which.value,
        "six_musts": services.six_musts_dict(
            status, with_evidence=True, required=six_musts_required(platform.kind))})


@endpoint(bp, "/platforms/<int:platform_id>/members/<int:person_id>", methods=("POST",),
          summary="联系政协委员到平台", tags=["平台管理"], response=MemberLinkResult, status=201,
          also=(200,), auth=MANAGE)
def link_member(platform_id: int, person_id: int):
    """把一名政协委员联系到本平台（每个平台至少联系一名委员）。新建返回 201，已联系返回 200。"""
    session = get_session()
    person = require_person()
    platform = get_platform_or_404(session, platform_id, person, MANAGE)
    created, count = services.link_platform_member(session, actor=person, platform=platform,
                                                   person_id=person_id)
    session.commit()
    result = MemberLinkResult(platform_id=platform.id, person_id=person_id, linked=True,
                              member_count=count)
    return result, (201 if created else 200)


@endpoint(bp, "/platforms/<int:platform_id>/members/<int:person_id>", methods=("DELETE",),
          summary="取消委员与平台的联系", tags=["平台管理"], response=MemberLinkResult,
          auth=MANAGE)
def unlink_member(platform_id: int, person_id: int):
    """取消联系；若平台因此没有联系委员，返回 warning 提醒尽快补充。"""
    session = get_session()
    person = require_person()
    platform = get_platform_or_404(session, platform_id, person, MANAGE)
    count = services.unlink_platform_member(session, actor=person, platform=platform,
                                            person_id=person_id)
    session.commit()
    return MemberLinkResult(
        platform_id=platform.id, person_id=person_id, linked=False, member_count=count,
        warning=None if count else "该平台已没有联系的政协委员，请尽快补充")


# --- staff reports -----------------------------------------------------------------------------

@endpoint(bp, "/reports/coverage", summary="平台覆盖情况（全覆盖）", tags=["统计报表"],
          query=ReportQuery, response=CoverageReportOut, auth=REPORTS)
def coverage_report(query: ReportQuery):
    """没有任何平台服务的单位、尚未建成议事室的乡镇（街道、园区）、只有轻量平台的具备条件单位，
    以及各县区、乡镇的覆盖率。限管辖范围。"""
    data = reports.coverage_report(get_session(), require_person(), query.region_id)
    return CoverageReportOut.model_validate(data)


@endpoint(bp, "/reports/member-links", summary="未联系委员的平台", tags=["统计报表"],
          query=ReportQuery, response=MemberLinksReportOut, auth=REPORTS)
def member_links_report(query: ReportQuery):
    """每个平台至少联系一名政协委员；列出尚未联系委员的平台。限管辖范围。"""
    data = reports.member_links_report(get_session(), require_person(), query.region_id)
    return MemberLinksReportOut.model_validate(data)


@endpoint(bp, "/reports/six-musts", summary="“六有”未达标的议事室", tags=["统计报表"],
          query=ReportQuery, response=SixMustsReportOut, auth=REPORTS)
def six_musts_report(query: ReportQuery):
    """未全部达到“六有”（或缺佐证、超过 12 个月未复核）以及未使用统一名称的议事室。限管辖范围。"""
    data = reports.six_musts_report(get_session(), require_person(), query.region_id)
    return SixMustsReportOut.model_validate(data)


@endpoint(bp, "/reports/convenors", summary="召集人配备情况", tags=["统计报表"],
          query=ReportQuery, response=ConvenorsReportOut, auth=REPORTS)
def convenors_report(query: ReportQuery):
    """召集人缺失、不是规定人选或应任人选未登记的平台。限管辖范围。"""
    data = reports.convenors_report(get_session(), require_person(), query.region_id)
    return ConvenorsReportOut.model_validate(data)
