"""The business date (营业日期) a posting may carry — SPEC §5 (day-end), issues 16 and 19.

A bank's counter works on one business date at a time: the **open business
date**, the first day the day-end has not closed (on a new ledger, the day it
was created or its earliest posting). The rules, checked inside the posting's
write transaction so a day-end running beside the counter cannot slip between
the check and the posting:

1. A closed day takes no postings, except as a back-dated correction
   (corrections.py).
2. A repayment or reversal is dated on the open business date itself: what it
   settles (accrued interest, interest moved to "due" on the 20th, penalty,
   compensation at maturity) depends on every day before it being closed.
   Dated later, it is refused with the day-end command to run first.
3. A drawdown may be dated on or after the open business date (an import of a
   period's drawdowns runs ahead of its day-end), but postings on one line go
   in date order: nothing may be dated before the line's latest counter posting.
4. A date far from where the books stand is taken for a typo and refused:
   more than ``business_day.max_days_after_open`` days after the open business
   date, or more than ``business_day.max_days_after_calendar`` days after the
   calendar date.
5. With no ``--on``, a counter posting takes the open business date, never
   the calendar date.
"""

from __future__ import annotations

from datetime import date, timedelta

from credit_coop.core.errors import RuleViolation
from credit_coop.core.ledger import Ledger

ONE_DAY = timedelta(days=1)


def open_business_date(ledger: Ledger) -> date:
    """The first day the day-end has not closed."""
    from credit_coop.core.dayend import next_day_to_close

    return next_day_to_close(ledger)


def posting_date(ledger: Ledger, on: date | None) -> date:
    """``on`` itself, or the open business date when it is not given (rule 5)."""
    return open_business_date(ledger) if on is None else on


def check_not_far(ledger: Ledger, on: date, *, today: date | None = None) -> None:
    """Rule 4: a date far past the open business date or the calendar is a likely typo."""
    rules = ledger.policy.business_day
    from credit_coop.core import dates

    today = today or dates.today()
    ahead = rules["max_days_after_calendar"]
    if on > today + timedelta(days=ahead):
        raise RuleViolation(
            f"business date {on.isoformat()} is after today's date ({today.isoformat()}); a likely typo, nothing posted"
        )
    first_open = open_business_date(ledger)
    window = rules["max_days_after_open"]
    if on > first_open + timedelta(days=window):
        raise RuleViolation(
            f"business date {on.isoformat()} is more than {window} days after the open business date "
            f"{first_open.isoformat()}; a likely typo, nothing posted"
        )


def check_settles_on_open_day(ledger: Ledger, on: date, what: str) -> None:
    """Rule 2: a repayment or reversal needs every day before it closed."""
    first_open = open_business_date(ledger)
    if on > first_open:
        raise RuleViolation(
            f"a {what} dated {on.isoformat()} needs every day before it closed; the day-end has not closed "
            f"{first_open.isoformat()} yet (run: credit-coop batch day-end --through {(on - ONE_DAY).isoformat()})"
        )


def check_line_order(ledger: Ledger, grant_id: int, card: str, on: date) -> None:
    """Rule 3: nothing on a line is dated before the line's latest counter posting."""
    later = ledger.store.counter_postings_after([grant_id], on.isoformat())
    if later:
        t = later[-1]
        raise RuleViolation(
            f"line {card} already has a {t['kind']} dated {t['business_date']} (transaction {t['id']}); postings on a "
            f"line go in date order, so nothing can be dated {on.isoformat()} (post it as a back-dated correction after "
            "reversing the later posting, or date it on or after the later one)"
        )
