"""Ledger schema, created and evolved through ``sqlite_utils.Migrations``.

Each migration runs in one transaction together with its record in
``_sqlite_migrations``. Journal rows, transactions, loan notes, workflow
events and request records are append-only: triggers abort any UPDATE or
DELETE on them (corrections are reversals).
"""

import sqlite3

from sqlite_utils import Database, Migrations

from credit_coop.store.sqlite import APPEND_ONLY

migrations = Migrations("credit_coop")
APPEND_ONLY_V1 = ("txns", "journal_lines", "loan_notes", "grant_events", "requests")

_LEDGER_CORE = [
    """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE operators (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        added_on TEXT NOT NULL,
        added_by TEXT NOT NULL)""",
    """CREATE TABLE borrowers (
        id_number TEXT PRIMARY KEY CHECK (length(id_number) = 18),
        name TEXT NOT NULL,
        village TEXT,
        settlement_account TEXT,
        registered_on TEXT NOT NULL,
        registered_by TEXT NOT NULL)""",
    """CREATE TABLE borrower_kinds (
        id_number TEXT NOT NULL REFERENCES borrowers(id_number),
        kind TEXT NOT NULL,
        PRIMARY KEY (id_number, kind))""",
    """CREATE TABLE grants (
        id INTEGER PRIMARY KEY,
        grant_no TEXT NOT NULL UNIQUE,
        borrower_id TEXT NOT NULL REFERENCES borrowers(id_number),
        product TEXT NOT NULL,
        applied_amount INTEGER NOT NULL CHECK (applied_amount > 0),
        applied_on TEXT NOT NULL,
        applied_by TEXT NOT NULL,
        status TEXT NOT NULL,
        grade TEXT, posted_from TEXT, posted_to TEXT,
        village_reviewed_on TEXT, village_reviewed_by TEXT,
        line_amount INTEGER CHECK (line_amount > 0),
        term_months INTEGER CHECK (term_months > 0),
        surveyed_on TEXT, surveyed_by TEXT,
        reviewed_on TEXT, reviewed_by TEXT,
        approved_on TEXT, approved_by TEXT,
        approval_tier TEXT, approval_exposure INTEGER,
        rejected_on TEXT, rejected_by TEXT, reject_reason TEXT,
        contract_no TEXT UNIQUE,
        card_no TEXT UNIQUE,
        valid_from TEXT, valid_to TEXT,
        officer TEXT,
        closed_on TEXT)""",
    """CREATE INDEX grants_borrower ON grants(borrower_id, product)""",
    """CREATE TABLE guarantors (
        grant_id INTEGER NOT NULL REFERENCES grants(id),
        id_number TEXT NOT NULL,
        PRIMARY KEY (grant_id, id_number))""",
    """CREATE TABLE grant_events (
        id INTEGER PRIMARY KEY,
        grant_id INTEGER NOT NULL REFERENCES grants(id),
        action TEXT NOT NULL,
        on_date TEXT NOT NULL,
        operator TEXT NOT NULL,
        detail TEXT,
        recorded_at TEXT NOT NULL)""",
    """CREATE INDEX grant_events_grant ON grant_events(grant_id)""",
    """CREATE TABLE txns (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        business_date TEXT NOT NULL,
        operator TEXT NOT NULL,
        memo TEXT,
        reverses INTEGER UNIQUE REFERENCES txns(id),
        posted_at TEXT NOT NULL)""",
    """CREATE TABLE loan_notes (
        id INTEGER PRIMARY KEY,
        note_no TEXT NOT NULL UNIQUE,
        grant_id INTEGER NOT NULL REFERENCES grants(id),
        amount INTEGER NOT NULL CHECK (amount > 0),
        drawn_on TEXT NOT NULL,
        maturity TEXT NOT NULL,
        annual_rate_percent TEXT NOT NULL,
        txn_id INTEGER NOT NULL UNIQUE REFERENCES txns(id),
        teller TEXT NOT NULL,
        fingerprint_ok INTEGER NOT NULL)""",
    """CREATE INDEX loan_notes_grant ON loan_notes(grant_id)""",
    """CREATE TABLE journal_lines (
        id INTEGER PRIMARY KEY,
        txn_id INTEGER NOT NULL REFERENCES txns(id),
        account TEXT NOT NULL,
        debit INTEGER NOT NULL DEFAULT 0 CHECK (debit >= 0),
        credit INTEGER NOT NULL DEFAULT 0 CHECK (credit >= 0),
        grant_id INTEGER REFERENCES grants(id),
        note_id INTEGER REFERENCES loan_notes(id) DEFERRABLE INITIALLY DEFERRED,
        officer TEXT,
        CHECK ((debit = 0) <> (credit = 0)))""",
    """CREATE INDEX journal_lines_txn ON journal_lines(txn_id)""",
    """CREATE INDEX journal_lines_note ON journal_lines(note_id, account) WHERE note_id IS NOT NULL""",
    """CREATE INDEX journal_lines_grant ON journal_lines(grant_id, account) WHERE grant_id IS NOT NULL""",
    """CREATE TABLE requests (
        request_id TEXT PRIMARY KEY,
        command TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        result TEXT NOT NULL,
        recorded_at TEXT NOT NULL)""",
]


# A line's outstanding principal (the loans accounts, 1303.*) and the date of its latest counter
# posting (every drawdown, repayment and reversal moves cash, 1001, on the line), maintained by
# triggers as journal lines are inserted; `verify` recomputes both from the journal.
LINE_POSITIONS = [
    """CREATE TABLE line_positions (
        grant_id INTEGER PRIMARY KEY REFERENCES grants(id),
        principal INTEGER NOT NULL DEFAULT 0,
        last_counter_date TEXT)""",
    """CREATE TRIGGER line_positions_principal AFTER INSERT ON journal_lines
       WHEN NEW.grant_id IS NOT NULL AND NEW.account LIKE '1303.%'
       BEGIN
         INSERT INTO line_positions(grant_id, principal) VALUES (NEW.grant_id, NEW.debit - NEW.credit)
         ON CONFLICT(grant_id) DO UPDATE SET principal = principal + NEW.debit - NEW.credit;
       END""",
    """CREATE TRIGGER line_positions_counter AFTER INSERT ON journal_lines
       WHEN NEW.grant_id IS NOT NULL AND (NEW.account = '1001' OR NEW.account LIKE '1001.%')
       BEGIN
         INSERT INTO line_positions(grant_id, last_counter_date)
           VALUES (NEW.grant_id, (SELECT business_date FROM txns WHERE id = NEW.txn_id))
         ON CONFLICT(grant_id) DO UPDATE SET last_counter_date =
           MAX(COALESCE(last_counter_date, ''), (SELECT business_date FROM txns WHERE id = NEW.txn_id));
       END""",
]


def guard_definitions(tables: tuple[str, ...]) -> dict[str, str]:
    """Each append-only guard trigger's name and its exact definition (verify compares them)."""
    return {stmt.split()[2]: stmt for stmt in _append_only_triggers(tables)}


def _append_only_triggers(tables: tuple[str, ...]) -> list[str]:
    out = []
    for table in tables:
        for verb in ("UPDATE", "DELETE"):
            out.append(
                f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} rows are posted and never changed; post a reversal'); END"""
            )
    return out


@migrations()
def m0001_ledger_core(db: Database) -> None:
    for stmt in _LEDGER_CORE + _append_only_triggers(APPEND_ONLY_V1):
        db.execute(stmt)
    db.execute("INSERT INTO meta(key, value) VALUES ('schema_version', '1')")


_DAY_END = [
    """CREATE INDEX txns_business_date ON txns(business_date)""",
    """CREATE TABLE day_closes (
        business_date TEXT PRIMARY KEY,
        closed_at TEXT NOT NULL,
        operator TEXT NOT NULL,
        notes INTEGER NOT NULL,
        txn_id INTEGER REFERENCES txns(id))""",
    # The day-end's working state per loan note. Balances here are a cache of
    # the journal through the last closed day (verify recomputes them); the
    # numerators carry exact interest for the current settlement period.
    """CREATE TABLE note_state (
        note_id INTEGER PRIMARY KEY REFERENCES loan_notes(id),
        grant_id INTEGER NOT NULL,
        product TEXT NOT NULL,
        maturity TEXT NOT NULL,
        rate_ppb INTEGER NOT NULL,
        penalty_ppb INTEGER NOT NULL,
        principal INTEGER NOT NULL DEFAULT 0,
        accrued INTEGER NOT NULL DEFAULT 0,
        interest_due INTEGER NOT NULL DEFAULT 0,
        penalty INTEGER NOT NULL DEFAULT 0,
        accrual_num INTEGER NOT NULL DEFAULT 0,
        accrual_posted INTEGER NOT NULL DEFAULT 0,
        penalty_num INTEGER NOT NULL DEFAULT 0,
        penalty_posted INTEGER NOT NULL DEFAULT 0,
        d_accrual INTEGER NOT NULL DEFAULT 0,
        d_penalty INTEGER NOT NULL DEFAULT 0,
        past_due_since TEXT,
        dpd INTEGER NOT NULL DEFAULT 0,
        class TEXT NOT NULL DEFAULT '正常',
        changed INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE note_classes (
        id INTEGER PRIMARY KEY,
        note_id INTEGER NOT NULL REFERENCES loan_notes(id),
        on_date TEXT NOT NULL,
        class TEXT NOT NULL,
        past_due_since TEXT,
        dpd INTEGER NOT NULL)""",
    """CREATE INDEX note_classes_note ON note_classes(note_id, on_date)""",
    """CREATE TABLE note_officers (
        id INTEGER PRIMARY KEY,
        note_id INTEGER NOT NULL REFERENCES loan_notes(id),
        officer TEXT NOT NULL,
        from_date TEXT NOT NULL,
        by_operator TEXT NOT NULL)""",
    """CREATE INDEX note_officers_note ON note_officers(note_id)""",
]


@migrations()
def m0002_day_end(db: Database) -> None:
    for stmt in _DAY_END + _append_only_triggers(("day_closes", "note_classes", "note_officers")):
        db.execute(stmt)
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")


_PAY = [
    """CREATE TABLE payroll_runs (
        month TEXT PRIMARY KEY,
        run_on TEXT NOT NULL,
        operator TEXT NOT NULL,
        txn_id INTEGER REFERENCES txns(id),
        run_at TEXT NOT NULL)""",
    """CREATE TABLE payroll_lines (
        id INTEGER PRIMARY KEY,
        month TEXT NOT NULL REFERENCES payroll_runs(month),
        officer TEXT NOT NULL,
        role TEXT NOT NULL,
        surveyed INTEGER NOT NULL, reviewed INTEGER NOT NULL, approved INTEGER NOT NULL,
        grant_pay INTEGER NOT NULL,
        interest_collected INTEGER NOT NULL,
        interest_pay INTEGER NOT NULL,
        total INTEGER NOT NULL,
        holdback INTEGER NOT NULL,
        payable INTEGER NOT NULL,
        CHECK (total = grant_pay + interest_pay AND total = holdback + payable),
        UNIQUE (month, officer))""",
    """CREATE TABLE compensations (
        id INTEGER PRIMARY KEY,
        note_id INTEGER NOT NULL UNIQUE REFERENCES loan_notes(id),
        officer TEXT NOT NULL,
        on_date TEXT NOT NULL,
        amount INTEGER NOT NULL,
        from_fund INTEGER NOT NULL,
        shortfall INTEGER NOT NULL,
        txn_id INTEGER NOT NULL REFERENCES txns(id),
        CHECK (amount = from_fund + shortfall))""",
    """CREATE TABLE year_end_runs (
        year TEXT PRIMARY KEY,
        run_on TEXT NOT NULL,
        operator TEXT NOT NULL,
        txn_id INTEGER REFERENCES txns(id),
        run_at TEXT NOT NULL)""",
    """CREATE TABLE year_end_lines (
        id INTEGER PRIMARY KEY,
        year TEXT NOT NULL REFERENCES year_end_runs(year),
        officer TEXT NOT NULL,
        holdbacks INTEGER NOT NULL,
        clean INTEGER NOT NULL,
        reason TEXT,
        refund INTEGER NOT NULL,
        full_settlement INTEGER NOT NULL DEFAULT 0,
        UNIQUE (year, officer))""",
    """CREATE TABLE officer_transfers (
        id INTEGER PRIMARY KEY,
        officer TEXT NOT NULL UNIQUE,
        on_date TEXT NOT NULL,
        by_operator TEXT NOT NULL)""",
    """CREATE TABLE fund_settlements (
        id INTEGER PRIMARY KEY,
        officer TEXT NOT NULL UNIQUE,
        on_date TEXT NOT NULL,
        amount INTEGER NOT NULL,
        txn_id INTEGER REFERENCES txns(id))""",
    """CREATE INDEX journal_lines_officer ON journal_lines(officer, account) WHERE officer IS NOT NULL""",
]
PAY_TABLES = ("payroll_runs", "payroll_lines", "compensations", "year_end_runs", "year_end_lines", "officer_transfers", "fund_settlements")


@migrations()
def m0003_pay_and_risk_fund(db: Database) -> None:
    for stmt in _PAY + _append_only_triggers(PAY_TABLES):
        db.execute(stmt)
    db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")


@migrations()
def m0004_audit_log(db: Database) -> None:
    db.execute(
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            operator TEXT,
            action TEXT NOT NULL,
            detail TEXT,
            result TEXT NOT NULL DEFAULT 'ok')"""
    )
    for stmt in _append_only_triggers(("audit_log",)):
        db.execute(stmt)
    db.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")


@migrations()
def m0005_hash_chain(db: Database) -> None:
    from credit_coop.store.sqlite import GENESIS, LINE_COLUMNS, TXN_COLUMNS, chain_hash

    db.execute(
        """CREATE TABLE txn_chain (
            txn_id INTEGER PRIMARY KEY REFERENCES txns(id),
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL)"""
    )
    prev = GENESIS
    for txn in db.execute(f"SELECT {TXN_COLUMNS} FROM txns ORDER BY id").fetchall():
        lines = db.execute(f"SELECT {LINE_COLUMNS} FROM journal_lines WHERE txn_id = ? ORDER BY id", [txn[0]]).fetchall()
        digest = chain_hash(prev, txn, lines)
        db.execute("INSERT INTO txn_chain(txn_id, prev_hash, hash) VALUES (?, ?, ?)", [txn[0], prev, digest])
        prev = digest
    for stmt in _append_only_triggers(("txn_chain",)):
        db.execute(stmt)
    db.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")


@migrations()
def m0006_authentication(db: Database) -> None:
    import secrets

    for column in ("passphrase TEXT", "failed_attempts INTEGER NOT NULL DEFAULT 0", "locked INTEGER NOT NULL DEFAULT 0",
                   "id_number TEXT"):
        db.execute(f"ALTER TABLE operators ADD COLUMN {column}")
    db.execute("INSERT INTO meta(key, value) VALUES ('session_key', ?)", [secrets.token_hex(32)])
    db.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")


@migrations()
def m0007_compensation_redone(db: Database) -> None:
    """A back-dated correction may reverse a compensation and compensate the note afresh:
    ``compensations.note_id`` is no longer unique (a case stands until its transaction is reversed)."""
    db.execute(
        """CREATE TABLE compensations_v7 (
            id INTEGER PRIMARY KEY,
            note_id INTEGER NOT NULL REFERENCES loan_notes(id),
            officer TEXT NOT NULL,
            on_date TEXT NOT NULL,
            amount INTEGER NOT NULL,
            from_fund INTEGER NOT NULL,
            shortfall INTEGER NOT NULL,
            txn_id INTEGER NOT NULL UNIQUE REFERENCES txns(id),
            CHECK (amount = from_fund + shortfall))"""
    )
    db.execute("INSERT INTO compensations_v7 SELECT id, note_id, officer, on_date, amount, from_fund, shortfall, txn_id FROM compensations")
    db.execute("DROP TABLE compensations")  # its triggers go with it
    db.execute("ALTER TABLE compensations_v7 RENAME TO compensations")
    db.execute("CREATE INDEX compensations_note ON compensations(note_id)")
    for stmt in _append_only_triggers(("compensations",)):
        db.execute(stmt)
    db.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")


@migrations()
def m0008_sessions(db: Database) -> None:
    """Shift sessions live in the ledger as hashes of random tokens (a backup holds nothing to forge one
    with), and the old session-signing key goes (issue 16 §4). A ledger id ties backups and sessions to it."""
    import uuid

    db.execute(
        """CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            operator TEXT NOT NULL,
            expires_at INTEGER NOT NULL,
            created_at TEXT NOT NULL)"""
    )
    db.execute("DELETE FROM meta WHERE key = 'session_key'")
    # the record chain (issue 16 §5), begun from what the ledger holds now
    from credit_coop.store.sqlite import AUDIT_FIELDS, GENESIS, GRANT_EVENT_FIELDS, OPERATOR_FIELDS, record_hash, record_payload

    db.execute(
        """CREATE TABLE record_chain (
            seq INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            ref INTEGER,
            payload TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL)"""
    )
    prev = GENESIS
    conn = db.conn
    conn.row_factory = sqlite3.Row
    try:
        existing = [("audit", r["id"], record_payload(r, AUDIT_FIELDS)) for r in conn.execute("SELECT * FROM audit_log ORDER BY id")]
        existing += [("grant_event", r["id"], record_payload(r, GRANT_EVENT_FIELDS))
                     for r in conn.execute("SELECT * FROM grant_events ORDER BY id")]
        existing += [("operator", None, record_payload(r, OPERATOR_FIELDS)) for r in conn.execute("SELECT * FROM operators ORDER BY name")]
    finally:
        conn.row_factory = None
    for kind, ref, payload in existing:
        digest = record_hash(prev, kind, ref, payload)
        db.execute("INSERT INTO record_chain(kind, ref, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?)", [kind, ref, payload, prev, digest])
        prev = digest
    for stmt in _append_only_triggers(("record_chain",)):
        db.execute(stmt)
    # pay and refunds already run are never rewritten: a back-dated correction's difference is carried
    # by the next run as an adjustment (补发 / 扣回), recorded here
    db.execute(
        """CREATE TABLE pay_adjustments (
            id INTEGER PRIMARY KEY,
            month TEXT NOT NULL REFERENCES payroll_runs(month),
            officer TEXT NOT NULL,
            for_month TEXT NOT NULL,
            interest_collected INTEGER NOT NULL,
            interest_pay_delta INTEGER NOT NULL,
            holdback INTEGER NOT NULL,
            payable INTEGER NOT NULL,
            CHECK (interest_pay_delta = holdback + payable))"""
    )
    db.execute(
        """CREATE TABLE year_end_adjustments (
            id INTEGER PRIMARY KEY,
            year TEXT NOT NULL REFERENCES year_end_runs(year),
            officer TEXT NOT NULL,
            for_year TEXT NOT NULL,
            refund_delta INTEGER NOT NULL,
            reason TEXT)"""
    )
    for stmt in _append_only_triggers(("pay_adjustments", "year_end_adjustments")):
        db.execute(stmt)
    # each line's position, kept as postings land so the counter reads it in O(1) however old the line
    for stmt in LINE_POSITIONS:
        db.execute(stmt)
    db.execute(
        """INSERT INTO line_positions(grant_id, principal, last_counter_date)
           SELECT g.id,
                  COALESCE((SELECT SUM(l.debit - l.credit) FROM journal_lines l WHERE l.grant_id = g.id AND l.account LIKE '1303.%'), 0),
                  (SELECT MAX(t.business_date) FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                    WHERE l.grant_id = g.id AND l.account = '1001')
           FROM grants g WHERE EXISTS (SELECT 1 FROM journal_lines l WHERE l.grant_id = g.id)"""
    )
    db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('ledger_id', ?)", [uuid.uuid4().hex])
    db.execute("UPDATE meta SET value = '8' WHERE key = 'schema_version'")


@migrations()
def m0009_organisation(db: Database) -> None:
    """The union's organisation (issue 13): customer departments (个人客户部) and branch counters (信用社 /
    营业网点), townships and their villages, and who belongs where, with every move dated (history kept).
    A ledger made before holds everything in one default department and one default branch."""
    db.execute(
        """CREATE TABLE org_units (
            code TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('department', 'branch')),
            name TEXT NOT NULL UNIQUE,
            added_on TEXT NOT NULL)"""
    )
    db.execute("CREATE TABLE townships (name TEXT PRIMARY KEY, added_on TEXT NOT NULL)")
    db.execute("CREATE TABLE villages (name TEXT PRIMARY KEY, township TEXT NOT NULL REFERENCES townships(name))")
    db.execute(
        """CREATE TABLE org_assignments (
            id INTEGER PRIMARY KEY,
            subject_kind TEXT NOT NULL CHECK (subject_kind IN ('township', 'operator')),
            subject TEXT NOT NULL,
            unit_kind TEXT NOT NULL CHECK (unit_kind IN ('department', 'branch')),
            unit TEXT NOT NULL REFERENCES org_units(code),
            from_date TEXT NOT NULL,
            recorded_by TEXT NOT NULL,
            recorded_at TEXT NOT NULL)"""
    )
    db.execute("CREATE INDEX org_assignments_subject ON org_assignments(subject_kind, subject, unit_kind, from_date)")
    for stmt in _append_only_triggers(("org_assignments",)):
        db.execute(stmt)
    db.execute("ALTER TABLE grants ADD COLUMN department TEXT REFERENCES org_units(code)")
    db.execute("ALTER TABLE grants ADD COLUMN branch TEXT REFERENCES org_units(code)")
    from credit_coop.core.organisation import DEFAULT_BRANCH, DEFAULT_DEPARTMENT, SINCE_ALWAYS, unit_kind_of_role

    db.execute("INSERT INTO org_units VALUES (?, 'department', '默认客户部', ?)", [DEFAULT_DEPARTMENT, SINCE_ALWAYS])
    db.execute("INSERT INTO org_units VALUES (?, 'branch', '默认网点', ?)", [DEFAULT_BRANCH, SINCE_ALWAYS])
    db.execute("UPDATE grants SET department = ?, branch = ?", [DEFAULT_DEPARTMENT, DEFAULT_BRANCH])
    for (name, role) in db.execute("SELECT name, role FROM operators ORDER BY name").fetchall():
        kind = unit_kind_of_role(role)
        if kind:
            db.execute(
                "INSERT INTO org_assignments(subject_kind, subject, unit_kind, unit, from_date, recorded_by, recorded_at) "
                "VALUES ('operator', ?, ?, ?, ?, 'upgrade', datetime('now'))",
                [name, kind, DEFAULT_DEPARTMENT if kind == "department" else DEFAULT_BRANCH, SINCE_ALWAYS],
            )
    # cash is kept per branch counter from now on (1001.<branch>); the line's last counter date follows it
    db.execute("DROP TRIGGER IF EXISTS line_positions_counter")
    db.execute(next(t for t in LINE_POSITIONS if "line_positions_counter" in t))
    db.execute("UPDATE meta SET value = '9' WHERE key = 'schema_version'")


@migrations()
def m0010_compact_books(db: Database) -> None:
    """Compact books (issue 11): the day-end posts its accruals summed per product, and a note's
    interest and penalty become per-note lines only when they are a claim. Each note's state keeps
    the penalty accrued since its last settlement (``penalty_accrued``, part of ``penalty``). A ledger
    with closed days keeps its history as posted; the first day closed from now on moves each note's
    accrued interest from the old per-note account to its product's (``compact_since``)."""
    db.execute("ALTER TABLE note_state ADD COLUMN penalty_accrued INTEGER NOT NULL DEFAULT 0")
    db.execute("CREATE INDEX note_state_grant ON note_state(grant_id)")
    # the counter's read of a line since the last close looks for reversals dated since (store.note_receivables)
    db.execute("CREATE INDEX txns_reversals ON txns(business_date) WHERE reverses IS NOT NULL")
    closed = db.execute("SELECT value FROM meta WHERE key = 'closed_through'").fetchone()
    if closed:
        from datetime import date, timedelta

        since = (date.fromisoformat(closed[0]) + timedelta(days=1)).isoformat()
        db.execute("INSERT INTO meta(key, value) VALUES ('compact_since', ?)", [since])
    db.execute("UPDATE meta SET value = '10' WHERE key = 'schema_version'")


def migrate(path: str) -> list[str]:
    """Apply pending migrations to an existing ledger; returns their names."""
    db = Database(path)
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    db.close()
    return pending


def create(path: str) -> None:
    """Create a new ledger file at ``path`` with the current schema."""
    db = Database(path)
    db.execute("PRAGMA journal_mode=WAL")
    migrations.apply(db)
    db.close()
