"""SQLite store: connection handling and transactions; the queries live by domain in the sibling
modules (people, journal, chain, checks, dayend, corrections, batches, registers), mixed in here.

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
from typing import Iterable, Iterator

from credit_coop.core.errors import Conflict, LedgerBusy, LedgerUnavailable

# the helpers every part shares, re-exported for the modules that import them from here
from credit_coop.store.common import (  # noqa: F401
    SCHEMA_VERSION, FIXED_META, APPEND_ONLY, GENESIS, chain_hash, TXN_COLUMNS, AUDIT_FIELDS,
    GRANT_EVENT_FIELDS, OPERATOR_FIELDS, record_payload, record_hash, ledger_head, DAY_END_KINDS,
    _DAY_END_KINDS_SQL, _of_grants, _note_components, LINE_COLUMNS, LIVE_COMPENSATIONS, _RECOVERED_ON,
    _RECOVERED, _RECOVERED_TO_DEBT, _Abandon, _now, storage_problem, is_busy,
)
from credit_coop.store.people import PeopleRecords
from credit_coop.store.journal import JournalRecords
from credit_coop.store.chain import ChainRecords
from credit_coop.store.checks import CheckQueries
from credit_coop.store.dayend import DayEndQueries
from credit_coop.store.corrections import CorrectionQueries
from credit_coop.store.batches import BatchQueries
from credit_coop.store.registers import RegisterQueries

BUSY_TIMEOUT_MS = 5000


def as_ledger_error(err: BaseException):
    """A database error a person can act on, as the domain error that says so (busy: 8, a full or read-only
    disk: 9, a constraint: 7); None for anything else, which is a fault to let through. The one place the
    CLI learns what a database error means, so it never imports the driver (issue 12)."""
    if isinstance(err, sqlite3.IntegrityError):
        return Conflict(f"the ledger refused the change as a conflict ({err}); nothing was posted")
    if isinstance(err, sqlite3.OperationalError):
        if is_busy(err):
            return LedgerBusy("the ledger is busy with another posting; please retry")
        problem = storage_problem(err)
        if problem:
            return LedgerUnavailable(problem)
    return None


class Store(PeopleRecords, JournalRecords, ChainRecords, CheckQueries, DayEndQueries, CorrectionQueries, BatchQueries, RegisterQueries):
    """A ledger database. Rows come back as ``sqlite3.Row`` (mapping access)."""

    _META = "SELECT key, value FROM meta"  # the whole table: a few small rows

    def __init__(self, conn: sqlite3.Connection, path: str, meta: dict[str, str] | None = None):
        """``meta``: the table as the opening read it (one round trip on a server for what a command asks first)."""
        self.conn = conn
        self.path = path
        self._depth = 0
        # The audit row of the command being run: written inside its first committed write
        # transaction, so a posting and its audit row land together or not at all (issue 16 §6).
        self.pending_audit: dict | None = None
        self.audit_written = False
        self.read_only = False
        # ``meta`` as read inside the open write transaction (None outside one): nothing else changes it
        # while a write runs — a file has one writer, and a server's counter postings never write it.
        self._meta: dict[str, str | None] | None = None
        self._meta_whole = False  # ...and whether it holds the whole table yet (read at the first key asked)
        self._units: dict[tuple, str | None] | None = None  # likewise the org units asked for (store/people.py)
        # Keys written once, when the ledger was made: read once. The others as the opening read them, each
        # given out once and only until the first transaction (later reads go to the ledger).
        meta = dict(meta or {})
        self._fixed = {k: meta.pop(k) for k in FIXED_META if meta.get(k) is not None}
        self._opened = meta
        self._reading = False

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
            meta = dict(conn.execute(cls._META).fetchall())
        except sqlite3.DatabaseError as e:
            if isinstance(e, sqlite3.OperationalError) and is_busy(e):
                raise LedgerBusy("the ledger is busy with another posting; please retry") from None
            if isinstance(e, sqlite3.OperationalError) and storage_problem(e):
                raise LedgerUnavailable(f"cannot read the ledger at {path}: {storage_problem(e)}") from None
            raise LedgerUnavailable(f"{path} is not a credit-coop ledger ({e})") from None
        if meta.get("schema_version") is None:
            raise LedgerUnavailable(f"{path} is not a credit-coop ledger (no schema version)")
        version = int(meta["schema_version"])
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
        store = cls(conn, path, meta)
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
    def write(self, counter: bool = False) -> Iterator["Store"]:
        """One write transaction (``BEGIN IMMEDIATE``); nested calls join the outer one. ``counter``: a
        drawdown or repayment, which says which line it works on (:meth:`lock`) — on a server it then
        runs beside the other lines' (store/postgres.py); a file has one writer at a time anyway."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._fresh_reads()
        try:
            self._begin(counter)
        except BaseException:
            self._meta = self._units = None
            raise
        self._depth, self._opened = 1, {}
        try:
            yield self
        except _Abandon:
            self._depth = 0
            self._rollback()
            return
        except BaseException:
            self._depth = 0
            self._rollback()
            raise
        finally:
            self._meta = self._units = None
        self._depth = 0
        try:
            if self.pending_audit is not None:
                self._insert_audit({"at": _now(), **self.pending_audit, "result": "ok"})
                self.pending_audit, self.audit_written = None, True
            self._commit()
        except BaseException as e:
            self._rollback()
            if isinstance(e, sqlite3.OperationalError) and is_busy(e):
                raise LedgerBusy("the ledger is busy with another posting; please retry") from None
            raise

    def _commit(self) -> None:
        self.conn.execute("COMMIT")

    def _fresh_reads(self) -> None:
        """What a write transaction remembers of its reads (meta, org units), forgotten: at its start, and
        when a savepoint is undone."""
        self._meta, self._meta_whole, self._units = {}, False, {}

    def lock(self, what: str, key, reading: str | None = None) -> None:
        """Hold ``what`` (a ``line``, a ``request`` id, an ``officer``) until the transaction ends. A file's
        writer already holds everything (``BEGIN IMMEDIATE``): nothing to do here. ``reading``: for a line,
        the posting that will read it (``drawdown``, ``repayment``); a server sends those reads along."""

    def _begin(self, counter: bool = False) -> None:
        """Take the write lock up front (SQLite's one writer), or say why the ledger cannot be written."""
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

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    @contextmanager
    def reading(self) -> Iterator["Store"]:
        """One read transaction: every query inside sees the same state of the ledger (a copy in progress,
        verify while tellers post). Inside another transaction, that one's state."""
        if self._depth or self._reading:
            yield self
            return
        self._begin_reading()
        self._reading, self._opened = True, {}
        try:
            yield self
        finally:
            self._reading = False
            self.conn.execute("COMMIT")

    def _begin_reading(self) -> None:
        self.conn.execute("BEGIN")

    def _stream(self, sql: str, params: Iterable | dict = ()) -> Iterator:
        """The rows of ``sql`` as they come, for walks over the whole journal (not held in memory at once)."""
        return self.conn.execute(sql, self._params(params))

    def after_copy(self, tables: list[str]) -> None:
        """After rows were copied in with their keys (store/copying.py): nothing to do for SQLite."""

    def wait_for_writers(self, ms: int | None = None) -> None:
        """How long a write waits for another writer before it is busy (default: ``BUSY_TIMEOUT_MS``)."""
        self.conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_MS if ms is None else ms)}")

    @contextmanager
    def savepoint(self, name: str = "row") -> Iterator["Store"]:
        """A nested unit inside a write transaction: undone alone if it fails."""
        assert self._depth, "savepoint() must run inside write()"
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield self
        except BaseException:
            self._fresh_reads()  # what the unit wrote to meta or the org's units is undone with it
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

    def _each(self, *queries: tuple[str, Iterable]) -> list[list]:
        """The rows of each ``(sql, params)``, in order (on a server they go together, one round trip)."""
        return [self._all(sql, params) for sql, params in queries]

    def _insert(self, table: str, row: dict) -> int:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        return self.conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(row.values())).lastrowid

    def _append(self, table: str, row: dict) -> None:
        """An insert whose key nobody asks for (on a server it need not wait for the row to come back)."""
        self._insert(table, row)

    # -- meta -------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        if key in self._fixed:
            return self._fixed[key]
        if self._meta is not None:  # in a write: the whole (small) table at the first key asked, then its own
            if not self._meta_whole:
                self._meta = {**dict(self._all(self._META)), **self._meta}
                self._meta_whole = True
            return self._meta.get(key)
        if key in self._opened:
            return self._opened.pop(key)
        value = self._scalar("SELECT value FROM meta WHERE key=?", (key,))
        if key in FIXED_META and value is not None:
            self._fixed[key] = value
        return value

    def set_meta(self, key: str, value: str) -> None:
        self._fixed.pop(key, None)
        self.conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))
        if self._meta is not None:
            self._meta[key] = value

    def delete_meta(self, key: str) -> None:
        self._fixed.pop(key, None)
        self.conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        if self._meta is not None:
            self._meta[key] = None

    def driver_errors(self) -> tuple[type[BaseException], ...]:
        """The database driver's own errors (a lost connection, a full disk), for a step whose failure
        leaves nothing wrong behind (the maintenance mark's take-down)."""
        return (sqlite3.Error,)

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
                    self.delete_meta("maintenance")
            except (LedgerBusy, *self.driver_errors()):
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

    def copy_to(self, dest_path: str) -> None:
        """A consistent copy of the live ledger, page by page while others keep posting, as one self-contained file."""
        dest = sqlite3.connect(dest_path)
        try:
            self.conn.backup(dest)
            dest.execute("PRAGMA journal_mode=DELETE")
        finally:
            dest.close()

    def count_transactions(self) -> int:
        return self._scalar("SELECT COUNT(*) FROM txns")


def copy_file(src_path: str, dest_path: str, *, live: bool = False, step=None) -> None:
    """Copy one ledger file over another through the backup API (under SQLite's locks, so no reader sees a
    half-written file). ``live``: the destination is a ledger in use (it stays in WAL mode), else a
    self-contained copy. ``step``: called between chunks of pages (the copy is one transaction on the
    destination)."""
    src = sqlite3.connect(f"file:{src_path}?mode=ro", uri=True) if live else sqlite3.connect(src_path, timeout=5)
    dest = sqlite3.connect(dest_path, timeout=5)
    try:
        if step is not None:
            src.backup(dest, pages=16, progress=lambda *_: step())
        else:
            src.backup(dest)
        dest.execute(f"PRAGMA journal_mode={'WAL' if live else 'DELETE'}")
    finally:
        src.close()
        dest.close()
