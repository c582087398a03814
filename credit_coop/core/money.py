"""Money is integer fen (分), never float (SPEC §1).

Every amount entering the ledger goes through :func:`parse_amount`; every
amount leaving it for a person goes through :func:`format_yuan`.
"""

import re

from credit_coop.core.errors import InvalidInput
from credit_coop.core.text import amount_text

FEN_PER_YUAN = 100
FEN_PER_WAN = 1_000_000  # 1万元 = 10,000 yuan
MAX_FEN = 10**14  # one trillion yuan: far beyond any cooperative, far inside int64

_AMOUNT = re.compile(
    r"""^(?P<sign>[-+])?\s*(?:¥|￥|RMB\s*|CNY\s*)?\s*
        (?P<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)?
        (?:\.(?P<frac>[0-9]+))?
        \s*(?P<wan>万)?\s*(?P<yuan>元)?$""",
    re.VERBOSE,
)


def parse_amount(text: str, *, allow_zero: bool = False, what: str = "amount") -> int:
    """Parse what a person types into integer fen.

    Accepts ``100000``, ``100,000.50``, ``¥1,000``, ``10万``, ``10万元``,
    ``3.5万``, and the same typed in full width (``１０万``, ``１，０００．００``). Refuses negatives, zero (unless ``allow_zero``), more than two
    decimals of a yuan (more than six of a 万), and anything else.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise InvalidInput(f"{what} must be written as text like 80,000.00 or 8万")
    raw = amount_text(str(text)).strip()
    m = _AMOUNT.match(raw)
    if not raw or not m or (m.group("int") is None and m.group("frac") is None):
        raise InvalidInput(
            f"{what} {raw!r} is not an amount; write it like 80000, 80,000.00, ¥80,000, 8万 or 3.5万"
        )
    if m.group("sign") == "-":
        raise InvalidInput(f"{what} cannot be negative: {raw}")
    whole = (m.group("int") or "0").replace(",", "")
    frac = m.group("frac") or ""
    if m.group("wan"):
        if len(frac) > 6:
            raise InvalidInput(f"{what} {raw} is finer than one fen (at most 6 decimals of a 万)")
        fen = int(whole) * FEN_PER_WAN + int(frac.ljust(6, "0")) if frac else int(whole) * FEN_PER_WAN
    else:
        if len(frac) > 2:
            raise InvalidInput(f"{what} {raw} has more than 2 decimals; the smallest unit is one fen (0.01)")
        fen = int(whole) * FEN_PER_YUAN + (int(frac.ljust(2, "0")) if frac else 0)
    if fen > MAX_FEN:
        raise InvalidInput(f"{what} {raw} is too large")
    if fen == 0 and not allow_zero:
        raise InvalidInput(f"{what} must be more than zero")
    return fen


def format_yuan(fen: int, *, symbol: bool = False) -> str:
    """``8000000`` → ``80,000.00`` (or ``¥80,000.00``). Exact: integer arithmetic only."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{'¥' if symbol else ''}{yuan:,}.{cents:02d}"


def format_wan(fen: int) -> str:
    """Amount in 万元 with two decimals, rounded half up (for summary reports)."""
    sign = "-" if fen < 0 else ""
    hundredths = (abs(fen) * 100 + FEN_PER_WAN // 2) // FEN_PER_WAN
    whole, part = divmod(hundredths, 100)
    return f"{sign}{whole:,}.{part:02d}万"


def to_fen(value: int | str, *, allow_zero: bool = False, what: str = "amount") -> int:
    """An amount given to the core API: integer fen as is (checked), text parsed."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise InvalidInput(f"{what} cannot be negative")
        if value == 0 and not allow_zero:
            raise InvalidInput(f"{what} must be more than zero")
        if value > MAX_FEN:
            raise InvalidInput(f"{what} is too large")
        return value
    return parse_amount(value, allow_zero=allow_zero, what=what)
