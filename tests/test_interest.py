"""Day-end: hand-computed interest, settlement, repayment split, overdue and classification (SPEC §5)."""

from datetime import date, timedelta
from fractions import Fraction

import pytest

from credit_coop.core import dates, dayend, journal, loans
from credit_coop.core.errors import NotPermitted, RuleViolation
from credit_coop.core.dayend import classify
from credit_coop.core.policy import load_policy_file
from credit_coop.core.reports import overdue_report
from credit_coop.core.verify import verify
from conftest import far_dates, make_coop

START = date(2025, 2, 20)
TODAY = date(2030, 1, 1)


@pytest.fixture
def coop2(tmp_path):
    c = make_coop(str(tmp_path / "c.db"), START, passphrases=False)
    yield c
    c.close()


def close(coop, through, compensate=False):
    """Day-end as the accountant; these tests keep officers' compensation out of the way unless asked."""
    from credit_coop.core.policy import Policy

    acct = coop.as_("accountant")
    if not compensate:
        acct.policy = Policy(dict(acct.policy.data, risk_fund=dict(acct.policy["risk_fund"], compensation_ceiling=0)))
    return dayend.day_end(acct, through, today=TODAY)


def line_and_note(coop, amount="8万", on=date(2025, 3, 1), maturity=None, product="hnd", line="8万"):
    ln = coop.granted(product, line=line, on=date(2025, 2, 20), term=36)
    n = loans.draw(coop.as_("teller"), card=ln["card_no"], id_number=ln["borrower"], amount=amount, fingerprint_ok=True,
                   on=on, maturity=maturity)
    return ln, n


def daily(principal_fen, rate="0.065"):
    return Fraction(principal_fen) * Fraction(rate) / 360


def test_hand_computed_80000(coop2):
    """80,000.00 drawn 2025-03-01 at 6.5%: 1,444.44 fen a day."""
    ln, n = line_and_note(coop2)
    close(coop2, date(2025, 3, 20))
    s = loans.show_note(coop2.as_("auditor"), n["note_no"])
    # 20 days (3-1 .. 3-20), settled on the 20th: 28,888.89 → 28,889 fen due
    assert (s["interest_due_fen"], s["interest_accrued_fen"]) == (28_889, 0)
    # the borrower pays the interest on the 21st; nothing past due
    r = loans.repay(coop2.as_("teller"), card=ln["card_no"], amount=28_889, on=date(2025, 3, 21))
    assert r["split"]["interest_due_fen"] == 28_889 and r["split"]["principal_fen"] == 0
    close(coop2, date(2025, 4, 14))
    s = loans.show_note(coop2.as_("auditor"), n["note_no"])
    # 3-21 .. 4-14 = 25 days accrued: 36,111.11 → 36,111
    assert (s["interest_accrued_fen"], s["interest_due_fen"], s["days_past_due"], s["class"]) == (36_111, 0, 0, "正常")
    # part repayment on 4-15: accrued interest first, then principal
    r = loans.repay(coop2.as_("teller"), card=ln["card_no"], amount="20,000.00", on=date(2025, 4, 15))
    assert r["split"] == {"penalty_fen": 0, "interest_due_fen": 0, "interest_accrued_fen": 36_111, "principal_fen": 1_963_889,
                          "recovery_fen": 0, "recovery_to_debt_fen": 0}
    close(coop2, date(2025, 4, 20))
    s = loans.show_note(coop2.as_("auditor"), n["note_no"])
    # 4-15 .. 4-20: 6 days on 6,036,111 fen
    assert s["interest_due_fen"] == round(daily(6_036_111) * 6)
    # full repayment later: everything owed
    owed = s["interest_due_fen"] + s["principal_fen"]
    r = loans.repay(coop2.as_("teller"), card=ln["card_no"], amount=owed, on=date(2025, 4, 21))
    assert r["outstanding_after_fen"] == 0
    close(coop2, date(2025, 5, 31))
    s = loans.show_note(coop2.as_("auditor"), n["note_no"])
    assert s["interest_accrued_fen"] == s["interest_due_fen"] == s["principal_fen"] == 0 and s["status"] == "repaid"
    assert verify(coop2.as_("auditor"))["ok"]


def test_sum_of_accruals_equals_direct_recomputation(coop2):
    """Per note per settlement period: the fen posted equal the rounded exact total, for every period."""
    ln, n = line_and_note(coop2, amount="33,333.33", on=date(2025, 3, 7))
    t = coop2.as_("teller")
    close(coop2, date(2025, 3, 6))
    loans.repay(t, card=ln["card_no"], amount="1,234.56", on=date(2025, 3, 7))   # no accrued yet: all principal
    close(coop2, date(2025, 3, 12))
    close(coop2, date(2025, 4, 3))
    # balances by day, recomputed independently
    principal = {}
    p = 0
    for d in (date(2025, 3, 7) + timedelta(days=i) for i in range(60)):
        if d == date(2025, 3, 7):
            p += 3_333_333
        if d == date(2025, 3, 7):
            p -= 123_456
        principal[d] = p
    period1 = sum(daily(principal[date(2025, 3, 7) + timedelta(days=i)], "0.065") for i in range(14))   # 3-7..3-20
    period2 = sum(daily(principal[date(2025, 3, 21) + timedelta(days=i)], "0.065") for i in range(14))  # 3-21..4-3
    s = loans.show_note(coop2.as_("auditor"), n["note_no"])
    assert s["interest_due_fen"] == int(period1 + Fraction(1, 2))
    assert s["interest_accrued_fen"] == int(period2 + Fraction(1, 2))
    store = coop2.as_("auditor").store
    note_id = store.get_note_by_no(n["note_no"])["id"]
    # issue 11: the note's interest became a per-note line only when it fell due (3-20); the day-end's
    # accruals are booked per product, and the product's accrued account holds what is not yet due
    settled = [l for l in store.note_lines(note_id) if l["kind"] == "day-end"]
    assert [(l["business_date"], l["account"], l["debit"], l["credit"]) for l in settled] == [
        ("2025-03-20", "1132.due", int(period1 + Fraction(1, 2)), 0)]
    balances = {r["account"]: r["debit"] - r["credit"] for r in store.account_balances()}
    assert balances[f"1132.accrued.{s['product']}"] == int(period2 + Fraction(1, 2))
    assert balances[f"6011.interest.{s['product']}"] == -(int(period1 + Fraction(1, 2)) + int(period2 + Fraction(1, 2)))


def test_maturity_overdue_penalty_and_classes(coop2):
    """A note unpaid at maturity: penalty from the next day; 关注 at day 1..90, 次级 from 91."""
    ln, n = line_and_note(coop2, amount="1万", on=date(2025, 3, 1), maturity="2025-03-10")
    close(coop2, date(2025, 3, 10))
    s = loans.show_note(coop2.as_("auditor"), n["note_no"])
    assert (s["days_past_due"], s["class"], s["penalty_fen"]) == (0, "正常", 0)
    assert s["interest_due_fen"] == round(daily(1_000_000) * 10)   # 3-1..3-10 settled at maturity
    close(coop2, date(2025, 3, 11))
    s = loans.show_note(coop2.as_("auditor"), n["note_no"])
    assert (s["days_past_due"], s["class"]) == (1, "关注")
    # penalty interest starts the day after maturity: principal at 9.75% plus compound on interest due
    due = s["interest_due_fen"]
    assert s["penalty_fen"] == round((Fraction(1_000_000) + due) * Fraction("0.0975") / 360)
    close(coop2, date(2025, 6, 8))     # day 90
    assert loans.show_note(coop2.as_("auditor"), n["note_no"])["class"] == "关注"
    close(coop2, date(2025, 6, 9))     # day 91
    s = loans.show_note(coop2.as_("auditor"), n["note_no"])
    assert (s["days_past_due"], s["class"]) == (91, "次级")
    close(coop2, date(2025, 12, 5))    # day 270
    assert loans.show_note(coop2.as_("auditor"), n["note_no"])["class"] == "次级"
    close(coop2, date(2025, 12, 6))    # day 271
    assert loans.show_note(coop2.as_("auditor"), n["note_no"])["class"] == "可疑"
    close(coop2, date(2026, 3, 5))     # day 360
    assert loans.show_note(coop2.as_("auditor"), n["note_no"])["class"] == "可疑"
    close(coop2, date(2026, 3, 6))     # day 361
    assert loans.show_note(coop2.as_("auditor"), n["note_no"])["class"] == "损失"
    rep = overdue_report(coop2.as_("auditor"), date(2025, 12, 6))
    assert rep["notes"][0]["days_past_due"] == 271 and rep["non_performing_fen"] == 1_000_000
    assert rep["npl_ratio_percent"] == "100.00"
    assert overdue_report(coop2.as_("auditor"), date(2025, 6, 8))["notes"][0]["class"] == "关注"  # as of an earlier day
    # paying everything clears it
    s = loans.show_note(coop2.as_("auditor"), n["note_no"])
    loans.repay(coop2.as_("teller"), card=ln["card_no"], amount=s["principal_fen"] + s["interest_due_fen"] + s["penalty_fen"] + s["interest_accrued_fen"],
                on=date(2026, 3, 7))
    close(coop2, date(2026, 3, 7))
    s = loans.show_note(coop2.as_("auditor"), n["note_no"])
    assert (s["days_past_due"], s["class"]) == (0, "正常")
    assert verify(coop2.as_("auditor"))["ok"]


@pytest.mark.parametrize("dpd,cls", [(0, "正常"), (1, "关注"), (90, "关注"), (91, "次级"), (270, "次级"), (271, "可疑"),
                                     (360, "可疑"), (361, "损失")])
def test_class_boundaries(dpd, cls):
    cats = load_policy_file(None)["classification"]["categories"]
    assert classify(dpd, cats) == cls


def test_rerun_changes_nothing_and_future_refused(coop2):
    line_and_note(coop2)
    first = close(coop2, date(2025, 4, 30))
    assert first["days_closed"] == (date(2025, 4, 30) - START).days + 1
    before = verify(coop2.as_("auditor"))["accounts"]
    again = close(coop2, date(2025, 4, 30))
    assert again["already_closed"] and again["days_closed"] == 0
    assert verify(coop2.as_("auditor"))["accounts"] == before
    with pytest.raises(RuleViolation, match="future"):
        dayend.day_end(coop2.as_("accountant"), date(2030, 1, 1))
    with pytest.raises(NotPermitted):
        dayend.day_end(coop2.as_("teller"), date(2025, 5, 1), today=TODAY)


def test_posting_on_a_closed_day_is_refused(coop2):
    ln, n = line_and_note(coop2)
    close(coop2, date(2025, 3, 31))
    with pytest.raises(RuleViolation, match="is closed"):
        loans.repay(coop2.as_("teller"), card=ln["card_no"], amount="1", on=date(2025, 3, 31))
    with pytest.raises(RuleViolation, match="is closed"):
        journal.reverse(coop2.as_("accountant"), n["txn_id"], "late", date(2025, 3, 15))
    loans.repay(coop2.as_("teller"), card=ln["card_no"], amount="1", on=date(2025, 4, 1))


def test_leap_year_february(coop2, monkeypatch):
    monkeypatch.setattr(dates, "today", lambda: TODAY)
    ln = coop2.granted("hnd", line="8万", on=date(2027, 12, 1), term=36)
    loans.draw(far_dates(coop2.as_("teller")), card=ln["card_no"], id_number=ln["borrower"], amount="36,000.00", fingerprint_ok=True,
               on=date(2028, 1, 21))
    close(coop2, date(2028, 2, 20))
    note = loans.show_line(coop2.as_("auditor"), ln["card_no"])["notes"][0]
    # 1-21 .. 2-20 = 31 days; 36,000 × 6.5% / 360 = 6.50 a day
    assert note["interest_due_fen"] == 31 * 650
    close(coop2, date(2028, 3, 20))
    note = loans.show_line(coop2.as_("auditor"), ln["card_no"])["notes"][0]
    # unpaid since 2-21: compound interest accrues on it, and 2-21 .. 3-20 in a leap year is 29 days
    assert note["interest_due_fen"] == 31 * 650 + 29 * 650
    assert note["penalty_fen"] == round(Fraction(31 * 650) * Fraction("0.0975") / 360 * 29)


def test_quarterly_settlement_switch(coop2):
    from credit_coop.core.policy import Policy

    ln, n = line_and_note(coop2, amount="36,000.00")
    acct = coop2.as_("accountant")
    acct.policy = Policy(dict(acct.policy.data, interest=dict(acct.policy["interest"], settlement="quarterly")))
    dayend.day_end(acct, date(2025, 4, 20), today=TODAY)
    s = loans.show_note(coop2.as_("auditor"), n["note_no"])
    # settled on 3-20 (quarter month) only: 3-1..3-20 due, 3-21..4-20 still accrued
    assert s["interest_due_fen"] == 20 * 650 and s["interest_accrued_fen"] == 31 * 650


def test_loan_reassign_moves_interest_credit(coop2):
    ln, n = line_and_note(coop2)
    with pytest.raises(NotPermitted):
        loans.reassign(coop2.as_("teller"), n["note_no"], "刘经理", date(2025, 3, 2))
    with pytest.raises(RuleViolation, match="not an active loan officer"):
        loans.reassign(coop2.as_("dept-head"), n["note_no"], "钱审查", date(2025, 3, 2))
    loans.reassign(coop2.as_("dept-head"), n["note_no"], "刘经理", date(2025, 3, 2))
    assert loans.show_note(coop2.as_("auditor"), n["note_no"])["officer"] == "刘经理"
    close(coop2, date(2025, 3, 20))
    loans.repay(coop2.as_("teller"), card=ln["card_no"], amount="100", on=date(2025, 3, 21))
    officers = {r["officer"] for r in coop2.as_("auditor").store.conn.execute(
        "SELECT officer FROM journal_lines WHERE account = '1132.due'")}
    assert officers == {None, "刘经理"}  # day-end lines carry no officer; the collection does


def test_loan_show_sums_the_day_end_by_month(coop2):
    """Issue 17: `loan show` printed every day's accrual (335 lines for one note). Since issue 11 a note's
    own postings are its counter postings and a settlement a month: the day-end accrues per product."""
    ln, n = line_and_note(coop2)
    close(coop2, date(2025, 5, 31))
    auditor = coop2.as_("auditor")
    short = loans.show_note(auditor, n["note_no"])
    full = loans.show_note(auditor, n["note_no"], all_days=True)
    assert [(m["kind"], m["on"]) for m in full["movements"]] == [
        ("drawdown", n["drawn_on"]), ("day-end", "2025-03-20"), ("day-end", "2025-04-20"), ("day-end", "2025-05-20")]
    assert [m["kind"] for m in short["movements"]] == ["drawdown", "day-end × 1", "day-end × 1", "day-end × 1"]
    assert sum(m["interest_due_fen"] for m in full["movements"]) == short["interest_due_fen"] > 0
    for k in ("principal_fen", "interest_accrued_fen", "interest_due_fen", "penalty_fen"):
        assert sum(m[k] for m in short["movements"]) == sum(m[k] for m in full["movements"])
