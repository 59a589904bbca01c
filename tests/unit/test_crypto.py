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
