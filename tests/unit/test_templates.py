"""Message templates: every value fits WeChat's rule for its field type; the file is checked."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from app.config import Config, ConfigError
from app.notify.templates import (EMPTY, FIELD_LIMITS, SANDBOX_TEMPLATES, Template, field_type,
                                  fit, load_templates, parse_templates)


@pytest.mark.parametrize("type_,limit", sorted(
    (t, n) for t, n in FIELD_LIMITS.items() if t not in ("time", "date", "amount")))
def test_every_type_is_cut_to_its_limit(type_, limit):
    value = fit(type_, "协" * (limit + 7))
    assert len(value) == limit


def test_thing_is_cut_to_20_characters_with_an_ellipsis():
    title = "关于新浦街道老旧小区加装电梯和停车位改造的协商会议"
    assert len(title) > 20
    assert fit("thing", title) == title[:19] + "…"
    assert len(fit("thing", title)) == 20
    assert fit("thing", "恰好二十个字" * 3 + "两字") == "恰好二十个字" * 3 + "两字"
    assert fit("thing", "第一行\n  第二行") == "第一行 第二行"


def test_name_gets_an_ellipsis_and_strict_types_are_cut_short():
    assert fit("name", "欧阳" * 6) == "欧阳" * 4 + "欧…"
    assert fit("phrase", "正在协商办理中") == "正在协商办"
    assert fit("character_string", "A" * 40) == "A" * 32
    assert fit("number", "12 345") == "12345"
    assert fit("phone_number", "139 0000 1111") == "13900001111"


def test_times_and_dates_are_shown_in_beijing_time():
    utc = datetime(2026, 11, 30, 6, 30, tzinfo=timezone.utc)
    assert fit("time", utc) == "2026年11月30日 14:30"
    assert fit("time", utc.isoformat()) == "2026年11月30日 14:30"
    # 20:30 UTC is already the next day in Beijing.
    late = datetime(2026, 11, 30, 20, 30, tzinfo=timezone.utc)
    assert fit("date", late.isoformat()) == "2026年12月1日"
    other_zone = datetime(2026, 3, 5, 9, 5, tzinfo=timezone(timedelta(hours=-5)))
    assert fit("time", other_zone) == "2026年3月5日 22:05"
    assert fit("date", date(2026, 1, 2)) == "2026年1月2日"
    assert fit("time", "下周三下午") == "下周三下午"  # not a moment: kept as text


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_empty_values_become_a_dash(empty):
    for type_ in FIELD_LIMITS:
        assert fit(type_, empty) == EMPTY


def test_amount_is_formatted_with_two_decimals():
    assert fit("amount", 12.5) == "12.50元"
    assert fit("amount", "3") == "3.00元"


def test_field_types_come_from_the_key_prefix():
    assert field_type("thing12") == "thing"
    assert field_type("character_string3") == "character_string"
    assert field_type("car_number1") == "car_number"
    with pytest.raises(ValueError):
        field_type("keyword1")


def test_template_data_takes_title_body_label_and_payload_keys():
    t = Template("tid", (("thing1", "title"), ("thing2", "kind_label"), ("time3", "starts_at"),
                         ("thing4", "place"), ("thing5", "body")))
    data = t.data(kind="meeting_notice", title="协商会议通知", body="请准时参加" * 10,
                  payload={"starts_at": "2026-11-30T06:30:00+00:00"})
    assert data == {"thing1": "协商会议通知", "thing2": "会议通知", "time3": "2026年11月30日 14:30",
                    "thing4": "-", "thing5": ("请准时参加" * 4)[:19] + "…"}


GOOD = {
    "meeting_notice": {
        "mp": {"template_id": "TPL_meeting", "long_term": True,
               "fields": {"thing1": "title", "time2": "starts_at"}},
        "oa": {"template_id": "OA_meeting", "fields": {"thing1": "title"}},
    },
    "status_change": {"mp": {"template_id": "TPL_status", "fields": {"phrase1": "kind_label"}}},
}


def test_a_good_file_is_loaded(tmp_path):
    path = tmp_path / "templates.json"
    path.write_text(json.dumps(GOOD), encoding="utf-8")
    config = Config(wechat_templates=str(path))
    loaded = load_templates(config)
    assert loaded.mp["meeting_notice"].long_term is True
    assert loaded.mp["status_change"].template_id == "TPL_status"
    assert loaded.oa["meeting_notice"].fields == (("thing1", "title"),)
    assert "status_change" not in loaded.oa
    assert loaded.mp_template("TPL_status").long_term is False
    assert loaded.mp_template("nope") is None


@pytest.mark.parametrize("raw,named", [
    ([], "JSON object"),
    ({"meeting": GOOD["meeting_notice"]}, "unknown notice kind 'meeting'"),
    ({"briefing": {"sms": {}}}, "briefing"),
    ({"briefing": {"mp": {"template_id": "", "fields": {"thing1": "title"}}}},
     "briefing.mp.template_id"),
    ({"briefing": {"mp": {"template_id": "x" * 65, "fields": {"thing1": "title"}}}},
     "briefing.mp.template_id"),
    ({"briefing": {"mp": {"template_id": "T", "fields": {}}}}, "briefing.mp.fields"),
    ({"briefing": {"mp": {"template_id": "T", "fields": {"keyword1": "title"}}}},
     "bad key 'keyword1'"),
    ({"briefing": {"mp": {"template_id": "T", "fields": {"thing1": "a b"}}}},
     "briefing.mp.fields.thing1"),
    ({"briefing": {"mp": {"template_id": "T", "long_term": "yes",
                          "fields": {"thing1": "title"}}}}, "long_term"),
    ({"briefing": {"oa": {"template_id": "T", "long_term": True,
                          "fields": {"thing1": "title"}}}}, "unknown setting(s) ['long_term']"),
    ({"briefing": {"mp": {"template_id": "T", "long_term": True, "fields": {"thing1": "title"}}},
      "reminder": {"mp": {"template_id": "T", "fields": {"thing1": "title"}}}}, "T is long_term"),
])
def test_mistakes_are_named(raw, named):
    with pytest.raises(ConfigError) as err:
        parse_templates(raw)
    assert named in str(err.value)


def test_unreadable_or_broken_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_templates(Config(wechat_templates=str(tmp_path / "missing.json")))
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_templates(Config(wechat_templates=str(broken)))


def test_sandbox_without_a_file_uses_the_builtin_set_production_none():
    assert load_templates(Config(sandbox=True)) is SANDBOX_TEMPLATES
    assert SANDBOX_TEMPLATES.mp["meeting_notice"].template_id == "sandbox_meeting_notice"
    assert "staff_alert" not in SANDBOX_TEMPLATES.mp
    production = load_templates(Config(sandbox=False))
    assert not production.mp and not production.oa


def test_a_bad_file_stops_the_app_at_start_up(tmp_path):
    from app import create_app

    path = tmp_path / "templates.json"
    path.write_text(json.dumps({"meeting_notice": {"mp": {"template_id": "T", "fields": {
        "thing1": "title", "colour2": "title"}}}}), encoding="utf-8")
    config = Config.from_env(database_url=f"sqlite:///{tmp_path / 'x.db'}",
                             wechat_templates=str(path))
    with pytest.raises(ConfigError, match="colour2"):
        create_app(config)
