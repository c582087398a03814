"""Business dates (营业日期) and month arithmetic (SPEC §1).

Dates are ``datetime.date``; in the store they are ISO text ``YYYY-MM-DD``.
Month arithmetic is python-dateutil's ``relativedelta``: 2025-01-31 plus one
month is 2025-02-28.
"""

import re
from datetime import date, timedelta

from credit_coop.core.errors import InvalidInput

_ISO = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def parse_date(text: str | date, *, what: str = "date") -> date:
    """Parse ``YYYY-MM-DD`` strictly; ``2025-02-30`` is refused."""
    if isinstance(text, date):
        return text
    raw = str(text).strip()
    if not _ISO.match(raw):
        raise InvalidInput(f"{what} {raw!r} is not a date; write it as YYYY-MM-DD, e.g. 2025-03-01")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{what} {raw} does not exist on the calendar") from None


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
