"""The ledger on a PostgreSQL server (issue 12): what is particular to the server — copying a file ledger
onto it and back, its guards, its URL and its errors. (The whole suite also runs on the server:
``pytest --backend postgresql``, as .ci/run does.)"""

import sys
from contextlib import nullcontext
from datetime import date

import pytest
from typer.testing import CliRunner

from credit_coop.cli import app
from credit_coop.core import backup, dayend, loans
from credit_coop.core.errors import Conflict, LedgerUnavailable
from credit_coop.core.ledger import Ledger
from credit_coop.core.verify import verify
from conftest import D0, RawLedger, make_coop


@pytest.fixture
def busy_file(tmp_path):
    """A file ledger with a grant, draws, a closed month with its settlement, a repayment and a correction."""
    path = str(tmp_path / "coop.db")
    coop = make_coop(path, passphrases=False, on_file=True)
    line = coop.granted("hnd", line="8万")
    for amount in ("3万", "2万"):
        loans.draw(coop.as_("teller"), card=line["card_no"], id_number=line["borrower"], amount=amount, fingerprint_ok=True, on=D0)
    dayend.day_end(coop.as_("accountant"), date(2025, 3, 31), today=date(2030, 1, 1))
    loans.repay(coop.as_("accountant"), card=line["card_no"], amount="500", on=date(2025, 3, 25), correction="found in the drawer")
    loans.repay(coop.as_("teller"), card=line["card_no"], amount="1万", on=date(2025, 4, 1))
    coop.close()
    return path, line


def test_a_file_ledger_moves_onto_the_server_whole_and_comes_back(busy_file, server_database, tmp_path):
    path, line = busy_file
    with Ledger.open(path, "李主任") as admin:
        head = admin.store.head()
        moved = backup.copy(admin, server_database)
    assert moved["transactions"] > 0 and moved["rows"] > 100
    with Ledger.open(server_database, "郑稽核") as auditor:
        assert auditor.store.head() == head  # both hash chains, as they were
        assert verify(auditor)["ok"]
        assert loans.show_line(auditor, line["card_no"])["outstanding_fen"] > 0
    with Ledger.open(server_database, "王柜员") as teller:  # the server ledger posts on from there
        loans.repay(teller, card=line["card_no"], amount="100", on=date(2025, 4, 1))
    back = str(tmp_path / "back.db")
    with Ledger.open(server_database, "李主任") as admin:
        server_head = admin.store.head()
        backup.copy(admin, back)
        with pytest.raises(Conflict, match="already exists"):
            backup.copy(admin, back)
    with Ledger.open(back, "郑稽核") as auditor:
        assert auditor.store.head() == server_head and verify(auditor)["ok"]
    with Ledger.open(path, "李主任") as admin:  # a database that already holds a ledger is not a target
        with pytest.raises(Conflict, match="not empty"):
            backup.copy(admin, server_database)


def test_the_server_guards_posted_rows_and_verify_checks_the_guards(busy_file, server_database):
    path, _ = busy_file
    with Ledger.open(path, "李主任") as admin:
        backup.copy(admin, server_database)
    db = RawLedger(server_database)
    for sql in ("UPDATE journal_lines SET debit = debit + 1", "DELETE FROM txns", "DELETE FROM record_chain"):
        with pytest.raises(db.IntegrityError, match="never changed"):
            db.execute(sql)
        db.rollback()
    db.unguard("journal_lines")
    db.commit()
    db.close()
    with Ledger.open(server_database, "郑稽核") as auditor:
        found = verify(auditor)["findings"]
    assert [f["check"] for f in found] == ["guards"] and "journal_lines_no_update" in found[0]["message"]


def test_a_password_in_the_url_is_never_shown(busy_file, server_database):
    path, _ = busy_file
    secret_url = server_database.replace("://postgres@", "://postgres:s3cret-pw@")
    with Ledger.open(path, "李主任") as admin:
        moved = backup.copy(admin, secret_url)  # trust authentication here: the password is not needed
        assert "s3cret-pw" not in moved["to"] and ":***@" in moved["to"]
        assert not [e for e in admin.store.audit_entries() if "s3cret-pw" in (e["detail"] or "")]
    r = CliRunner().invoke(app, ["--db", secret_url.replace("/cc_", "/no_such_db_"), "--operator", "李主任", "verify"],
                           env={"CREDIT_COOP_PASSWORD": None})
    assert r.exit_code == 9 and "s3cret-pw" not in r.output and r.stderr.count("\n") == 1, r.output


def test_an_unreachable_server_is_one_line_exit_9():
    r = CliRunner().invoke(app, ["--db", "postgresql://coop@127.0.0.1:9/coop", "--operator", "王柜员", "verify"])
    assert r.exit_code == 9 and r.stderr.startswith("error: cannot reach the ledger at postgresql://coop@127.0.0.1:9/coop")
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.output


def test_without_the_driver_a_url_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the extra were not installed
    with pytest.raises(LedgerUnavailable, match=r"pip install 'credit-coop\[postgres\]'"):
        Ledger.open("postgresql://coop@127.0.0.1:5432/coop")


def test_the_counter_path_never_imports_the_driver(tmp_path):
    import subprocess

    path = str(tmp_path / "c.db")
    make_coop(path, passphrases=False, on_file=True)
    code = ("import sys; from credit_coop.core.ledger import Ledger; Ledger.open(sys.argv[1], '王柜员').close(); "
            "print('psycopg' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_database_of_another_application_is_not_taken_for_a_ledger(server_database):
    import psycopg

    with psycopg.connect(server_database, autocommit=True) as db:
        db.execute("CREATE TABLE invoices (id integer PRIMARY KEY, amount numeric)")
    r = CliRunner().invoke(app, ["--db", server_database, "--operator", "李主任", "verify"])
    assert r.exit_code == 9 and "holds no credit-coop ledger" in r.stderr and r.stderr.count("\n") == 1
    r = CliRunner().invoke(app, ["--db", server_database, "--operator", "李主任", "init"], env={"CREDIT_COOP_PASSWORD": "pass-1234"})
    assert r.exit_code == 7 and "not empty" in r.stderr, r.output


def test_tellers_on_different_lines_do_not_wait_for_each_other(server_database, monkeypatch):
    """A teller half-way through a posting on line A (its line held, not yet at the hash chain): a drawdown
    on line B goes through at once; one on line A waits and is told busy; the day-end, which needs the
    whole ledger, waits too."""
    import psycopg

    import credit_coop.store.sqlite as sq
    from credit_coop.core.errors import LedgerBusy
    from credit_coop.store.postgres import LEDGER_LOCK, PgStore

    coop = make_coop(server_database, passphrases=False)
    a, b = coop.granted("hnd", line="8万"), coop.granted("hnd", line="8万")
    with Ledger.open(server_database) as led:
        a_id = led.store.get_grant_by_card(a["card_no"])["id"]
    monkeypatch.setattr(sq, "BUSY_TIMEOUT_MS", 300)
    other = psycopg.connect(server_database, autocommit=True)
    other.execute("BEGIN")
    other.execute("SELECT pg_advisory_xact_lock_shared(%s)", (LEDGER_LOCK,))
    other.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (PgStore._LOCKS["line"], str(a_id)))
    try:
        with Ledger.open(server_database, "王柜员") as teller:
            note = loans.draw(teller, card=b["card_no"], id_number=b["borrower"], amount="1万", fingerprint_ok=True, on=D0)
            assert note["available_after_fen"] == 7_000_000
            with pytest.raises(LedgerBusy):
                loans.draw(teller, card=a["card_no"], id_number=a["borrower"], amount="1万", fingerprint_ok=True, on=D0)
        with Ledger.open(server_database, "赵会计") as accountant:
            with pytest.raises(LedgerBusy):
                dayend.day_end(accountant, D0, today=date(2030, 1, 1))
    finally:
        other.execute("ROLLBACK")
        other.close()
    with Ledger.open(server_database, "王柜员") as teller:  # line A's teller finished: A posts again
        loans.draw(teller, card=a["card_no"], id_number=a["borrower"], amount="1万", fingerprint_ok=True, on=D0)
    with Ledger.open(server_database, "郑稽核") as auditor:
        assert verify(auditor)["ok"]
    coop.close()


def test_the_server_works_out_each_chain_link_as_chain_hash_does(server_database):
    """The server writes a transaction's link, and a record's (an audit row, a grant event, an operator),
    in one statement (its own SHA-256 over the row's text): each link must be the one Python's chain_hash
    or record_hash gives for the same rows — names in Chinese, NULLs and all."""
    from credit_coop.store.common import chain_hash, GENESIS, LINE_COLUMNS, record_hash, TXN_COLUMNS

    coop = make_coop(server_database, passphrases=False)
    line = coop.granted("hnd", line="8万")
    teller = coop.as_("teller")
    loans.draw(teller, card=line["card_no"], id_number=line["borrower"], amount="3万", fingerprint_ok=True, on=D0)
    loans.repay(teller, card=line["card_no"], amount="1,000.01", on=D0)
    teller.store.audit("王柜员", "repay", "卡 6220…｜¥1,000.01", "refused (4)")  # an audit row and its record link
    with Ledger.open(server_database) as led:
        store, prev = led.store, GENESIS
        links = store._all("SELECT txn_id, prev_hash, hash FROM txn_chain ORDER BY txn_id")
        assert len(links) >= 2
        for link in links:
            txn = store._one(f"SELECT {TXN_COLUMNS} FROM txns WHERE id = ?", (link["txn_id"],))
            lines = store._all(f"SELECT {LINE_COLUMNS} FROM journal_lines WHERE txn_id = ? ORDER BY id", (link["txn_id"],))
            assert (link["prev_hash"], link["hash"]) == (prev, chain_hash(prev, txn, lines))
            prev = link["hash"]
        prev, kinds = GENESIS, set()
        for r in store._all("SELECT kind, ref, payload, prev_hash, hash FROM record_chain ORDER BY seq"):
            assert (r["prev_hash"], r["hash"]) == (prev, record_hash(prev, r["kind"], r["ref"], r["payload"]))
            prev, kinds = r["hash"], kinds | {r["kind"]}
        assert {"audit", "grant_event", "operator"} <= kinds
    coop.close()


def forge_on_server(url: str, *statements: str) -> None:
    """Edit the server ledger as a forger with the DBA's rights would: triggers bypassed
    (``session_replication_role = replica``), the change made, the journal chain recomputed."""
    import psycopg

    from credit_coop.store.common import chain_hash, GENESIS, LINE_COLUMNS, TXN_COLUMNS

    with psycopg.connect(url) as db:
        db.execute("SET session_replication_role = replica")
        for sql in statements:
            db.execute(sql)
        db.execute("DELETE FROM txn_chain")
        prev = GENESIS
        for txn in db.execute(f"SELECT {TXN_COLUMNS} FROM txns ORDER BY id").fetchall():
            lines = db.execute(f"SELECT {LINE_COLUMNS} FROM journal_lines WHERE txn_id = %s ORDER BY id", (txn[0],)).fetchall()
            link = chain_hash(prev, txn, lines)
            db.execute("INSERT INTO txn_chain(txn_id, prev_hash, hash) VALUES (%s, %s, %s)", (txn[0], prev, link))
            prev = link


@pytest.mark.parametrize("edit", ["rewrite-drawdown", "who-posted", "fake-repayment", "teller-to-admin", "wipe-audit"])
def test_a_forgery_on_the_server_is_found_through_the_day_end_slip(server_database, edit):
    """The DBA can bypass the guards; the hash chains and the head on the day-end slip still tell."""
    coop = make_coop(server_database, passphrases=False)
    line = coop.granted("hnd", line="9万")
    loans.draw(coop.as_("teller"), card=line["card_no"], id_number=line["borrower"], amount="5万", fingerprint_ok=True, on=D0)
    dayend.day_end(coop.as_("accountant"), date(2025, 3, 4), today=date(2030, 1, 1))
    loans.repay(coop.as_("teller"), card=line["card_no"], amount="1万", on=date(2025, 3, 5))
    coop.as_("auditor").store.audit("郑稽核", "verify", None)
    slip = dayend.day_end(coop.as_("accountant"), date(2025, 3, 6), today=date(2030, 1, 1))["head"]
    with Ledger.open(server_database, "郑稽核") as auditor:
        assert verify(auditor, [slip])["findings"] == []
        last = auditor.store._scalar("SELECT MAX(id) FROM txns")
    forge_on_server(server_database, *{
        "rewrite-drawdown": ["UPDATE journal_lines SET debit = debit / 5, credit = credit / 5 WHERE txn_id = 1",
                             "UPDATE loan_notes SET amount = amount / 5 WHERE id = 1"],
        "who-posted": ["UPDATE txns SET operator = '赵会计' WHERE id = 1"],
        "fake-repayment": [f"INSERT INTO txns(id, kind, business_date, operator, memo, posted_at) VALUES ({last + 1}, "
                           "'repayment', '2025-03-05', '王柜员', 'repayment', '2025-03-05T09:00:00+00:00')",
                           f"INSERT INTO journal_lines(txn_id, account, debit, credit, grant_id) VALUES ({last + 1}, '1001', 1000000, 0, 1)",
                           f"INSERT INTO journal_lines(txn_id, account, debit, credit, grant_id, note_id) "
                           f"VALUES ({last + 1}, '1303.hnd', 0, 1000000, 1, 1)"],
        "teller-to-admin": ["UPDATE operators SET role = 'admin' WHERE name = '王柜员'"],
        "wipe-audit": ["DELETE FROM audit_log"],
    }[edit])
    with Ledger.open(server_database, "郑稽核") as auditor:
        assert verify(auditor, [slip])["findings"], f"{edit} was not found"
    coop.close()


def test_walks_over_the_whole_journal_come_through_a_server_side_cursor(server_database):
    """verify's chain walk, copy and the exports read the journal a batch at a time from a cursor the server
    holds, not all of it into the client's memory at once (a provincial pool's journal is large)."""
    coop = make_coop(server_database, passphrases=False)
    line = coop.granted("hnd", line="8万")
    for _ in range(3):
        loans.draw(coop.as_("teller"), card=line["card_no"], id_number=line["borrower"], amount="1万", fingerprint_ok=True, on=D0)
    with Ledger.open(server_database) as led:
        store = led.store
        for in_transaction in (True, False):
            with store.reading() if in_transaction else nullcontext():
                rows = store._stream("SELECT id FROM journal_lines ORDER BY id")
                assert next(rows)[0] == 1
                held = store._all("SELECT name, is_holdable FROM pg_cursors")
                assert [(r["name"].startswith("stream_"), r["is_holdable"]) for r in held] == [(True, not in_transaction)]
                assert len(list(rows)) == 5
            assert store._all("SELECT name FROM pg_cursors") == []  # closed once read to the end
    coop.close()


def test_a_write_holding_the_whole_ledger_takes_no_finer_locks(server_database):
    """An import of 100,000 rows is one transaction: had it taken a lock per line and request id it would
    run out of the server's lock table ("out of shared memory", found by the 100,000-note bench). Holding
    the ledger exclusively, it takes none; a counter posting takes its own."""
    coop = make_coop(server_database, passphrases=False)
    mine = "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    with Ledger.open(server_database) as led:
        store = led.store
        with store.write():
            for key in range(1000):
                store.lock("line", key)
                store.lock("request", f"import:{key}")
            store.next_id("loan_notes")
            assert store._scalar(mine) == 1  # the ledger's own lock, nothing else
        with store.write(counter=True):
            store.lock("line", 1)
            store.lock("request", "R1")
            store.next_id("loan_notes")
            assert store._scalar(mine) == 4  # the ledger (shared), the line, the request id, the chain
    coop.close()


def test_the_rows_rewritten_every_day_have_room_beside_them(server_database):
    """note_state (every live note, each day-end) and line_positions (each counter posting) leave half of
    each page free, so the server rewrites a row on its own page without new index entries."""
    coop = make_coop(server_database, passphrases=False)
    with Ledger.open(server_database) as led:
        options = {r["relname"]: r["reloptions"] for r in led.store._all(
            "SELECT relname, array_to_string(reloptions, ',') AS reloptions FROM pg_class "
            "WHERE relname IN ('note_state', 'line_positions')")}
    assert options == {"note_state": "fillfactor=50", "line_positions": "fillfactor=50"}
    coop.close()


PASSWORD_ROLE = "cc_password_probe"  # the test server asks this role for its password (.ci/run's pg_hba.conf)


@pytest.fixture
def password_database(server_database):
    """``server_database`` owned by a role the server asks for a password (``sesame-1``), and its URL
    without the password. Without such a server the test skips on a developer's machine and fails in CI."""
    import os

    import psycopg

    with psycopg.connect(server_database, autocommit=True) as db:
        if not db.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (PASSWORD_ROLE,)).fetchone():
            db.execute(f"CREATE ROLE {PASSWORD_ROLE} LOGIN")
        db.execute(f"ALTER ROLE {PASSWORD_ROLE} PASSWORD 'sesame-1'")
        db.execute(f"GRANT ALL ON SCHEMA public TO {PASSWORD_ROLE}")
        db.execute(f"ALTER SCHEMA public OWNER TO {PASSWORD_ROLE}")
    url = server_database.replace("://postgres@", f"://{PASSWORD_ROLE}@")
    try:
        psycopg.connect(url.replace("@", ":wrong-pw@"), connect_timeout=5).close()
    except psycopg.OperationalError:
        return url
    message = f"the test server lets {PASSWORD_ROLE} in without a password (pg_hba.conf: see .ci/run)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def test_credentials_follow_libpq_and_a_wrong_password_is_one_line(password_database, tmp_path, monkeypatch):
    """The password from PGPASSWORD or a ~/.pgpass file (libpq's own ways), never typed into a command; a
    wrong one is one line, exit 9, and the password is not in it."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    init = ["--db", password_database, "--operator", "李主任", "init"]
    r = CliRunner().invoke(app, init, env={"CREDIT_COOP_PASSWORD": "pass-1234"})
    assert r.exit_code == 9 and "password" in r.stderr and r.stderr.count("\n") == 1, r.output  # none given
    r = CliRunner().invoke(app, init, env={"CREDIT_COOP_PASSWORD": "pass-1234", "PGPASSWORD": "sesame-1"})
    assert r.exit_code == 0, r.output
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"*:*:*:{PASSWORD_ROLE}:sesame-1\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    r = CliRunner().invoke(app, ["--db", password_database, "--operator", "李主任", "verify"], env={"CREDIT_COOP_PASSWORD": "pass-1234"})
    assert r.exit_code == 0, r.output
    wrong = password_database.replace("@", ":not-sesame@")
    r = CliRunner().invoke(app, ["--db", wrong, "--operator", "李主任", "verify"], env={"CREDIT_COOP_PASSWORD": "pass-1234"})
    assert r.exit_code == 9 and r.stderr.count("\n") == 1 and "Traceback" not in r.output, r.output
    assert "password authentication failed" in r.stderr and "not-sesame" not in r.output
