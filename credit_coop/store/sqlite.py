"""SQLite store: connection handling, transactions and every query.

Settings (documented in README "Reliability"):
- WAL journal (readers never block the counter; set once at creation),
- ``synchronous=FULL``: a committed posting survives power loss,
- write transactions take the write lock up front (``BEGIN IMMEDIATE``) and
  wait up to ``busy_timeout`` ms for another writer before reporting busy,
- foreign keys enforced.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterable, Iterator

from credit_coop.core.errors import Conflict, LedgerBusy, LedgerUnavailable

SCHEMA_VERSION = 9
# Tables whose rows are posted once and never changed (guarded by triggers).
APPEND_ONLY = (
    "txns", "journal_lines", "loan_notes", "grant_events", "requests",
    "day_closes", "note_classes", "note_officers",
    "payroll_runs", "payroll_lines", "compensations", "year_end_runs", "year_end_lines", "officer_transfers", "fund_settlements",
    "audit_log", "txn_chain", "record_chain", "pay_adjustments", "year_end_adjustments", "org_assignments",
)
GENESIS = "0" * 64


def chain_hash(prev: str, txn: sqlite3.Row | tuple, lines: Iterable) -> str:
    """SHA-256 over the previous link, the transaction row and its journal lines (tamper evidence)."""
    import hashlib

    h = hashlib.sha256(prev.encode())
    h.update(("|".join("" if v is None else str(v) for v in txn) + "\n").encode())
    for line in lines:
        h.update(("|".join("" if v is None else str(v) for v in line) + "\n").encode())
    return h.hexdigest()


TXN_COLUMNS = "id, kind, business_date, operator, memo, reverses, posted_at"

# The record chain (issue 16 §5): what is not money but decides who may move it — every audit-log row,
# every grant workflow event (approved lines), each change to an operator (role, active, ID number,
# passphrase) — is hashed into one chain, as journal transactions are into theirs.
AUDIT_FIELDS = ("at", "operator", "action", "detail", "result")
GRANT_EVENT_FIELDS = ("grant_id", "action", "on_date", "operator", "detail", "recorded_at")
OPERATOR_FIELDS = ("name", "role", "active", "id_number", "passphrase")


def record_payload(row, fields: tuple[str, ...]) -> str:
    return json.dumps({f: row[f] for f in fields}, ensure_ascii=False, sort_keys=True)


def record_hash(prev: str, kind: str, ref: int | None, payload: str) -> str:
    import hashlib

    return hashlib.sha256(f"{prev}|{kind}|{'' if ref is None else ref}|{payload}".encode()).hexdigest()


def ledger_head(txn_link: tuple[int, str] | None, record_link: tuple[int, str] | None) -> str:
    """The anchor to keep outside the file: ``HASH@T.R`` (the journal chain through transaction T
    and the record chain through record R, hashed together)."""
    import hashlib

    t, th = txn_link or (0, GENESIS)
    r, rh = record_link or (0, GENESIS)
    return f"{hashlib.sha256(f'{th}|{rh}'.encode()).hexdigest()[:32]}@{t}.{r}"


# Transactions the day-end posts itself (and their reversals by a back-dated correction):
# everything else is a counter posting.
DAY_END_KINDS = ("day-end", "day-end-reversal", "compensation", "compensation-reversal")
_DAY_END_KINDS_SQL = "(" + ", ".join(f"'{k}'" for k in DAY_END_KINDS) + ")"


def _of_grants(column: str, grant_ids: Iterable[int] | None) -> str:
    """``AND column IN (…)`` for some credit lines (ids are integers, written inline), or nothing for all."""
    return "" if grant_ids is None else f"AND {column} IN ({', '.join(str(int(g)) for g in grant_ids)})"


def _note_components(date_op: str, counter_only: bool = False, grant_ids: Iterable[int] | None = None) -> str:
    """Per loan note: principal, accrued, due and penalty movements on (``=``) or up to (``<=``) a business date
    (``counter_only``: leave out what the day-end posts; ``grant_ids``: only these lines' notes)."""
    only = f"AND t.kind NOT IN {_DAY_END_KINDS_SQL} " if counter_only else ""
    only += _of_grants("l.grant_id", grant_ids)
    return f"""SELECT l.note_id,
                      SUM(CASE WHEN l.account LIKE '1303.%' THEN l.debit - l.credit ELSE 0 END) AS p,
                      SUM(CASE WHEN l.account = '1132.accrued' THEN l.debit - l.credit ELSE 0 END) AS a,
                      SUM(CASE WHEN l.account = '1132.due' THEN l.debit - l.credit ELSE 0 END) AS i,
                      SUM(CASE WHEN l.account = '1132.penalty' THEN l.debit - l.credit ELSE 0 END) AS q
               FROM journal_lines l JOIN txns t ON t.id = l.txn_id
               WHERE t.business_date {date_op} ? AND l.note_id IS NOT NULL {only} GROUP BY l.note_id"""
LINE_COLUMNS = "id, account, debit, credit, grant_id, note_id, officer"
# Compensation cases still standing (a back-dated correction may reverse one and compensate afresh).
LIVE_COMPENSATIONS = "(SELECT * FROM compensations WHERE NOT EXISTS (SELECT 1 FROM txns r WHERE r.reverses = compensations.txn_id))"
# What a borrower has paid back on a compensated note: the fund's lines on it, other than compensations.
# A recovery repays the case's recorded officer's debt first, then goes to the fund (issue 18): both count.
_RECOVERED_ON = """COALESCE((SELECT SUM(l.credit - l.debit) FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                          WHERE l.note_id = c.note_id AND l.account IN ({accounts})
                            AND t.kind NOT IN ('compensation', 'compensation-reversal')), 0)"""
_RECOVERED = _RECOVERED_ON.format(accounts="?, ?")
_RECOVERED_TO_DEBT = _RECOVERED_ON.format(accounts="?")
BUSY_TIMEOUT_MS = 5000


class _Abandon(Exception):
    """Raised by :meth:`Store.rollback_all` to end a write block without committing."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def storage_problem(err: sqlite3.Error) -> str | None:
    """What a storage error means for the people at the counter (None when it is not one)."""
    text = str(err).lower()
    if "disk is full" in text or "database or disk is full" in text:
        return "the disk holding it is full; nothing was posted (free some space and retry)"
    if "readonly" in text or "read-only" in text:
        return "the ledger file is read-only; nothing was posted"
    if "disk i/o error" in text:
        return "the disk reported an I/O error; nothing was posted (check the disk, then run verify)"
    return None


def is_busy(err: sqlite3.OperationalError) -> bool:
    msg = str(err).lower()
    return "locked" in msg or "busy" in msg


class Store:
    """A ledger database. Rows come back as ``sqlite3.Row`` (mapping access)."""

    def __init__(self, conn: sqlite3.Connection, path: str):
        self.conn = conn
        self.path = path
        self._depth = 0
        # The audit row of the command being run: written inside its first committed write
        # transaction, so a posting and its audit row land together or not at all (issue 16 §6).
        self.pending_audit: dict | None = None
        self.audit_written = False
        self.read_only = False

    # -- opening ----------------------------------------------------------
    @classmethod
    def create(cls, path: str) -> "Store":
        """Create a ledger file (refuses when anything already exists at ``path``)."""
        if os.path.exists(path):
            raise Conflict(f"a file already exists at {path}; refusing to overwrite a ledger")
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise LedgerUnavailable(f"folder {parent} does not exist")
        from credit_coop.store import schema

        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # the ledger is its owner's only
            os.close(fd)
            schema.create(path)
        except (sqlite3.Error, OSError) as e:
            cls.remove(path)
            raise LedgerUnavailable(f"cannot create a ledger at {path}: {e}") from None
        return cls.open(path)

    @staticmethod
    def remove(path: str) -> None:
        """Delete a ledger file and its WAL companions (only for one just created)."""
        for suffix in ("", "-wal", "-shm"):
            try:
                os.remove(path + suffix)
            except FileNotFoundError:
                pass

    @classmethod
    def open(cls, path: str) -> "Store":
        if not os.path.exists(path):
            raise LedgerUnavailable(
                f"no ledger at {path}; create one with `credit-coop init` or point --db / CREDIT_COOP_DB at it"
            )
        read_only = not os.access(path, os.W_OK) or not os.access(os.path.dirname(os.path.abspath(path)), os.W_OK)
        try:
            # a read-only ledger (an archive, a copy on a write-protected share) still verifies and reports
            mode = "ro&immutable=1" if read_only else "rw"
            conn = sqlite3.connect(f"file:{path}?mode={mode}", uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as e:
            if isinstance(e, sqlite3.OperationalError) and is_busy(e):
                raise LedgerBusy("the ledger is busy with another posting; please retry") from None
            if isinstance(e, sqlite3.OperationalError) and storage_problem(e):
                raise LedgerUnavailable(f"cannot read the ledger at {path}: {storage_problem(e)}") from None
            raise LedgerUnavailable(f"{path} is not a credit-coop ledger ({e})") from None
        if row is None:
            raise LedgerUnavailable(f"{path} is not a credit-coop ledger (no schema version)")
        version = int(row[0])
        if version > SCHEMA_VERSION:
            conn.close()
            raise LedgerUnavailable(
                f"ledger {path} was written by a newer credit-coop (schema {version}, this one knows {SCHEMA_VERSION}); upgrade credit-coop"
            )
        if version < SCHEMA_VERSION:
            if read_only:
                conn.close()
                raise LedgerUnavailable(f"ledger {path} needs an upgrade (schema {version}) but the file is read-only")
            cls._upgrade(conn, path, version)
            return cls.open(path)
        store = cls(conn, path)
        store.read_only = read_only
        return store

    @staticmethod
    def _upgrade(conn: sqlite3.Connection, path: str, version: int) -> None:
        """Back the ledger up beside itself, then apply the pending migrations (each in a transaction)."""
        from credit_coop.store import schema

        backup = f"{path}.schema{version}.bak"
        if not os.path.exists(backup):
            dest = sqlite3.connect(backup)
            conn.backup(dest)
            dest.close()
        conn.close()
        schema.migrate(path)

    def close(self) -> None:
        self.conn.close()

    # -- transactions -----------------------------------------------------
    @contextmanager
    def write(self) -> Iterator["Store"]:
        """One write transaction (``BEGIN IMMEDIATE``); nested calls join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        if self.read_only:
            raise LedgerUnavailable(f"the ledger file {self.path} is read-only: reading, verify and reports work; "
                                    "nothing can be posted")
        notice = self.maintenance_notice()
        if notice:  # a long batch holds the ledger: say so at once instead of waiting out the timeout
            self.conn.execute("PRAGMA busy_timeout=0")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            if is_busy(e):
                raise LedgerBusy(f"the ledger is busy: {notice}; please retry after it" if notice
                                 else "the ledger is busy with another posting; please retry") from None
            raise
        finally:
            if notice:
                self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self._depth = 1
        try:
            yield self
        except _Abandon:
            self._depth = 0
            self.conn.execute("ROLLBACK")
            return
        except BaseException:
            self._depth = 0
            self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        try:
            if self.pending_audit is not None:
                self._insert_audit({"at": _now(), **self.pending_audit, "result": "ok"})
                self.pending_audit, self.audit_written = None, True
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as e:
            self.conn.execute("ROLLBACK")
            if is_busy(e):
                raise LedgerBusy("the ledger is busy with another posting; please retry") from None
            raise

    @contextmanager
    def savepoint(self, name: str = "row") -> Iterator["Store"]:
        """A nested unit inside a write transaction: undone alone if it fails."""
        assert self._depth, "savepoint() must run inside write()"
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield self
        except BaseException:
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        self.conn.execute(f"RELEASE {name}")

    def rollback_all(self) -> None:
        """Abandon the open write transaction (the caller's ``write()`` block then ends quietly)."""
        raise _Abandon()

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    # -- small helpers ----------------------------------------------------
    @staticmethod
    def _params(params: Iterable | dict):
        return params if isinstance(params, dict) else tuple(params)

    def _one(self, sql: str, params: Iterable | dict = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, self._params(params)).fetchone()

    def _all(self, sql: str, params: Iterable | dict = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, self._params(params)).fetchall()

    def _scalar(self, sql: str, params: Iterable | dict = ()):
        row = self.conn.execute(sql, self._params(params)).fetchone()
        return None if row is None else row[0]

    def _insert(self, table: str, row: dict) -> int:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        return self.conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(row.values())).lastrowid

    # -- meta -------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        return self._scalar("SELECT value FROM meta WHERE key=?", (key,))

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))

    # -- operators --------------------------------------------------------
    def get_operator(self, name: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM operators WHERE name=?", (name,))

    def insert_operator(self, name: str, role: str, on: str, by: str) -> None:
        self._insert("operators", {"name": name, "role": role, "added_on": on, "added_by": by})
        self.chain_operator(name)

    def update_operator(self, name: str, **fields) -> None:
        sets = ", ".join(f"{k}=?" for k in fields)
        self.conn.execute(f"UPDATE operators SET {sets} WHERE name=?", (*fields.values(), name))
        if set(fields) & set(OPERATOR_FIELDS):
            self.chain_operator(name)

    def list_operators(self) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM operators ORDER BY name")

    # -- organisation (see core/organisation.py) ----------------------------
    def org_unit(self, code: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM org_units WHERE code = ?", (code,))

    def org_unit_named(self, name: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM org_units WHERE name = ?", (name,))

    def org_units(self) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM org_units ORDER BY kind DESC, code")

    def insert_org_unit(self, code: str, kind: str, name: str, on: str) -> None:
        self._insert("org_units", {"code": code, "kind": kind, "name": name, "added_on": on})

    def rename_org_unit(self, code: str, name: str) -> None:
        self.conn.execute("UPDATE org_units SET name = ? WHERE code = ?", (name, code))

    def township(self, name: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM townships WHERE name = ?", (name,))

    def townships(self) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM townships ORDER BY name")

    def insert_township(self, name: str, on: str) -> None:
        self._insert("townships", {"name": name, "added_on": on})

    def village(self, name: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM villages WHERE name = ?", (name,))

    def villages_of(self, township: str) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM villages WHERE township = ? ORDER BY name", (township,))

    def insert_village(self, name: str, township: str) -> None:
        self._insert("villages", {"name": name, "township": township})

    def insert_assignment(self, subject_kind: str, subject: str, unit_kind: str, unit: str, on: str, by: str) -> None:
        self._insert("org_assignments", {"subject_kind": subject_kind, "subject": subject, "unit_kind": unit_kind,
                                         "unit": unit, "from_date": on, "recorded_by": by, "recorded_at": _now()})

    def unit_of(self, subject_kind: str, subject: str, unit_kind: str, on: str) -> str | None:
        """The unit a township or operator belonged to on ``on`` (the latest move dated on or before it)."""
        return self._scalar(
            """SELECT unit FROM org_assignments WHERE subject_kind = ? AND subject = ? AND unit_kind = ? AND from_date <= ?
               ORDER BY from_date DESC, id DESC LIMIT 1""",
            (subject_kind, subject, unit_kind, on),
        )

    # -- borrowers --------------------------------------------------------
    def get_borrower(self, id_number: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM borrowers WHERE id_number=?", (id_number,))

    def borrower_kinds(self, id_number: str) -> list[str]:
        return [r[0] for r in self._all("SELECT kind FROM borrower_kinds WHERE id_number=? ORDER BY kind", (id_number,))]

    def insert_borrower(self, row: dict, kinds: Iterable[str]) -> None:
        self._insert("borrowers", row)
        self.conn.executemany(
            "INSERT INTO borrower_kinds(id_number, kind) VALUES (?, ?)", [(row["id_number"], k) for k in kinds]
        )

    # -- grants -----------------------------------------------------------
    def insert_grant(self, row: dict) -> int:
        return self._insert("grants", row)

    def update_grant(self, grant_id: int, **fields) -> None:
        sets = ", ".join(f"{k}=?" for k in fields)
        self.conn.execute(f"UPDATE grants SET {sets} WHERE id=?", (*fields.values(), grant_id))

    def get_grant(self, grant_id: int) -> sqlite3.Row | None:
        return self._one("SELECT * FROM grants WHERE id=?", (grant_id,))

    def get_grant_by_no(self, grant_no: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM grants WHERE grant_no=?", (grant_no,))

    def get_grant_by_card(self, card_no: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM grants WHERE card_no=?", (card_no,))

    def line_for(self, id_number: str, product: str) -> sqlite3.Row | None:
        """The borrower's most recent approved (or frozen/closed) line for a product."""
        return self._one(
            """SELECT * FROM grants WHERE borrower_id=? AND product=? AND status IN ('approved', 'frozen', 'closed')
               ORDER BY id DESC LIMIT 1""",
            (id_number, product),
        )

    def borrower_grants(self, id_number: str) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM grants WHERE borrower_id=? ORDER BY id", (id_number,))

    def list_grants(self, product: str | None = None, statuses: Iterable[str] | None = None) -> list[sqlite3.Row]:
        sql, params = "SELECT * FROM grants WHERE 1=1", []
        if product:
            sql += " AND product=?"
            params.append(product)
        if statuses:
            statuses = list(statuses)
            sql += f" AND status IN ({', '.join('?' for _ in statuses)})"
            params.extend(statuses)
        return self._all(sql + " ORDER BY id", params)

    def insert_guarantors(self, grant_id: int, id_numbers: Iterable[str]) -> None:
        self.conn.executemany(
            "INSERT INTO guarantors(grant_id, id_number) VALUES (?, ?)", [(grant_id, i) for i in id_numbers]
        )

    def guarantors(self, grant_id: int) -> list[str]:
        return [r[0] for r in self._all("SELECT id_number FROM guarantors WHERE grant_id=? ORDER BY id_number", (grant_id,))]

    def insert_grant_event(self, grant_id: int, action: str, on: str, operator: str, detail: str | None) -> None:
        row = {"grant_id": grant_id, "action": action, "on_date": on, "operator": operator, "detail": detail, "recorded_at": _now()}
        self.chain_record("grant_event", self._insert("grant_events", row), record_payload(row, GRANT_EVENT_FIELDS))

    def grant_events(self, grant_id: int) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM grant_events WHERE grant_id=? ORDER BY id", (grant_id,))

    # -- journal ----------------------------------------------------------
    def insert_txn(self, kind: str, business_date: str, operator: str, memo: str | None, reverses: int | None) -> int:
        return self._insert(
            "txns",
            {"kind": kind, "business_date": business_date, "operator": operator, "memo": memo, "reverses": reverses, "posted_at": _now()},
        )

    def insert_lines(self, txn_id: int, lines: Iterable[tuple]) -> None:
        """``lines``: (account, debit, credit, grant_id, note_id, officer) tuples."""
        self.conn.executemany(
            "INSERT INTO journal_lines(txn_id, account, debit, credit, grant_id, note_id, officer) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(txn_id, *line) for line in lines],
        )

    def get_txn(self, txn_id: int) -> sqlite3.Row | None:
        return self._one("SELECT * FROM txns WHERE id=?", (txn_id,))

    def txn_lines(self, txn_id: int) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM journal_lines WHERE txn_id=? ORDER BY id", (txn_id,))

    def reversal_of(self, txn_id: int) -> sqlite3.Row | None:
        return self._one("SELECT * FROM txns WHERE reverses=?", (txn_id,))

    def later_txns_touching(self, txn_id: int, note_ids: list[int]) -> list[sqlite3.Row]:
        """Transactions after ``txn_id`` that post to any of the given notes and are not reversed."""
        if not note_ids:
            return []
        marks = ", ".join("?" for _ in note_ids)
        return self._all(
            f"""SELECT DISTINCT t.* FROM txns t JOIN journal_lines l ON l.txn_id = t.id
                WHERE t.id > ? AND l.note_id IN ({marks}) AND t.reverses IS NULL
                  AND NOT EXISTS (SELECT 1 FROM txns r WHERE r.reverses = t.id)
                ORDER BY t.id""",
            (txn_id, *note_ids),
        )

    # -- balances (derived from the journal) ------------------------------
    def note_balance(self, note_id: int, account: str) -> int:
        return self._scalar(
            "SELECT COALESCE(SUM(debit - credit), 0) FROM journal_lines WHERE note_id=? AND account=?", (note_id, account)
        )

    def grant_balance(self, grant_id: int, account: str) -> int:
        if account.startswith("1303."):  # a line's principal: kept in line_positions (schema.LINE_POSITIONS)
            return self._scalar("SELECT principal FROM line_positions WHERE grant_id = ?", (grant_id,)) or 0
        return self._scalar(
            "SELECT COALESCE(SUM(debit - credit), 0) FROM journal_lines WHERE grant_id=? AND account=?", (grant_id, account)
        )

    def line_position_mismatches(self) -> list[sqlite3.Row]:
        """Lines whose kept position differs from the journal."""
        return self._all(
            """SELECT g.grant_no, p.principal, j.principal AS journal_principal, p.last_counter_date, j.last_counter_date AS journal_last
               FROM grants g LEFT JOIN line_positions p ON p.grant_id = g.id
               LEFT JOIN (SELECT l.grant_id,
                                 SUM(CASE WHEN l.account LIKE '1303.%' THEN l.debit - l.credit ELSE 0 END) AS principal,
                                 MAX(CASE WHEN (l.account = '1001' OR l.account LIKE '1001.%') THEN t.business_date END) AS last_counter_date
                          FROM journal_lines l JOIN txns t ON t.id = l.txn_id WHERE l.grant_id IS NOT NULL
                          GROUP BY l.grant_id) j ON j.grant_id = g.id
               WHERE COALESCE(p.principal, 0) != COALESCE(j.principal, 0)
                  OR COALESCE(p.last_counter_date, '') != COALESCE(j.last_counter_date, '')"""
        )

    def note_balances_for_grant(self, grant_id: int, accounts: Iterable[str]) -> dict[tuple[int, str], int]:
        """{(note_id, account): balance} for every note on a line."""
        accounts = list(accounts)
        marks = ", ".join("?" for _ in accounts)
        rows = self._all(
            f"""SELECT note_id, account, SUM(debit - credit) FROM journal_lines
                WHERE grant_id=? AND note_id IS NOT NULL AND account IN ({marks})
                GROUP BY note_id, account""",
            (grant_id, *accounts),
        )
        return {(r[0], r[1]): r[2] for r in rows}

    # -- loan notes -------------------------------------------------------
    def insert_note(self, row: dict) -> int:
        return self._insert("loan_notes", row)

    def next_id(self, table: str) -> int:
        return (self._scalar(f"SELECT COALESCE(MAX(id), 0) FROM {table}") or 0) + 1

    def get_note_by_no(self, note_no: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM loan_notes WHERE note_no=?", (note_no,))

    def notes_for_grant(self, grant_id: int) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM loan_notes WHERE grant_id=? ORDER BY maturity, id", (grant_id,))

    def reversed_txn_ids(self, txn_ids: Iterable[int]) -> set[int]:
        ids = list(txn_ids)
        if not ids:
            return set()
        marks = ", ".join("?" for _ in ids)
        return {r[0] for r in self._all(f"SELECT reverses FROM txns WHERE reverses IN ({marks})", ids)}

    # -- idempotent requests ----------------------------------------------
    def get_request(self, request_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM requests WHERE request_id=?", (request_id,))

    def insert_request(self, request_id: str, command: str, fingerprint: str, result: str) -> None:
        self._insert(
            "requests",
            {"request_id": request_id, "command": command, "fingerprint": fingerprint, "result": result, "recorded_at": _now()},
        )

    # -- verification queries ---------------------------------------------
    def unbalanced_txns(self) -> list[sqlite3.Row]:
        return self._all(
            """SELECT t.id, COALESCE(SUM(l.debit), 0) AS total_debit, COALESCE(SUM(l.credit), 0) AS total_credit,
                      COUNT(l.id) AS n
               FROM txns t LEFT JOIN journal_lines l ON l.txn_id = t.id
               GROUP BY t.id HAVING total_debit != total_credit OR n < 2 OR total_debit = 0"""
        )

    def orphan_lines(self) -> list[sqlite3.Row]:
        return self._all("SELECT l.* FROM journal_lines l LEFT JOIN txns t ON t.id = l.txn_id WHERE t.id IS NULL")

    def bad_sided_lines(self) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM journal_lines WHERE debit < 0 OR credit < 0 OR (debit = 0) = (credit = 0)")

    def note_disbursements(self, account_prefix: str) -> list[sqlite3.Row]:
        """Each note with its amount, what its draw transaction put on a loan account, and its balance."""
        return self._all(
            """SELECT n.id, n.note_no, n.amount, n.grant_id,
                  (SELECT COALESCE(SUM(l.debit - l.credit), 0) FROM journal_lines l
                    WHERE l.txn_id = n.txn_id AND l.note_id = n.id AND l.account LIKE ? || '%') AS disbursed,
                  (SELECT COALESCE(SUM(l.debit - l.credit), 0) FROM journal_lines l
                    WHERE l.note_id = n.id AND l.account LIKE ? || '%') AS outstanding
               FROM loan_notes n ORDER BY n.id""",
            (account_prefix, account_prefix),
        )

    def grant_outstanding_all(self, account_prefix: str) -> list[sqlite3.Row]:
        return self._all(
            """SELECT g.id, g.grant_no, g.product, g.line_amount, g.term_months, g.status,
                      g.surveyed_by, g.reviewed_by, g.approved_by, g.card_no, g.contract_no,
                      COALESCE(SUM(l.debit - l.credit), 0) AS outstanding
               FROM grants g LEFT JOIN journal_lines l ON l.grant_id = g.id AND l.account LIKE ? || '%'
               GROUP BY g.id ORDER BY g.id""",
            (account_prefix,),
        )

    def negative_sub_balances(self, accounts_prefixes: Iterable[str]) -> list[sqlite3.Row]:
        """(note, account) balances below zero for accounts that can never be negative."""
        clauses = " OR ".join("account LIKE ? || '%'" for _ in accounts_prefixes)
        return self._all(
            f"""SELECT note_id, account, SUM(debit - credit) AS balance FROM journal_lines
                WHERE note_id IS NOT NULL AND ({clauses}) GROUP BY note_id, account HAVING balance < 0""",
            tuple(accounts_prefixes),
        )

    def reversal_mismatches(self) -> list[sqlite3.Row]:
        """Reversals whose lines are not the exact mirror of the original's."""
        return self._all(
            """WITH o AS (SELECT r.id AS rid, l.account, l.grant_id, l.note_id, SUM(l.debit) AS d, SUM(l.credit) AS c
                          FROM txns r JOIN journal_lines l ON l.txn_id = r.reverses
                          GROUP BY r.id, l.account, l.grant_id, l.note_id),
                    m AS (SELECT r.id AS rid, l.account, l.grant_id, l.note_id, SUM(l.credit) AS d, SUM(l.debit) AS c
                          FROM txns r JOIN journal_lines l ON l.txn_id = r.id WHERE r.reverses IS NOT NULL
                          GROUP BY r.id, l.account, l.grant_id, l.note_id)
               SELECT rid FROM (SELECT * FROM o EXCEPT SELECT * FROM m)
               UNION
               SELECT rid FROM (SELECT * FROM m EXCEPT SELECT * FROM o)"""
        )

    def missing_guards(self) -> list[str]:
        """Append-only triggers that should exist and do not, or whose definition was replaced."""
        from credit_coop.store.schema import guard_definitions

        have = {r[0]: " ".join(r[1].split()) for r in self._all("SELECT name, sql FROM sqlite_master WHERE type='trigger'")}
        return [name if name not in have else f"{name} (its definition was replaced)"
                for name, sql in guard_definitions(APPEND_ONLY).items() if have.get(name) != " ".join(sql.split())]

    def product_totals(self, as_of: str, loans_prefix: str, scope: tuple[str, str] | None = None) -> list[sqlite3.Row]:
        """Per product: households granted, granted amount, cumulative drawn, outstanding (as of a date);
        ``scope``: only one department's or branch's grants, ``("department", "D1")``."""
        where, join = "", ""
        if scope:
            column = {"department": "department", "branch": "branch"}[scope[0]]
            where = f"AND {column} = :unit"
            join = f"JOIN grants gg ON gg.id = l.grant_id AND gg.{column} = :unit"
        return self._all(
            f"""WITH g AS (SELECT * FROM grants WHERE approved_on IS NOT NULL AND approved_on <= :d
                              AND status IN ('approved', 'frozen', 'closed') {where}),
                    drawn AS (SELECT g.product, SUM(n.amount) AS amount FROM loan_notes n JOIN g ON g.id = n.grant_id
                              WHERE n.drawn_on <= :d AND NOT EXISTS (SELECT 1 FROM txns r WHERE r.reverses = n.txn_id)
                              GROUP BY g.product),
                    bal AS (SELECT substr(l.account, length(:p) + 1) AS product, SUM(l.debit - l.credit) AS amount
                            FROM journal_lines l JOIN txns t ON t.id = l.txn_id {join}
                            WHERE l.account LIKE :p || '%' AND t.business_date <= :d GROUP BY l.account)
               SELECT g.product, COUNT(DISTINCT g.borrower_id) AS households, SUM(g.line_amount) AS granted,
                      COALESCE((SELECT amount FROM drawn WHERE drawn.product = g.product), 0) AS drawn,
                      COALESCE((SELECT amount FROM bal WHERE bal.product = g.product), 0) AS outstanding
               FROM g GROUP BY g.product ORDER BY g.product""",
            {"d": as_of, "p": loans_prefix, "unit": scope[1] if scope else None},
        )

    def account_balances(self) -> list[sqlite3.Row]:
        return self._all(
            "SELECT account, SUM(debit) AS debit, SUM(credit) AS credit FROM journal_lines GROUP BY account ORDER BY account"
        )

    # -- day-end (see core/interest.py for the rules) ---------------------
    # The day-end works on ``self.state``: the ``note_state`` table, or during a
    # back-dated correction a temporary copy for the corrected line's notes.
    state = "note_state"

    def closed_through(self) -> str | None:
        return self.get_meta("closed_through")

    def first_closed_day(self) -> str | None:
        return self._scalar("SELECT MIN(business_date) FROM day_closes")

    def earliest_business_date(self) -> str | None:
        return self._scalar("SELECT MIN(business_date) FROM txns")

    def notes_without_state(self, through: str, grant_ids: list[int] | None = None) -> list[sqlite3.Row]:
        return self._all(
            f"""SELECT n.id, n.grant_id, n.maturity, n.annual_rate_percent, g.product
               FROM loan_notes n JOIN grants g ON g.id = n.grant_id
               LEFT JOIN {self.state} s ON s.note_id = n.id
               WHERE s.note_id IS NULL AND n.drawn_on <= ? {_of_grants("n.grant_id", grant_ids)}""",
            (through,),
        )

    def insert_note_states(self, rows: list[tuple]) -> None:
        """rows: (note_id, grant_id, product, maturity, rate_ppb, penalty_ppb[, principal, accrued, interest_due,
        penalty, past_due_since, dpd, class])."""
        cols = ["note_id", "grant_id", "product", "maturity", "rate_ppb", "penalty_ppb", "principal", "accrued",
                "interest_due", "penalty", "past_due_since", "dpd", "class"]
        for width in {len(r) for r in rows}:
            self.conn.executemany(
                f"INSERT INTO {self.state}({', '.join(cols[:width])}) VALUES ({', '.join('?' * width)})",
                [r for r in rows if len(r) == width],
            )

    def dayend_apply_postings(self, day: str, grant_ids: list[int] | None = None) -> None:
        """Move the day's counter postings (draws, repayments, reversals) into the day-end state.

        The day-end's own postings (and compensations, which end a note's state
        directly) are left out, so a replay of a closed day sees what the day-end saw.
        """
        self.conn.execute(
            f"""WITH d AS ({_note_components("=", counter_only=True, grant_ids=grant_ids)})
               UPDATE {self.state} SET principal = principal + d.p, accrued = accrued + d.a,
                                     interest_due = interest_due + d.i, penalty = penalty + d.q
               FROM d WHERE {self.state}.note_id = d.note_id""",
            (day,),
        )

    # The rules come from core/interest.py as SQL expressions over a state row (``regular``, ``pen``,
    # ``which``, ``overdue``); the store only applies them to every note at once.
    def dayend_accrue(self, day: str, den: int, regular: str, pen: str) -> None:
        """Today's interest and penalty, as the change in each note's rounded running total."""
        self.conn.execute(
            f"""UPDATE {self.state} SET
                  d_accrual = (2 * (accrual_num + {regular}) + :den) / (2 * :den) - accrual_posted,
                  accrual_num = accrual_num + {regular},
                  d_penalty = (2 * (penalty_num + {pen}) + :den) / (2 * :den) - penalty_posted,
                  penalty_num = penalty_num + {pen}
                WHERE principal > 0 OR interest_due > 0""",
            {"day": day, "den": den},
        )

    def dayend_post_accruals(self, txn_id: int | None, accrued_acc: str, penalty_acc: str, income_acc: str,
                             penalty_income_acc: str) -> int:
        """Journal lines for today's accruals: per note receivable, per product income. Returns notes touched.

        With no ``txn_id`` (a replay of days before a correction) only the state moves.
        """
        c = self.conn
        st = self.state
        if txn_id is not None:
            c.execute(
                f"""INSERT INTO journal_lines(txn_id, account, debit, credit, grant_id, note_id)
                   SELECT ?, ?, d_accrual, 0, grant_id, note_id FROM {st} WHERE d_accrual > 0 ORDER BY note_id""",
                (txn_id, accrued_acc),
            )
            c.execute(
                f"""INSERT INTO journal_lines(txn_id, account, debit, credit, grant_id, note_id)
                   SELECT ?, ?, d_penalty, 0, grant_id, note_id FROM {st} WHERE d_penalty > 0 ORDER BY note_id""",
                (txn_id, penalty_acc),
            )
            c.execute(
                f"""INSERT INTO journal_lines(txn_id, account, debit, credit)
                   SELECT ?, ? || '.' || product, 0, SUM(d_accrual) FROM {st} WHERE d_accrual > 0 GROUP BY product
                   UNION ALL
                   SELECT ?, ? || '.' || product, 0, SUM(d_penalty) FROM {st} WHERE d_penalty > 0 GROUP BY product""",
                (txn_id, income_acc, txn_id, penalty_income_acc),
            )
        n = c.execute(
            f"""UPDATE {st} SET accrual_posted = accrual_posted + d_accrual, accrued = accrued + d_accrual,
                                     penalty_posted = penalty_posted + d_penalty, penalty = penalty + d_penalty,
                                     d_accrual = 0, d_penalty = 0
               WHERE d_accrual != 0 OR d_penalty != 0"""
        ).rowcount
        return n

    def dayend_settle(self, txn_id: int | None, day: str, settlement_day: bool, which: str, accrued_acc: str,
                      due_acc: str) -> None:
        """Move accrued interest to interest due for the notes ``which`` selects (all on a settlement day, else
        those maturing); a new rounding period starts for them (penalty too, on a settlement day)."""
        c = self.conn
        st = self.state
        if txn_id is not None:
            c.execute(
                f"""INSERT INTO journal_lines(txn_id, account, debit, credit, grant_id, note_id)
                    SELECT :txn, :due, accrued, 0, grant_id, note_id FROM {st} WHERE accrued > 0 AND ({which})
                    UNION ALL
                    SELECT :txn, :acc, 0, accrued, grant_id, note_id FROM {st} WHERE accrued > 0 AND ({which})""",
                {"txn": txn_id, "due": due_acc, "acc": accrued_acc, "day": day},
            )
        c.execute(
            f"""UPDATE {st} SET interest_due = interest_due + accrued, accrued = 0 WHERE accrued > 0 AND ({which})""",
            {"day": day},
        )
        # a new rounding period starts after each settlement (and after maturity for the note)
        c.execute(
            f"""UPDATE {st} SET accrual_num = 0, accrual_posted = 0
                                   {", penalty_num = 0, penalty_posted = 0" if settlement_day else ""}
                WHERE ({which}) AND (accrual_num != 0 OR accrual_posted != 0 OR penalty_num != 0 OR penalty_posted != 0)""",
            {"day": day},
        )

    def dayend_classify(self, day: str, overdue: str, class_case: str, *, record: bool = True, restate: bool = False) -> None:
        """Past-due date, days past due and class at the end of ``day``; record every change
        (``restate``: record every note's class, changed or not; ``record=False``: record nothing)."""
        st = self.state
        pds = f"(CASE WHEN {overdue} THEN COALESCE(past_due_since, date(:day, '+1 day')) ELSE NULL END)"
        dpd = f"(CASE WHEN {pds} <= :day THEN CAST(julianday(:day) - julianday({pds}) AS INTEGER) + 1 ELSE 0 END)"
        cls = class_case.replace("{dpd}", dpd)
        c = self.conn
        c.execute(
            f"""UPDATE {st} SET
                  changed = ({cls}) != class OR {pds} IS NOT past_due_since,
                  past_due_since = {pds}, dpd = {dpd}, class = {cls}
                WHERE principal + accrued + interest_due + penalty > 0 OR past_due_since IS NOT NULL OR dpd != 0""",
            {"day": day},
        )
        if record:
            c.execute(
                f"""INSERT INTO note_classes(note_id, on_date, class, past_due_since, dpd)
                   SELECT note_id, ?, class, past_due_since, dpd FROM {st} WHERE changed OR ? ORDER BY note_id""",
                (day, restate),
            )
        c.execute(f"UPDATE {st} SET changed = 0 WHERE changed")

    def count_active_notes(self) -> int:
        return self._scalar(f"SELECT COUNT(*) FROM {self.state} WHERE principal + accrued + interest_due + penalty > 0")

    def insert_day_close(self, day: str, operator: str, notes: int, txn_id: int | None) -> None:
        self._insert("day_closes", {"business_date": day, "closed_at": _now(), "operator": operator, "notes": notes, "txn_id": txn_id})
        self.set_meta("closed_through", day)

    def dayend_has_postings(self, day: str, which: str) -> bool:
        return bool(self._scalar(
            f"""SELECT EXISTS (SELECT 1 FROM {self.state}
                 WHERE d_accrual > 0 OR d_penalty > 0 OR (accrued > 0 AND ({which})))""",
            {"day": day},
        ))

    # -- back-dated corrections (see core/corrections.py) -------------------
    @contextmanager
    def replay_state(self) -> Iterator["Store"]:
        """A temporary, empty copy of ``note_state``; the day-end queries work on it inside the block."""
        import re

        ddl = self._scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'note_state'")
        ddl = re.sub(r"\s+REFERENCES\s+\w+\s*\(\w+\)", "", ddl).replace("CREATE TABLE note_state", "CREATE TEMP TABLE replay_state", 1)
        self.conn.execute("DROP TABLE IF EXISTS temp.replay_state")
        self.conn.execute(ddl)
        self.state = "replay_state"
        try:
            yield self
        finally:
            del self.state  # back to the class default, note_state
            self.conn.execute("DROP TABLE IF EXISTS temp.replay_state")

    def replace_note_states(self, grant_ids: list[int]) -> None:
        """Put the replayed state of a line's notes in place of their day-end state."""
        marks = ", ".join("?" for _ in grant_ids)
        self.conn.execute(f"DELETE FROM note_state WHERE grant_id IN ({marks})", grant_ids)
        self.conn.execute("INSERT INTO note_state SELECT * FROM temp.replay_state")

    def notes_of_grants(self, grant_ids: list[int], drawn_through: str) -> list[sqlite3.Row]:
        marks = ", ".join("?" for _ in grant_ids)
        return self._all(
            f"""SELECT n.id, n.grant_id, n.maturity, n.annual_rate_percent, g.product FROM loan_notes n
                JOIN grants g ON g.id = n.grant_id WHERE n.grant_id IN ({marks}) AND n.drawn_on <= ? ORDER BY n.id""",
            (*grant_ids, drawn_through),
        )

    def note_components_through(self, grant_ids: list[int], day: str) -> dict[int, sqlite3.Row]:
        """{note_id: (p, a, i, q)} for a line's notes: principal, accrued, due and penalty through ``day``."""
        return {r["note_id"]: r for r in self._all(_note_components("<=", grant_ids=grant_ids), (day,))}

    def class_as_of(self, note_ids: list[int], day: str) -> dict[int, sqlite3.Row]:
        """Each note's class record in force at the end of ``day`` (the latest written on or before it)."""
        marks = ", ".join("?" for _ in note_ids)
        rows = self._all(
            f"""SELECT c.* FROM note_classes c
                JOIN (SELECT note_id, MAX(id) AS id FROM note_classes WHERE on_date <= ? AND note_id IN ({marks})
                      GROUP BY note_id) last ON last.id = c.id""",
            (day, *note_ids),
        )
        return {r["note_id"]: r for r in rows}

    def negative_replayed(self) -> list[sqlite3.Row]:
        return self._all(
            """SELECT s.*, n.note_no FROM temp.replay_state s JOIN loan_notes n ON n.id = s.note_id
               WHERE s.principal < 0 OR s.accrued < 0 OR s.interest_due < 0 OR s.penalty < 0"""
        )

    def day_end_postings_from(self, grant_ids: list[int], day: str) -> list[sqlite3.Row]:
        """Net of what the day-end posted per business day, note and account on a line's notes, from ``day`` on."""
        marks = ", ".join("?" for _ in grant_ids)
        return self._all(
            f"""SELECT t.business_date, l.note_id, l.grant_id, g.product, l.account, SUM(l.debit - l.credit) AS net
                FROM journal_lines l JOIN txns t ON t.id = l.txn_id JOIN grants g ON g.id = l.grant_id
                WHERE l.grant_id IN ({marks}) AND l.note_id IS NOT NULL AND t.business_date >= ?
                  AND t.kind IN ('day-end', 'day-end-reversal')
                GROUP BY t.business_date, l.note_id, l.account HAVING net != 0
                ORDER BY t.business_date, l.note_id, l.account""",
            (*grant_ids, day),
        )

    def compensations_from(self, grant_ids: list[int], day: str) -> list[sqlite3.Row]:
        marks = ", ".join("?" for _ in grant_ids)
        return self._all(
            f"""SELECT c.*, n.note_no FROM {LIVE_COMPENSATIONS} c JOIN loan_notes n ON n.id = c.note_id
                WHERE n.grant_id IN ({marks}) AND c.on_date >= ? ORDER BY c.on_date, c.id""",
            (*grant_ids, day),
        )

    def counter_postings_after(self, grant_ids: list[int], day: str) -> list[sqlite3.Row]:
        """Counter transactions on a line dated after ``day`` (a transaction and its reversal on the
        same day cancel out and are left out)."""
        marks = ", ".join("?" for _ in grant_ids)
        latest = self._scalar(f"SELECT MAX(last_counter_date) FROM line_positions WHERE grant_id IN ({marks})", grant_ids)
        if latest is None or latest <= day:  # the usual case, without reading the line's history
            return []
        return self._all(
            f"""SELECT DISTINCT t.id, t.kind, t.business_date FROM txns t JOIN journal_lines l ON l.txn_id = t.id
                WHERE l.grant_id IN ({marks}) AND t.business_date > ? AND t.kind NOT IN {_DAY_END_KINDS_SQL}
                  AND NOT EXISTS (SELECT 1 FROM txns r WHERE r.reverses = t.id AND r.business_date = t.business_date)
                  AND NOT EXISTS (SELECT 1 FROM txns o WHERE o.id = t.reverses AND o.business_date = t.business_date)
                ORDER BY t.id""",
            (*grant_ids, day),
        )

    def flag_recheck(self, batch: str, period: str) -> None:
        """A back-dated correction touched ``period``, already paid by ``batch``: the next run rechecks from it."""
        key = f"recheck_{batch}_from"
        now = self.get_meta(key)
        if now is None or period < now:
            self.set_meta(key, period)

    def recheck_from(self, batch: str) -> str | None:
        return self.get_meta(f"recheck_{batch}_from")

    def clear_recheck(self, batch: str) -> None:
        self.conn.execute("DELETE FROM meta WHERE key = ?", (f"recheck_{batch}_from",))

    def paid_periods(self, batch: str, first: str, before: str) -> list[str]:
        runs, _, key = self.BATCHES[batch]
        return [r[0] for r in self._all(f"SELECT {key} FROM {runs} WHERE {key} >= ? AND {key} < ? ORDER BY {key}", (first, before))]

    def _given_so_far(self, run: str, adjustments: str, period: str) -> dict[str, int]:
        """Per officer: what a batch gave for ``period``, its run plus the adjustments carried since
        (``run`` and ``adjustments``: ``SELECT officer, v … WHERE … = ?``)."""
        rows = self._all(f"SELECT officer, SUM(v) FROM ({run} UNION ALL {adjustments}) GROUP BY officer", (period, period))
        return {r[0]: r[1] for r in rows}

    def interest_pay_for(self, month: str) -> dict[str, int]:
        """Per officer: the interest pay given for ``month`` so far."""
        return self._given_so_far("SELECT officer, interest_pay AS v FROM payroll_lines WHERE month = ?",
                                  "SELECT officer, interest_pay_delta FROM pay_adjustments WHERE for_month = ?", month)

    def refunded_for(self, year: str) -> dict[str, int]:
        """Per officer: the year-end refund given for ``year`` so far (a full settlement is not a refund)."""
        return self._given_so_far("SELECT officer, refund AS v FROM year_end_lines WHERE year = ? AND full_settlement = 0",
                                  "SELECT officer, refund_delta FROM year_end_adjustments WHERE for_year = ?", year)

    def insert_adjustments(self, table: str, rows: list[dict]) -> None:
        for row in rows:
            self._insert(table, row)

    def adjustments(self, table: str, period_key: str, period: str) -> list[sqlite3.Row]:
        return self._all(f"SELECT * FROM {table} WHERE {period_key} = ? ORDER BY officer, id", (period,))

    def first_batch_from(self, batch: str, period: str) -> str | None:
        """The first period on or after ``period`` for which a batch (payroll, year-end) has run."""
        runs, _, key = self.BATCHES[batch]
        return self._scalar(f"SELECT MIN({key}) FROM {runs} WHERE {key} >= ?", (period,))

    def classes_of_grant(self, grant_id: int) -> list[sqlite3.Row]:
        """Each of the line's notes' five-category class as the last day-end left it."""
        return self._all("SELECT s.note_id, s.class FROM loan_notes n JOIN note_state s ON s.note_id = n.id WHERE n.grant_id = ?",
                         (grant_id,))

    def past_due_notes(self, grant_id: int) -> list[sqlite3.Row]:
        """The line's notes the last day-end left past due, most overdue first (during a back-dated
        correction: as the replayed day-end left them the day before the correction's date)."""
        return self._all(
            f"""SELECT n.id, n.note_no, n.maturity, s.dpd, s.class FROM loan_notes n JOIN {self.state} s ON s.note_id = n.id
               WHERE n.grant_id = ? AND s.dpd > 0 ORDER BY s.dpd DESC, n.id""",
            (grant_id,),
        )

    def note_state(self, note_id: int) -> sqlite3.Row | None:
        return self._one("SELECT * FROM note_state WHERE note_id=?", (note_id,))

    def note_state_mismatches(self, through: str, grant_ids: list[int] | None = None) -> list[sqlite3.Row]:
        """Day-end state balances (of ``self.state``, optionally only these lines' notes) that differ
        from the journal through ``through``."""
        return self._all(
            f"""WITH j AS ({_note_components("<=", grant_ids=grant_ids)})
               SELECT s.note_id, s.principal, s.accrued, s.interest_due, s.penalty, j.p, j.a, j.i, j.q
               FROM {self.state} s LEFT JOIN j ON j.note_id = s.note_id
               WHERE s.principal != COALESCE(j.p, 0) OR s.accrued != COALESCE(j.a, 0)
                  OR s.interest_due != COALESCE(j.i, 0) OR s.penalty != COALESCE(j.q, 0)""",
            (through,),
        )

    def lines_owing_interest(self, day: str) -> list[sqlite3.Row]:
        """Lines with interest due or penalty at the last close, and whether any of their notes has matured unpaid."""
        return self._all(
            """SELECT g.card_no, SUM(s.interest_due + s.penalty) AS owed,
                      MAX(CASE WHEN s.principal > 0 AND s.maturity < ? THEN 1 ELSE 0 END) AS matured_unpaid
               FROM note_state s JOIN grants g ON g.id = s.grant_id
               WHERE s.interest_due + s.penalty > 0 GROUP BY g.id ORDER BY g.id""",
            (day,),
        )

    def note_officer(self, note_id: int, default: str | None) -> str | None:
        row = self._one("SELECT officer FROM note_officers WHERE note_id=? ORDER BY id DESC LIMIT 1", (note_id,))
        return row[0] if row else default

    def insert_note_officer(self, note_id: int, officer: str, from_date: str, by: str) -> None:
        self._insert("note_officers", {"note_id": note_id, "officer": officer, "from_date": from_date, "by_operator": by})

    def note_lines(self, note_id: int) -> list[sqlite3.Row]:
        return self._all(
            """SELECT t.id AS txn_id, t.kind, t.business_date, l.account, l.debit, l.credit
               FROM journal_lines l JOIN txns t ON t.id = l.txn_id WHERE l.note_id = ? ORDER BY t.id, l.id""",
            (note_id,),
        )

    def note_class_as_of(self, as_of: str) -> list[sqlite3.Row]:
        """Each note's latest classification record on or before ``as_of``, with note and line facts."""
        return self._all(
            """WITH last AS (SELECT note_id, MAX(id) AS id FROM note_classes WHERE on_date <= ? GROUP BY note_id)
               SELECT c.note_id, c.class, c.past_due_since, n.note_no, n.maturity, n.amount, g.product, g.card_no,
                      g.officer AS line_officer, g.borrower_id
               FROM last JOIN note_classes c ON c.id = last.id
               JOIN loan_notes n ON n.id = c.note_id JOIN grants g ON g.id = n.grant_id
               ORDER BY c.note_id""",
            (as_of,),
        )

    def grants_by_unit(self, unit_kind: str, as_of: str) -> list[sqlite3.Row]:
        """Per grant applied by ``as_of``: its unit (``department`` or ``branch``), status, line and validity, and what
        was drawn on it by then; with each note's unit for the principal side (issue 13)."""
        column = {"department": "department", "branch": "branch"}[unit_kind]
        return self._all(
            f"""SELECT g.id, g.{column} AS unit, g.status, g.line_amount, g.valid_from, g.valid_to,
                       COALESCE((SELECT SUM(l.debit) FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                                 WHERE l.grant_id = g.id AND l.account LIKE '1303.%' AND t.kind = 'drawdown'
                                   AND t.business_date <= :d), 0) AS drawn
                FROM grants g WHERE g.applied_on <= :d ORDER BY g.id""",
            {"d": as_of},
        )

    def note_units(self, unit_kind: str) -> dict[int, str]:
        column = {"department": "department", "branch": "branch"}[unit_kind]
        return {r[0]: r[1] for r in self._all(f"SELECT n.id, g.{column} FROM loan_notes n JOIN grants g ON g.id = n.grant_id")}

    def officer_pay_months(self, last_month: str) -> list[sqlite3.Row]:
        """Per person paid: months paid and the total pay, through ``last_month``."""
        return self._all(
            "SELECT officer, COUNT(DISTINCT month) AS months, SUM(total) AS total FROM payroll_lines WHERE month <= ? GROUP BY officer",
            (last_month,),
        )

    def principal_as_of(self, as_of: str) -> dict[int, int]:
        rows = self._all(
            """SELECT l.note_id, SUM(l.debit - l.credit) FROM journal_lines l JOIN txns t ON t.id = l.txn_id
               WHERE t.business_date <= ? AND l.account LIKE '1303.%' AND l.note_id IS NOT NULL GROUP BY l.note_id""",
            (as_of,),
        )
        return {r[0]: r[1] for r in rows}

    # -- performance pay, risk fund, year-end (see core/pay.py, core/riskfund.py) --
    def grant_roles_in(self, first: str, last: str) -> list[sqlite3.Row]:
        """Per person: grants surveyed, reviewed and approved (approved between two dates)."""
        return self._all(
            """SELECT person, SUM(s) AS surveyed, SUM(r) AS reviewed, SUM(a) AS approved FROM (
                 SELECT surveyed_by AS person, 1 AS s, 0 AS r, 0 AS a FROM grants WHERE approved_on BETWEEN :f AND :l AND approved_by IS NOT NULL
                 UNION ALL SELECT reviewed_by, 0, 1, 0 FROM grants WHERE approved_on BETWEEN :f AND :l AND approved_by IS NOT NULL
                 UNION ALL SELECT approved_by, 0, 0, 1 FROM grants WHERE approved_on BETWEEN :f AND :l AND approved_by IS NOT NULL)
               GROUP BY person""",
            {"f": first, "l": last},
        )

    def interest_collected_in(self, first: str, last: str, prefix: str) -> dict[str, int]:
        """Per managing officer: interest (and penalty) collected by repayments between two dates, net of reversals."""
        rows = self._all(
            """SELECT l.officer, SUM(l.credit - l.debit) FROM journal_lines l JOIN txns t ON t.id = l.txn_id
               WHERE t.business_date BETWEEN ? AND ? AND l.officer IS NOT NULL AND l.account LIKE ? || '%'
                 AND (t.kind = 'repayment' OR (t.kind = 'reversal' AND (SELECT kind FROM txns o WHERE o.id = t.reverses) = 'repayment'))
               GROUP BY l.officer""",
            (first, last, prefix),
        )
        return {r[0]: r[1] for r in rows}

    # Batches that run once per period and keep a line per person: (runs table, lines table, period column)
    BATCHES = {"payroll": ("payroll_runs", "payroll_lines", "month"), "year-end": ("year_end_runs", "year_end_lines", "year")}

    def batch_run(self, batch: str, period: str) -> sqlite3.Row | None:
        runs, _, key = self.BATCHES[batch]
        return self._one(f"SELECT * FROM {runs} WHERE {key}=?", (period,))

    def batch_lines(self, batch: str, period: str) -> list[sqlite3.Row]:
        _, lines, key = self.BATCHES[batch]
        return self._all(f"SELECT * FROM {lines} WHERE {key}=? ORDER BY officer", (period,))

    def insert_batch(self, batch: str, period: str, run_on: str, operator: str, txn_id: int | None, lines: list[dict]) -> None:
        runs, table, key = self.BATCHES[batch]
        self._insert(runs, {key: period, "run_on": run_on, "operator": operator, "txn_id": txn_id, "run_at": _now()})
        for line in lines:
            self._insert(table, {key: period, **line})

    def officer_balance(self, officer: str, account: str, sign: int = -1, through: str | None = None) -> int:
        """Balance of an officer's sub-account (credit-positive with sign=-1)."""
        sql = """SELECT COALESCE(SUM(l.debit - l.credit), 0) FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                 WHERE l.officer = ? AND l.account = ?"""
        params = [officer, account]
        if through:
            sql += " AND t.business_date <= ?"
            params.append(through)
        return sign * self._scalar(sql, params)

    def officer_movements(self, officer: str, accounts_: list[str]) -> list[sqlite3.Row]:
        marks = ", ".join("?" for _ in accounts_)
        return self._all(
            f"""SELECT t.id AS txn_id, t.business_date, t.kind, t.memo, l.account, l.debit, l.credit, l.note_id
                FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                WHERE l.officer = ? AND l.account IN ({marks}) ORDER BY t.business_date, t.id, l.id""",
            (officer, *accounts_),
        )

    def compensation_candidates(self, day: str, grace_days: int) -> list[sqlite3.Row]:
        """Notes unpaid ``grace_days`` after maturity, not yet compensated, with their issuing officer."""
        return self._all(
            f"""SELECT s.note_id, s.grant_id, s.product, s.principal, s.accrued, s.interest_due, s.penalty,
                      n.amount, n.note_no, g.surveyed_by AS officer
               FROM {self.state} s JOIN loan_notes n ON n.id = s.note_id JOIN grants g ON g.id = s.grant_id
               LEFT JOIN {LIVE_COMPENSATIONS} c ON c.note_id = s.note_id
               WHERE s.principal > 0 AND date(s.maturity, '+' || ? || ' day') <= ? AND c.note_id IS NULL
               ORDER BY s.note_id""",
            (grace_days, day),
        )

    def insert_compensation(self, row: dict) -> None:
        self._insert("compensations", row)

    _CLEARED = """principal = 0, accrued = 0, interest_due = 0, penalty = 0, accrual_num = 0,
                  accrual_posted = 0, penalty_num = 0, penalty_posted = 0"""

    def clear_note_state(self, note_id: int) -> None:
        self.conn.execute(f"UPDATE {self.state} SET {self._CLEARED} WHERE note_id = ?", (note_id,))

    def clear_compensated_state(self, day: str) -> None:
        """Replaying a day before a correction: notes compensated that day leave the day-end as they did then."""
        self.conn.execute(
            f"""UPDATE {self.state} SET {self._CLEARED}
                WHERE note_id IN (SELECT note_id FROM {LIVE_COMPENSATIONS} c WHERE c.on_date = ?)""",
            (day,),
        )

    def compensations_for_grant(self, grant_id: int, fund_account: str, debt_account: str) -> list[sqlite3.Row]:
        """Compensated notes on a line with what the borrower has paid back since (recoveries), and
        how much of that went to the officer's debt."""
        return self._all(
            f"""SELECT c.*, n.note_no,
                      {_RECOVERED} AS recovered, {_RECOVERED_TO_DEBT} AS recovered_to_debt
               FROM {LIVE_COMPENSATIONS} c CROSS JOIN loan_notes n ON n.id = c.note_id WHERE n.grant_id = ? ORDER BY c.id""",
            (fund_account, debt_account, debt_account, grant_id),  # CROSS JOIN: from the few cases, not the line's notes
        )

    def compensation_cases(self, fund_account: str, debt_account: str) -> list[sqlite3.Row]:
        return self._all(
            f"""SELECT c.*, n.note_no, g.card_no, g.product,
                      {_RECOVERED} AS recovered, {_RECOVERED_TO_DEBT} AS recovered_to_debt
               FROM {LIVE_COMPENSATIONS} c JOIN loan_notes n ON n.id = c.note_id JOIN grants g ON g.id = n.grant_id
               ORDER BY c.on_date, c.id""",
            (fund_account, debt_account, debt_account),
        )

    def officers_with(self, accounts_: list[str]) -> list[str]:
        marks = ", ".join("?" for _ in accounts_)
        return [r[0] for r in self._all(
            f"SELECT DISTINCT officer FROM journal_lines WHERE officer IS NOT NULL AND account IN ({marks}) ORDER BY officer",
            accounts_,
        )]

    def holdbacks_in(self, first: str, last: str) -> dict[str, int]:
        """Per officer: what the payroll runs of these months withheld (adjustments they carried included)."""
        rows = self._all(
            """SELECT officer, SUM(h) FROM (SELECT officer, holdback AS h FROM payroll_lines WHERE month BETWEEN ? AND ?
                                            UNION ALL SELECT officer, holdback FROM pay_adjustments WHERE month BETWEEN ? AND ?)
               GROUP BY officer""", (first, last, first, last)
        )
        return {r[0]: r[1] for r in rows}

    def officers_with_npl_in(self, first: str, last: str, npl_classes: list[str]) -> dict[str, str]:
        """Issuing officers any of whose notes entered a non-performing class between two dates."""
        marks = ", ".join("?" for _ in npl_classes)
        rows = self._all(
            f"""SELECT g.surveyed_by, MIN(n.note_no) FROM note_classes c JOIN loan_notes n ON n.id = c.note_id
                JOIN grants g ON g.id = n.grant_id
                WHERE c.on_date BETWEEN ? AND ? AND c.class IN ({marks})
                  -- a record restated by a back-dated correction no longer counts
                  AND NOT EXISTS (SELECT 1 FROM note_classes r WHERE r.note_id = c.note_id AND r.id > c.id
                                  AND r.on_date <= c.on_date)
                GROUP BY g.surveyed_by""",
            (first, last, *npl_classes),
        )
        return {r[0]: r[1] for r in rows}

    def officers_compensating_in(self, first: str, last: str) -> dict[str, str]:
        rows = self._all(
            f"""SELECT c.officer, MIN(n.note_no) FROM {LIVE_COMPENSATIONS} c JOIN loan_notes n ON n.id = c.note_id
               WHERE c.on_date BETWEEN ? AND ? GROUP BY c.officer""",
            (first, last),
        )
        return {r[0]: r[1] for r in rows}


    def transfer(self, officer: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM officer_transfers WHERE officer=?", (officer,))

    def insert_transfer(self, officer: str, on: str, by: str) -> None:
        self._insert("officer_transfers", {"officer": officer, "on_date": on, "by_operator": by})

    def settlement(self, officer: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM fund_settlements WHERE officer=?", (officer,))

    def insert_settlement(self, officer: str, on: str, amount: int, txn_id: int | None) -> None:
        self._insert("fund_settlements", {"officer": officer, "on_date": on, "amount": amount, "txn_id": txn_id})

    def unrecovered_issued(self, officer: str, loans_prefix: str, fund_account: str, debt_account: str) -> int:
        """Loan notes the officer issued that still carry principal, or compensations not yet recovered."""
        live = self._scalar(
            """SELECT COUNT(*) FROM (SELECT l.note_id FROM journal_lines l JOIN loan_notes n ON n.id = l.note_id
                                     JOIN grants g ON g.id = n.grant_id
                                     WHERE g.surveyed_by = ? AND l.account LIKE ? || '%'
                                     GROUP BY l.note_id HAVING SUM(l.debit - l.credit) > 0)""",
            (officer, loans_prefix),
        )
        open_cases = self._scalar(
            f"""SELECT COUNT(*) FROM {LIVE_COMPENSATIONS} c WHERE c.officer = ? AND c.amount > {_RECOVERED}""",
            (officer, fund_account, debt_account),
        )
        return live + open_cases

    def payroll_mismatches(self, payable: str, fund: str) -> list[sqlite3.Row]:
        """Payroll runs whose journal lines differ from the recorded per-officer lines and adjustments."""
        return self._all(
            """SELECT r.month FROM payroll_runs r
               WHERE COALESCE((SELECT SUM(holdback) FROM payroll_lines p WHERE p.month = r.month), 0)
                   + COALESCE((SELECT SUM(holdback) FROM pay_adjustments a WHERE a.month = r.month), 0) !=
                     COALESCE((SELECT SUM(credit - debit) FROM journal_lines WHERE txn_id = r.txn_id AND account = ?), 0)
                  OR COALESCE((SELECT SUM(payable) FROM payroll_lines p WHERE p.month = r.month), 0)
                   + COALESCE((SELECT SUM(payable) FROM pay_adjustments a WHERE a.month = r.month), 0) !=
                     COALESCE((SELECT SUM(credit - debit) FROM journal_lines WHERE txn_id = r.txn_id AND account = ?), 0)""",
            (fund, payable),
        )

    def compensation_mismatches(self, fund: str, debt: str) -> list[sqlite3.Row]:
        """Compensation records whose amounts differ from their transaction's lines."""
        return self._all(
            """SELECT c.id, c.note_id FROM compensations c
               WHERE c.from_fund != COALESCE((SELECT SUM(debit) FROM journal_lines WHERE txn_id = c.txn_id AND account = ?), 0)
                  OR c.shortfall != COALESCE((SELECT SUM(debit) FROM journal_lines WHERE txn_id = c.txn_id AND account = ?), 0)
                  OR c.amount != COALESCE((SELECT SUM(credit) FROM journal_lines WHERE txn_id = c.txn_id), 0)""",
            (fund, debt),
        )

    def year_end_mismatches(self, fund: str) -> list[sqlite3.Row]:
        return self._all(
            """SELECT r.year FROM year_end_runs r
               WHERE COALESCE((SELECT SUM(refund) FROM year_end_lines y WHERE y.year = r.year), 0)
                   + COALESCE((SELECT SUM(refund_delta) FROM year_end_adjustments a WHERE a.year = r.year), 0) !=
                     COALESCE((SELECT SUM(debit - credit) FROM journal_lines WHERE txn_id = r.txn_id AND account = ?), 0)""",
            (fund,),
        )

    def postings_before_drawdown(self) -> list[sqlite3.Row]:
        """Journal lines on a loan note dated before the note was drawn."""
        return self._all(
            """SELECT DISTINCT t.id AS txn_id, t.kind, t.business_date, n.note_no, n.drawn_on
               FROM loan_notes n JOIN journal_lines l ON l.note_id = n.id JOIN txns t ON t.id = l.txn_id
               WHERE t.business_date < n.drawn_on ORDER BY t.id LIMIT 100"""
        )

    def negative_officer_balances(self, fund: str, debt: str) -> list[sqlite3.Row]:
        return self._all(
            """SELECT officer, account, SUM(debit - credit) AS balance FROM journal_lines
               WHERE officer IS NOT NULL AND account IN (?, ?) GROUP BY officer, account
               HAVING (account = ? AND balance > 0) OR (account = ? AND balance < 0)""",
            (fund, debt, fund, debt),
        )

    # -- hash chain -------------------------------------------------------------
    def txn_line_problems(self, txn_id: int) -> str | None:
        """Why a transaction's lines would not stand as posted (unbalanced, a line with two or no sides), or None."""
        row = self._one(
            """SELECT COUNT(*) AS n, COALESCE(SUM(debit), 0) AS d, COALESCE(SUM(credit), 0) AS c,
                      SUM((debit < 0) OR (credit < 0) OR ((debit = 0) = (credit = 0))) AS bad
               FROM journal_lines WHERE txn_id = ?""",
            (txn_id,),
        )
        if row["n"] < 2 or row["d"] != row["c"] or row["d"] <= 0 or row["bad"]:
            return f"{row['n']} lines, debit {row['d']}, credit {row['c']}, {row['bad'] or 0} one-sided"
        return None

    def seal(self, txn_id: int) -> str:
        """Append the chain link of a transaction whose lines are all written (same transaction)."""
        prev = self._scalar("SELECT hash FROM txn_chain ORDER BY txn_id DESC LIMIT 1") or GENESIS
        txn = self._one(f"SELECT {TXN_COLUMNS} FROM txns WHERE id = ?", (txn_id,))
        lines = self.conn.execute(f"SELECT {LINE_COLUMNS} FROM journal_lines WHERE txn_id = ? ORDER BY id", (txn_id,))
        digest = chain_hash(prev, txn, lines)
        self.conn.execute("INSERT INTO txn_chain(txn_id, prev_hash, hash) VALUES (?, ?, ?)", (txn_id, prev, digest))
        return digest

    def chain_head(self) -> tuple[int, str] | None:
        """The last transaction's id and chain hash (None for an empty journal)."""
        row = self._one("SELECT txn_id, hash FROM txn_chain ORDER BY txn_id DESC LIMIT 1")
        return (row["txn_id"], row["hash"]) if row else None

    def chain_link(self, txn_id: int) -> str | None:
        return self._scalar("SELECT hash FROM txn_chain WHERE txn_id = ?", (txn_id,))

    def txns_after(self, txn_id: int) -> dict:
        """How many transactions come after ``txn_id``, by kind, and the money they moved."""
        rows = self._all(
            """SELECT t.kind, COUNT(DISTINCT t.id) AS n, COALESCE(SUM(l.debit), 0) AS amount
               FROM txns t LEFT JOIN journal_lines l ON l.txn_id = t.id WHERE t.id > ? GROUP BY t.kind ORDER BY t.kind""",
            (txn_id,),
        )
        return {r["kind"]: {"count": r["n"], "amount_fen": r["amount"]} for r in rows}

    def audit_count(self) -> int:
        return self._scalar("SELECT COUNT(*) FROM audit_log")

    def first_broken_link(self) -> tuple[int, str] | None:
        """Walk the chain in order (streaming); the first transaction whose link does not recompute or is missing."""
        cols = ", ".join(f"t.{c.strip()}" for c in TXN_COLUMNS.split(","))
        txns = self.conn.execute(
            f"SELECT {cols}, c.prev_hash, c.hash FROM txns t LEFT JOIN txn_chain c ON c.txn_id = t.id ORDER BY t.id"
        )
        lines = self.conn.execute(f"SELECT txn_id, {LINE_COLUMNS} FROM journal_lines ORDER BY txn_id, id")
        pending = next(lines, None)
        prev = GENESIS
        width = len(TXN_COLUMNS.split(","))
        for row in txns:
            txn, link_prev, link = tuple(row[:width]), row[width], row[width + 1]
            own = []
            while pending is not None and pending[0] <= txn[0]:
                if pending[0] == txn[0]:
                    own.append(pending[1:])
                pending = next(lines, None)
            if link is None:
                return txn[0], "has no link in the hash chain"
            if link_prev != prev or chain_hash(prev, txn, own) != link:
                return txn[0], "does not match its hash-chain link (edited outside the program)"
            prev = link
        orphan = self._scalar("SELECT MIN(txn_id) FROM txn_chain WHERE txn_id NOT IN (SELECT id FROM txns)")
        if orphan is not None:
            return orphan, "is in the hash chain but its transaction is gone"
        return None

    # -- maintenance mode ---------------------------------------------------------
    @contextmanager
    def maintenance(self, what: str, operator: str | None) -> Iterator["Store"]:
        """Mark the ledger as held by a long batch (an import) while it runs, so a teller who finds it
        busy is told why at once. The mark is its own small commit before and after."""
        import socket

        mark = json.dumps({"what": what, "by": operator, "since": _now(), "pid": os.getpid(), "host": socket.gethostname()},
                          ensure_ascii=False)
        saved, self.pending_audit = self.pending_audit, None  # the command's audit row goes with its own work
        try:
            with self.write():
                self.set_meta("maintenance", mark)
        finally:
            self.pending_audit = saved
        try:
            yield self
        finally:
            saved, self.pending_audit = self.pending_audit, None
            try:
                with self.write():
                    self.conn.execute("DELETE FROM meta WHERE key = 'maintenance'")
            except (LedgerBusy, sqlite3.Error):
                pass  # left behind, it is recognised as stale (the process is gone)
            finally:
                self.pending_audit = saved

    def maintenance_notice(self) -> str | None:
        """What holds the ledger, if a live batch said so (a mark left by a killed process is ignored)."""
        raw = self._scalar("SELECT value FROM meta WHERE key = 'maintenance'")
        if not raw:
            return None
        import socket

        try:
            mark = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(mark, dict) or mark.get("pid") == os.getpid():
            return None  # our own batch
        try:
            if mark.get("host") == socket.gethostname():
                os.kill(int(mark["pid"]), 0)
        except ProcessLookupError:
            return None
        except (KeyError, TypeError, ValueError, OSError):
            pass
        return f"{mark.get('what')} by {mark.get('by')} has held it since {mark.get('since')} (maintenance)"

    # -- sign-in ----------------------------------------------------------------
    def reserve_attempt(self, name: str, limit: int) -> int | None:
        """Count a sign-in attempt *before* the passphrase is checked, locking at ``limit``, in one
        write transaction, so parallel guesses cannot all read the same count (issue 16 §4).
        Returns the attempt's number, or None when the operator was already locked."""
        with self.write():
            done = self.conn.execute(
                """UPDATE operators SET failed_attempts = failed_attempts + 1,
                          locked = CASE WHEN failed_attempts + 1 >= ? THEN 1 ELSE locked END
                   WHERE name = ? AND locked = 0""",
                (limit, name),
            ).rowcount
            return self.get_operator(name)["failed_attempts"] if done else None

    def insert_session(self, token_hash: str, operator: str, expires_at: int) -> None:
        self._insert("sessions", {"token_hash": token_hash, "operator": operator, "expires_at": expires_at, "created_at": _now()})

    def session(self, token_hash: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM sessions WHERE token_hash = ?", (token_hash,))

    def delete_sessions(self, operator: str, token_hash: str | None = None, expired_before: int | None = None) -> int:
        sql, params = "DELETE FROM sessions WHERE operator = ?", [operator]
        if token_hash is not None:
            sql, params = sql + " AND token_hash = ?", params + [token_hash]
        if expired_before is not None:
            sql, params = "DELETE FROM sessions WHERE expires_at < ?", [expired_before]
        return self.conn.execute(sql, params).rowcount

    # -- audit log ------------------------------------------------------------
    def audit(self, operator: str | None, action: str, detail: str | None = None, result: str = "ok",
              *, at: str | None = None, wait_ms: int | None = None) -> None:
        """Append to the audit log (its own small transaction when none is open). ``wait_ms``: how
        long to wait for a busy ledger before giving up with LedgerBusy (default: the usual 5 s)."""
        row = {"at": at or _now(), "operator": operator, "action": action, "detail": detail, "result": result}
        if self._depth:
            self._insert_audit(row)
            return
        if wait_ms is not None:
            self.conn.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
        try:
            with self.write():
                self._insert_audit(row)
        finally:
            if wait_ms is not None:
                self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    def _insert_audit(self, row: dict) -> None:
        audit_id = self._insert("audit_log", row)
        self.chain_record("audit", audit_id, record_payload(row, AUDIT_FIELDS))

    # -- record chain -----------------------------------------------------------
    def chain_record(self, kind: str, ref: int | None, payload: str) -> None:
        """Append a link to the record chain (same transaction as the change it records)."""
        prev = self._scalar("SELECT hash FROM record_chain ORDER BY seq DESC LIMIT 1") or GENESIS
        self.conn.execute("INSERT INTO record_chain(kind, ref, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?)",
                          (kind, ref, payload, prev, record_hash(prev, kind, ref, payload)))

    def chain_operator(self, name: str) -> None:
        self.chain_record("operator", None, record_payload(self.get_operator(name), OPERATOR_FIELDS))

    def record_head(self) -> tuple[int, str] | None:
        row = self._one("SELECT seq, hash FROM record_chain ORDER BY seq DESC LIMIT 1")
        return (row["seq"], row["hash"]) if row else None

    def record_link(self, seq: int) -> str | None:
        return self._scalar("SELECT hash FROM record_chain WHERE seq = ?", (seq,))

    def head(self) -> str:
        return ledger_head(self.chain_head(), self.record_head())

    def head_at(self, txn_id: int, seq: int) -> str | None:
        """The anchor this ledger had at transaction ``txn_id`` and record ``seq`` (None if either is gone)."""
        th = GENESIS if txn_id == 0 else self.chain_link(txn_id)
        rh = GENESIS if seq == 0 else self.record_link(seq)
        if th is None or rh is None:
            return None
        return ledger_head((txn_id, th), (seq, rh))

    def first_broken_record(self) -> tuple[int, str] | None:
        """Walk the record chain; the first link that does not recompute, or a recorded row that changed,
        went missing or was never recorded; an operator whose row differs from their last record."""
        audit = {r["id"]: record_payload(r, AUDIT_FIELDS) for r in self._all("SELECT * FROM audit_log")}
        events = {r["id"]: record_payload(r, GRANT_EVENT_FIELDS) for r in self._all("SELECT * FROM grant_events")}
        rows = {"audit": audit, "grant_event": events}
        seen: dict[str, set] = {"audit": set(), "grant_event": set()}
        last_operator: dict[str, str] = {}
        prev = GENESIS
        for r in self.conn.execute("SELECT seq, kind, ref, payload, prev_hash, hash FROM record_chain ORDER BY seq"):
            if r["prev_hash"] != prev or record_hash(prev, r["kind"], r["ref"], r["payload"]) != r["hash"]:
                return r["seq"], "does not match its chain link (edited outside the program)"
            prev = r["hash"]
            if r["kind"] in rows:
                if rows[r["kind"]].get(r["ref"]) != r["payload"]:
                    what = "is gone" if r["ref"] not in rows[r["kind"]] else "was changed"
                    return r["seq"], f"records {r['kind'].replace('_', ' ')} {r['ref']}, which {what}"
                seen[r["kind"]].add(r["ref"])
            elif r["kind"] == "operator":
                last_operator[json.loads(r["payload"])["name"]] = r["payload"]
        for kind, table in rows.items():
            unrecorded = sorted(set(table) - seen[kind])
            if unrecorded:
                return 0, f"{kind.replace('_', ' ')} {unrecorded[0]} is not in the record chain (inserted outside the program)"
        for op in self._all("SELECT * FROM operators ORDER BY name"):
            if last_operator.get(op["name"]) != record_payload(op, OPERATOR_FIELDS):
                return 0, f"operator {op['name']} differs from their last recorded change (role, active, ID number or passphrase)"
        return None

    def grant_line_mismatches(self) -> list[sqlite3.Row]:
        """Approved lines whose amount, card or status the grant's own recorded events do not bear out."""
        return self._all(
            """SELECT g.grant_no, g.line_amount, g.card_no, g.status,
                      (SELECT json_extract(e.detail, '$.line_fen') FROM grant_events e
                        WHERE e.grant_id = g.id AND e.action = 'survey' ORDER BY e.id DESC LIMIT 1) AS surveyed_line,
                      (SELECT json_extract(e.detail, '$.card_no') FROM grant_events e
                        WHERE e.grant_id = g.id AND e.action = 'approve' ORDER BY e.id DESC LIMIT 1) AS approved_card
               FROM grants g WHERE g.status IN ('approved', 'frozen', 'closed')
                 AND (surveyed_line IS NOT g.line_amount OR approved_card IS NOT g.card_no)"""
        )

    def audit_entries(self, first: str | None = None, operator: str | None = None) -> list[sqlite3.Row]:
        sql, params = "SELECT * FROM audit_log WHERE 1=1", []
        if first:
            sql += " AND at >= ?"
            params.append(first)
        if operator:
            sql += " AND operator = ?"
            params.append(operator)
        return self._all(sql + " ORDER BY id", params)

    # -- exports (see core/export.py) -----------------------------------------
    REGISTER_SQL = {
        "borrowers": """SELECT b.id_number, b.name, (SELECT group_concat(kind, '|') FROM (SELECT kind FROM borrower_kinds k
                            WHERE k.id_number = b.id_number ORDER BY kind)) AS kinds, b.village, b.settlement_account,
                            b.registered_on, b.registered_by
                        FROM borrowers b WHERE b.registered_on <= :t ORDER BY b.registered_on, b.id_number""",
        "grants": """SELECT g.grant_no, g.borrower_id AS id_number, b.name, g.product, g.status, g.applied_amount, g.applied_on,
                            g.applied_by, g.grade, g.posted_from, g.posted_to, g.village_reviewed_on, g.village_reviewed_by,
                            g.line_amount, g.term_months, g.surveyed_on, g.surveyed_by, g.reviewed_on, g.reviewed_by,
                            g.approved_on, g.approved_by, g.approval_tier, g.approval_exposure, g.rejected_on, g.rejected_by,
                            g.reject_reason, g.contract_no, g.card_no, g.department, g.branch
                     FROM grants g JOIN borrowers b ON b.id_number = g.borrower_id
                     WHERE g.applied_on <= :t AND COALESCE(g.closed_on, :f) >= :f AND COALESCE(g.rejected_on, :f) >= :f
                     ORDER BY g.id""",
        "lines": """SELECT g.card_no, g.contract_no, g.grant_no, g.borrower_id AS id_number, g.product, g.line_amount,
                           g.valid_from, g.valid_to, g.status, g.officer, g.department, g.branch,
                           COALESCE((SELECT SUM(l.debit - l.credit) FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                                     WHERE l.grant_id = g.id AND l.account LIKE '1303.%' AND t.business_date <= :t), 0) AS outstanding
                    FROM grants g WHERE g.approved_on <= :t AND COALESCE(g.closed_on, :f) >= :f ORDER BY g.id""",
        "loan_notes": """SELECT n.note_no, g.card_no, g.borrower_id AS id_number, g.product, n.amount, n.drawn_on, n.maturity,
                                n.annual_rate_percent, n.teller, n.fingerprint_ok, n.txn_id, g.department, g.branch,
                                EXISTS (SELECT 1 FROM txns r WHERE r.reverses = n.txn_id) AS reversed,
                                COALESCE((SELECT SUM(l.debit - l.credit) FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                                          WHERE l.note_id = n.id AND l.account LIKE '1303.%' AND t.business_date <= :t), 0) AS outstanding
                         FROM loan_notes n JOIN grants g ON g.id = n.grant_id
                         WHERE n.drawn_on BETWEEN :f AND :t ORDER BY n.id""",
        "repayments": """SELECT t.id AS txn_id, t.business_date, g.card_no, g.borrower_id AS id_number,
                                SUM(CASE WHEN (l.account = '1001' OR l.account LIKE '1001.%') THEN l.debit ELSE 0 END) AS amount,
                                SUM(CASE WHEN l.account = '1132.penalty' THEN l.credit ELSE 0 END) AS penalty,
                                SUM(CASE WHEN l.account = '1132.due' THEN l.credit ELSE 0 END) AS interest_due,
                                SUM(CASE WHEN l.account = '1132.accrued' THEN l.credit ELSE 0 END) AS interest_accrued,
                                SUM(CASE WHEN l.account LIKE '1303.%' THEN l.credit ELSE 0 END) AS principal,
                                SUM(CASE WHEN l.account = '2241.riskfund' THEN l.credit ELSE 0 END) AS recovery,
                                t.operator, EXISTS (SELECT 1 FROM txns r WHERE r.reverses = t.id) AS reversed, g.department, g.branch
                         FROM txns t JOIN journal_lines l ON l.txn_id = t.id JOIN grants g ON g.id = l.grant_id
                         WHERE t.kind = 'repayment' AND t.business_date BETWEEN :f AND :t
                         GROUP BY t.id ORDER BY t.id""",
        "journal": """SELECT t.id AS txn_id, t.business_date, t.kind, t.operator, t.memo, t.reverses, l.id AS line_id, l.account,
                             l.debit, l.credit, n.note_no, g.card_no, l.officer
                      FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                      LEFT JOIN loan_notes n ON n.id = l.note_id LEFT JOIN grants g ON g.id = l.grant_id
                      WHERE t.business_date BETWEEN :f AND :t ORDER BY t.id, l.id""",
        # pay and refunds by the business date they were posted on, as the journal holds them (issue 17);
        # adjustments carried for earlier periods (补发 / 扣回) are rows of the run that carried them
        "pay": """SELECT * FROM (
                    SELECT p.month, p.officer, p.role, p.surveyed, p.reviewed, p.approved, p.grant_pay, p.interest_collected,
                           p.interest_pay, p.total, p.holdback, p.payable, r.txn_id, r.run_on, '' AS adjusts
                    FROM payroll_lines p JOIN payroll_runs r ON r.month = p.month WHERE r.run_on BETWEEN :f AND :t
                    UNION ALL
                    SELECT a.month, a.officer, COALESCE(o.role, ''), 0, 0, 0, 0, a.interest_collected, a.interest_pay_delta,
                           a.interest_pay_delta, a.holdback, a.payable, r.txn_id, r.run_on, a.for_month
                    FROM pay_adjustments a JOIN payroll_runs r ON r.month = a.month LEFT JOIN operators o ON o.name = a.officer
                    WHERE r.run_on BETWEEN :f AND :t)
                  ORDER BY run_on, month, officer, adjusts""",
        "risk_fund": """SELECT t.business_date, t.id AS txn_id, l.officer, t.kind, l.account, l.credit AS fund_in, l.debit AS fund_out,
                               n.note_no
                        FROM journal_lines l JOIN txns t ON t.id = l.txn_id LEFT JOIN loan_notes n ON n.id = l.note_id
                        WHERE l.account IN ('2241.riskfund', '1221.officer') AND t.business_date BETWEEN :f AND :t
                        ORDER BY t.id, l.id""",
        "year_end": """SELECT * FROM (
                         SELECT y.year, y.officer, y.holdbacks, y.clean, y.reason, y.refund, y.full_settlement, r.txn_id, r.run_on
                         FROM year_end_lines y JOIN year_end_runs r ON r.year = y.year WHERE r.run_on BETWEEN :f AND :t
                         UNION ALL
                         SELECT a.year, a.officer, 0, 1, 'adjustment for ' || a.for_year || ': ' || COALESCE(a.reason, ''),
                                a.refund_delta, 0, r.txn_id, r.run_on
                         FROM year_end_adjustments a JOIN year_end_runs r ON r.year = a.year WHERE r.run_on BETWEEN :f AND :t)
                       ORDER BY run_on, year, officer""",
        "compensation": """SELECT c.on_date, n.note_no, g.card_no, g.borrower_id AS id_number, c.officer, c.amount, c.from_fund,
                                  c.shortfall, c.txn_id, r.id AS reversed_by, g.department, g.branch
                           FROM compensations c JOIN loan_notes n ON n.id = c.note_id JOIN grants g ON g.id = n.grant_id
                           LEFT JOIN txns r ON r.reverses = c.txn_id
                           WHERE c.on_date BETWEEN :f AND :t ORDER BY c.on_date, c.id""",
    }

    def unit_controls(self, first: str, last: str, unit_kind: str) -> dict[str, dict[str, int]]:
        """Per department (or branch): the period's loan notes drawn, repayments taken and compensation paid,
        summed over the same rows the registers list (the audit workbook's per-unit control sheet)."""
        column = {"department": "department", "branch": "branch"}[unit_kind]
        out: dict[str, dict[str, int]] = {}
        for key, sql in (
            ("drawn", f"""SELECT g.{column}, SUM(n.amount) FROM loan_notes n JOIN grants g ON g.id = n.grant_id
                          WHERE n.drawn_on BETWEEN :f AND :t GROUP BY g.{column}"""),
            ("repaid", f"""SELECT g.{column}, SUM(l.debit) FROM txns t JOIN journal_lines l ON l.txn_id = t.id
                           JOIN grants g ON g.id = l.grant_id
                           WHERE t.kind = 'repayment' AND t.business_date BETWEEN :f AND :t
                             AND (l.account = '1001' OR l.account LIKE '1001.%') GROUP BY g.{column}"""),
            ("compensated", f"""SELECT g.{column}, SUM(c.amount) FROM compensations c JOIN loan_notes n ON n.id = c.note_id
                                JOIN grants g ON g.id = n.grant_id WHERE c.on_date BETWEEN :f AND :t GROUP BY g.{column}"""),
        ):
            for unit, fen in self._all(sql, {"f": first, "t": last}):
                out.setdefault(unit, {"drawn": 0, "repaid": 0, "compensated": 0})[key] = fen
        return out

    def register_rows(self, register: str, first: str, last: str) -> Iterator[sqlite3.Row]:
        """Stream a register's rows for a period (deterministic order)."""
        return self.conn.execute(self.REGISTER_SQL[register], {"f": first, "t": last})

    def journal_sum(self, first: str, last: str, *, kinds: tuple[str, ...] | None = None, account_like: str = "%",
                    side: str = "debit") -> int:
        """Σ debit (or credit) of journal lines in a period, optionally for some transaction kinds / accounts."""
        col = {"debit": "l.debit", "credit": "l.credit", "net": "l.debit - l.credit", "net-credit": "l.credit - l.debit"}[side]
        sql = f"""SELECT COALESCE(SUM({col}), 0) FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                  WHERE t.business_date BETWEEN ? AND ? AND l.account LIKE ?"""
        params: list = [first, last, account_like]
        if kinds:
            sql += f" AND t.kind IN ({', '.join('?' for _ in kinds)})"
            params += list(kinds)
        return self._scalar(sql, params)

    def journal_sum_of_txns(self, txn_ids: list[int], account_like: str, side: str = "debit") -> int:
        if not txn_ids:
            return 0
        col = "debit" if side == "debit" else "credit"
        marks = ", ".join("?" for _ in txn_ids)
        return self._scalar(
            f"SELECT COALESCE(SUM({col}), 0) FROM journal_lines WHERE txn_id IN ({marks}) AND account LIKE ?", (*txn_ids, account_like)
        )

    def trial_balance_by_unit(self, as_of: str, unit_kind: str) -> list[sqlite3.Row]:
        """Per unit and account: debit and credit through ``as_of``. A line belongs to the unit of the grant it
        is posted on; a branch's cash (``1001.<branch>``) to that branch; the rest (income per product, pay,
        the funds, the head office's till) to the union itself, ``UNION``."""
        column = {"department": "department", "branch": "branch"}[unit_kind]
        cash = "WHEN l.account LIKE '1001.%' AND l.account != '1001.HO' THEN substr(l.account, 6)" if unit_kind == "branch" else ""
        return self._all(
            f"""SELECT CASE {cash} WHEN g.{column} IS NOT NULL THEN g.{column} ELSE 'UNION' END AS unit,
                       l.account, SUM(l.debit) AS debit, SUM(l.credit) AS credit
                FROM journal_lines l JOIN txns t ON t.id = l.txn_id LEFT JOIN grants g ON g.id = l.grant_id
                WHERE t.business_date <= ? GROUP BY unit, l.account ORDER BY unit, l.account""",
            (as_of,),
        )

    def trial_balance(self, as_of: str) -> list[sqlite3.Row]:
        return self._all(
            """SELECT l.account, SUM(l.debit) AS debit, SUM(l.credit) AS credit FROM journal_lines l JOIN txns t ON t.id = l.txn_id
               WHERE t.business_date <= ? GROUP BY l.account ORDER BY l.account""",
            (as_of,),
        )

    def all_txns(self) -> Iterator[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM txns ORDER BY business_date, id")

    def all_lines_by_txn(self) -> Iterator[sqlite3.Row]:
        return self.conn.execute(
            """SELECT l.txn_id, l.account, l.debit, l.credit FROM journal_lines l JOIN txns t ON t.id = l.txn_id
               ORDER BY t.business_date, t.id, l.id"""
        )

    def accounts_first_used(self) -> list[sqlite3.Row]:
        return self._all(
            """SELECT l.account, MIN(t.business_date) AS first FROM journal_lines l JOIN txns t ON t.id = l.txn_id
               GROUP BY l.account ORDER BY l.account"""
        )

    # -- reports ----------------------------------------------------------------
    def officer_summary(self, loans_prefix: str, fund: str) -> list[sqlite3.Row]:
        """Per loan officer: grants surveyed, principal managed, interest collected, fund balance."""
        return self._all(
            """WITH people AS (SELECT name FROM operators WHERE role = 'officer'),
                    surveyed AS (SELECT surveyed_by AS name, COUNT(*) AS n FROM grants WHERE approved_on IS NOT NULL GROUP BY surveyed_by),
                    managed AS (SELECT COALESCE((SELECT o.officer FROM note_officers o WHERE o.note_id = n.id ORDER BY o.id DESC LIMIT 1),
                                                g.officer) AS name,
                                       (SELECT COALESCE(SUM(l.debit - l.credit), 0) FROM journal_lines l
                                         WHERE l.note_id = n.id AND l.account LIKE ? || '%') AS principal
                                FROM loan_notes n JOIN grants g ON g.id = n.grant_id),
                    collected AS (SELECT l.officer AS name, SUM(l.credit - l.debit) AS fen FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                                  WHERE l.account LIKE '1132.%' AND l.officer IS NOT NULL AND t.kind IN ('repayment', 'reversal')
                                  GROUP BY l.officer),
                    funds AS (SELECT officer AS name, SUM(credit - debit) AS fen FROM journal_lines WHERE account = ? GROUP BY officer)
               SELECT p.name, COALESCE(s.n, 0) AS grants,
                      COALESCE((SELECT SUM(principal) FROM managed m WHERE m.name = p.name), 0) AS managed,
                      COALESCE(c.fen, 0) AS collected, COALESCE(f.fen, 0) AS fund
               FROM people p LEFT JOIN surveyed s ON s.name = p.name LEFT JOIN collected c ON c.name = p.name
               LEFT JOIN funds f ON f.name = p.name ORDER BY p.name""",
            (loans_prefix, fund),
        )

    def first_disbursements(self) -> list[sqlite3.Row]:
        """Every approved grant with its acceptance date and first (unreversed) drawdown date."""
        return self._all(
            """SELECT g.grant_no, g.product, g.borrower_id, g.applied_on, g.approved_on, g.officer, g.department, g.branch,
                      (SELECT MIN(n.drawn_on) FROM loan_notes n WHERE n.grant_id = g.id
                         AND NOT EXISTS (SELECT 1 FROM txns r WHERE r.reverses = n.txn_id)) AS first_drawn
               FROM grants g WHERE g.status IN ('approved', 'frozen', 'closed') ORDER BY g.id"""
        )
