"""Issue 16 §6: rules and records with gaps — own credit everywhere, files that are not ours,
read-only and full disks, private files, invisible characters, CSV rows wider than the header."""

import os
import sqlite3
import stat
from datetime import date

import pytest

from credit_coop.core import borrowers, grants, journal, loans, operators
from credit_coop.core.errors import Conflict, InvalidInput, NotPermitted
from credit_coop.core.export import export_plaintext, export_workbook
from credit_coop.core.imports import import_rows, read_csv
from conftest import D0, new_id
from test_security import cli


def test_no_one_acts_on_their_own_credit_anywhere(coop):
    idn = coop.borrower(kinds=("farmer",))
    operators.add_operator(coop.as_("李主任"), "会计自己", "accountant", D0)
    with pytest.raises(InvalidInput):
        operators.set_id_number(coop.as_("李主任"), "会计自己", "12345")
    operators.set_id_number(coop.as_("李主任"), "会计自己", idn)
    with pytest.raises(Conflict, match="does not change"):
        operators.set_id_number(coop.as_("李主任"), "会计自己", new_id())
    operators.add_operator(coop.as_("李主任"), "主任自己", "admin", D0, id_number=idn)
    line = coop.granted("hnd", borrower=idn)
    d = loans.draw(coop.as_("teller"), card=line["card_no"], id_number=idn, amount="1万", fingerprint_ok=True, on=D0)
    with pytest.raises(NotPermitted, match="is the borrower here and cannot reverse"):
        journal.reverse(coop.as_("会计自己"), d["txn_id"], "mine", D0)
    with pytest.raises(NotPermitted, match="cannot freeze"):
        grants.freeze(coop.as_("主任自己"), line["grant_no"], on=D0)
    grants.freeze(coop.as_("officer"), line["grant_no"], on=D0)
    with pytest.raises(NotPermitted, match="cannot unfreeze"):
        grants.unfreeze(coop.as_("主任自己"), line["grant_no"], on=D0)
    grants.unfreeze(coop.as_("dept-head"), line["grant_no"], on=D0)
    from credit_coop.core.dayend import day_end

    day_end(coop.as_("accountant"), date(2025, 3, 5), today=date(2030, 1, 1))
    with pytest.raises(NotPermitted, match="cannot correct postings on their own line"):
        loans.repay(coop.as_("会计自己"), card=line["card_no"], amount="100", on=date(2025, 3, 3), correction="mine")
    # an imported operator may carry the ID number
    rows = read_csv(f"name,role,id_number\n柜员导入,teller,{idn}\n", "operators")
    assert import_rows(coop.as_("李主任"), "operators", rows, on=D0).committed
    with pytest.raises(NotPermitted, match="is the borrower"):
        loans.draw(coop.as_("柜员导入"), card=line["card_no"], id_number=idn, amount="1", fingerprint_ok=True,
                   on=date(2025, 3, 6))


def test_csv_values_beyond_the_header_refuse_the_row(coop):
    rows = read_csv("name,role\n柜员甲,teller\n柜员乙,teller,admin\n", "operators")
    report = import_rows(coop.as_("李主任"), "operators", rows, on=D0)
    assert not report.committed and report.rejected[0]["line"] == 3 and "beyond the header" in report.rejected[0]["error"]
    assert coop.as_("auditor").store.get_operator("柜员甲") is None  # all or nothing


@pytest.mark.parametrize("bad", ["\x9b", "\u202e", "\x7f", "\u200b", "\u2028"])
def test_invisible_characters_are_refused(coop, bad):
    with pytest.raises(InvalidInput, match="invisible control character"):
        borrowers.add_borrower(coop.as_("officer"), id_number=new_id(), name=f"王{bad}大山", kinds=["farmer"], on=D0)
    with pytest.raises(InvalidInput):
        operators.add_operator(coop.as_("李主任"), f"柜{bad}员", "teller", D0)


def test_exports_never_replace_a_file_they_did_not_write(coop, tmp_path):
    theirs = tmp_path / "demo-audit.xlsx"
    theirs.write_bytes(b"the director's own spreadsheet")
    auditor = coop.as_("auditor")
    with pytest.raises(Conflict, match="not written by credit-coop"):
        export_workbook(auditor, str(theirs), first=D0, last=D0)
    assert theirs.read_bytes() == b"the director's own spreadsheet"
    export_workbook(auditor, str(theirs), first=D0, last=D0, force=True)
    export_workbook(auditor, str(theirs), first=D0, last=D0)  # ours now: replaced without --force
    notes = tmp_path / "notes.journal"
    notes.write_text("my notes\n", "utf-8")
    with pytest.raises(Conflict):
        export_plaintext(auditor, str(notes), "hledger")
    # the demo checks its workbook before it builds anything
    theirs.write_bytes(b"the director's own spreadsheet")
    demo_db = tmp_path / "demo.db"
    r = cli(str(demo_db), "x", "demo")
    assert r.exit_code == 7 and "not written by credit-coop" in r.stderr and not demo_db.exists()


@pytest.mark.sqlite_only("the ledger file's own permissions; a server's are the DBA's")
def test_ledger_and_unmasked_exports_are_private(coop, tmp_path):
    assert stat.S_IMODE(os.stat(coop.path).st_mode) == 0o600
    out = tmp_path / "unmasked.xlsx"
    export_workbook(coop.as_("auditor"), str(out), first=D0, last=D0, unmasked=True)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    masked = tmp_path / "masked.xlsx"
    export_workbook(coop.as_("auditor"), str(masked), first=D0, last=D0)
    assert stat.S_IMODE(os.stat(masked).st_mode) & 0o044  # a masked export is meant to be shared


@pytest.mark.sqlite_only("a write-protected file; a server grants read-only roles instead")
def test_a_read_only_ledger_reads_and_says_why_it_cannot_post(coop, monkeypatch):
    line = coop.granted("hnd", line="8万")
    real_access = os.access
    # root ignores file modes, so the test makes os.access say what a clerk's account would see
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode == os.W_OK and str(p).startswith(coop.path)
                        else real_access(p, mode))
    assert cli(coop.path, "郑稽核", "verify").exit_code == 0
    assert cli(coop.path, "郑稽核", "report", "products").exit_code == 0
    r = cli(coop.path, "王柜员", "draw", "--card", line["card_no"], "--id-number", line["borrower"], "--amount", "1",
            "--fingerprint-ok", "--on", "2025-03-01")
    assert r.exit_code == 9 and "read-only" in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.output


@pytest.mark.sqlite_only("SQLite's disk-full error; the server's disk is the DBA's")
def test_a_full_disk_is_one_line(coop, tmp_path, monkeypatch):
    from credit_coop.store import sqlite as store_sqlite

    real = store_sqlite.Store.seal

    def full(self, txn_id):
        raise sqlite3.OperationalError("database or disk is full")

    line = coop.granted("hnd", line="8万")
    loans.draw(coop.as_("teller"), card=line["card_no"], id_number=line["borrower"], amount="1万", fingerprint_ok=True, on=D0)
    monkeypatch.setattr(store_sqlite.Store, "seal", full)
    r = cli(coop.path, "赵会计", "batch", "day-end", "--through", "2025-03-05")
    assert r.exit_code == 9 and "disk holding it is full" in r.stderr and "Traceback" not in r.output
    monkeypatch.setattr(store_sqlite.Store, "seal", real)
    monkeypatch.setattr(os, "replace", lambda a, b: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    r = cli(coop.path, "赵会计", "backup", "--out", str(tmp_path / "b.db"))
    assert r.exit_code == 9 and "No space left on device" in r.stderr and r.stderr.count("\n") == 1
    assert cli(coop.path, "郑稽核", "verify").exit_code == 0


def test_a_long_import_tells_tellers_what_holds_the_ledger(coop):
    """Issue 16 §6: an import holds the write lock for its whole (all-or-nothing) run; a teller trying to
    post meanwhile is told at once that an import is running, and by whom (maintenance mode)."""
    import json
    import socket

    line = coop.granted("hnd", line="8万")
    draw = ["draw", "--card", line["card_no"], "--id-number", line["borrower"], "--amount", "100", "--fingerprint-ok",
            "--on", "2025-03-01"]
    from conftest import RawLedger, writes_held

    def leave_mark(mark):
        db = RawLedger(coop.path)
        db.execute("DELETE FROM meta WHERE key = 'maintenance'")
        db.execute("INSERT INTO meta(key, value) VALUES ('maintenance', ?)", [json.dumps(mark)])
        db.commit()
        db.close()

    mark = {"what": "an import of 20000 draws", "by": "联社管理员", "since": "2026-11-24T10:02:00+00:00",
            "pid": os.getppid(), "host": socket.gethostname()}  # a live process other than this one
    leave_mark(mark)
    with writes_held(coop.path):
        r = cli(coop.path, "王柜员", *draw)
    assert r.exit_code == 8 and "an import of 20000 draws by 联社管理员 has held it since" in r.stderr
    # a mark left by a killed import (its process is gone) is ignored: the counter posts as usual
    mark["pid"] = 2**22 + 12345
    leave_mark(mark)
    assert cli(coop.path, "王柜员", *draw).exit_code == 0


def test_import_marks_and_clears_maintenance(coop, monkeypatch):
    from credit_coop.core import imports

    seen = []
    real = imports.operators.add_operator

    def spy(ledger, *a, **kw):
        seen.append(ledger.store._scalar("SELECT value FROM meta WHERE key = 'maintenance'"))
        return real(ledger, *a, **kw)

    monkeypatch.setattr(imports.operators, "add_operator", spy)
    monkeypatch.setattr(imports, "MAINTENANCE_ROWS", 2)
    rows = read_csv("name,role\n柜员一,teller\n柜员二,teller\n", "operators")
    assert import_rows(coop.as_("李主任"), "operators", rows, on=D0).committed
    assert all(s and "an import of 2 operators" in s for s in seen)
    assert coop.as_("auditor").store._scalar("SELECT value FROM meta WHERE key = 'maintenance'") is None


def test_a_mark_that_cannot_be_taken_down_does_not_fail_a_committed_import(coop, monkeypatch):
    """The connection lost (or the disk full) just as the import's maintenance mark comes down: the import
    is committed and says so; the mark left behind goes stale with the process (either backend's own
    driver error, not only SQLite's)."""
    from credit_coop.core import imports

    ledger = coop.as_("李主任")
    lost = ledger.store.driver_errors()[0]

    def fails(key):
        if key == "maintenance":
            raise lost("server closed the connection unexpectedly")

    monkeypatch.setattr(ledger.store, "delete_meta", fails)
    monkeypatch.setattr(imports, "MAINTENANCE_ROWS", 2)
    rows = read_csv("name,role\n柜员一,teller\n柜员二,teller\n", "operators")
    assert import_rows(ledger, "operators", rows, on=D0).committed
    assert {r["name"] for r in coop.as_("auditor").store._all("SELECT name FROM operators")} >= {"柜员一", "柜员二"}
