from datetime import date

import pytest
from hypothesis import given, strategies as st

from credit_coop.core.errors import InvalidInput
from credit_coop.core.identity import (
    check_character, luhn_digit, make_id_number, mask_id_number, validate_card_number, validate_id_number,
)


def test_known_id_number():
    # GB 11643 worked example: 11010519491231002X
    assert validate_id_number("11010519491231002x") == "11010519491231002X"
    assert check_character("11010519491231002") == "X"


@pytest.mark.parametrize(
    "text,needle",
    [
        ("11010519491231002", "18 characters"),          # 17 digits
        ("1101051949123100201", "18 characters"),        # 19 digits
        ("110105194912310021", "check digit"),           # wrong check
        ("11010519490230002X", "birth date"),            # 1949-02-30
        ("01010519491231002X", "region"),
        ("11010519491231002Y", "17 digits followed"),
        ("\u0661\u0661\u0660\u0661\u0660\u0665\u0661\u0669\u0664\u0669\u0661\u0662\u0663\u0661\u0660\u0660\u0662X", "17 digits"),  # Arabic-Indic digits: not guessed at
    ],
)
def test_bad_id_numbers(text, needle):
    with pytest.raises(InvalidInput, match=needle):
        validate_id_number(text)


def test_mask():
    assert mask_id_number("110101199003071234") == "110101********1234"


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2010, 12, 31)), st.integers(0, 999))
def test_made_ids_validate(born, seq):
    idn = make_id_number("410523", born, seq)
    assert validate_id_number(idn) == idn


def test_card_numbers():
    card = "622025000000001"
    full = card + luhn_digit(card)
    assert validate_card_number(full) == full
    bad = full[:-1] + str((int(full[-1]) + 1) % 10)
    with pytest.raises(InvalidInput, match="check digit"):
        validate_card_number(bad)
    with pytest.raises(InvalidInput, match="16 digits"):
        validate_card_number("1234")


def test_full_width_digits_from_an_input_method_are_read_as_digits():
    """A Chinese IME in full-width mode types full-width digits; the ID read is the same (issue 15)."""
    typed = "11010519491231002X".translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
    assert typed != "11010519491231002X" and validate_id_number(typed) == "11010519491231002X"
