"""The business-date rules (core/business_day.py; issues 16 and 19): a repayment needs every
day before it closed, postings on a line go in date order, typo'd dates are refused, and
``verify`` finds a ledger where money moved on a note before it was drawn."""

from datetime import date, timedelta

import pytest

from credit_coop.core import dates, dayend, journal, loans
from credit_coop.core.errors import InvalidInput, RuleViolation
from credit_coop.core.verify import verify
from conftest import D0


@pytest.fixture
def line(coop):
    return coop.granted("hnd", line="8万", term=36)


def draw(coop, line, amount, on=None, **kw):
    return loans.draw(coop.as_("teller"), card=line["card_no"], id_number=line["borrower"], amount=amount,
                      fingerprint_ok=True, on=on, **kw)


def close(coop, through):
    return dayend.day_end(coop.as_("accountant"), through, today=date(2030, 1, 1))


def test_repayment_after_an_unclosed_settlement_day_is_refused(coop, line):
    """Issue 16 §1: repay on the 21st before the 20th is closed used to drive accrued interest negative."""
    draw(coop, line, "5万", D0)
    close(coop, date(2025, 3, 19))
    with pytest.raises(RuleViolation, match=r"not closed 2025-03-20 yet \(run: credit-coop batch day-end --through 2025-03-20\)"):
        loans.repay(coop.as_("teller"), card=line["card_no"], amount="1000", on=date(2025, 3, 21))
    close(coop, date(2025, 3, 20))
    r = loans.repay(coop.as_("teller"), card=line["card_no"], amount="1000", on=date(2025, 3, 21))
    assert r["split"]["interest_due_fen"] > 0  # the 20th's settlement is what it pays first
    close(coop, date(2025, 4, 30))
    assert verify(coop.as_("auditor"))["ok"]


def test_a_mistyped_year_is_refused(coop, line):
    draw(coop, line, "1万", D0)
    with pytest.raises(RuleViolation, match="likely typo"):
        draw(coop, line, "1万", date(2027, 3, 1))  # 2027 typed for 2025
    with pytest.raises(RuleViolation, match="likely typo"):
        draw(coop, line, "1万", D0 + timedelta(days=32))  # past the open business date's window
    assert draw(coop, line, "1万", D0 + timedelta(days=31))["drawn_on"] == "2025-04-01"
    with pytest.raises(RuleViolation, match="needs every day before it closed"):
        loans.repay(coop.as_("teller"), card=line["card_no"], amount="1", on=date(2052, 5, 1))


def test_calendar_window(coop, line, monkeypatch):
    monkeypatch.setattr(dates, "today", lambda: date(2025, 3, 5))
    assert draw(coop, line, "1万", date(2025, 3, 6))["drawn_on"] == "2025-03-06"  # one day: time zones
    with pytest.raises(RuleViolation, match=r"after today's date \(2025-03-05\)"):
        draw(coop, line, "1万", date(2025, 3, 7))


def test_default_date_is_the_open_business_date_not_the_calendar(coop, line):
    """Issue 19: `draw` without --on posted on the calendar date, months after the books."""
    assert draw(coop, line, "1万")["drawn_on"] == D0.isoformat()
    close(coop, date(2025, 3, 9))
    assert draw(coop, line, "1万")["drawn_on"] == "2025-03-10"
    r = loans.repay(coop.as_("teller"), card=line["card_no"], amount="100")
    assert r["on"] == "2025-03-10"
    with pytest.raises(InvalidInput, match="needs the day it belongs to"):
        loans.repay(coop.as_("accountant"), card=line["card_no"], amount="100", correction="late")


def test_postings_on_a_line_go_in_date_order(coop, line):
    """Issue 19: a repayment dated before a later drawdown paid off principal not yet lent."""
    draw(coop, line, "1万", D0)
    late = draw(coop, line, "3万", date(2025, 3, 20))
    close(coop, date(2025, 3, 5))
    with pytest.raises(RuleViolation, match=f"already has a drawdown dated 2025-03-20 \\(transaction {late['txn_id']}\\)"):
        loans.repay(coop.as_("teller"), card=line["card_no"], amount="2万", on=date(2025, 3, 6))
    with pytest.raises(RuleViolation, match="date order"):
        draw(coop, line, "1万", date(2025, 3, 10))
    assert verify(coop.as_("auditor"))["ok"]


def test_reversal_needs_the_days_before_it_closed(coop, line):
    d = draw(coop, line, "1万", D0)
    with pytest.raises(RuleViolation, match="needs every day before it closed"):
        journal.reverse(coop.as_("accountant"), d["txn_id"], "wrong card", date(2025, 3, 3))
    assert journal.reverse(coop.as_("accountant"), d["txn_id"], "wrong card")["on"] == D0.isoformat()


def test_verify_finds_money_moved_before_the_note_was_drawn(coop, line):
    """A ledger the rules no longer let anyone make: verify must still see it."""
    d = draw(coop, line, "1万", date(2025, 3, 10))
    led = coop.as_("teller")
    note_id = led.store.get_note_by_no(d["note_no"])["id"]
    with led.store.write():
        journal.post(led, "repayment", date(2025, 3, 2), [
            journal.Line("1001", debit=500, grant_id=1),
            journal.Line("1303.hnd", credit=500, grant_id=1, note_id=note_id),
        ])
    findings = verify(coop.as_("auditor"))["findings"]
    assert any(f["check"] == "dates" and d["note_no"] in f["message"] and "2025-03-10" in f["message"] for f in findings)
