import pytest
from hypothesis import given, strategies as st

from credit_coop.core.errors import InvalidInput
from credit_coop.core.money import format_wan, format_yuan, parse_amount, to_fen


@pytest.mark.parametrize(
    "text,fen",
    [
        ("100000", 10_000_000),
        ("100,000.50", 10_000_050),
        ("¥1,000", 100_000),
        ("￥1,000.5", 100_050),
        ("10万", 10_000_000),
        ("10万元", 10_000_000),
        ("3.5万", 3_500_000),
        ("0.000001万", 1),
        ("80,000.00", 8_000_000),
        ("8万", 8_000_000),
        ("0.01", 1),
        (" 12.3 ", 1230),
        ("500元", 50_000),
        (".5", 50),
    ],
)
def test_parse_accepts(text, fen):
    assert parse_amount(text) == fen


@pytest.mark.parametrize(
    "text,needle",
    [
        ("-5", "negative"),
        ("0", "more than zero"),
        ("0.00", "more than zero"),
        ("1.005", "more than 2 decimals"),
        ("1.0000001万", "finer than one fen"),
        ("abc", "not an amount"),
        ("", "not an amount"),
        ("1,00", "not an amount"),
        ("1e5", "not an amount"),
        ("NaN", "not an amount"),
        ("inf", "not an amount"),
        ("10万万", "not an amount"),
        ("9" * 20, "too large"),
        ("1; DROP TABLE grants", "not an amount"),
        ("١٠", "not an amount"),      # Arabic-Indic digits: only ASCII and full-width (IME) digits are money
        ("10²", "not an amount"),     # a superscript is not folded (NFKC would read 102)
        ("①000", "not an amount"),    # nor a circled digit
        ("٣", "not an amount"),
    ],
)
def test_parse_refuses_with_a_clear_message(text, needle):
    with pytest.raises(InvalidInput, match=needle):
        parse_amount(text)


def test_zero_allowed_when_asked():
    assert parse_amount("0", allow_zero=True) == 0


def test_to_fen_takes_ints_and_text():
    assert to_fen(1) == 1
    assert to_fen("1") == 100
    with pytest.raises(InvalidInput):
        to_fen(-1)
    with pytest.raises(InvalidInput):
        to_fen(True)


def test_format():
    assert format_yuan(8_000_000) == "80,000.00"
    assert format_yuan(1, symbol=True) == "¥0.01"
    assert format_yuan(-150) == "-1.50"
    assert format_wan(9_322 * 1_000_000) == "9,322.00万"
    assert format_wan(5_000) == "0.01万"  # half up


@given(st.integers(min_value=1, max_value=10**14))
def test_round_trip_yuan(fen):
    assert parse_amount(format_yuan(fen)) == fen
    assert parse_amount(format_yuan(fen, symbol=True)) == fen
    assert parse_amount(format_yuan(fen).replace(",", "")) == fen


@given(st.integers(min_value=1, max_value=10**8 - 1), st.integers(min_value=0, max_value=999_999))
def test_round_trip_wan(whole, frac):
    text = f"{whole}.{frac:06d}万"
    assert parse_amount(text) == whole * 1_000_000 + frac


@given(st.text(max_size=30))
def test_parse_never_crashes(text):
    try:
        fen = parse_amount(text)
    except InvalidInput:
        return
    assert isinstance(fen, int) and fen > 0
