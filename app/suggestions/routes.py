"""Suggestion API: propose (with photos), the detail, similar suggestions, solicitation campaigns,
and photo upload/serving. Thin: the rules live in services.py, safety.py and uploads.py; each
request commits once."""
from __future__ import annotations

import functools

from flask import Blueprint, request, send_file
from sqlalchemy import select

from ..api import endpoint
from ..auth import ratelimit

from ..auth.current import current_person, require_person
from ..db import get_session
from ..errors import RateLimited
from ..idempotency import idempotent
from ..redis_client import get_redis
from . import services, uploads
from .schemas import (
    CampaignIn, CampaignList, CampaignOut, CampaignQuery, SimilarList, SimilarQuery, SuggestionIn,
    SuggestionOut, UploadOut,
)

bp = Blueprint("suggestions", __name__, url_prefix="/api")
TAG = "建议"
CAMPAIGN_TAG = "公开征集"
UPLOAD_TAG = "图片"

SUGGEST_LIMIT = ratelimit.Limit("suggestion-create", 20, 3600)
UPLOAD_LIMIT = ratelimit.Limit("upload", 60, 600)
# Photos uploaded but not yet attached, per person per day: bounds what an abuser can store.
MAX_PENDING_UPLOADS = 40


def _upload_size_cap(view):
    """Cap the request body before anything parses it (the idempotency fingerprint reads the
    multipart parts too), so an oversized upload is refused with 413 without being read."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        request.max_content_length = uploads.MAX_REQUEST_BYTES
        return view(*args, **kwargs)

    return wrapper


# --- suggestions ---------------------------------------------------------------------------------

@endpoint(bp, "/platforms/<int:platform_id>/suggestions", methods=("POST",), summary="提出建议",
          tags=[TAG], body=SuggestionIn, response=SuggestionOut, status=201, auth="login")
@idempotent
def propose(platform_id: int, body: SuggestionIn):
    """群众出题、委员荐题（委员可用 as_member=false 以群众身份提出）、响应公开征集（campaign_id）、
    党委政府点题（assigned_by_body_id，仅该机构审核人或政协工作人员）。来源由服务器判定。
    内容经微信内容安全检测和本地词库检查：有风险的内容拒绝提交（422 content_risky）；
    需人工审核或检测服务不可用时先保存为“审核中”，审核通过后公开（notice 字段给出提示）。"""
    session = get_session()
    person = require_person()
    ratelimit.check(get_redis(), SUGGEST_LIMIT, f"p{person.id}")
    suggestion, _verdict = services.propose_suggestion(
        session, person=person, platform_id=platform_id, **body.model_dump())
    session.commit()
    return SuggestionOut(**services.suggestion_detail(session, suggestion.id, person)), 201


@endpoint(bp, "/suggestions/<int:suggestion_id>", summary="建议详情", tags=[TAG],
          response=SuggestionOut, auth=None)
def detail(suggestion_id: int):
    """公开的建议（征集中、已列为议题、暂不采纳）任何人可看；审核中或未通过审核的建议只有提出人
    和该平台的审核人员（召集人、管辖范围内的政协工作人员）可以看到，其他人得到 404。
    姓名打码，不含手机号等个人信息。"""
    session = get_session()
    return SuggestionOut(**services.suggestion_detail(session, suggestion_id, current_person()))


@endpoint(bp, "/platforms/<int:platform_id>/suggestions/similar", summary="相似建议（输入标题时）",
          tags=[TAG], query=SimilarQuery, response=SimilarList, auth=None)
def similar(platform_id: int, query: SimilarQuery):
    """同一平台上正在征集、与输入标题相似的建议，按相似度从高到低。登录后 voted_by_me 表示
    本人是否已支持（已支持的可以不必重复提出）。"""
    session = get_session()
    items = services.similar_suggestions(session, platform_id=platform_id,
                                         title=query.title, limit=query.limit)
    person = current_person()
    voted: set[int] = set()
    if person is not None and items:
        from .models import Vote
        voted = set(session.scalars(select(Vote.suggestion_id).where(
            Vote.person_id == person.id,
            Vote.suggestion_id.in_([i["id"] for i in items]))))
    return SimilarList(items=[{**i, "voted_by_me": i["id"] in voted} for i in items])


# --- campaigns -----------------------------------------------------------------------------------

@endpoint(bp, "/campaigns", methods=("POST",), summary="发起公开征集", tags=[CAMPAIGN_TAG],
          body=CampaignIn, response=CampaignOut, status=201, auth=services.CAMPAIGN_MANAGE)
@idempotent
def create_campaign(body: CampaignIn):
    """政协工作人员可在管辖范围内的平台或区域发起；召集人只能为本平台发起。"""
    session = get_session()
    campaign = services.create_campaign(session, actor=require_person(), **body.model_dump())
    session.commit()
    return CampaignOut(**services.campaign_views(session, [campaign])[0]), 201


@endpoint(bp, "/campaigns", summary="正在进行的公开征集", tags=[CAMPAIGN_TAG], query=CampaignQuery,
          response=CampaignList, auth=None)
def list_campaigns(query: CampaignQuery):
    session = get_session()
    campaigns = services.list_open_campaigns(session, platform_id=query.platform_id,
                                             region_id=query.region_id)
    return CampaignList(items=services.campaign_views(session, campaigns))


@endpoint(bp, "/campaigns/<int:campaign_id>", summary="公开征集详情", tags=[CAMPAIGN_TAG],
          response=CampaignOut, auth=None)
def campaign_detail(campaign_id: int):
    session = get_session()
    campaign = services.get_campaign_or_404(session, campaign_id)
    return CampaignOut(**services.campaign_views(session, [campaign])[0])


# --- photos --------------------------------------------------------------------------------------

@endpoint(bp, "/uploads", methods=("POST",), summary="上传图片", tags=[UPLOAD_TAG],
          response=UploadOut, status=201, files=("file",), auth="login")
@_upload_size_cap
@idempotent
def upload():
    """multipart/form-data，字段名 file。只接受 JPG、PNG、WebP（按文件内容判断），每张不超过
    5 MB。返回的 id 在提出建议时放入 attachment_ids。"""
    return _receive(document=False), 201


@endpoint(bp, "/document-uploads", methods=("POST",), summary="上传文件（PDF）",
          tags=[UPLOAD_TAG], response=UploadOut, status=201, files=("file",), auth="login")
@_upload_size_cap
@idempotent
def upload_document():
    """multipart/form-data，字段名 file。只接受 PDF（按文件内容判断：以 %PDF- 开头、以 %%EOF
    结尾），不超过 5 MB。用于承办部门的办理进展和办结材料（D20）：返回的 key 放入
    upload_keys。"""
    return _receive(document=True), 201


def _receive(*, document: bool) -> UploadOut:
    """One upload (a photo, or with `document` a PDF): rate-limited, the pending ones capped,
    sniffed, stored and committed; the file is removed again if the commit fails."""
    what = "文件" if document else "图片"
    session = get_session()
    person = require_person()
    ratelimit.check(get_redis(), UPLOAD_LIMIT, f"p{person.id}")
    if services.recent_uploads_of(session, person) >= MAX_PENDING_UPLOADS:
        raise RateLimited(f"未使用的{what}太多，请先提交或稍后再试" if document else
                          "未使用的图片太多，请先提交建议或稍后再试", code="too_many_uploads")
    file = request.files.get("file")
    if file is None:
        raise uploads.UploadRejected(
            f"请选择要上传的{'PDF 文件' if document else '图片'}（字段名 file）",
            code="upload_missing")
    data = uploads.read_limited(file.stream)
    row = uploads.store_upload(session, person=person, data=data, document=document)
    try:
        session.commit()
    except BaseException:
        session.rollback()
        uploads.discard_file(row.storage_key)
        raise
    return UploadOut(id=row.id, key=row.storage_key, url=uploads.public_url(row.storage_key),
                     content_type=row.content_type, size_bytes=row.size_bytes, width=row.width,
                     height=row.height)


@endpoint(bp, "/uploads/<key>", summary="查看图片或文件", tags=[UPLOAD_TAG], auth=None,
          produces=",".join(uploads.SERVED_TYPES), conditional=True)
def serve_upload(key: str):
    """返回图片或 PDF 本身（不是 JSON）；PDF 一律作为下载（attachment），不在浏览器中打开。"""
    row, path = uploads.servable(get_session(), key)
    response = send_file(path, mimetype=row.content_type, conditional=True, etag=row.sha256,
                         max_age=3600, download_name=uploads.safe_filename(row),
                         as_attachment=uploads.is_document(row))
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    disposition = "attachment" if uploads.is_document(row) else "inline"
    response.headers["Content-Disposition"] = \
        f'{disposition}; filename="{uploads.safe_filename(row)}"'
    response.cache_control.private = True
    response.cache_control.public = False
    return response
