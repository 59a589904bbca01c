"""Every text a reviewer, handler, member, resident or staff member writes in the follow-through
ends up in the feedback list's Word/Excel files, the public results page and notices: control
characters are refused at the door (422), as for opinion items and topic descriptions — an XML
control character in a .docx is a 500 when the list is downloaded (found by the API fuzz run
once the demo city had a held consultation)."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.evaluation.schemas import EvaluationIn, ModelCaseIn
from app.followup.decision_schemas import ExtensionDecisionIn, ItemDecisionIn
from app.followup.schemas import CompleteIn, ExtensionIn, FlagIn, NoteIn, PlanIn, ProgressIn

CASES = [
    (ItemDecisionIn, {"outcome": "not_adopted"}, "explanation"),
    (ExtensionDecisionIn, {"approve": False}, "note"),
    (PlanIn, {}, "text"),
    (ProgressIn, {"percent": 50}, "text"),
    (CompleteIn, {}, "result"),
    (ExtensionIn, {"due_on": "2026-12-31"}, "reason"),
    (FlagIn, {"member_ids": [1]}, "reason"),
    (NoteIn, {}, "text"),
    (EvaluationIn, {"outcome_score": 4, "process_score": 4}, "comment"),
    (ModelCaseIn, {}, "reason"),
]


@pytest.mark.parametrize("model, base, field", CASES, ids=[f"{m.__name__}.{f}" for m, _, f in CASES])
def test_follow_through_texts_refuse_control_characters_and_keep_line_breaks(model, base, field):
    with pytest.raises(ValidationError):
        model.model_validate({**base, field: "路面\x01修补"})
    ok = model.model_validate({**base, field: "第一段\n第二段"})
    assert getattr(ok, field) == "第一段\n第二段"
