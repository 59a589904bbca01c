"""The local word list of content safety: file format, normalisation (全角/半角, case, zero-width
characters, separators), risky before review, and the bundled list itself. Pure, no database."""
from __future__ import annotations

import pytest

from app.suggestions.safety import (
    DEFAULT_WORDLIST, PASS, REVIEW, RISKY, compact, load_wordlist, normalise, parse_wordlist,
)

SAMPLE = """
# comment
坏词一
[review]
待看词
re:https?://
[risky]
NMSL
re:(?<!\\d)1[3-9]\\d{9}(?!\\d)
"""


@pytest.fixture(scope="module")
def words():
    return parse_wordlist(SAMPLE)


def test_sections_and_patterns_are_parsed(words):
    assert words.risky_terms == ("坏词一", "nmsl")
    assert words.review_terms == ("待看词",)
    assert [p.pattern for p in words.review_patterns] == ["https?://"]
    assert len(words.risky_patterns) == 1


@pytest.mark.parametrize("text", [
    "这里有坏词一", "ｎｍｓｌ", "ＮＭＳＬ", "NmSl", "n m s l", "n-m-s-l", "坏\u200b词\u200b一",
    "坏 词 一", "坏*词*一", "电话１３９１２３４５６７８",
])
def test_risky_terms_match_whatever_the_width_case_or_separators(words, text):
    verdict, hits = words.match(text)
    assert verdict == RISKY, text
    assert hits


@pytest.mark.parametrize("text", ["请看 HTTPS://example.com", "ｈｔｔｐ：／／ｘ.ｃｎ", "这个待看词"])
def test_review_hits(words, text):
    assert words.match(text)[0] == REVIEW


@pytest.mark.parametrize("text", ["小区停车位太少", "编号 139123456789 不是手机号", "坏词", ""])
def test_clean_text_passes(words, text):
    assert words.match(text) == (PASS, [])


def test_risky_wins_over_review(words):
    verdict, hits = words.match("待看词 和 坏词一")
    assert verdict == RISKY and hits == ["坏词一"]


def test_normalisation():
    assert normalise("ＡＢＣ１２３") == "abc123"
    assert normalise("a\u200bb\ufeffc") == "abc"
    assert compact("傻 ，逼！") == "傻逼"
    assert compact("Ａ-Ｂ C") == "abc"


def test_a_broken_pattern_does_not_disable_the_list():
    words = parse_wordlist("[risky]\nre:(unclosed\n好坏词\n")
    assert words.match("好坏词")[0] == RISKY
    assert words.risky_patterns == ()


def test_bundled_list_refuses_abuse_and_holds_ads_and_phone_numbers():
    words = load_wordlist(DEFAULT_WORDLIST)
    assert words.match("你就是个傻逼")[0] == RISKY
    assert words.match("专业代开发票")[0] == RISKY
    assert words.match("有事加微信详谈")[0] == REVIEW
    assert words.match("联系我 13800138000")[0] == REVIEW
    assert words.match("ＱＱ：１２３４５６７８")[0] == REVIEW
    # Ordinary civic suggestions pass, including ones that name a problem such as drugs
    # only at review level (a resident may ask for anti-drug work).
    assert words.match("建议在小区门口增加路灯，晚上太黑")[0] == PASS
    assert words.match("加强禁毒宣传，远离冰毒")[0] == REVIEW


def test_changed_file_is_reloaded(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("[risky]\n甲乙丙\n", encoding="utf-8")
    assert load_wordlist(path).match("甲乙丙")[0] == RISKY
    path.write_text("[risky]\n丁戊己庚\n", encoding="utf-8")  # different size → reloaded
    words = load_wordlist(path)
    assert words.match("甲乙丙")[0] == PASS
    assert words.match("丁戊己庚")[0] == RISKY
