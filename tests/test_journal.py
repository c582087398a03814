import pytest

from credit_coop.core import journal, loans
from credit_coop.core.errors import NotFound, NotPermitted, RuleViolation
from credit_coop.core.verify import verify
from conftest import D0, RawLedger


@pytest.fixture
def drawn(coop):
    line = coop.granted("hnd", line="8万")
    note = loans.draw(coop.as_("teller"), card=line["card_no"], id_number=line["borrower"], amount="5万",
                      fingerprint_ok=True, on=D0)
    return line, note


def raw(path):
    return RawLedger(path)


def test_posted_rows_cannot_be_changed(coop, drawn):
    db = raw(coop.path)
    for sql in ("UPDATE journal_lines SET debit = debit + 1", "DELETE FROM journal_lines",
                "UPDATE txns SET business_date = '2020-01-01'", "DELETE FROM loan_notes", "DELETE FROM grant_events"):
        with pytest.raises(db.IntegrityError, match="never changed"):
            db.execute(sql)
        db.rollback()
    db.close()


def test_verify_catches_a_corrupted_row(coop, drawn):
    assert verify(coop.as_("auditor"))["ok"]
    db = raw(coop.path)
    db.unguard("journal_lines")
    db.execute("UPDATE journal_lines SET debit = debit + 1 WHERE debit > 0")
    db.commit()
    db.close()
    result = verify(coop.as_("auditor"))
    checks = {f["check"] for f in result["findings"]}
    assert not result["ok"]
    assert {"balanced", "notes", "guards", "trial-balance"} <= checks


def test_verify_catches_a_line_raised_over_the_ceiling(coop, drawn):
    db = raw(coop.path)
    db.execute("UPDATE grants SET line_amount = 10000001")
    db.commit()
    db.close()
    msgs = [f["message"] for f in verify(coop.as_("auditor"))["findings"]]
    assert any("over the 惠农贷 ceiling" in m for m in msgs)


def test_reversal_mirrors_and_restores(coop, drawn):
    line, note = drawn
    r = journal.reverse(coop.as_("accountant"), note["txn_id"], "keyed the wrong amount", D0)
    assert r["reverses"] == note["txn_id"]
    shown = loans.show_line(coop.as_("auditor"), line["card_no"], D0)
    assert shown["outstanding_fen"] == 0 and shown["notes"][0]["status"] == "reversed"
    assert verify(coop.as_("auditor"))["ok"]
    with pytest.raises(RuleViolation, match="already reversed"):
        journal.reverse(coop.as_("accountant"), note["txn_id"], "again", D0)
    with pytest.raises(RuleViolation, match="itself a reversal"):
        journal.reverse(coop.as_("accountant"), r["txn_id"], "undo", D0)


def test_reversal_refusals(coop, drawn):
    line, note = drawn
    with pytest.raises(NotPermitted, match="needs: accountant, admin"):
        journal.reverse(coop.as_("teller"), note["txn_id"], "x", D0)
    with pytest.raises(NotFound):
        journal.reverse(coop.as_("accountant"), 999, "x", D0)
    pay = loans.repay(coop.as_("teller"), card=line["card_no"], amount="1万", on=D0)
    with pytest.raises(RuleViolation, match="reverse them first"):
        journal.reverse(coop.as_("accountant"), note["txn_id"], "x", D0)
    journal.reverse(coop.as_("accountant"), pay["txn_id"], "wrong line", D0)
    journal.reverse(coop.as_("accountant"), note["txn_id"], "wrong line", D0)
    assert verify(coop.as_("auditor"))["ok"]


def test_reversing_a_repayment_cannot_push_a_line_over_its_limit(coop, drawn):
    line, note = drawn
    pay = loans.repay(coop.as_("teller"), card=line["card_no"], amount="5万", on=D0)
    loans.draw(coop.as_("teller"), card=line["card_no"], id_number=line["borrower"], amount="8万", fingerprint_ok=True, on=D0)
    with pytest.raises(RuleViolation, match="over its 80,000.00 limit"):
        journal.reverse(coop.as_("accountant"), pay["txn_id"], "bounced", D0)
    assert verify(coop.as_("auditor"))["ok"]


def test_post_refuses_unbalanced(coop):
    ledger = coop.as_("teller")
    with ledger.store.write():
        with pytest.raises(AssertionError, match="unbalanced"):
            journal.post(ledger, "x", D0, [journal.Line("1001", debit=1), journal.Line("1303.hnd", credit=2)])


def test_hash_chain_reports_the_first_edited_row(coop, drawn):
    line, note = drawn
    loans.repay(coop.as_("teller"), card=line["card_no"], amount="1万", on=D0)
    assert verify(coop.as_("auditor"))["ok"]
    db = raw(coop.path)
    db.unguard("journal_lines")
    # an edit that keeps the transaction balanced: only the chain can see it
    db.execute("UPDATE journal_lines SET account = '1303.sdt' WHERE txn_id = ? AND account = '1303.hnd'", (note["txn_id"],))
    db.commit()
    db.close()
    findings = verify(coop.as_("auditor"))["findings"]
    chain = [f for f in findings if f["check"] == "hash-chain"]
    assert chain and f"transaction {note['txn_id']} does not match" in chain[0]["message"]
