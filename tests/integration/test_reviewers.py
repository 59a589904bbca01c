"""Who is asked to review: the reviewers of a body that can act — an active role held by an active
person (D8 review requests, D18 opinion lists, research alerts all go through `reviewers_of`)."""
from __future__ import annotations

from app.org import factories as f
from app.org.models import BodyKind, Role
from app.topics.services import reviewers_of

from ..helpers import committed_session as db


def test_a_deactivated_person_is_no_longer_asked_to_review(app):
    with db(app) as s:
        city = f.create_region(s, code="C", name="连云港市", kind="city")
        county = f.create_region(s, code="C1", name="海滨区", kind="district", parent=city)
        body = f.create_body(s, name="海滨区政协", kind=BodyKind.cppcc, region=county)
        staying = f.create_person(s, name="在岗审核人", home_region=county)
        left = f.create_person(s, name="已离岗审核人", home_region=county)
        f.assign_role(s, staying, Role.reviewer, body=body)
        f.assign_role(s, left, Role.reviewer, body=body)
        s.flush()
        assert sorted(reviewers_of(s, body.id)) == sorted([staying.id, left.id])
        left.is_active = False
        s.flush()
        assert reviewers_of(s, body.id) == [staying.id]
