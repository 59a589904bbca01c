import pytest

from app.config import Config
from app.crypto import PersonalDataCipher, mask_name, mask_phone, normalise_phone


@pytest.mark.parametrize("raw,expected", [
    ("13812345678", "13812345678"),
    ("+86 138-1234-5678", "13812345678"),
    ("8613812345678", "13812345678"),
])
def test_normalise_phone(raw, expected):
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["", "12812345678", "1381234567", "138123456789", "abc", None])
def test_normalise_phone_rejects(raw):
    with pytest.raises(ValueError):
        normalise_phone(raw)


def test_encrypt_roundtrip_and_lookup_hash():
    c = PersonalDataCipher(Config(secret_key="a"))
    blob = c.encrypt("13812345678")
    assert b"13812345678" not in blob
    assert c.decrypt(blob) == "13812345678"
    assert c.lookup_hash("13812345678") == c.lookup_hash("13812345678")
    assert c.lookup_hash("13812345678") != c.lookup_hash("13812345679")


def test_other_key_cannot_decrypt_or_match():
    a = PersonalDataCipher(Config(secret_key="a"))
    b = PersonalDataCipher(Config(secret_key="b"))
    with pytest.raises(ValueError):
        b.decrypt(a.encrypt("13812345678"))
    assert a.lookup_hash("13812345678") != b.lookup_hash("13812345678")


def test_masks():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("张三丰") == "张**"
    assert mask_name("李四") == "李*"
    assert mask_name("") == "匿名"


@pytest.mark.parametrize("text", [
    "请联系13812345678", "电话 +86 138-1234-5678 找我", "138 1234 5678",
    "手机一三八一二三四五六七八", "打１３８１２３４５６７８", "号码是幺三八一二三四五六七八",
    "一三八 一二三四 五六七八", "身份证320700199001011234",
])
def test_public_text_hides_phone_numbers_however_they_are_written(text):
    """Issue 10 item 9: a number typed in Chinese numerals (一三八…, 幺 for 1 as people read it
    out) or full-width digits is as personal as 13812345678."""
    from app.crypto import mask_numbers

    masked = mask_numbers(text)
    assert "***" in masked
    for digits in ("12345678", "一二三四五六七八", "１２３４５６７８", "1234"):
        assert digits not in masked.replace(" ", "").replace("-", ""), masked


@pytest.mark.parametrize("text", [
    "一三五七九", "第一二三组", "共有138户居民", "一年三百六十五天", "2026年12月2日14:30",
])
def test_ordinary_text_with_numbers_is_left_alone(text):
    from app.crypto import mask_numbers

    assert mask_numbers(text) == text
