"""Business dates (营业日期) and month arithmetic (SPEC §1).

Dates are ``datetime.date``; in the store they are ISO text ``YYYY-MM-DD``.
Month arithmetic is python-dateutil's ``relativedelta``: 2025-01-31 plus one
month is 2025-02-28.
"""

import re
from datetime import date, timedelta

from credit_coop.core.errors import InvalidInput
from credit_coop.core.text import halfwidth

# Year first, always: 2025-03-01, 2025-3-1, 2025/3/1, 2025年3月1日, 20250301 (issue 15). A day-first or
# month-first form (01/03/2025) is ambiguous and refused.
_DATE_FORMS = (
    re.compile(r"^(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})$"),
    re.compile(r"^(?P<y>[0-9]{4})/(?P<m>[0-9]{1,2})/(?P<d>[0-9]{1,2})$"),
    re.compile(r"^(?P<y>[0-9]{4}) ?年 ?(?P<m>[0-9]{1,2}) ?月 ?(?P<d>[0-9]{1,2}) ?[日号]?$"),
    re.compile(r"^(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})$"),
)
_MONTH_FORMS = (
    re.compile(r"^(?P<y>[0-9]{4})[-/](?P<m>[0-9]{1,2})$"),
    re.compile(r"^(?P<y>[0-9]{4}) ?年 ?(?P<m>[0-9]{1,2}) ?月?$"),
    re.compile(r"^(?P<y>[0-9]{4})(?P<m>[0-9]{2})$"),
)


def parse_date(text: str | date, *, what: str = "date") -> date:
    """Parse a date typed year first: ``2025-03-01``, ``2025/3/1``, ``2025年3月1日`` or ``20250301``,
    full-width digits included; ``2025-02-30`` and day-first forms are refused."""
    if isinstance(text, date):
        return text
    raw = halfwidth(str(text)).strip()
    m = next((m for form in _DATE_FORMS if (m := form.match(raw))), None)
    if not m:
        raise InvalidInput(f"{what} {raw!r} is not a date; write it as 2025-03-01, 2025/3/1, 2025年3月1日 or 20250301")
    try:
        return date(int(m["y"]), int(m["m"]), int(m["d"]))
    except ValueError:
        raise InvalidInput(f"{what} {raw} does not exist on the calendar") from None


def parse_month(text: str, *, what: str = "month") -> tuple[int, int]:
    """``2025-11``, ``2025/11``, ``2025年11月`` or ``202511`` → ``(2025, 11)``."""
    raw = halfwidth(str(text)).strip()
    m = next((m for form in _MONTH_FORMS if (m := form.match(raw))), None)
    if not m or not 1 <= int(m["m"]) <= 12:
        raise InvalidInput(f"{what} {raw!r} is not a month; write it as 2025-11, 2025/11 or 2025年11月")
    return int(m["y"]), int(m["m"])


def today() -> date:
    """The calendar date (one place, so tests can set the clock)."""
    return date.today()


def business_date(value: str | date | None) -> date:
    """The ``--on`` date of a non-posting command; today when not given."""
    return today() if value is None else parse_date(value, what="business date (--on)")


def add_months(start: date, months: int) -> date:
    """``start`` plus ``months`` calendar months, clipped to the month's end."""
    from dateutil.relativedelta import relativedelta

    return start + relativedelta(months=months)


def term_end(start: date, months: int) -> date:
    """Last day of a term of ``months`` months beginning on ``start`` (inclusive).

    A 36-month line approved on 2025-03-01 is valid through 2028-02-29.
    """
    return add_months(start, months) - timedelta(days=1)


def days_inclusive(first: date, last: date) -> int:
    """Number of calendar days from ``first`` to ``last``, counting both."""
    return (last - first).days + 1
