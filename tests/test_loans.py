from datetime import date

import pytest

from credit_coop.core import grants, loans
from credit_coop.core.errors import Conflict, InvalidInput, NotFound, NotPermitted, RuleViolation
from credit_coop.core.verify import verify
from conftest import D0, far_dates


@pytest.fixture
def line(coop):
    return coop.granted("hnd", line="8万", term=36)


def draw(coop, line, amount, on=D0, **kw):
    kw.setdefault("fingerprint_ok", True)
    return loans.draw(far_dates(coop.as_("teller")), card=line["card_no"], id_number=line["borrower"], amount=amount, on=on, **kw)


def repay(coop, line, amount, on=D0, **kw):
    coop.close_before(on)
    return loans.repay(coop.as_("teller"), card=line["card_no"], amount=amount, on=on, **kw)


def test_two_draws_and_a_repayment_revolve(coop, line):
    a = draw(coop, line, "3万")
    assert a["available_after_fen"] == 5_000_000 and a["maturity"] == "2026-03-01"
    b = draw(coop, line, "5万", on=date(2025, 4, 1))
    assert b["available_after_fen"] == 0
    with pytest.raises(RuleViolation, match="0.01 is more than the 0.00 available"):
        draw(coop, line, "0.01", on=date(2025, 4, 1))
    r = repay(coop, line, "20,000.00", on=date(2025, 4, 15))  # the day-end has accrued interest through 04-14
    interest = sum(v for k, v in r["split"].items() if k != "principal_fen")  # interest (and penalty on 03-20's unpaid)
    assert interest > 0 and r["split"]["principal_fen"] == 2_000_000 - interest  # interest first, then principal
    assert r["notes"][0]["note_no"] == a["note_no"]  # earliest maturity first
    assert r["notes"][0]["principal_fen"] == r["split"]["principal_fen"]
    assert r["available_after_fen"] == 2_000_000 - interest
    assert draw(coop, line, 2_000_000 - interest, on=date(2025, 4, 16))["available_after_fen"] == 0
    assert verify(coop.as_("auditor"))["ok"]


def test_draw_exactly_available(coop, line):
    assert draw(coop, line, "80,000.00")["available_after_fen"] == 0
    with pytest.raises(RuleViolation, match="available"):
        draw(coop, line, "0.01")


def test_refusals(coop, line):
    with pytest.raises(RuleViolation, match="fingerprint"):
        draw(coop, line, "1万", fingerprint_ok=False)
    other = coop.borrower()
    with pytest.raises(RuleViolation, match="does not belong"):
        loans.draw(coop.as_("teller"), card=line["card_no"], id_number=other, amount="1万", fingerprint_ok=True, on=D0)
    with pytest.raises(InvalidInput, match="more than 2 decimals"):
        draw(coop, line, "1.001")
    with pytest.raises(InvalidInput, match="negative"):
        draw(coop, line, "-5")
    with pytest.raises(NotPermitted, match="needs: teller"):
        loans.draw(coop.as_("officer"), card=line["card_no"], id_number=line["borrower"], amount="1", fingerprint_ok=True, on=D0)
    from credit_coop.core.identity import luhn_digit

    unknown = "622025999999999" + luhn_digit("622025999999999")
    with pytest.raises(NotFound, match="no credit line"):
        loans.draw(coop.as_("teller"), card=unknown, id_number=line["borrower"], amount="1", fingerprint_ok=True, on=D0)
    assert verify(coop.as_("auditor"))["ok"]
    assert loans.show_line(coop.as_("auditor"), line["card_no"], D0)["notes"] == []


def test_last_valid_day_and_the_day_after(coop, line):
    assert line["valid_to"] == "2028-02-29"
    assert draw(coop, line, "1万", on=date(2028, 2, 29))["note_no"]
    with pytest.raises(RuleViolation, match="expired on 2028-02-29"):
        draw(coop, line, "1万", on=date(2028, 3, 1))


def test_before_validity(coop, line):
    with pytest.raises(RuleViolation, match="valid from"):
        draw(coop, line, "1万", on=date(2025, 2, 28))


def test_line_not_live(coop, line):
    grants.freeze(coop.as_("officer"), line["grant_no"], on=D0)
    with pytest.raises(RuleViolation, match="frozen"):
        draw(coop, line, "1万")
    grants.unfreeze(coop.as_("dept-head"), line["grant_no"], on=D0)
    draw(coop, line, "1万")
    with pytest.raises(RuleViolation, match="outstanding"):
        grants.close(coop.as_("officer"), line["grant_no"], on=D0)
    repay(coop, line, "1万")
    grants.close(coop.as_("officer"), line["grant_no"], on=D0)
    with pytest.raises(RuleViolation, match="closed"):
        draw(coop, line, "1万")


def test_note_maturity_rules(coop, line):
    assert draw(coop, line, "1万", maturity="2025-09-01")["maturity"] == "2025-09-01"
    with pytest.raises(RuleViolation, match="longest note term of 12 months"):
        draw(coop, line, "1万", maturity="2026-03-02")
    assert draw(coop, line, "1万", maturity="2026-03-01")["maturity"] == "2026-03-01"
    with pytest.raises(InvalidInput, match="after the drawdown"):
        draw(coop, line, "1万", maturity="2025-03-01")


def test_note_may_mature_after_line_expiry_by_default(coop, line):
    r = draw(coop, line, "1万", on=date(2028, 2, 1))
    assert r["maturity"] == "2029-02-01"


def test_maturity_within_line_switch(coop, line):
    from credit_coop.core.policy import Policy

    teller = far_dates(coop.as_("teller"))
    teller.policy = Policy(dict(teller.policy.data, drawdown={"fingerprint_required": True, "maturity_within_line": True}))
    kw = dict(card=line["card_no"], id_number=line["borrower"], amount="1万", fingerprint_ok=True, on=date(2028, 2, 1))
    assert loans.draw(teller, **kw)["maturity"] == "2028-02-29"  # default maturity clipped to the line
    with pytest.raises(RuleViolation, match="after the line expires"):
        loans.draw(teller, maturity="2028-03-01", **kw)


def test_idempotent_retry_and_conflict(coop, line):
    first = draw(coop, line, "3万", request_id="T-001")
    again = draw(coop, line, "3万", request_id="T-001")
    assert again["note_no"] == first["note_no"] and again["replayed"] is True
    assert loans.show_line(coop.as_("auditor"), line["card_no"], D0)["outstanding_fen"] == 3_000_000
    with pytest.raises(Conflict, match="different draw"):
        draw(coop, line, "4万", request_id="T-001")
    with pytest.raises(Conflict):
        repay(coop, line, "1万", request_id="T-001")
    r1 = repay(coop, line, "1万", request_id="T-002")
    r2 = repay(coop, line, "1万", request_id="T-002")
    assert r1["txn_id"] == r2["txn_id"]
    assert loans.show_line(coop.as_("auditor"), line["card_no"], D0)["outstanding_fen"] == 2_000_000
    with pytest.raises(Conflict):
        repay(coop, line, "1万", request_id="T-002", note=first["note_no"])


def test_repayment_refusals(coop, line):
    with pytest.raises(RuleViolation, match="nothing is owed"):
        repay(coop, line, "1")
    a = draw(coop, line, "3万")
    b = draw(coop, line, "1万")
    with pytest.raises(RuleViolation, match="overpayment"):
        repay(coop, line, "40,000.01")
    with pytest.raises(RuleViolation, match="overpayment"):
        repay(coop, line, "10,000.01", note=b["note_no"])
    repay(coop, line, "1万", note=b["note_no"])
    with pytest.raises(NotFound, match="no loan note"):
        repay(coop, line, "1", note="JJ209900000001")
    with pytest.raises(RuleViolation, match="fully repaid"):
        repay(coop, line, "1", note=b["note_no"])
    r = repay(coop, line, "3万", note=a["note_no"])
    assert r["outstanding_after_fen"] == 0


def test_a_past_due_line_stops_drawing(coop, line):
    """Issue 17: a 30,000 draw went through on a card whose notes were 次级 and 164 days past due."""
    from credit_coop.core.dayend import day_end
    from credit_coop.core.policy import Policy

    draw(coop, line, "3万")
    day_end(coop.as_("accountant"), date(2025, 3, 22), today=date(2030, 1, 1))   # 03-20's interest unpaid: 2 days past due
    shown = loans.show_line(coop.as_("auditor"), line["card_no"])
    assert shown["notes"][0]["days_past_due"] == 2 and shown["notes"][0]["class"] == "关注"
    with pytest.raises(RuleViolation, match=r"is 2 day\(s\) past due \(关注\)"):
        draw(coop, line, "1万", on=date(2025, 3, 23))
    teller = far_dates(coop.as_("teller"))
    teller.policy = Policy(dict(teller.policy.data, drawdown=dict(teller.policy["drawdown"], refuse_when_past_due=False)))
    assert loans.draw(teller, card=line["card_no"], id_number=line["borrower"], amount="1万", fingerprint_ok=True,
                      on=date(2025, 3, 23))["amount_fen"] == 1_000_000
    # brought current at the counter, the line draws again the same day
    n = loans.show_line(coop.as_("auditor"), line["card_no"])["notes"][0]
    loans.repay(coop.as_("teller"), card=line["card_no"], amount=n["interest_due_fen"] + n["penalty_fen"], on=date(2025, 3, 23))
    assert draw(coop, line, "1万", on=date(2025, 3, 23))["amount_fen"] == 1_000_000


def test_a_reversed_repayment_of_a_closed_day_revives_the_note_at_the_counter(coop, line):
    """The counter reads a note from its day-end state plus its postings since (issue 11): a note the
    day-end saw paid off owes again at once when that repayment is reversed on an open day."""
    from credit_coop.core import journal

    draw(coop, line, "1万")
    coop.close_before(date(2025, 3, 10))
    owed = sum(n["owed_fen"] for n in loans.show_line(coop.as_("teller"), line["card_no"])["notes"])
    paid = repay(coop, line, owed, on=date(2025, 3, 10))
    coop.close_before(date(2025, 3, 12))
    assert [n["status"] for n in loans.show_line(coop.as_("teller"), line["card_no"])["notes"]] == ["repaid"]
    journal.reverse(coop.as_("accountant"), paid["txn_id"], reason="the transfer bounced", on=date(2025, 3, 12))
    notes = loans.show_line(coop.as_("teller"), line["card_no"])["notes"]
    assert [(n["status"], n["owed_fen"]) for n in notes] == [("outstanding", owed)]
    again = repay(coop, line, owed, on=date(2025, 3, 12))
    assert again["outstanding_after_fen"] == 0
    assert verify(coop.as_("auditor"))["ok"]
