"""Suggestion use cases (D6, D7): propose, the public detail, similar suggestions, and public
solicitation campaigns. Services never commit; the caller commits once.

Sources (D7), decided here from who is asking and what they send — never taken from the client:
- ``assigned`` (点题): `assigned_by_body_id` names a Party committee or government body; only a
  person holding the reviewer role for that body, or CPPCC staff/admin whose reach covers the
  platform, may use it, and the body's region must contain the platform;
- ``solicited`` (公开征集): `campaign_id` names a campaign that is open today (China date) and
  covers the platform (the same platform, or a region containing it);
- ``recommended`` (委员荐题): the person holds an active CPPCC member role — unless they say
  `as_member: false` (a member may raise something as a plain resident of their neighbourhood);
- ``proposed`` (群众出题): everyone else.
`assigned` and a campaign are exclusive; a campaign wins over the member role (the member is
answering the campaign).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from ..audit.services import record, snapshot
from ..auth.permissions import get_platform_or_404, get_region_or_404, reach
from ..crypto import mask_name
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..org.models import (Body, BodyKind, HostType, Person, Platform, PlatformKind,
                          PlatformServedUnit, Region, RegionLevel, Role, RoleAssignment)
from ..org.services import today_local
from ..followup.results import stage_view, suggestion_stage
from ..topics.models import CATEGORY_LABELS, SOURCE_LABELS, Category, Source, Topic, TopicState
from . import safety
from .models import (
    SUGGESTION_STATE_LABELS, Attachment, Campaign, Follow, Suggestion, SuggestionState, Vote,
)
from .schemas import ADDRESS_MAX, DESCRIPTION_MAX, MAX_ATTACHMENTS, TITLE_MAX, TITLE_MIN, clean_text
from .uploads import public_url

# Moderators of a platform's suggestions: its convenor, CPPCC staff and admins within reach
# (the action app/suggestions/moderation.py uses for its queue).
MODERATE = "content.moderate"
CAMPAIGN_MANAGE = "campaign.manage"
ASSIGN = "suggestion.assign"
# D7 点题: the bodies that may assign a topic.
ASSIGNING_BODY_KINDS = frozenset({BodyKind.party_committee, BodyKind.government})
PUBLIC_STATES = frozenset({SuggestionState.open, SuggestionState.taken_up,
                           SuggestionState.declined})
SIMILAR_CANDIDATES = 300
SIMILAR_DESCRIPTION_CHARS = 200
CAMPAIGN_MAX_DAYS = 366
PUBLISHED_TEXT = "建议已公开，欢迎支持和评论"


def _invalid(code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, code=code)


def _path_ids(path: str | None) -> list[int]:
    """"/1/4/17/" → [1, 4, 17]: a region and its ancestors."""
    return [int(p) for p in (path or "").split("/") if p]


def _region_path(session: Session, region_id: int) -> str:
    return session.scalar(select(Region.path).where(Region.id == region_id)) or ""


def clean_fields(*, title: str, description: str | None, address: str | None
                 ) -> tuple[str, str, str | None]:
    """The text rules, also for callers that do not come through the HTTP schemas (the chatbot)."""
    try:
        title = clean_text(title)
        description = clean_text(description, multiline=True)
        address = clean_text(address) or None
    except ValueError as exc:
        raise _invalid("text_invalid", str(exc)) from None
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        raise _invalid("title_length", f"标题应为 {TITLE_MIN}–{TITLE_MAX} 个字")
    if len(description) > DESCRIPTION_MAX:
        raise _invalid("description_too_long", f"具体说明最多 {DESCRIPTION_MAX} 字")
    if address is not None and len(address) > ADDRESS_MAX:
        raise _invalid("address_too_long", f"位置最多 {ADDRESS_MAX} 字")
    return title, description, address


# --- campaigns (公开征集, D7) ------------------------------------------------------------------------

CAMPAIGN_STATUS_LABELS = {"upcoming": "未开始", "open": "征集中", "closed": "已结束"}


def campaign_status(campaign: Campaign, today: date | None = None) -> str:
    today = today or today_local()
    if today < campaign.opens_on:
        return "upcoming"
    if today > campaign.closes_on:
        return "closed"
    return "open"


def campaign_covers(campaign: Campaign, platform: Platform, platform_region_path: str,
                    campaign_region_path: str | None) -> bool:
    """A campaign covers its own platform, or every platform in its region and below."""
    if campaign.platform_id is not None:
        return campaign.platform_id == platform.id
    return bool(campaign_region_path) and platform_region_path.startswith(campaign_region_path)


def create_campaign(session: Session, *, actor: Person, title: str, description: str,
                    opens_on: date, closes_on: date, platform_id: int | None = None,
                    region_id: int | None = None) -> Campaign:
    """Staff within their reach (a platform or a region), or a convenor for their own platform."""
    if (platform_id is None) == (region_id is None):
        raise _invalid("campaign_scope", "请选择一个平台或一个区域（二者只能选一个）")
    try:
        title = clean_text(title)
        description = clean_text(description, multiline=True)
    except ValueError as exc:
        raise _invalid("text_invalid", str(exc)) from None
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        raise _invalid("title_length", f"标题应为 {TITLE_MIN}–{TITLE_MAX} 个字")
    if not description or len(description) > DESCRIPTION_MAX:
        raise _invalid("description_length", f"征集说明应为 1–{DESCRIPTION_MAX} 字")
    if closes_on < opens_on:
        raise _invalid("campaign_dates", "截止日期不能早于开始日期")
    if closes_on < today_local():
        raise _invalid("campaign_dates", "截止日期不能早于今天")
    if (closes_on - opens_on).days >= CAMPAIGN_MAX_DAYS:
        raise _invalid("campaign_dates", "征集期最长一年")
    if platform_id is not None:
        platform = get_platform_or_404(session, platform_id, actor, CAMPAIGN_MANAGE)
        if not platform.is_active:
            raise Conflict("该平台已停用", code="platform_inactive")
    else:
        get_region_or_404(session, region_id, actor, CAMPAIGN_MANAGE)
    campaign = Campaign(title=title, description=description, platform_id=platform_id,
                        region_id=region_id, opens_on=opens_on, closes_on=closes_on,
                        created_by_id=actor.id)
    session.add(campaign)
    session.flush()
    record(session, actor_id=actor.id, action="campaign.create", object_type="campaign",
           object_id=campaign.id, after=snapshot(campaign))
    return campaign


def get_campaign_or_404(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("该征集活动不存在", code="campaign_not_found")
    return campaign


def list_open_campaigns(session: Session, *, platform_id: int | None = None,
                        region_id: int | None = None, limit: int = 100) -> list[Campaign]:
    """Campaigns open today. With a platform: those that cover it. With a region: those of the
    region, of a region above it (they cover it) and of regions and platforms below it."""
    today = today_local()
    stmt = select(Campaign).where(Campaign.opens_on <= today, Campaign.closes_on >= today)
    camp_platform = aliased(Platform)
    stmt = stmt.outerjoin(camp_platform, camp_platform.id == Campaign.platform_id).where(
        or_(Campaign.platform_id.is_(None), camp_platform.is_active.is_(True)))
    if platform_id is not None:
        platform = get_platform_or_404(session, platform_id)
        ancestors = _path_ids(_region_path(session, platform.region_id))
        stmt = stmt.where(or_(Campaign.platform_id == platform.id,
                              Campaign.region_id.in_(ancestors)))
    if region_id is not None:
        region = session.get(Region, region_id)
        if region is None:
            raise NotFound("该区域不存在", code="region_not_found")
        camp_region = aliased(Region)
        platform_region = aliased(Region)
        stmt = (stmt.outerjoin(camp_region, camp_region.id == Campaign.region_id)
                .outerjoin(platform_region, platform_region.id == camp_platform.region_id)
                .where(or_(Campaign.region_id.in_(_path_ids(region.path)),
                           camp_region.path.startswith(region.path, autoescape=True),
                           platform_region.path.startswith(region.path, autoescape=True))))
    return list(session.scalars(stmt.order_by(Campaign.closes_on, Campaign.id).limit(limit)))


def campaign_views(session: Session, campaigns: list[Campaign]) -> list[dict]:
    """Public views of campaigns: three statements whatever their number."""
    if not campaigns:
        return []
    ids = [c.id for c in campaigns]
    counts = dict(session.execute(
        select(Suggestion.campaign_id, func.count())
        .where(Suggestion.campaign_id.in_(ids), Suggestion.state.in_(PUBLIC_STATES))
        .group_by(Suggestion.campaign_id)).all())
    platform_ids = {c.platform_id for c in campaigns if c.platform_id}
    region_ids = {c.region_id for c in campaigns if c.region_id}
    platform_names = dict(session.execute(select(Platform.id, Platform.name).where(
        Platform.id.in_(platform_ids))).all()) if platform_ids else {}
    region_names = dict(session.execute(select(Region.id, Region.name).where(
        Region.id.in_(region_ids))).all()) if region_ids else {}
    today = today_local()
    out = []
    for c in campaigns:
        status = campaign_status(c, today)
        out.append({
            "id": c.id, "title": c.title, "description": c.description,
            "platform": ({"id": c.platform_id, "name": platform_names.get(c.platform_id, "")}
                         if c.platform_id else None),
            "region": ({"id": c.region_id, "name": region_names.get(c.region_id, "")}
                       if c.region_id else None),
            "opens_on": c.opens_on, "closes_on": c.closes_on, "status": status,
            "status_label": CAMPAIGN_STATUS_LABELS[status],
            "suggestion_count": counts.get(c.id, 0),
        })
    return out


# --- sources (D7) ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SourceDecision:
    source: Source
    campaign_id: int | None = None
    assigned_by_body_id: int | None = None


def _is_member(session: Session, person: Person) -> bool:
    return session.scalar(select(exists().where(
        RoleAssignment.person_id == person.id, RoleAssignment.role == Role.member,
        RoleAssignment.is_active.is_(True)))) or False


def _may_assign_for(session: Session, person: Person, body: Body, platform: Platform,
                    platform_path: str) -> bool:
    """D7 点题: a reviewer of that Party committee / government, or CPPCC staff within reach."""
    is_reviewer = session.scalar(select(exists().where(
        RoleAssignment.person_id == person.id, RoleAssignment.role == Role.reviewer,
        RoleAssignment.body_id == body.id, RoleAssignment.is_active.is_(True))))
    if is_reviewer:
        return True
    return reach(session, person, ASSIGN).covers_platform(platform, platform_path)


def decide_source(session: Session, *, person: Person, platform: Platform, platform_path: str,
                  campaign_id: int | None = None, assigned_by_body_id: int | None = None,
                  as_member: bool | None = None) -> SourceDecision:
    if campaign_id is not None and assigned_by_body_id is not None:
        raise _invalid("source_conflict", "点题和公开征集不能同时选择")
    if assigned_by_body_id is not None:
        body = session.get(Body, assigned_by_body_id)
        if body is None or body.kind not in ASSIGNING_BODY_KINDS:
            raise NotFound("该党委或政府机构不存在", code="body_not_found")
        if not _may_assign_for(session, person, body, platform, platform_path):
            raise Forbidden("只有党委、政府的审核人或政协工作人员可以点题", code="not_allowed_to_assign")
        if not platform_path.startswith(_region_path(session, body.region_id) or "\0"):
            raise _invalid("assign_out_of_scope", "该机构不能向辖区以外的平台点题")
        return SourceDecision(Source.assigned, assigned_by_body_id=body.id)
    if campaign_id is not None:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            raise NotFound("该征集活动不存在", code="campaign_not_found")
        status = campaign_status(campaign)
        if status == "upcoming":
            raise Conflict(f"该征集活动{campaign.opens_on:%Y年%m月%d日}开始，尚未开始",
                           code="campaign_not_open")
        if status == "closed":
            raise Conflict("该征集活动已结束", code="campaign_closed")
        campaign_path = (_region_path(session, campaign.region_id)
                         if campaign.region_id is not None else None)
        if not campaign_covers(campaign, platform, platform_path, campaign_path):
            raise _invalid("campaign_out_of_scope", "该征集活动不包括所选平台，请选择征集范围内的平台")
        return SourceDecision(Source.solicited, campaign_id=campaign.id)
    is_member = _is_member(session, person)
    if as_member and not is_member:
        raise Forbidden("只有政协委员可以荐题", code="not_a_member")
    if is_member and as_member is not False:
        return SourceDecision(Source.recommended)
    return SourceDecision(Source.proposed)


# --- proposing ---------------------------------------------------------------------------------------

def _check_attachments(session: Session, person: Person, ids: list[int]) -> None:
    if len(ids) > MAX_ATTACHMENTS:
        raise _invalid("too_many_attachments", f"最多上传 {MAX_ATTACHMENTS} 张图片")
    if len(set(ids)) != len(ids):
        raise _invalid("attachment_duplicate", "图片不能重复")
    if not ids:
        return
    usable = session.scalar(select(func.count()).select_from(Attachment).where(
        Attachment.id.in_(ids), Attachment.uploaded_by_id == person.id,
        Attachment.unused(), Attachment.is_photo()))
    if usable != len(ids):
        # Someone else's upload looks the same as a missing one (no IDOR).
        raise _invalid("attachment_unavailable", "图片不存在或已被使用，请重新上传")


def _attach(session: Session, person: Person, suggestion_id: int, ids: list[int]) -> None:
    """Claim the uploads in one conditional UPDATE: a concurrent claim of the same photo leaves
    one of the two requests short, and that one fails (its transaction is rolled back)."""
    if not ids:
        return
    claimed = session.execute(
        update(Attachment)
        .where(Attachment.id.in_(ids), Attachment.uploaded_by_id == person.id,
               Attachment.unused(), Attachment.is_photo())
        .values(suggestion_id=suggestion_id)
        .execution_options(synchronize_session=False)).rowcount
    if claimed != len(ids):
        raise Conflict("图片已被使用，请重新上传", code="attachment_unavailable")


def _follow(session: Session, person_id: int, suggestion: Suggestion) -> None:
    from .trail import follow

    follow(session, person_id=person_id, suggestion_id=suggestion.id)


def _timeline_published(session: Session, suggestion: Suggestion) -> None:
    from .trail import add_timeline

    add_timeline(session, suggestion_id=suggestion.id, kind="published", text=PUBLISHED_TEXT)


def propose_suggestion(session: Session, *, person: Person, platform_id: int, title: str,
                       category: Category | str, description: str | None = "",
                       campaign_id: int | None = None, assigned_by_body_id: int | None = None,
                       as_member: bool | None = None, address: str | None = None,
                       latitude: float | None = None, longitude: float | None = None,
                       attachment_ids: Iterable[int] = ()
                       ) -> tuple[Suggestion, safety.SafetyVerdict]:
    """A new suggestion on an active platform (D6 category, D7 source derived above), checked
    for content safety: `risky` → ContentRisky (422), nothing stored; `review` or a failing
    check → stored as `held` (moderation); `pass` → `open` (public). The proposer follows it."""
    platform = get_platform_or_404(session, platform_id)
    platform_path = _region_path(session, platform.region_id)
    title, description, address = clean_fields(title=title, description=description,
                                                address=address)
    category = Category(category)
    if (latitude is None) != (longitude is None):
        raise _invalid("location_incomplete", "经度和纬度须同时填写")
    if latitude is not None and not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise _invalid("location_invalid", "位置坐标不正确")
    ids = list(attachment_ids or [])
    _check_attachments(session, person, ids)
    decision = decide_source(session, person=person, platform=platform,
                             platform_path=platform_path, campaign_id=campaign_id,
                             assigned_by_body_id=assigned_by_body_id, as_member=as_member)

    # Last, because it calls WeChat: everything cheap has been refused already.
    verdict = safety.check_text(session, person=person,
                                texts=[title, description, address or ""],
                                scene=safety.SCENE_FORUM).refuse_if_risky()
    state = SuggestionState.open if verdict.verdict == safety.PASS else SuggestionState.held

    suggestion = Suggestion(
        platform_id=platform.id, proposer_id=person.id, source=decision.source,
        category=category, title=title, description=description,
        assigned_by_body_id=decision.assigned_by_body_id, campaign_id=decision.campaign_id,
        address=address, latitude=latitude, longitude=longitude, state=state,
        moderation_note=verdict.note, vote_count=0, comment_count=0, follower_count=0)
    session.add(suggestion)
    session.flush()
    _attach(session, person, suggestion.id, ids)
    _follow(session, person.id, suggestion)
    if state is SuggestionState.open:
        _timeline_published(session, suggestion)
    record(session, actor_id=person.id, action="suggestion.create", object_type="suggestion",
           object_id=suggestion.id,
           after={**snapshot(suggestion, ["platform_id", "source", "category", "title", "state",
                                          "campaign_id", "assigned_by_body_id"]),
                  "attachment_ids": ids, "safety": verdict.verdict,
                  "safety_wechat": verdict.wechat, "safety_local": verdict.local})
    session.refresh(suggestion)  # the follower count moved in SQL
    return suggestion, verdict


# --- visibility and the detail view ----------------------------------------------------------------

def can_moderate(session: Session, person: Person | None, platform: Platform,
                 platform_path: str) -> bool:
    if person is None:
        return False
    return reach(session, person, MODERATE).covers_platform(platform, platform_path)


def suggestion_detail(session: Session, suggestion_id: int, viewer: Person | None) -> dict:
    """The detail view. Public for open / taken up / declined suggestions; held and rejected
    ones only for their proposer and the platform's moderators — to anyone else 404.
    A fixed number of statements: the suggestion with its names, its photos, and (logged in)
    the viewer's vote/follow."""
    results_public = exists().where(Topic.id == Suggestion.topic_id,
                                    Topic.state == TopicState.approved)
    row = session.execute(
        select(Suggestion, Platform, Region.path, Person.name, Campaign.title, Body.name,
               suggestion_stage(), results_public)
        .join(Platform, Platform.id == Suggestion.platform_id)
        .join(Region, Region.id == Platform.region_id)
        .join(Person, Person.id == Suggestion.proposer_id)
        .outerjoin(Campaign, Campaign.id == Suggestion.campaign_id)
        .outerjoin(Body, Body.id == Suggestion.assigned_by_body_id)
        .where(Suggestion.id == suggestion_id)).first()
    if row is None:
        raise NotFound("该建议不存在", code="suggestion_not_found")
    sug, platform, path, proposer_name, campaign_title, body_name, stage, has_results = row
    is_mine = viewer is not None and viewer.id == sug.proposer_id
    public = sug.state in PUBLIC_STATES and platform.is_active
    moderator = False
    if not public:
        moderator = can_moderate(session, viewer, platform, path)
        if not (is_mine or moderator):
            raise NotFound("该建议不存在", code="suggestion_not_found")
    photos = session.execute(
        select(Attachment.id, Attachment.storage_key, Attachment.content_type,
               Attachment.width, Attachment.height)
        .where(Attachment.suggestion_id == sug.id).order_by(Attachment.id)).all()
    voted = followed = None
    if viewer is not None:
        flags = session.execute(select(
            exists().where(Vote.suggestion_id == sug.id, Vote.person_id == viewer.id),
            exists().where(Follow.suggestion_id == sug.id, Follow.person_id == viewer.id),
        )).one()
        voted, followed = bool(flags[0]), bool(flags[1])
    notice = None
    if is_mine and sug.state is SuggestionState.held:
        notice = safety.HELD_MESSAGE
    return {
        "id": sug.id, "title": sug.title, "description": sug.description,
        "category": sug.category, "category_label": CATEGORY_LABELS[sug.category],
        "source": sug.source, "source_label": SOURCE_LABELS[sug.source],
        "state": sug.state, "state_label": SUGGESTION_STATE_LABELS[sug.state],
        "platform": {"id": platform.id, "name": platform.name},
        "proposer": mask_name(proposer_name),
        "assigned_by": body_name if sug.source is Source.assigned else None,
        "campaign": ({"id": sug.campaign_id, "title": campaign_title}
                     if sug.campaign_id else None),
        "address": sug.address, "latitude": sug.latitude, "longitude": sug.longitude,
        "vote_count": sug.vote_count, "comment_count": sug.comment_count,
        "follower_count": sug.follower_count,
        "attachments": [{"id": p.id, "url": public_url(p.storage_key),
                         "content_type": p.content_type, "width": p.width, "height": p.height}
                        for p in photos],
        "created_at": sug.created_at, "last_activity_at": sug.last_activity_at,
        "decline_reason": sug.decline_reason if sug.state is SuggestionState.declined else None,
        "topic_id": sug.topic_id if sug.state is SuggestionState.taken_up else None,
        **stage_view(stage),
        "results_topic_id": sug.topic_id if has_results and stage else None,
        "is_mine": None if viewer is None else is_mine,
        "voted_by_me": voted, "followed_by_me": followed, "notice": notice,
        "moderation_note": sug.moderation_note if moderator else None,
    }


# --- similar suggestions -----------------------------------------------------------------------------

def similar_suggestions(session: Session, *, platform_id: int, title: str,
                        limit: int = 5) -> list[dict]:
    """Open suggestions on the same platform that look like `title` (while a resident types).
    One query loads at most SIMILAR_CANDIDATES recent open ones; the ranking is
    app.topics.similarity.rank_similar."""
    from ..topics.similarity import rank_similar

    platform = get_platform_or_404(session, platform_id)
    try:
        title = clean_text(title)
    except ValueError as exc:
        raise _invalid("text_invalid", str(exc)) from None
    if not title:
        return []
    rows = session.execute(
        select(Suggestion.id, Suggestion.title,
               func.substr(Suggestion.description, 1, SIMILAR_DESCRIPTION_CHARS),
               Suggestion.category, Suggestion.vote_count, Suggestion.comment_count)
        .where(Suggestion.platform_id == platform.id,
               Suggestion.state == SuggestionState.open)
        .order_by(Suggestion.id.desc()).limit(SIMILAR_CANDIDATES)).all()
    by_id = {r[0]: r for r in rows}
    ranked = rank_similar(title, ((r[0], r[1], r[2]) for r in rows), limit=limit)
    return [{"id": sid, "title": by_id[sid][1], "category": by_id[sid][3],
             "category_label": CATEGORY_LABELS[by_id[sid][3]], "vote_count": by_id[sid][4],
             "comment_count": by_id[sid][5], "score": score} for sid, score in ranked]


def recent_uploads_of(session: Session, person: Person, since_days: int = 1) -> int:
    """How many unattached uploads the person made recently (for limits and housekeeping)."""
    from ..db import utcnow

    return session.scalar(select(func.count()).select_from(Attachment).where(
        Attachment.uploaded_by_id == person.id, Attachment.unused(),
        Attachment.created_at >= utcnow() - timedelta(days=since_days))) or 0


def home_platform(session: Session, person: Person) -> Platform | None:
    """Where a suggestion sent by chat goes (no platform chosen): the platform of the person's home village or community
    (a room first), else one serving it (a joint or mobile room, a contact point), else the
    town's; None without a home region (or none up to the town)."""
    if person.home_region_id is None:
        return None
    region = session.get(Region, person.home_region_id)
    chain = [int(p) for p in (region.path or "").split("/") if p] or [region.id]
    local = (HostType.town, HostType.village, HostType.community)
    for region_id in reversed(chain):
        level = session.scalar(select(Region.level).where(Region.id == region_id))
        if level in (RegionLevel.county, RegionLevel.city):
            break
        served = select(PlatformServedUnit.platform_id).where(
            PlatformServedUnit.region_id == region_id)
        for where in (Platform.region_id == region_id, Platform.id.in_(served)):
            found = session.scalars(select(Platform).where(
                where, Platform.is_active.is_(True), Platform.host_type.in_(local))
                .order_by(Platform.kind != PlatformKind.room, Platform.id)).first()
            if found is not None:
                return found
    return None
