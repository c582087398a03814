"""Tamper evidence (issue 16 §5, issue 14): edits made to the file outside the program — each with
the hash chain recomputed where one covers it, as a careful forger would — are found by `verify`,
or by `verify --head` with a head recorded earlier outside the file (a day-end slip)."""

import sqlite3
from datetime import date

import pytest

from credit_coop.core import loans
from credit_coop.core.errors import InvalidInput
from credit_coop.core.dayend import day_end
from credit_coop.core.ledger import Ledger
from credit_coop.core.verify import verify
from credit_coop.store.sqlite import GENESIS, LINE_COLUMNS, TXN_COLUMNS, chain_hash
from conftest import D0

# Forgers with the file in hand: the SQLite file is edited and its chain recomputed (the server ledger's
# guards, verify's view of them, and forgeries by a DBA who bypasses them are tested in tests/test_postgres.py)
pytestmark = pytest.mark.sqlite_only("forges the ledger file with sqlite3")

GUARDED = ("txns", "journal_lines", "txn_chain", "audit_log", "record_chain", "loan_notes", "day_closes")


@pytest.fixture
def books(coop, tmp_path):
    """A line of 90,000 with a draw and a repayment, the day-end run; the head on the day-end slip."""
    line = coop.granted("hnd", line="9万")
    loans.draw(coop.as_("teller"), card=line["card_no"], id_number=line["borrower"], amount="5万", fingerprint_ok=True, on=D0)
    day_end(coop.as_("accountant"), date(2025, 3, 4), today=date(2030, 1, 1))
    loans.repay(coop.as_("teller"), card=line["card_no"], amount="1万", on=date(2025, 3, 5))
    coop.as_("auditor").store.audit("郑稽核", "verify", None)
    slip = day_end(coop.as_("accountant"), date(2025, 3, 6), today=date(2030, 1, 1))["head"]
    return coop, line, slip


def forge(path: str, *statements: str) -> None:
    """Edit the file as a forger would: guards dropped, the change made, the journal chain recomputed."""
    db = sqlite3.connect(path)
    for t in GUARDED:
        for verb in ("update", "delete"):
            db.execute(f"DROP TRIGGER IF EXISTS {t}_no_{verb}")
    for sql in statements:
        db.execute(sql)
    db.execute("DELETE FROM txn_chain")
    prev = GENESIS
    for txn in db.execute(f"SELECT {TXN_COLUMNS} FROM txns ORDER BY id").fetchall():
        lines = db.execute(f"SELECT {LINE_COLUMNS} FROM journal_lines WHERE txn_id = ? ORDER BY id", [txn[0]]).fetchall()
        prev = chain_hash(prev, txn, lines)
        db.execute("INSERT INTO txn_chain(txn_id, prev_hash, hash) VALUES (?, ?, ?)", [txn[0], "x", prev])
    db.execute("UPDATE txn_chain SET prev_hash = COALESCE((SELECT c.hash FROM txn_chain c WHERE c.txn_id < txn_chain.txn_id "
               "ORDER BY c.txn_id DESC LIMIT 1), ?)", [GENESIS])
    # the guards put back exactly as they were, so their definitions look right
    from credit_coop.store.schema import guard_definitions

    for name, sql in guard_definitions(GUARDED).items():
        db.execute(sql)
    db.commit()
    db.close()


def copy_books(src: str, path: str) -> None:
    """A consistent copy of the books (WAL included) to forge on."""
    with Ledger.open(src) as led:
        dest = sqlite3.connect(path)
        led.store.conn.backup(dest)
        dest.close()


def findings(path, heads=()):
    with Ledger.open(path, "郑稽核") as led:
        return verify(led, list(heads))["findings"]


def test_untouched_books_verify_through_their_slip(books):
    coop, line, slip = books
    assert findings(coop.path, [slip]) == []
    with pytest.raises(InvalidInput, match="not a head"):
        findings(coop.path, ["not-a-head"])


def test_a_consistent_rewrite_of_the_whole_chain_needs_the_outside_head(books):
    """Issue 14: plain verify cannot see a chain rewritten with the file's own code; --head can."""
    coop, line, slip = books
    forge(coop.path, "UPDATE txns SET memo = 'nothing to see' WHERE id = 1")
    assert findings(coop.path) == []
    found = findings(coop.path, [slip])
    assert found and found[0]["check"] == "head" and "rewritten" in found[0]["message"]


@pytest.mark.parametrize("edit", ["delete-last", "fake-repayment", "rewrite-drawdown", "who-posted", "no-op-guard",
                                  "teller-to-admin", "raise-line", "wipe-audit"])
def test_each_edit_is_found(books, tmp_path, edit):
    coop, line, slip = books
    path = str(tmp_path / f"{edit}.db")
    copy_books(coop.path, path)
    last = sqlite3.connect(path).execute("SELECT MAX(id) FROM txns").fetchone()[0]
    if edit == "delete-last":
        forge(path, f"DELETE FROM journal_lines WHERE txn_id = {last}", f"DELETE FROM day_closes WHERE txn_id = {last}",
              f"DELETE FROM txns WHERE id = {last}")
    elif edit == "fake-repayment":  # 10,000 "repaid" on a closed day, balanced, chained
        forge(path, f"INSERT INTO txns(id, kind, business_date, operator, memo, posted_at) VALUES ({last + 1}, 'repayment', "
                    "'2025-03-05', '王柜员', 'repayment', '2025-03-05T09:00:00+00:00')",
              f"INSERT INTO journal_lines(txn_id, account, debit, credit, grant_id) VALUES ({last + 1}, '1001', 1000000, 0, 1)",
              f"INSERT INTO journal_lines(txn_id, account, debit, credit, grant_id, note_id) VALUES ({last + 1}, '1303.hnd', 0, 1000000, 1, 1)")
    elif edit == "rewrite-drawdown":
        forge(path, "UPDATE journal_lines SET debit = debit / 5, credit = credit / 5 WHERE txn_id = 1",
              "UPDATE loan_notes SET amount = amount / 5 WHERE id = 1")
    elif edit == "who-posted":
        forge(path, "UPDATE txns SET operator = '赵会计' WHERE id = 1")
    elif edit == "no-op-guard":
        db = sqlite3.connect(path)
        db.execute("DROP TRIGGER journal_lines_no_update")
        db.execute("CREATE TRIGGER journal_lines_no_update BEFORE UPDATE ON journal_lines BEGIN SELECT 1; END")
        db.commit()
        db.close()
    elif edit == "teller-to-admin":
        forge(path, "UPDATE operators SET role = 'admin' WHERE name = '王柜员'")
    elif edit == "raise-line":
        forge(path, "UPDATE grants SET line_amount = 30000000 WHERE id = 1")
        with Ledger.open(path, "王柜员") as teller:  # and 200,000 drawn on the raised line
            loans.draw(teller, card=line["card_no"], id_number=line["borrower"], amount="20万", fingerprint_ok=True,
                       on=date(2025, 3, 7))
    elif edit == "wipe-audit":
        forge(path, "DELETE FROM audit_log")
    found = findings(path, [slip])
    assert found, f"{edit} was not found"


def test_each_finding_names_what_was_done(books, tmp_path):
    """The findings say what they found, not just that something is off."""
    coop, line, slip = books
    expected = {
        "UPDATE operators SET role = 'admin' WHERE name = '王柜员'": "operator 王柜员 differs from their last recorded change",
        "UPDATE grants SET line_amount = 30000000 WHERE id = 1": "is not what its recorded survey and approval say",
        "DELETE FROM audit_log": "which is gone",
        "UPDATE txns SET operator = '赵会计' WHERE id = 1": "rewritten at or before that point",
    }
    for i, (sql, needle) in enumerate(expected.items()):
        path = str(tmp_path / f"e{i}.db")
        copy_books(coop.path, path)
        forge(path, sql)
        assert any(needle in f["message"] for f in findings(path, [slip])), (sql, findings(path, [slip]))


def test_heads_are_printed_and_stated_where_auditors_find_them(books, tmp_path):
    """Issue 14: the day-end prints the day's head, exports state it, and several slips narrow a rewrite down."""
    import re

    from credit_coop.core.export import export_plaintext, export_workbook

    coop, line, slip = books
    assert re.fullmatch(r"[0-9a-f]{32}@\d+\.\d+", slip)
    out = tmp_path / "j.journal"
    r = export_plaintext(coop.as_("auditor"), str(out), "hledger")
    assert r["head"] in out.read_text("utf-8").splitlines()[1] and "transactions" in out.read_text("utf-8").splitlines()[1]
    wb = tmp_path / "a.xlsx"
    export_workbook(coop.as_("auditor"), str(wb), first=D0, last=date(2025, 3, 6))
    from openpyxl import load_workbook

    cover = [[c.value for c in row] for row in load_workbook(wb, read_only=True)["封面"].iter_rows()]
    assert any(row[0] == "账本链头" and re.fullmatch(r"[0-9a-f]{32}@\d+\.\d+", str(row[1])) for row in cover)
    # two slips: an early one (transaction 1) still matches, the later one does not
    early = coop.as_("auditor").store.head_at(1, 1)
    path = str(tmp_path / "f.db")
    copy_books(coop.path, path)
    forge(path, "UPDATE txns SET memo = 'x' WHERE id = 3")
    found = [f["message"] for f in findings(path, [early, slip])]
    assert any("diverges between transactions 2 and" in m for m in found), found
