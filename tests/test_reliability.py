"""Reliability: backup/restore, racing tellers, killed batch runs, schema upgrades."""

import os
import sqlite3
import subprocess
import sys
from datetime import date, timedelta

import pytest

from credit_coop.core import loans
from credit_coop.core.backup import backup, restore
from credit_coop.core.errors import Conflict, InvalidInput, LedgerUnavailable, NotPermitted, RuleViolation
from credit_coop.core.ledger import Ledger
from credit_coop.core.verify import verify
from credit_coop.store import SCHEMA_VERSION
from conftest import D0


def test_backup_and_restore(coop, tmp_path):
    line = coop.granted("hnd", line="8万")
    loans.draw(coop.as_("teller"), card=line["card_no"], id_number=line["borrower"], amount="3万", fingerprint_ok=True, on=D0)
    out = str(tmp_path / "b.db")
    with pytest.raises(NotPermitted):
        backup(coop.as_("teller"), out)
    r = backup(coop.as_("accountant"), out)
    assert r["transactions"] == 1 and os.path.exists(out)
    with pytest.raises(Conflict):
        backup(coop.as_("accountant"), out)
    with Ledger.open(out) as copy:                       # the backup verifies on its own, hash chain included
        assert verify(copy)["ok"]
    loans.draw(coop.as_("teller"), card=line["card_no"], id_number=line["borrower"], amount="1万", fingerprint_ok=True, on=D0)
    with pytest.raises(NotPermitted):
        restore(coop.path, out, "王柜员")
    r = restore(coop.path, out, "李主任", reason="test")
    assert r["lost_transactions"] == 1 and r["lost"]["drawdown"] == {"count": 1, "amount_fen": 1_000_000}
    shown = loans.show_line(coop.as_("auditor"), line["card_no"], D0)
    assert shown["outstanding_fen"] == 3_000_000 and verify(coop.as_("auditor"))["ok"]
    with Ledger.open(r["kept_as"]) as kept:              # the replaced ledger is kept whole beside it
        assert kept.store.chain_head()[0] == 2 and verify(kept)["ok"]
    assert oct(os.stat(r["kept_as"]).st_mode & 0o777) == "0o600"


def test_restore_says_what_is_lost_and_refuses_strangers(coop, tmp_path):
    """Issue 16 §2: a backup, a 50,000 draw and five day-ends, then restore: exit 0 and silence before."""
    import json

    from credit_coop.core.backup import restore_plan
    from credit_coop.core.dayend import day_end
    from credit_coop.core.ledger import create_ledger

    line = coop.granted("hnd", line="8万")
    out = str(tmp_path / "old.db")
    backup(coop.as_("accountant"), out)
    loans.draw(coop.as_("teller"), card=line["card_no"], id_number=line["borrower"], amount="5万", fingerprint_ok=True, on=D0)
    day_end(coop.as_("accountant"), date(2025, 3, 5), today=date(2030, 1, 1))
    plan = restore_plan(coop.path, out, "李主任")
    assert plan["lost_transactions"] >= 2 and plan["lost"]["drawdown"]["amount_fen"] == 5_000_000
    assert plan["lost_days"] == {"from": None, "through": "2025-03-05"} and plan["lost_audit_rows"] >= 0
    # another cooperative's empty ledger is not a past state of this one
    stranger = str(tmp_path / "other.db")
    create_ledger(stranger, operator="李主任", on=D0)
    with pytest.raises(RuleViolation, match="another ledger"):
        restore(coop.path, stranger, "李主任")
    # a doctored copy: a forged repayment, its chain recomputed by whoever had the file
    forged = str(tmp_path / "forged.db")
    backup(coop.as_("accountant"), forged)
    with Ledger.open(forged, "赵会计") as f:
        from credit_coop.core.journal import Line, post

        with f.store.write():
            post(f, "repayment", date(2025, 3, 6), [Line("1001", debit=10_000_000), Line("6011", credit=10_000_000)])
    with pytest.raises(RuleViolation, match="not a past state"):
        restore(coop.path, forged, "李主任")
    with pytest.raises(InvalidInput, match="must not be empty"):
        restore(coop.path, forged, "李主任", force=" ")
    r = restore(coop.path, forged, "李主任", force="the auditor's copy is the true one")
    assert r["forced"] and r["problems"]
    entry = coop.as_("auditor").store.audit_entries()[-1]
    assert entry["action"] == "restore" and json.loads(entry["detail"])["forced"] == "the auditor's copy is the true one"
    assert len([n for n in os.listdir(tmp_path) if ".replaced-" in n]) == 1


def test_restore_refuses_a_bad_backup(coop, tmp_path):
    out = str(tmp_path / "b.db")
    coop.granted("hnd")
    backup(coop.as_("accountant"), out)
    db = sqlite3.connect(out)
    db.execute("UPDATE grants SET line_amount = 99999999")
    db.commit()
    db.close()
    with pytest.raises(RuleViolation, match="does not verify"):
        restore(coop.path, out, "李主任")
    garbage = tmp_path / "junk.db"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(LedgerUnavailable):
        restore(coop.path, str(garbage), "李主任")


RACER = """
import sys
from datetime import date
from credit_coop.core.errors import LedgerError
from credit_coop.core.ledger import Ledger
from credit_coop.core.loans import draw
path, card, idn, who = sys.argv[1:5]
request = sys.argv[5] if len(sys.argv) > 5 else None  # the same request id in every process: a retry racing itself
ok = refused = replayed = 0
with Ledger.open(path, who) as ledger:
    for i in range(50):
        try:
            r = draw(ledger, card=card, id_number=idn, amount="1,000.00", fingerprint_ok=True, on=date(2025, 3, 1),
                     request_id=request)
            if r.get("replayed"):
                replayed += 1
            else:
                ok += 1
        except LedgerError as e:
            assert e.exit_code == 5, e
            refused += 1
print(ok, refused, replayed)
"""


def _race(coop, line, *extra):
    procs = [subprocess.Popen([sys.executable, "-c", RACER, coop.path, line["card_no"], line["borrower"], who, *extra],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for who in ("王柜员", "赵会计") * 4]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(tuple(map(int, out.split())))
    return results


def test_racing_tellers_never_exceed_the_line(coop):
    """8 processes × 50 drawdowns of 1,000.00 on one 80,000.00 line: exactly 80 succeed, none doubled
    (on a file: SQLite's one writer; on a server: the ledger's advisory lock)."""
    line = coop.granted("hnd", line="8万")
    results = _race(coop, line)
    assert sum(r[0] for r in results) == 80 and sum(r[1] for r in results) == 320 and not sum(r[2] for r in results)
    auditor = coop.as_("auditor")
    assert loans.show_line(auditor, line["card_no"], D0)["outstanding_fen"] == 8_000_000
    assert verify(auditor)["ok"]


def test_racing_retries_of_one_request_post_once(coop):
    """The same request id sent from 8 processes at once, 50 times each: one drawdown, 399 replays of it."""
    line = coop.granted("hnd", line="8万")
    results = _race(coop, line, "counter-7-0001")
    assert sum(r[0] for r in results) == 1 and sum(r[2] for r in results) == 399 and not sum(r[1] for r in results)
    auditor = coop.as_("auditor")
    assert loans.show_line(auditor, line["card_no"], D0)["outstanding_fen"] == 100_000
    assert verify(auditor)["ok"]


def _old_ledger(path: str, stop_before: str):
    """A ledger file as an older credit-coop left it: migrations up to ``stop_before``, a policy and an admin 'a'."""
    from sqlite_utils import Database

    from credit_coop.core.policy import load_policy_file
    from credit_coop.store import schema

    db = Database(path)
    db.execute("PRAGMA journal_mode=WAL")
    schema.migrations.apply(db, stop_before=stop_before)
    db.execute("INSERT INTO meta(key, value) VALUES ('policy', ?)", [load_policy_file(None).to_json()])
    db.execute("INSERT INTO meta(key, value) VALUES ('created_on', '2025-03-01')")
    db.execute("INSERT INTO operators(name, role, added_on, added_by) VALUES ('a', 'admin', '2025-03-01', 'a')")
    db.conn.commit()
    return db


def test_older_ledger_is_upgraded_with_a_backup(tmp_path):
    """A schema-1 ledger opens, is backed up beside itself, migrated, and verifies."""
    path = str(tmp_path / "old.db")
    _old_ledger(path, "m0002_day_end").close()
    with Ledger.open(path, "a") as ledger:
        from credit_coop.store import SCHEMA_VERSION

        assert ledger.store.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert verify(ledger)["ok"]
    assert os.path.exists(path + ".schema1.bak")


def test_newer_ledger_is_refused(tmp_path, coop):
    from conftest import RawLedger

    db = RawLedger(coop.path)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(LedgerUnavailable, match="newer credit-coop"):
        Ledger.open(coop.path)


def test_locked_ledger_says_busy_retry(coop, monkeypatch):
    """Another writer holding the lock past the busy timeout: a clear exit 8, nothing posted."""
    import credit_coop.store.sqlite as sq
    from credit_coop.core.errors import LedgerBusy

    line = coop.granted("hnd", line="8万")
    monkeypatch.setattr(sq, "BUSY_TIMEOUT_MS", 200)
    from conftest import writes_held

    teller = Ledger.open(coop.path, "王柜员")
    try:
        with writes_held(coop.path):
            with pytest.raises(LedgerBusy, match="busy with another posting; please retry") as e:
                loans.draw(teller, card=line["card_no"], id_number=line["borrower"], amount="1万", fingerprint_ok=True, on=D0)
        assert e.value.exit_code == 8
    finally:
        teller.close()
    assert loans.show_line(coop.as_("auditor"), line["card_no"], D0)["outstanding_fen"] == 0


def test_schema_6_compensations_survive_the_upgrade(tmp_path):
    """m0007 rebuilds compensations (a note may be compensated again after a correction): rows and guards kept."""
    path = str(tmp_path / "v6.db")
    db = _old_ledger(path, "m0007_compensation_redone")
    db.execute("INSERT INTO compensations(id, note_id, officer, on_date, amount, from_fund, shortfall, txn_id) "
               "VALUES (1, 7, 'a', '2025-04-10', 100, 60, 40, 9)")
    db.conn.commit()
    db.close()
    with Ledger.open(path, "a") as ledger:
        store = ledger.store
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert [tuple(r) for r in store.conn.execute("SELECT * FROM compensations")] == [(1, 7, "a", "2025-04-10", 100, 60, 40, 9)]
        assert not store.missing_guards()
        with pytest.raises(sqlite3.DatabaseError, match="never changed"):
            store.conn.execute("UPDATE compensations SET amount = 1")
    assert os.path.exists(path + ".schema6.bak")


def test_only_the_store_speaks_to_the_database():
    """Issue 12: core and cli never import the database driver; the store maps its errors (as_ledger_error)."""
    import ast
    from pathlib import Path

    root = Path(__file__).parent.parent / "credit_coop"
    offenders = []
    for path in list((root / "core").rglob("*.py")) + list((root / "cli").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] in ("sqlite3", "psycopg") for n in names):
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not offenders, offenders


def test_meta_read_in_a_write_is_that_transactions_own_and_afresh_after_it(coop):
    """meta is read once per write transaction (a posting asks for the closed date several times):
    what the transaction writes is what it reads back, a failed savepoint's writes are forgotten with
    it, and the next transaction sees what others committed meanwhile; so does a read after it."""
    with Ledger.open(coop.path) as a, Ledger.open(coop.path) as b:
        with a.store.write():
            assert a.store.get_meta("probe") is None
            a.store.set_meta("probe", "1")
            assert a.store.get_meta("probe") == "1"
            with pytest.raises(RuntimeError):
                with a.store.savepoint():
                    a.store.set_meta("probe", "2")
                    assert a.store.get_meta("probe") == "2"
                    raise RuntimeError("this row fails")
            assert a.store.get_meta("probe") == "1"
            a.store.delete_meta("probe")
            assert a.store.get_meta("probe") is None
            a.store.set_meta("probe", "3")
        with b.store.write():
            assert b.store.get_meta("probe") == "3"
            b.store.set_meta("probe", "4")
        assert a.store.get_meta("probe") == "4"
        with a.store.write():
            assert a.store.get_meta("probe") == "4"
    with Ledger.open(coop.path) as a, Ledger.open(coop.path) as b:  # a reads meta as it opens
        with b.store.write():
            b.store.set_meta("probe", "5")
        with a.store.write():
            pass
        assert a.store.get_meta("probe") == "5"  # after a transaction of its own, never what it opened with


def sent_statements(monkeypatch) -> list[str]:
    """Every statement the store sends from now on, as written in the store's modules (either backend)."""
    from credit_coop.store import postgres

    seen: list[str] = []
    real_connect, real_send = sqlite3.connect, postgres.Connection.send

    def connect(*args, **kwargs):
        conn = real_connect(*args, **kwargs)
        conn.set_trace_callback(seen.append)
        return conn

    def send(self, sql, params=()):
        seen.append(sql)
        return real_send(self, sql, params)

    monkeypatch.setattr(sqlite3, "connect", connect)
    monkeypatch.setattr(postgres.Connection, "send", send)
    return seen


def test_a_counter_drawdown_asks_for_each_thing_once(coop, monkeypatch, tmp_path):
    """On a server each read is a round trip from the township's counter: a drawdown from the command line
    reads the meta table once when it opens the ledger and once in its transaction (never the keys a
    ledger is made with again), the teller's row once to log in and once for the permission, and the
    teller's branch once (the branch check and the till both ask for it)."""
    from typer.testing import CliRunner

    from credit_coop.cli import app
    from conftest import PASSPHRASE

    line = coop.granted("hnd", line="8万")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    runner = CliRunner()
    who = ["--db", coop.path, "--operator", "王柜员"]
    assert runner.invoke(app, [*who, "login"], env={"CREDIT_COOP_PASSWORD": PASSPHRASE}).exit_code == 0
    seen = sent_statements(monkeypatch)
    r = runner.invoke(app, [*who, "draw", "--card", line["card_no"], "--id-number", line["borrower"], "--amount", "1万",
                            "--fingerprint-ok", "--on", D0.isoformat()], env={"CREDIT_COOP_PASSWORD": None})
    assert r.exit_code == 0, r.output

    def reads(table: str) -> list[str]:
        return [s for s in seen if f"FROM {table}" in " ".join(s.split()) and "'maintenance'" not in s]

    assert len(reads("meta")) == 2, reads("meta")
    assert all("WHERE" not in s for s in reads("meta"))  # the whole (small) table each time
    assert len(reads("operators")) == 2, reads("operators")
    assert len(reads("org_assignments")) == 1, reads("org_assignments")


def test_a_lines_reads_sent_with_its_lock_are_never_stale_after_the_postings_own_write(coop):
    """On a server the reads a drawdown makes of its line travel with the line's lock (one round trip). The
    posting's own first write drops those not read yet: a read after it sees the write."""
    from credit_coop.core import accounts
    from credit_coop.core.journal import Line, post

    line = coop.granted("hnd", line="8万")
    teller = coop.as_("teller")
    store = teller.store
    g = store.get_grant_by_card(line["card_no"])
    loans_account = accounts.loans_account("hnd")
    with store.write(counter=True):
        store.lock("line", g["id"], reading="drawdown")
        post(teller, "drawdown", D0, [Line(loans_account, debit=100, grant_id=g["id"]),
                                      Line(accounts.cash_account(None), credit=100, grant_id=g["id"])], memo="probe")
        assert store.grant_balance(g["id"], loans_account) == 100
        assert store.counter_postings_after([g["id"]], (D0 - timedelta(days=1)).isoformat())
        store.rollback_all()
    assert store.grant_balance(g["id"], loans_account) == 0


def test_verify_reads_one_state_while_the_counters_post(coop, monkeypatch):
    """A drawdown committed while verify runs (after its first check) is not half-seen: every check and the
    head it reports are of the ledger as verify found it."""
    from credit_coop.core import verify as verify_module

    line = coop.granted("hnd", line="8万")
    loans.draw(coop.as_("teller"), card=line["card_no"], id_number=line["borrower"], amount="1万", fingerprint_ok=True, on=D0)
    first, *rest = verify_module.CHECKS
    posted = []

    def then_a_teller_posts(ledger):
        found = first(ledger)
        with Ledger.open(coop.path, "王柜员") as teller:
            posted.append(loans.draw(teller, card=line["card_no"], id_number=line["borrower"], amount="2万",
                                     fingerprint_ok=True, on=D0))
        return found

    monkeypatch.setattr(verify_module, "CHECKS", (then_a_teller_posts, *rest))
    with Ledger.open(coop.path, "郑稽核") as auditor:
        before = auditor.store.head()
        result = verify(auditor)
        assert posted and result["ok"]
        assert result["head"] == before  # the state verify began with, not the drawdown's
        assert sum(a["debit_fen"] for a in result["accounts"] if a["account"].startswith("1303")) == 1_000_000
        assert auditor.store.head() != before  # the drawdown is there for the next reader
