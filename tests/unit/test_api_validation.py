import pytest
from pydantic import BaseModel, Field

from app.api import parse_model
from app.errors import ValidationFailed


class Sample(BaseModel):
    title: str = Field(max_length=5)
    count: int


def test_valid_model_parses():
    assert parse_model(Sample, {"title": "ok", "count": "3"}).count == 3


def test_errors_are_chinese_with_field_names():
    with pytest.raises(ValidationFailed) as err:
        parse_model(Sample, {"title": "太长的标题内容", "count": "x"})
    e = err.value
    assert e.status == 422 and e.code == "validation_failed"
    fields = {d["field"]: d["message"] for d in e.details}
    assert fields["title"] == "内容过长（最多 5 字）"
    assert fields["count"] == "应为整数"
    assert e.message.startswith("title：")


def test_missing_field():
    with pytest.raises(ValidationFailed) as err:
        parse_model(Sample, {"title": "a"})
    assert {"field": "count", "message": "必填"} in err.value.details


ODD = [None, {}, [], [None], "", "x", "2026-13-45T99:00:00+08:00", 1.5, True, -1, 2**40, "\x00"]


def test_odd_values_in_any_declared_model_are_422_never_a_crash():
    """Issue 10 #13: {"starts_at": null} crashed a validator (500). Every field of every body
    (strict) and query (lax) model of the API, given each odd value alone: parsed, or a 422."""
    from app import create_app
    from app.api import OPERATIONS

    create_app()  # registers every endpoint
    crashes = []
    for op in OPERATIONS:
        for model, strict in ((op.body, True), (op.query, False)):
            if model is None:
                continue
            for name in model.model_fields:
                for value in ODD:
                    try:
                        parse_model(model, {name: value}, strict=strict)
                    except ValidationFailed:
                        pass
                    except Exception as exc:  # noqa: BLE001 - what we are looking for
                        crashes.append((model.__name__, name, value, repr(exc)))
    assert crashes == []
