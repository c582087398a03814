"""Resident ID numbers (居民身份证号码), GB 11643-1999 (SPEC §1).

18 characters: 6-digit region code, 8-digit birth date, 3-digit sequence and
an ISO 7064 MOD 11-2 check character (0-9 or X).
"""

from datetime import date

from credit_coop.core.errors import InvalidInput
from credit_coop.core.text import halfwidth

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_character(first17: str) -> str:
    """The MOD 11-2 check character for the first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS))
    return _CHECK[total % 11]


def validate_id_number(text: str, *, what: str = "ID number") -> str:
    """Return the normalised ID number (upper-case X) or raise InvalidInput."""
    raw = halfwidth(str(text)).strip().upper()
    if len(raw) != 18:
        raise InvalidInput(f"{what} must have 18 characters, got {len(raw)}")
    if not raw[:17].isdigit() or not raw[:17].isascii() or not (raw[17].isdigit() or raw[17] == "X"):
        raise InvalidInput(f"{what} must be 17 digits followed by a digit or X")
    try:
        born = date(int(raw[6:10]), int(raw[10:12]), int(raw[12:14]))
    except ValueError:
        raise InvalidInput(f"{what} {mask_id_number(raw)} carries no valid birth date") from None
    if born.year < 1900:
        raise InvalidInput(f"{what} {mask_id_number(raw)} carries no valid birth date")
    if raw[0] == "0":
        raise InvalidInput(f"{what} {mask_id_number(raw)} has no valid region code")
    if check_character(raw[:17]) != raw[17]:
        raise InvalidInput(f"{what} {mask_id_number(raw)} fails its check digit; please re-read the ID card")
    return raw


def mask_id_number(id_number: str) -> str:
    """``110101199003071234`` → ``110101********1234`` for screens and exports."""
    if len(id_number) != 18:
        return "*" * len(id_number)
    return id_number[:6] + "*" * 8 + id_number[-4:]


def make_id_number(region: str, born: date, sequence: int) -> str:
    """Build a valid ID number (for sample data and tests)."""
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)


def luhn_digit(digits: str) -> str:
    """Luhn check digit for a string of digits (loan card numbers)."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def validate_card_number(text: str) -> str:
    """A loan card (贷款卡) number: 16 digits whose last is a Luhn check digit."""
    raw = halfwidth(str(text)).strip().replace(" ", "")
    if len(raw) != 16 or not raw.isdigit() or not raw.isascii():
        raise InvalidInput(f"loan card number must be 16 digits, got {text!r}")
    if luhn_digit(raw[:15]) != raw[15]:
        raise InvalidInput(f"loan card number {raw} fails its check digit; please re-read the card")
    return raw
