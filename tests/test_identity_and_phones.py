import pytest

from basics.credit_code import credit_code_check_char, is_valid_credit_code
from basics.identity import id_check_char, is_valid_id_number, protect_id_number
from basics.phones import InvalidPhoneNumber, to_e164


@pytest.mark.parametrize("value", ["11010519491231002X", "11010519491231002x",
                                   "440524188001010014"])
def test_valid_id_numbers(value):
    assert is_valid_id_number(value)


@pytest.mark.parametrize("value", [
    "110105194912310021",  # wrong check digit
    "11010519491231002",  # 17 characters
    "1101051949123100XX",  # X inside
    "01010519491231002X",  # no region starts with 0
    "",
])
def test_invalid_id_numbers(value):
    assert not is_valid_id_number(value)


def test_check_char_follows_gb11643():
    assert id_check_char("11010519491231002") == "X"
    assert id_check_char("44052418800101001") == "4"


def test_id_numbers_are_kept_only_as_keyed_hash_and_last4():
    protected = protect_id_number("11010519491231002x", "key-1")
    assert protected.last4 == "002X"
    assert "1101051949" not in protected.digest
    assert protected == protect_id_number("11010519491231002X", "key-1")
    assert protected.digest != protect_id_number("11010519491231002X", "key-2").digest


def test_credit_codes_follow_gb32100():
    assert is_valid_credit_code("91350100M000100Y43")
    assert is_valid_credit_code("91140802MA0K000005")
    assert not is_valid_credit_code("91140802MA0K000004")
    assert not is_valid_credit_code("91140802MA0K00000I")  # I is not in the alphabet
    assert credit_code_check_char("91140802MA0K00000") == "5"


@pytest.mark.parametrize("raw, e164", [
    ("13800138000", "+8613800138000"),
    ("+86 138 0013 8000", "+8613800138000"),
    ("0086-138-0013-8000", "+8613800138000"),
    ("0359-2123456", "+863592123456"),
])
def test_phone_numbers_become_e164(raw, e164):
    assert to_e164(raw) == e164


@pytest.mark.parametrize("raw", ["anonymous", "", "12345", "+266696687"])
def test_bad_phone_numbers_are_refused(raw):
    with pytest.raises(InvalidPhoneNumber):
        to_e164(raw)
