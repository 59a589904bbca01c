"""The trail services (app/suggestions/trail.py): idempotent follows with an exact counter,
the public timeline, and follower notices that are sent once per event."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.notify.models import OutboxMessage
from app.org import factories as f
from app.org.models import HostType, PlatformKind
from app.suggestions import trail
from app.suggestions.models import Follow, Suggestion, SuggestionState, TimelineEntry
from app.topics.models import Category, Source, Topic, TopicState

from ..helpers import committed_session


@pytest.fixture
def world(app):
    with committed_session(app) as s:
        town = f.create_region_chain(s, code="8100", names=("西市", "西县", "河口镇"))[-1]
        room = f.create_platform(s, kind=PlatformKind.room, host_type=HostType.town, region=town)
        people = [f.create_person(s, name=f"居民{i}") for i in range(3)]
        s.flush()
        sug = Suggestion(platform_id=room.id, proposer_id=people[0].id, source=Source.proposed,
                         category=Category.livelihood, title="修路", description="路面破损",
                         state=SuggestionState.open)
        topic = Topic(platform_id=room.id, title="修路", description="路面破损",
                      category=Category.livelihood, source=Source.proposed,
                      state=TopicState.draft, created_by_id=people[0].id)
        s.add_all([sug, topic])
        s.flush()
        return {"people": [p.id for p in people], "suggestion": sug.id, "topic": topic.id}


def _count(s, sid):
    return s.scalar(select(Suggestion.follower_count).where(Suggestion.id == sid))


def test_follow_is_idempotent_and_counts_exactly(app, world):
    a, b, _ = world["people"]
    sid = world["suggestion"]
    with committed_session(app) as s:
        assert trail.follow(s, person_id=a, suggestion_id=sid) is True
        assert trail.follow(s, person_id=a, suggestion_id=sid) is False  # double tap
        assert trail.follow(s, person_id=b, suggestion_id=sid) is True
        # The ORM object in this session sees the new count too.
        assert s.get(Suggestion, sid).follower_count == 2
    with committed_session(app) as s:
        assert _count(s, sid) == 2
        assert trail.follower_ids(s, suggestion_id=sid) == sorted([a, b])
        assert trail.unfollow(s, person_id=a, suggestion_id=sid) is True
        assert trail.unfollow(s, person_id=a, suggestion_id=sid) is False
    with committed_session(app) as s:
        assert _count(s, sid) == 1
        assert s.scalar(select(func.count()).select_from(Follow)) == 1


def test_topic_follow_is_separate_from_suggestion_follow(app, world):
    a, b, c = world["people"]
    with committed_session(app) as s:
        trail.follow(s, person_id=a, suggestion_id=world["suggestion"])
        trail.follow(s, person_id=b, suggestion_id=world["suggestion"])
        assert trail.follow(s, person_id=b, topic_id=world["topic"]) is True
        assert trail.follow(s, person_id=b, topic_id=world["topic"]) is False
        newly = trail.copy_followers(s, from_suggestion_ids=[world["suggestion"]],
                                     to_topic_id=world["topic"])
        assert newly == [a]  # b already followed the topic
    with committed_session(app) as s:
        assert trail.follower_ids(s, topic_id=world["topic"]) == sorted([a, b])
        assert trail.is_following(s, person_id=c, topic_id=world["topic"]) is False
        assert _count(s, world["suggestion"]) == 2  # topic follows do not move it


def test_exactly_one_subject_is_required(app, world):
    with committed_session(app) as s:
        with pytest.raises(ValueError):
            trail.follow(s, person_id=world["people"][0])
        with pytest.raises(ValueError):
            trail.follow(s, person_id=world["people"][0], suggestion_id=world["suggestion"],
                         topic_id=world["topic"])


def test_timeline_blanks_phone_and_id_numbers_and_refuses_unknown_kinds(app, world):
    with committed_session(app) as s:
        trail.add_timeline(s, suggestion_id=world["suggestion"], kind="note",
                           text="召集人已到现场查看")
        trail.add_timeline(s, suggestion_id=world["suggestion"], kind="note",
                           text="有事请联系13812345678或身份证11010519491231002X本人")
        with pytest.raises(ValueError):
            trail.add_timeline(s, suggestion_id=world["suggestion"], kind="whatever", text="x")
    with committed_session(app) as s:
        texts = [e.text for e in trail.timeline(s, suggestion_id=world["suggestion"])]
        assert texts == ["召集人已到现场查看", "有事请联系***或身份证***本人"]
        assert s.scalar(select(func.count()).select_from(TimelineEntry)) == 2


def test_notify_followers_sends_once_per_event_and_honours_exclude(app, world):
    a, b, c = world["people"]
    with committed_session(app) as s:
        for p in (a, b, c):
            trail.follow(s, person_id=p, topic_id=world["topic"])
        rows = trail.notify_followers(s, topic_id=world["topic"], subject="topic:1:approved:1",
                                      title="议题已审定", body="“修路”已审定", exclude=[c])
        assert sorted(r.recipient_id for r in rows) == sorted([a, b])
    with committed_session(app) as s:  # the same event again (a retried request)
        trail.notify_followers(s, topic_id=world["topic"], subject="topic:1:approved:1",
                               title="议题已审定", body="“修路”已审定")
    with committed_session(app) as s:
        got = sorted(s.scalars(select(OutboxMessage.recipient_id)))
        # c was excluded the first time and got the notice on the retry; nobody twice.
        assert got == sorted([a, b, c])
