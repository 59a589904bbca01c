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
