"""Performance pay, holdbacks, compensation, recovery, year-end, transfer (SPEC §6–7)."""

from datetime import date

import pytest

from credit_coop.core import dayend, journal, loans, riskfund
from credit_coop.core.errors import InvalidInput, NotPermitted, RuleViolation
from credit_coop.core.pay import AlreadyRun, percent_of, run_payroll
from credit_coop.core.verify import verify
from credit_coop.core.yearend import run_year_end
from conftest import make_coop

FAR = date(2030, 1, 1)


@pytest.fixture
def coop3(tmp_path):
    c = make_coop(str(tmp_path / "c.db"), date(2025, 1, 1), passphrases=False)
    yield c
    c.close()


def close(coop, through):
    return dayend.day_end(coop.as_("accountant"), through, today=FAR)


def payroll(coop, month, on, **kw):
    return run_payroll(coop.as_("李主任"), month, on=on, **kw)


def pay_all(coop, year, on):
    """Every month of ``year`` not paid yet, paid on ``on`` (the year-end needs them all)."""
    store = coop.as_("auditor").store
    for m in range(1, 13):
        if store.batch_run("payroll", f"{year}-{m:02d}") is None:
            payroll(coop, f"{year}-{m:02d}", on)


def by_officer(result):
    return {o["officer"]: o for o in result["officers"]}


def test_percent_rounding_half_up():
    assert percent_of(1_234_567, 10) == 123_457      # 12,345.67 × 10% = 1,234.567 → 1,234.57
    assert percent_of(135_457, 40) == 54_183         # 1,354.57 × 40% = 541.828 → 541.83
    assert percent_of(5, 10) == 1                     # 0.005 → 0.01 (half up)


def test_september_hand_example(coop3):
    """Officer A surveys 3 grants approved in September and collects 12,345.67 interest."""
    big = coop3.granted("gxd", line="30万", term=24, on=date(2025, 1, 5))
    loans.draw(coop3.as_("teller"), card=big["card_no"], id_number=big["borrower"], amount="30万", fingerprint_ok=True,
               on=date(2025, 1, 6))
    for _ in range(3):
        coop3.granted("sdt", line="5万", term=12, on=date(2025, 9, 10))
    close(coop3, date(2025, 9, 20))
    r = loans.repay(coop3.as_("teller"), card=big["card_no"], amount="12,345.67", on=date(2025, 9, 21))
    assert r["split"]["principal_fen"] == 0     # all of it is interest (penalty, due, accrued)
    with pytest.raises(RuleViolation, match="not closed"):
        payroll(coop3, "2025-09", date(2025, 10, 1))
    close(coop3, date(2025, 9, 30))
    dry = payroll(coop3, "2025-09", date(2025, 10, 1), dry_run=True)
    assert dry["dry_run"] and not dry["posted"]
    result = payroll(coop3, "2025-09", date(2025, 10, 1))
    assert by_officer(dry) == by_officer(result)
    a = by_officer(result)["张经理"]
    assert (a["surveyed"], a["approved"]) == (3, 0)
    assert (a["grant_pay_fen"], a["interest_collected_fen"], a["interest_pay_fen"]) == (12_000, 1_234_567, 123_457)
    assert (a["total_fen"], a["holdback_fen"], a["payable_fen"]) == (135_457, 54_183, 81_274)
    rev, head = by_officer(result)["钱审查"], by_officer(result)["孙部长"]
    assert (rev["grant_pay_fen"], rev["holdback_fen"], rev["payable_fen"]) == (1_500, 600, 900)
    assert (head["grant_pay_fen"], head["holdback_fen"], head["payable_fen"]) == (1_500, 600, 900)
    assert riskfund.fund_balance(coop3.as_("auditor"), "张经理") == 54_183
    with pytest.raises(AlreadyRun, match="already run") as again:
        payroll(coop3, "2025-09", date(2025, 10, 2))
    assert by_officer(again.value.result) == by_officer(result)
    assert verify(coop3.as_("auditor"))["ok"]


def test_payroll_refusals(coop3):
    close(coop3, date(2025, 2, 28))
    with pytest.raises(NotPermitted):
        run_payroll(coop3.as_("dept-head"), "2025-02", on=date(2025, 3, 1))
    with pytest.raises(InvalidInput, match="is not a month"):
        payroll(coop3, "2025-13", date(2025, 3, 1))
    with pytest.raises(RuleViolation, match="after the month ends"):
        payroll(coop3, "2025-02", date(2025, 2, 28))
    assert payroll(coop3, "2025-02", date(2025, 3, 1))["officers"] == []


def _fund_a_and_b(coop3):
    """A (张经理) and B (刘经理) each earn grant pay in March; B's 1万 note matures unpaid in June."""
    coop3.granted("sdt", line="5万", term=12, on=date(2025, 3, 3))                              # A surveys
    b_line = coop3.granted("sdt", line="5万", term=12, on=date(2025, 3, 3), surveyor="officer2")  # B surveys
    close(coop3, date(2025, 3, 3))
    note = loans.draw(coop3.as_("teller"), card=b_line["card_no"], id_number=b_line["borrower"], amount="1万",
                      fingerprint_ok=True, on=date(2025, 3, 4), maturity="2025-06-04")
    close(coop3, date(2025, 3, 31))
    pay = payroll(coop3, "2025-03", date(2025, 4, 1))
    # the borrower pays the interest each month until maturity, then defaults
    for day in (date(2025, 4, 21), date(2025, 5, 21)):
        close(coop3, day.replace(day=20))
        owed = loans.show_line(coop3.as_("auditor"), b_line["card_no"])["notes"][0]["interest_due_fen"]
        loans.repay(coop3.as_("teller"), card=b_line["card_no"], amount=owed, on=day)
    return b_line, note, pay


def test_compensation_shortfall_pay_in_recovery_and_year_end(coop3):
    b_line, note, pay = _fund_a_and_b(coop3)
    b_fund = by_officer(pay)["刘经理"]["holdback_fen"]
    assert b_fund == 1_600                              # 40% of 40.00
    close(coop3, date(2025, 6, 4))                      # maturity day: unpaid at its end → compensated
    case = riskfund.compensation_report(coop3.as_("auditor"))["cases"][0]
    s = loans.show_note(coop3.as_("auditor"), note["note_no"])
    assert s["principal_fen"] == s["interest_due_fen"] == 0 and s["status"] == "compensated"
    assert case["officer"] == "刘经理" and case["from_fund_fen"] == b_fund
    assert case["amount_fen"] > 1_000_000  # principal plus the interest due at maturity
    assert case["shortfall_fen"] == case["amount_fen"] - b_fund
    assert riskfund.fund_balance(coop3.as_("auditor"), "刘经理") == 0
    assert riskfund.officer_debt(coop3.as_("auditor"), "刘经理") == case["shortfall_fen"]
    # the officer pays in part of the shortfall
    with pytest.raises(RuleViolation, match="more than"):
        riskfund.pay_in(coop3.as_("teller"), "刘经理", case["shortfall_fen"] + 1, date(2025, 6, 10))
    riskfund.pay_in(coop3.as_("teller"), "刘经理", 500_000, date(2025, 6, 10))
    assert riskfund.officer_debt(coop3.as_("auditor"), "刘经理") == case["shortfall_fen"] - 500_000
    # the borrower comes back and repays: the money first repays the officer's debt (issue 18)
    close(coop3, date(2025, 6, 11))
    r = loans.repay(coop3.as_("teller"), card=b_line["card_no"], amount="2,000.00", on=date(2025, 6, 12))
    assert r["split"]["recovery_fen"] == r["split"]["recovery_to_debt_fen"] == 200_000
    assert riskfund.fund_balance(coop3.as_("auditor"), "刘经理") == 0
    assert riskfund.officer_debt(coop3.as_("auditor"), "刘经理") == case["shortfall_fen"] - 700_000
    with pytest.raises(RuleViolation, match="overpayment"):
        loans.repay(coop3.as_("teller"), card=b_line["card_no"], amount=case["amount_fen"], on=date(2025, 6, 12))
    st = riskfund.statement(coop3.as_("刘经理"), "刘经理", 2025)
    assert st["reconciles"] and st["closing_fen"] == 0 and st["debt_fen"] == case["shortfall_fen"] - 700_000
    assert [m["what"].split()[0] for m in st["movements"]] == ["holdback", "compensation", "compensation", "pay-in", "recovery"]
    with pytest.raises(NotPermitted):
        riskfund.statement(coop3.as_("张经理"), "刘经理")
    # year-end 2025: A clean → 20% of holdbacks; B compensated → nothing
    close(coop3, date(2025, 12, 31))
    with pytest.raises(RuleViolation, match="after the year ends"):
        run_year_end(coop3.as_("李主任"), 2025, on=date(2025, 12, 31), today=FAR)
    with pytest.raises(RuleViolation, match="needs every month paid first; no payroll yet for 2025-01, 2025-02, 2025-04"):
        run_year_end(coop3.as_("李主任"), 2025, on=date(2026, 1, 5), today=FAR)
    pay_all(coop3, 2025, date(2026, 1, 1))
    ye = run_year_end(coop3.as_("李主任"), 2025, on=date(2026, 1, 5), today=FAR)
    rows = by_officer(ye)
    a_hold = by_officer(pay)["张经理"]["holdback_fen"]
    assert rows["张经理"]["clean"] == 1 and rows["张经理"]["refund_fen"] == percent_of(a_hold, 20)
    assert rows["刘经理"]["clean"] == 0 and rows["刘经理"]["refund_fen"] == 0 and "compensated" in rows["刘经理"]["reason"]
    assert riskfund.fund_balance(coop3.as_("auditor"), "张经理") == a_hold - percent_of(a_hold, 20)
    with pytest.raises(AlreadyRun):
        run_year_end(coop3.as_("李主任"), 2025, on=date(2026, 1, 6), today=FAR)
    assert verify(coop3.as_("auditor"))["ok"]
    # verify recomputes the records against the journal: a doctored compensation record is found
    from conftest import RawLedger

    db = RawLedger(coop3.path)
    db.unguard("compensations")
    db.execute("UPDATE compensations SET from_fund = from_fund + 1, shortfall = shortfall - 1")
    db.commit()
    db.close()
    assert any("compensation case" in f["message"] for f in verify(coop3.as_("auditor"))["findings"])


def test_year_end_refusals(coop3):
    close(coop3, date(2025, 11, 30))
    with pytest.raises(RuleViolation, match="December 2025 is not closed"):
        run_year_end(coop3.as_("李主任"), 2025, on=date(2026, 1, 5), today=FAR)
    with pytest.raises(InvalidInput, match="not a past or current year"):
        run_year_end(coop3.as_("李主任"), 2031, on=date(2032, 1, 5), today=FAR)
    with pytest.raises(NotPermitted):
        run_year_end(coop3.as_("accountant"), 2025, on=date(2026, 1, 5), today=FAR)


def test_transfer_and_full_refund(coop3):
    coop3.granted("sdt", line="5万", term=12, on=date(2025, 3, 3))
    close(coop3, date(2025, 3, 31))
    held = by_officer(payroll(coop3, "2025-03", date(2025, 4, 1)))["张经理"]["holdback_fen"]
    t = riskfund.transfer(coop3.as_("李主任"), "张经理", date(2025, 4, 2))
    assert t["fund_fen"] == held and t["loans_not_recovered"] == 0
    with pytest.raises(NotPermitted, match="transferred"):
        coop3.apply_and_survey("sdt", "1万", 12, coop3.borrower(kinds=("business",)), on=date(2025, 4, 3))
    r = riskfund.settle(coop3.as_("李主任"), "张经理", date(2025, 4, 3))
    assert r["refund_fen"] == held and riskfund.fund_balance(coop3.as_("auditor"), "张经理") == 0
    with pytest.raises(Exception, match="already settled"):
        riskfund.settle(coop3.as_("李主任"), "张经理", date(2025, 4, 4))
    assert verify(coop3.as_("auditor"))["ok"]


def test_transfer_waits_for_recovery(coop3):
    line = coop3.granted("sdt", line="5万", term=12, on=date(2025, 3, 3))
    close(coop3, date(2025, 3, 3))
    loans.draw(coop3.as_("teller"), card=line["card_no"], id_number=line["borrower"], amount="1万", fingerprint_ok=True, on=date(2025, 3, 4))
    close(coop3, date(2025, 3, 31))
    payroll(coop3, "2025-03", date(2025, 4, 1))
    riskfund.transfer(coop3.as_("李主任"), "张经理", date(2025, 4, 2))
    with pytest.raises(RuleViolation, match="not yet recovered"):
        riskfund.settle(coop3.as_("李主任"), "张经理", date(2025, 4, 3))


@pytest.mark.parametrize("paid", ["smaller", "equal", "larger"])
def test_recovery_repays_the_officers_debt_first(coop3, paid):
    """Issue 18: the part of a compensation booked as the officer's debt was the cooperative's money;
    a borrower's later repayment clears it before anything goes back to the fund."""
    b_line, note, pay = _fund_a_and_b(coop3)
    close(coop3, date(2025, 6, 4))
    case = riskfund.compensation_report(coop3.as_("auditor"))["cases"][0]
    debt, from_fund = case["shortfall_fen"], case["from_fund_fen"]
    assert debt > 0 and from_fund == 1_600
    # a compensated, unrecovered note stops the line
    with pytest.raises(RuleViolation, match=f"{note['note_no']} .* not yet recovered"):
        loans.draw(coop3.as_("teller"), card=b_line["card_no"], id_number=b_line["borrower"], amount="20.00",
                   fingerprint_ok=True, on=date(2025, 6, 5))
    amount = {"smaller": debt - 100, "equal": debt, "larger": case["amount_fen"]}[paid]
    r = loans.repay(coop3.as_("teller"), card=b_line["card_no"], amount=amount, on=date(2025, 6, 5))
    assert r["split"]["recovery_fen"] == amount
    assert r["split"]["recovery_to_debt_fen"] == min(amount, debt)
    auditor = coop3.as_("auditor")
    assert riskfund.officer_debt(auditor, "刘经理") == debt - min(amount, debt)
    assert riskfund.fund_balance(auditor, "刘经理") == max(0, amount - debt)
    report = riskfund.compensation_report(auditor)
    assert report["outstanding_debt_fen"] == debt - min(amount, debt)
    assert report["cases"][0]["recovered_fen"] == amount
    assert verify(auditor)["ok"]
    riskfund.transfer(coop3.as_("李主任"), "刘经理", date(2025, 6, 6))
    if paid == "smaller":
        with pytest.raises(RuleViolation, match="still owes 1.00"):
            riskfund.settle(coop3.as_("李主任"), "刘经理", date(2025, 6, 6))
    elif paid == "equal":
        with pytest.raises(RuleViolation, match="not yet recovered"):  # the fund's own 16.00 is still out
            riskfund.settle(coop3.as_("李主任"), "刘经理", date(2025, 6, 6))
    else:
        assert riskfund.settle(coop3.as_("李主任"), "刘经理", date(2025, 6, 6))["refund_fen"] == from_fund
        # fully recovered: the line draws again
        loans.draw(coop3.as_("teller"), card=b_line["card_no"], id_number=b_line["borrower"], amount="20.00",
                   fingerprint_ok=True, on=date(2025, 6, 6))
    assert verify(coop3.as_("auditor"))["ok"]


def test_compensated_line_draws_when_the_policy_allows(coop3):
    from credit_coop.core.policy import Policy

    b_line, note, pay = _fund_a_and_b(coop3)
    close(coop3, date(2025, 6, 4))
    teller = coop3.as_("teller")
    teller.policy = Policy(dict(teller.policy.data, drawdown=dict(teller.policy["drawdown"], refuse_after_compensation=False)))
    assert loans.draw(teller, card=b_line["card_no"], id_number=b_line["borrower"], amount="20.00", fingerprint_ok=True,
                      on=date(2025, 6, 5))["amount_fen"] == 2_000


def test_verify_checks_officer_debt_against_the_cases(coop3):
    b_line, note, pay = _fund_a_and_b(coop3)
    close(coop3, date(2025, 6, 4))
    led = coop3.as_("accountant")
    with led.store.write():  # a debt no compensation case explains
        journal.post(led, "officer-pay-in", date(2025, 6, 5), [journal.Line("1221.officer", debit=100, officer="刘经理"),
                                                               journal.Line("1001", credit=100)])
    findings = verify(coop3.as_("auditor"))["findings"]
    assert any("刘经理" in f["message"] and "unrecovered shortfall" in f["message"] for f in findings)


def test_repay_receipt_shows_the_recovery(tmp_path):
    """Issue 14: the core returned ``recovery_fen`` but the receipt read ``recovery``: the teller never saw it."""
    from test_security import cli

    coop = make_coop(str(tmp_path / "c.db"), date(2025, 1, 1))
    try:
        b_line, note, pay = _fund_a_and_b(coop)
        close(coop, date(2025, 6, 4))
        r = cli(coop.path, "王柜员", "repay", "--card", b_line["card_no"], "--amount", "500", "--on", "2025-06-05")
        assert r.exit_code == 0, r.output
        assert "recovery (compensated note)" in r.stdout and "¥500.00" in r.stdout
        assert "of which repays officer's debt" in r.stdout
    finally:
        coop.close()


def test_pay_shares_come_from_the_policy(tmp_path):
    """Issue 14: "40%/60%" was fixed text in the pay table and the pay register."""
    from credit_coop.core.export import export_workbook
    from credit_coop.core.policy import Policy, default_policy_text
    from test_security import cli

    pol = tmp_path / "p.toml"
    pol.write_text(default_policy_text().replace('holdback_percent = 40 ', 'holdback_percent = 30 '), "utf-8")
    assert 'holdback_percent = 30 ' in pol.read_text("utf-8")
    coop = make_coop(str(tmp_path / "c.db"), date(2025, 1, 1), policy_file=str(pol))
    try:
        coop.granted("sdt", line="5万", term=12, on=date(2025, 3, 3))
        close(coop, date(2025, 3, 31))
        r = cli(coop.path, "李主任", "batch", "payroll", "--month", "2025-03", "--on", "2025-04-01")
        assert r.exit_code == 0 and "withheld 30%" in r.stdout and "payable 70%" in r.stdout
        out = tmp_path / "pay.xlsx"
        export_workbook(coop.as_("auditor"), str(out), first=date(2025, 3, 1), last=date(2025, 4, 30), registers=["pay"])
        from openpyxl import load_workbook

        ws = load_workbook(out, read_only=True)["绩效工资"]
        headers = [c.value for c in next(ws.iter_rows(max_row=1))]
        assert "扣留30%" in headers and "应发70%" in headers and "扣留40%" not in headers
        assert isinstance(coop.as_("auditor").policy, Policy)
    finally:
        coop.close()


def test_batches_land_on_the_right_date(coop3):
    """Issue 17: a payroll without --on was posted on the calendar date, eleven months after the books;
    the year-end ran before December was paid; December was still paid after it."""
    close(coop3, date(2025, 2, 28))
    r = run_payroll(coop3.as_("李主任"), "2025-01")
    assert r["run_on"] == "2025-03-01" and r["txn_id"] is None  # the open business date; nothing was due
    run_payroll(coop3.as_("李主任"), "2025-02")
    close(coop3, date(2025, 12, 31))
    for m in range(3, 12):
        run_payroll(coop3.as_("李主任"), f"2025-{m:02d}")
    with pytest.raises(RuleViolation, match="no payroll yet for 2025-12"):
        run_year_end(coop3.as_("李主任"), 2025, today=FAR)
    run_payroll(coop3.as_("李主任"), "2025-12")
    assert run_year_end(coop3.as_("李主任"), 2025, today=FAR)["run_on"] == "2026-01-01"
    with pytest.raises(RuleViolation, match="2025 year-end has already run"):  # no month of a settled year paid again
        run_payroll(coop3.as_("李主任"), "2025-12", dry_run=True)


def test_nothing_due_is_said_plainly(tmp_path):
    from test_security import cli

    coop = make_coop(str(tmp_path / "c.db"), date(2025, 1, 1))
    try:
        close(coop, date(2025, 1, 31))
        r = cli(coop.path, "李主任", "batch", "payroll", "--month", "2025-01")
        assert r.exit_code == 0 and "nothing was due" in r.stdout and "None" not in r.stdout
    finally:
        coop.close()
