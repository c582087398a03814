"""Compact books (issue 11): the day-end books its accruals per product, a note's interest and penalty
become per-note lines only when they are a claim, and ``verify`` proves each note's accrued part by
replaying it; a ledger written before (a line per note per day) upgrades with its history as posted."""

import gzip
import os
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from credit_coop.core import dayend, loans
from credit_coop.core.errors import RuleViolation
from credit_coop.core.ledger import Ledger
from credit_coop.core.verify import verify
from credit_coop.store import SCHEMA_VERSION
from conftest import STAFF

FIXTURE = Path(__file__).parent / "fixtures" / "schema9_ledger.sql.gz"
LATER = date(2027, 1, 1)


def _old_ledger(path: str) -> None:
    """The ledger tests/fixtures/schema9_ledger.py wrote with credit-coop before compact books."""
    db = sqlite3.connect(path)
    db.executescript(gzip.open(FIXTURE, "rt", encoding="utf-8").read())
    db.close()


def _lines(path: str, through: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute("""SELECT l.* FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                             WHERE t.business_date <= ? ORDER BY l.id""", (through,)).fetchall()
    finally:
        db.close()


def _findings(path: str) -> list[str]:
    with Ledger.open(path, STAFF["auditor"]) as auditor:
        return [f["message"] for f in verify(auditor)["findings"]]


@pytest.fixture
def old(tmp_path):
    path = str(tmp_path / "old.db")
    _old_ledger(path)
    return path


def test_the_fixture_is_an_old_ledger_with_a_line_per_note_per_day(old):
    db = sqlite3.connect(old)
    assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "9"
    per_day = db.execute("""SELECT COUNT(*) FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                            WHERE t.kind = 'day-end' AND l.account = '1132.accrued' AND l.debit > 0""").fetchone()[0]
    assert per_day > 100  # three notes, most of 56 days each
    db.close()


def test_an_old_ledger_upgrades_with_its_history_as_posted_and_closes_compactly(old):
    before = _lines(old, "2025-04-25")
    with Ledger.open(old, STAFF["accountant"]) as acc:
        assert acc.store.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert acc.store.get_meta("compact_since") == "2025-04-26"
    assert os.path.exists(old + ".schema9.bak")
    assert _findings(old) == []                      # the old part verifies under the new rules
    with Ledger.open(old, STAFF["accountant"]) as acc:
        dayend.day_end(acc, date(2025, 5, 25), today=LATER)  # across a settlement day (05-20)
    assert _lines(old, "2025-04-25") == before       # nothing posted before was rewritten
    assert _findings(old) == []
    db = sqlite3.connect(old)
    # from 04-26 on: the day's accruals per product, no note on them; per-note lines only on 04-26 (the old
    # per-note accrued interest moved to the product's account) and on the settlement day (claims)
    rows = db.execute("""SELECT t.business_date, l.account, l.note_id FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                         WHERE t.kind = 'day-end' AND t.business_date >= '2025-04-26'""").fetchall()
    assert {d for d, _, note in rows if note is not None} == {"2025-04-26", "2025-05-20"}
    assert not [r for r in rows if r[1] == "1132.accrued" and r[0] != "2025-04-26"]
    old_accrued = db.execute("""SELECT l.note_id, SUM(l.debit - l.credit) FROM journal_lines l
                                WHERE l.account = '1132.accrued' GROUP BY l.note_id HAVING SUM(l.debit - l.credit) != 0""").fetchall()
    assert old_accrued == []                         # moved whole to 1132.accrued.hnd
    days = db.execute("SELECT COUNT(*) FROM txns WHERE kind = 'day-end' AND business_date >= '2025-04-26'").fetchone()[0]
    per_product = db.execute("""SELECT COUNT(*) FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                                WHERE t.kind = 'day-end' AND t.business_date >= '2025-04-26' AND l.note_id IS NULL""").fetchone()[0]
    assert days == 30 and per_product <= 4 * days + 2  # interest and penalty, receivable and income (one product),
                                                       # and on the 20th what became claims
    db.close()


def test_an_upgraded_ledger_takes_repayments_and_a_correction_across_the_boundary(old):
    with Ledger.open(old, STAFF["accountant"]) as acc:
        dayend.day_end(acc, date(2025, 5, 3), today=LATER)
        cards = [r[0] for r in acc.store._all("SELECT card_no FROM grants ORDER BY id")]
    with Ledger.open(old, STAFF["teller"]) as teller:
        # the matured note: penalty first (the days before the upgrade as claims, since then still accrued)
        r = loans.repay(teller, card=cards[0], amount="400", on=date(2025, 5, 4))
        assert r["split"]["penalty_fen"] > 0
    assert _findings(old) == []
    with Ledger.open(old, STAFF["accountant"]) as acc:
        dayend.day_end(acc, date(2025, 5, 22), today=LATER)
        # the days before the upgrade keep the form they were posted in: a correction reaches back to the upgrade
        with pytest.raises(RuleViolation, match="before this ledger moved to compact books on 2025-04-26"):
            loans.repay(acc, card=cards[1], amount="1000", on=date(2025, 4, 25), correction="receipt found in the drawer")
        # a repayment kept in a drawer since the upgrade day: the days from then, across a settlement, recomputed
        r = loans.repay(acc, card=cards[1], amount="1000", on=date(2025, 4, 26), correction="receipt found in the drawer")
        assert r["correction"]["days_recomputed"] == 27
        assert r["correction"]["interest_after_fen"] < r["correction"]["interest_before_fen"]
    assert _findings(old) == []


def test_verify_names_a_note_whose_state_was_edited_by_hand(old):
    with Ledger.open(old, STAFF["accountant"]) as acc:
        dayend.day_end(acc, date(2025, 5, 10), today=LATER)
        note = acc.store._scalar("SELECT n.note_no FROM loan_notes n JOIN note_state s ON s.note_id = n.id WHERE s.accrued > 0")
    assert _findings(old) == []
    for column, change in (("accrued", "accrued + 1"), ("accrual_num", "accrual_num + 7"), ("penalty_accrued", "penalty_accrued + 5")):
        db = sqlite3.connect(old)
        db.execute(f"UPDATE note_state SET {column} = {change} WHERE note_id = (SELECT id FROM loan_notes WHERE note_no = ?)", (note,))
        db.commit()
        found = _findings(old)
        assert any(note in f and column in f for f in found), (column, found)
        db.execute(f"UPDATE note_state SET {column} = {change.replace('+', '-')} WHERE note_id = (SELECT id FROM loan_notes WHERE note_no = ?)", (note,))
        db.commit()
        db.close()
    assert _findings(old) == []
