"""PostgreSQL store (issue 12): one ledger on a database server, shared by many branch counters.

The same query modules as the SQLite store (people, journal, chain, checks, dayend, corrections,
batches, registers) run here: their SQL is written once, in the dialect both understand, and the
few SQLite spellings left are translated as each statement is first run (:func:`translate`):
``?`` and ``:name`` placeholders, ``IS NOT`` between values, ``group_concat``, ``temp.`` tables,
``CROSS JOIN … ON``.
The schema is the SQLite schema's tables and indexes with PostgreSQL types (:func:`schema_ddl`),
text compared byte-wise (``COLLATE "C"``, as SQLite does), two SQL functions SQLite has built in
(``julianday``, ``date(d, '+N day')``) and the guards as trigger functions.

The concurrency contract (transaction-scoped advisory locks, released at commit or rollback):
- every write first takes the ledger lock: **exclusive** for everything but the counter (the day-end,
  batches, grants, corrections, imports, operators — SQLite's ``BEGIN IMMEDIATE``), **shared** for a
  drawdown or repayment, so tellers on different lines post side by side;
- a counter posting then holds its **line** (availability check and insert, the note's balances, the
  line's order of business dates), its **request id** (a retry racing itself posts once), an
  **officer** whose debt a recovery repays, and from the moment it numbers a note or opens its
  transaction until it commits, the **chain** (transaction ids, note numbers and both hash chains are
  taken and linked in one order: the short critical section every writer passes through); a write
  that holds the ledger exclusively takes none of these (nobody else can write beside it, and a large
  import would otherwise hold a lock per row, past the server's lock table);
- a lock not granted within ``lock_timeout`` is "busy, retry" (exit 8); a client killed mid-command
  leaves nothing (the server rolls its transaction back).

The driver (psycopg 3) comes with ``pip install 'credit-coop[postgres]'`` and is imported only here.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Iterable, Iterator

from credit_coop.core.errors import Conflict, LedgerBusy, LedgerUnavailable
from credit_coop.store import shown
from credit_coop.store import sqlite as _sqlite
from credit_coop.store.common import as_hashed_text, AUDIT_FIELDS, GENESIS, LINE_COLUMNS, record_payload, SCHEMA_VERSION, TXN_COLUMNS
from credit_coop.store.journal import txn_row
from credit_coop.store.sqlite import Store

LEDGER_LOCK = 0x6372656469  # the advisory lock every write takes ("credi")


def _driver():
    try:
        import psycopg
    except ImportError:
        raise LedgerUnavailable(
            "a postgresql:// ledger needs the PostgreSQL driver: pip install 'credit-coop[postgres]'"
        ) from None
    return psycopg


# -- a connection made ahead (a resident process's spare, credit_coop/resident.py) -------------------
_ahead: dict[str, object] = {}


def connect_ahead(url: str) -> None:
    """Connect to ``url`` now, for a command this process will run later, and have the server load its
    catalog for every table of the ledger (a new connection's first look at each costs the command a few
    milliseconds). ``PgStore`` takes it when it opens ``url``; one dropped meanwhile is replaced."""
    psycopg = _driver()
    raw = psycopg.connect(url, autocommit=True, connect_timeout=10)
    tables = [r[0] for r in raw.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename").fetchall()]
    with raw.pipeline():
        for table in tables:
            raw.execute(f'SELECT * FROM "{table}" LIMIT 0')
    _ahead[url] = raw


def let_go_ahead() -> None:
    """Close the connections made ahead (the spare was let go)."""
    while _ahead:
        _ahead.popitem()[1].close()


# -- SQL: the SQLite spelling, translated once per statement ---------------------------------------
_LITERAL = re.compile(r"('(?:[^']|'')*')")
_cache: dict[str, str] = {}


_NOT_ALIAS = {"WHERE", "GROUP", "ORDER", "UNION", "EXCEPT", "INTERSECT", "LIMIT", "JOIN", "LEFT", "INNER", "CROSS", "ON",
              "HAVING", "WINDOW", "OFFSET", ""}


def _alias_derived_tables(sql: str) -> str:
    """SQLite lets a subquery in FROM go without a name; PostgreSQL 15 does not: give each one."""
    out, stack, n, i = [], [], 0, 0
    while i < len(sql):
        ch = sql[i]
        if ch == "'":
            j = sql.index("'", i + 1)
            while j + 1 < len(sql) and sql[j + 1] == "'":
                j = sql.index("'", j + 2)
            out.append(sql[i:j + 1])
            i = j + 1
            continue
        if ch == "(":
            before = "".join(out).rstrip().upper()
            stack.append(before.endswith(("FROM", "JOIN")))
        elif ch == ")" and stack:
            derived = stack.pop()
            out.append(ch)
            i += 1
            if derived:
                rest = sql[i:].lstrip()
                word = re.match(r"[A-Za-z_]*", rest).group(0).upper()
                if word in _NOT_ALIAS:
                    n += 1
                    out.append(f" AS derived_{n}")
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def translate(sql: str) -> str:
    """A statement written for SQLite, as PostgreSQL (psycopg) takes it."""
    out = _cache.get(sql)
    if out is not None:
        return out
    parts = _LITERAL.split(_alias_derived_tables(sql) if "(" in sql else sql)
    for i, part in enumerate(parts):
        part = part.replace("%", "%%")
        if i % 2 == 0:  # outside string literals
            part = part.replace("?", "%s")
            part = re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", r"%(\1)s", part)
            part = re.sub(r"\bIS NOT (?!NULL\b|DISTINCT\b)", "IS DISTINCT FROM ", part)
            part = re.sub(r"\bgroup_concat\(", "string_agg(", part)
            part = re.sub(r"\btemp\.", "pg_temp.", part)
            part = re.sub(r"\bCROSS JOIN (\w+ \w+ ON)\b", r"JOIN \1", part)  # SQLite's way to fix the join order
        parts[i] = part
    out = _cache[sql] = "".join(parts)
    return out


def _param(v):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, date):
        return v.isoformat()
    return v


def _params(params):
    if isinstance(params, dict):
        return {k: _param(v) for k, v in params.items()}
    return tuple(_param(v) for v in params)


def _value(v):
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, bool):
        return int(v)
    return v


class Row:
    """A result row read like ``sqlite3.Row``: by column name or position, ``keys()``, iteration."""

    __slots__ = ("_values", "_index")

    def __init__(self, values: tuple, index: dict[str, int]):
        self._values = values
        self._index = index

    def __getitem__(self, key):
        return self._values[self._index[key]] if isinstance(key, str) else self._values[key]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other) -> bool:
        return tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values))})"


def _names(cursor) -> list[str]:
    """A psycopg cursor's column names (none before its result is in)."""
    return [c.name for c in cursor.description or ()]


def _rows(cursor):
    index = {n: i for i, n in enumerate(_names(cursor))}

    def make(values):
        return Row(tuple(_value(v) for v in values), index)

    return make


class Cursor:
    def __init__(self, cur):
        self._cur = cur

    def _fetch(self, how: str, none):
        # the fetch itself waits for a pipelined statement's result; a statement without rows gives ``none``
        try:
            return getattr(self._cur, how)()
        except _driver().ProgrammingError:  # "the last operation didn't produce records"
            return none

    def fetchone(self):
        return self._fetch("fetchone", None)

    def fetchall(self):
        return self._fetch("fetchall", [])

    def __iter__(self):
        return self

    def __next__(self):
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    @property
    def description(self):
        return [(name,) for name in _names(self._cur)]

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount


class _Stream:
    """A server-side cursor's rows, a batch at a time; closed once read to the end."""

    def __init__(self, cur):
        self._cur = cur
        self._rows = iter(cur)  # FETCH ``itersize`` rows at a time (fetchone would fetch them one by one)
        self.description = [(name,) for name in _names(cur)]

    def __iter__(self) -> "_Stream":
        return self

    def __next__(self):
        if self._cur.closed:
            raise StopIteration
        try:
            return next(self._rows)
        except StopIteration:
            self._cur.close()
            raise


def _read_key(sql: str, params) -> tuple:
    return sql, tuple(sorted(params.items())) if isinstance(params, dict) else tuple(params)


class Connection:
    """The part of ``sqlite3.Connection`` the query modules use, over a psycopg connection."""

    def __init__(self, conn):
        self.raw = conn
        # Reads sent ahead with a line's lock (PgStore.lock), by statement and parameters: each is given out
        # once, and all are dropped at the first statement that is not a SELECT (this transaction's own writes
        # would make them stale) and when the transaction ends.
        self.ahead: dict[tuple, Cursor] = {}

    def execute(self, sql: str, params: Iterable | dict = ()) -> Cursor:
        if self.ahead:
            cur = self.ahead.pop(_read_key(sql, params), None)
            if cur is not None:
                return cur
            if sql.lstrip()[:6].upper() != "SELECT":
                self.ahead.clear()
        return self.send(sql, params)

    def send(self, sql: str, params: Iterable | dict = ()) -> Cursor:
        """The statement itself, to the server (in pipeline mode, without waiting for its result)."""
        cur = self.raw.cursor(row_factory=_rows)
        cur.execute(translate(sql), _params(params))
        return Cursor(cur)

    def executemany(self, sql: str, rows) -> Cursor:
        cur = self.raw.cursor(row_factory=_rows)
        rows = [_params(r) for r in rows]
        if rows:
            cur.executemany(translate(sql), rows)
        return Cursor(cur)

    def close(self) -> None:
        self.raw.close()


# -- schema ----------------------------------------------------------------------------------------
_FUNCTIONS = [
    # SQLite's own date arithmetic, which the day-end's SQL uses
    """CREATE FUNCTION julianday(d text) RETURNS double precision IMMUTABLE LANGUAGE sql
       AS $$ SELECT (CAST(d AS date) - DATE '2000-01-01') + 2451544.5 $$""",
    """CREATE FUNCTION date(d text, modifier text) RETURNS text IMMUTABLE LANGUAGE sql
       AS $$ SELECT to_char(CAST(d AS date) + CAST(regexp_replace(modifier, '[^0-9-]', '', 'g') AS integer), 'YYYY-MM-DD') $$""",
    """CREATE FUNCTION json_extract(d text, path text) RETURNS text IMMUTABLE LANGUAGE sql
       AS $$ SELECT (d::jsonb) #>> string_to_array(substr(path, 3), '.') $$""",
    """CREATE FUNCTION credit_coop_posted() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION '% rows are posted and never changed; post a reversal', TG_TABLE_NAME; END $$""",
    """CREATE FUNCTION credit_coop_line_position() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.grant_id IS NOT NULL AND NEW.account LIKE '1303.%' THEN
           INSERT INTO line_positions(grant_id, principal) VALUES (NEW.grant_id, NEW.debit - NEW.credit)
           ON CONFLICT(grant_id) DO UPDATE SET principal = line_positions.principal + NEW.debit - NEW.credit;
         END IF;
         IF NEW.grant_id IS NOT NULL AND (NEW.account = '1001' OR NEW.account LIKE '1001.%') THEN
           INSERT INTO line_positions(grant_id, last_counter_date)
             VALUES (NEW.grant_id, (SELECT business_date FROM txns WHERE id = NEW.txn_id))
           ON CONFLICT(grant_id) DO UPDATE SET last_counter_date =
             GREATEST(COALESCE(line_positions.last_counter_date, ''), (SELECT business_date FROM txns WHERE id = NEW.txn_id));
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER line_positions AFTER INSERT ON journal_lines FOR EACH ROW EXECUTE FUNCTION credit_coop_line_position()""",
]


# Rows rewritten in place all day: every live note's state by each day-end, a line's position by each
# counter posting. Half of each page is left free, so the server writes the new version beside the old
# one without touching the indexes (a "HOT" update): the day-end over 10,000 notes went from 0.12–0.33 s
# a day to 0.04–0.06 s.
_STORAGE = ["ALTER TABLE note_state SET (fillfactor = 50)", "ALTER TABLE line_positions SET (fillfactor = 50)"]


def guard_name(table: str, verb: str) -> str:
    return f"{table}_no_{verb.lower()}"


def _guards(tables: Iterable[str]) -> list[str]:
    return [f"CREATE TRIGGER {guard_name(t, v)} BEFORE {v} ON {t} FOR EACH ROW EXECUTE FUNCTION credit_coop_posted()"
            for t in tables for v in ("UPDATE", "DELETE")]


def _column_types(ddl: str) -> str:
    ddl = re.sub(r"\bINTEGER PRIMARY KEY\b(?!\s*REFERENCES)", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", ddl)
    ddl = re.sub(r"\bINTEGER\b", "BIGINT", ddl)
    ddl = re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', ddl)
    return ddl


@lru_cache(maxsize=1)
def schema_ddl() -> tuple[list[str], list[tuple[str, list[str], list]]]:
    """The current schema as PostgreSQL statements, taken from a new SQLite ledger's tables and indexes
    (one definition of the schema: ``schema.py``), and the rows a new ledger starts with (schema version,
    the default department and branch) per table. Made once per process (a restore and its copy both ask)."""
    import sqlite3
    import tempfile

    from credit_coop.store import schema

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "schema.db")
        schema.create(path)
        db = sqlite3.connect(path)
        try:
            objects = db.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL AND type IN ('table', 'index') "
                "ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, rowid").fetchall()
            seed = [(name, [c[1] for c in db.execute(f"PRAGMA table_info({name})")],
                     db.execute(f"SELECT * FROM {name}" + (" WHERE key != 'ledger_id'" if name == "meta" else "")).fetchall())
                    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%sqlite%'")]
        finally:
            db.close()
    # (sqlite-utils keeps its migrations in a table of its own, left out here)
    tables = {name: sql for kind, name, _, sql in objects if kind == "table" and not name.startswith(("sqlite_", "_sqlite"))}
    ordered: list[str] = []

    def place(name: str) -> None:  # a table after the tables it references (columns added later included)
        if name in ordered or name not in tables:
            return
        for ref in re.findall(r"REFERENCES\s+\"?(\w+)", tables[name]):
            if ref != name:
                place(ref)
        if name not in ordered:
            ordered.append(name)

    for name in tables:
        place(name)
    statements = [_column_types(tables[name]) for name in ordered]
    statements += [sql for kind, _, table, sql in objects if kind == "index" and table in tables]
    return statements, [(t, cols, rows) for t, cols, rows in seed if rows]


def _install_schema(raw) -> None:
    """Tables, indexes, functions, the rows a new ledger starts with, and the guards (inside the caller's transaction)."""
    from credit_coop.store.common import APPEND_ONLY

    statements, seed = schema_ddl()
    for stmt in statements + _STORAGE + _FUNCTIONS:
        raw.execute(stmt)
    for table, cols, rows in seed:
        marks = ", ".join("%s" for _ in cols)
        raw.cursor().executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)
    for stmt in _guards(APPEND_ONLY):
        raw.execute(stmt)


class PgStore(Store):
    """A ledger in a PostgreSQL database (see the module docstring)."""

    def __init__(self, conn: Connection, url: str, meta: dict[str, str] | None = None):
        super().__init__(conn, shown(url), meta)
        self.url = url
        self._holding: set[tuple[str, str]] = set()  # advisory locks this transaction holds (released at its end)
        # The transaction holds the ledger exclusively: no finer lock is needed, and none is taken (an import of
        # 100,000 rows would otherwise hold a lock per line and request, past the server's lock table).
        self._exclusive = False
        self._pipeline = None  # a counter posting's pipeline, from taking the chain until it commits
        self._txn_id = None
        self._streams = 0  # server-side cursors opened (each is named after its number)
        self._opened_ledger = meta is not None  # opened as a ledger (not a database being made into one)

    def driver_errors(self) -> tuple[type[BaseException], ...]:
        import psycopg

        return (psycopg.Error,)

    # -- opening ----------------------------------------------------------
    _SETTINGS = f"SET lock_timeout = {_sqlite.BUSY_TIMEOUT_MS}"

    @classmethod
    def _connect(cls, url: str, settle: bool = True):
        """A connection to ``url``; ``settle``: its session's settings sent now (else with the caller's first
        statement, in one round trip). One made ahead for ``url`` in this process is taken first."""
        psycopg = _driver()
        raw = _ahead.pop(url, None)
        if raw is None or raw.closed:
            try:
                raw = psycopg.connect(url, autocommit=True, connect_timeout=10)
            except psycopg.OperationalError as e:
                first = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
                raise LedgerUnavailable(f"cannot reach the ledger at {shown(url)}: {first}") from None
        if settle:
            raw.execute(cls._SETTINGS)
        return Connection(raw)

    @classmethod
    def create(cls, url: str) -> "PgStore":
        """Create the schema in an existing, empty database (the DBA creates database and role)."""
        import uuid

        conn = cls._connect(url)
        try:
            used = conn.execute(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()").fetchone()[0]
            if used:
                raise Conflict(f"the database at {shown(url)} is not empty ({used} tables); "
                               "a ledger is created only in an empty database")
            raw = conn.raw
            with raw.transaction():
                _install_schema(raw)
                raw.execute("INSERT INTO meta(key, value) VALUES ('ledger_id', %s) ON CONFLICT (key) DO NOTHING",
                            (uuid.uuid4().hex,))
        except BaseException:
            conn.close()
            raise
        conn.close()
        return cls.open(url)

    @classmethod
    def replace(cls, url: str, src: Store, step=None) -> dict:
        """The server ledger at ``url`` becomes a copy of ``src`` (a restore), in one transaction: whatever was
        there is dropped, the schema made again and every row copied, or nothing changes at all."""
        from credit_coop.store.copying import copy_ledger

        store = cls(cls._connect(url), url)
        try:
            with store.write():
                store.conn.raw.execute("DROP SCHEMA IF EXISTS public CASCADE")
                store.conn.raw.execute("CREATE SCHEMA public")
                _install_schema(store.conn.raw)
                return copy_ledger(src, store, step)
        finally:
            store.close()

    @staticmethod
    def remove(url: str) -> None:
        """A ledger that was never finished: its tables go (the database stays, the DBA's)."""
        try:
            conn = PgStore._connect(url)
        except LedgerUnavailable:
            return
        try:
            conn.raw.execute("DROP SCHEMA IF EXISTS public CASCADE")
            conn.raw.execute("CREATE SCHEMA public")
        finally:
            conn.close()

    @classmethod
    def open(cls, url: str) -> "PgStore":
        psycopg = _driver()
        import logging

        while True:
            made_ahead = url in _ahead
            conn = cls._connect(url, settle=False)
            driver_log = logging.getLogger("psycopg")
            driver_log.disabled = made_ahead  # a lost connection made ahead is replaced below, not a warning
            try:
                with conn.raw.pipeline():  # the settings and the whole (small) meta table: one round trip
                    conn.raw.execute(cls._SETTINGS)
                    cur = conn.execute(cls._META)
                meta = dict(cur.fetchall())
                break
            except psycopg.Error as e:
                conn.close()
                if made_ahead and isinstance(e, psycopg.OperationalError):
                    continue  # the connection made ahead was dropped meanwhile (a server restart): a new one
                raise LedgerUnavailable(f"the database at {shown(url)} holds no credit-coop ledger; "
                                        "create one with `credit-coop init`") from None
            finally:
                driver_log.disabled = False
        if meta.get("schema_version") is None:
            conn.close()
            raise LedgerUnavailable(f"the database at {shown(url)} is not a credit-coop ledger (no schema version)")
        version = int(meta["schema_version"])
        if version != SCHEMA_VERSION:
            conn.close()
            if version > SCHEMA_VERSION:
                raise LedgerUnavailable(f"the ledger at {shown(url)} was written by a newer credit-coop (schema {version}, "
                                        f"this one knows {SCHEMA_VERSION}); upgrade credit-coop")
            raise LedgerUnavailable(f"the ledger at {shown(url)} is schema {version}, this credit-coop knows {SCHEMA_VERSION}: "
                                    "copy it to a file, open the file to upgrade it, and copy it back")
        return cls(conn, url, meta)

    # -- transactions -----------------------------------------------------
    def _begin(self, counter: bool = False) -> None:
        """BEGIN, then the ledger's advisory lock: shared for a counter posting, else exclusive (see the
        module docstring). BEGIN and a first try for the lock go together (one round trip); only when the
        ledger is held does the posting ask why: a long batch is named at once, anything else waited for."""
        psycopg = _driver()
        raw = self.conn.raw
        shared = "_shared" if counter else ""
        self._holding = set()
        self._txn_id = None  # the transaction's id, when taken with its note's number (next_id)
        self._exclusive = not counter
        notice = None
        with raw.pipeline():
            raw.execute("BEGIN")
            got = raw.execute(f"SELECT pg_try_advisory_xact_lock{shared}(%s)", (LEDGER_LOCK,))
            meta = self.conn.send(self._META) if self._opened_ledger else None
        try:
            if got.fetchone()[0]:  # held: meta as this transaction will find it (only a whole-ledger write changes it)
                if meta is not None:
                    self._meta, self._meta_whole = dict(meta.fetchall()), True
            else:
                notice = self.maintenance_notice()  # a long batch holds the ledger: say so at once
                if notice:
                    raise psycopg.errors.LockNotAvailable()
                raw.execute(f"SELECT pg_advisory_xact_lock{shared}(%s)", (LEDGER_LOCK,))
        except psycopg.errors.LockNotAvailable:
            raw.execute("ROLLBACK")
            raise LedgerBusy(f"the ledger is busy: {notice}; please retry after it" if notice
                             else "the ledger is busy with another posting; please retry") from None
        except BaseException:
            raw.execute("ROLLBACK")
            raise

    def _rollback(self) -> None:
        self.conn.ahead.clear()
        if self.conn.raw.closed:
            return
        if self._pipeline is not None:
            try:
                self._leave_pipeline()
            except _driver().Error:
                pass  # the statement that failed is why we roll back
        self.conn.raw.execute("ROLLBACK")

    def _commit(self) -> None:
        self.conn.ahead.clear()
        self.conn.raw.execute("COMMIT")
        if self._pipeline is not None:
            self._leave_pipeline()  # the statements sent since the chain was taken, and COMMIT: one round trip

    def _leave_pipeline(self) -> None:
        pipeline, self._pipeline = self._pipeline, None
        pipeline.__exit__(None, None, None)

    _LOCKS = {"line": 1, "request": 2, "chain": 3, "officer": 4}

    def lock(self, what: str, key, reading: str | None = None) -> None:
        """Hold ``what`` until the transaction ends (an advisory lock in its own key space). Counter postings
        share the ledger lock, so each takes these for what it reads and writes; a write holding the whole
        ledger needs none. A line's lock carries the reads its posting (``reading``) makes of the line."""
        self._locked(what, key, ahead=self._line_reads(int(key), reading) if reading else ())

    def _line_reads(self, grant_id: int, reading: str) -> list[tuple[str, tuple | dict]]:
        """What a drawdown or repayment reads of its line once it holds it (core/loans.py): sent with the lock,
        in the same round trip. Holding the line and sharing the ledger, nobody else can change these before
        the posting reads them; its own first write drops what it has not read yet (``Connection.ahead``)."""
        from credit_coop.core import accounts

        reads = [self._query_latest_counter_date([grant_id]),
                 self._query_compensations_for_grant(grant_id, accounts.RISK_FUND, accounts.OFFICER_DEBT)]
        if reading == "drawdown":
            return reads + [self._query_past_due_notes(grant_id), self._query_line_principal(grant_id)]
        return reads + [self._query_note_receivables(grant_id, self.closed_through() or ""),
                        self._query_notes_for_grant(grant_id)]

    def _fresh_reads(self) -> None:
        super()._fresh_reads()
        self.conn.ahead.clear()

    def _locked(self, what: str, key, sql: str | None = None, params: tuple = (), fetch: bool = True, ahead=()):
        """The first row of ``sql`` run with ``what`` held (with ``fetch``; else nothing, and nothing waited
        for). The lock and the statement go to the server together, in one round trip (the statement starts
        once the lock is granted, and reads what the last holder committed). A lock this transaction already
        holds is not asked for again.

        A counter posting that takes the **chain** stays in pipeline mode until it commits: what it writes
        from then on (its lines, the chain links, the note, the audit row) goes to the server without
        waiting for each statement, and COMMIT with them, so the section every posting passes through one
        at a time is a few round trips whatever the distance to the server."""
        held = (what, str(key))
        raw = self.conn.raw
        if self._exclusive or held in self._holding:  # holding the whole ledger holds all of it
            return self._first(sql, params, fetch)
        psycopg = _driver()
        lock = ("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (self._LOCKS[what], str(key)))
        try:
            if what == "chain":
                self._pipeline = raw.pipeline()
                self._pipeline.__enter__()
                raw.execute(*lock)
                out = self._first(sql, params, fetch)
            else:
                with raw.pipeline():
                    raw.execute(*lock)
                    cur = None if sql is None else self.conn.execute(sql, params)
                    sent = [(_read_key(s, p), self.conn.send(s, p)) for s, p in ahead]
                out = None if cur is None or not fetch else cur.fetchone()
                self.conn.ahead.update(sent)
        except psycopg.errors.LockNotAvailable:
            raise LedgerBusy("the ledger is busy with another posting; please retry") from None
        self._holding.add(held)
        return out

    def _each(self, *queries: tuple[str, Iterable]) -> list[list]:
        if self._pipeline is not None:  # already sending without waiting (the chain's section)
            return super()._each(*queries)
        with self.conn.raw.pipeline():
            cursors = [self.conn.execute(sql, params) for sql, params in queries]
        return [c.fetchall() for c in cursors]

    def _first(self, sql: str | None, params: tuple, fetch: bool):
        if sql is None:
            return None
        cur = self.conn.execute(sql, params)
        return cur.fetchone() if fetch else None

    # The hash chains are appended in the order of their keys: a transaction's id, a note's number and a
    # record's place are taken, and its link written, by one writer at a time, until it commits.
    def insert_txn(self, kind: str, business_date: str, operator: str, memo: str | None, reverses: int | None) -> int:
        row = txn_row(kind, business_date, operator, memo, reverses)
        if self._txn_id is None:
            return self._locked("chain", 0, *self._insert_statement("txns", row))["id"]
        row, self._txn_id = {"id": self._txn_id, **row}, None  # numbered with the note: nothing to wait for
        self._locked("chain", 0, *self._insert_statement("txns", row), fetch=False)
        return row["id"]

    # Both chains' links are worked out by the server in the statement that writes them (the same SHA-256
    # over the same text as chain_hash and record_hash), so a link costs one round trip inside the chain's
    # critical section.
    _RECORD_LINK = """INSERT INTO record_chain(kind, ref, payload, prev_hash, hash)
        SELECT {kind}, {ref}, ?, p.prev, encode(sha256(convert_to(p.prev || '|' || {kind} || '|' || COALESCE(CAST({ref} AS TEXT), '')
                                                             || '|' || ?, 'UTF8')), 'hex')
        FROM {source}(SELECT COALESCE((SELECT hash FROM record_chain ORDER BY seq DESC LIMIT 1), ?) AS prev) p RETURNING hash"""

    def chain_record(self, kind: str, ref: int | None, payload: str) -> None:
        self._locked("chain", 0, self._RECORD_LINK.format(kind="CAST(? AS TEXT)", ref="CAST(? AS BIGINT)", source=""),
                     (kind, ref, payload, kind, ref, payload, GENESIS), fetch=False)

    def _insert_audit(self, row: dict) -> None:
        """The audit row and its record-chain link in one statement (every command writes one, at commit)."""
        sql, params = self._insert_statement("audit_log", row, returning="id")
        payload = record_payload(row, AUDIT_FIELDS)
        self._locked("chain", 0, f"WITH a AS ({sql}) " + self._RECORD_LINK.format(kind="'audit'", ref="a.id", source="a, "),
                     (*params, payload, payload, GENESIS), fetch=False)

    def next_id(self, table: str) -> int:
        """The next key of ``table``. At the counter (a drawdown's note) the transaction's id that follows is
        taken in the same round trip, with the chain's lock: the chain's section is then two round trips."""
        if self._exclusive:
            return super().next_id(table)
        row = self._locked("chain", 0, f"SELECT COALESCE(MAX(id), 0) + 1, nextval(pg_get_serial_sequence('txns', 'id')) FROM {table}")
        self._txn_id = row[1]
        return row[0]

    @staticmethod
    def _insert_statement(table: str, row: dict, returning: str = "*") -> tuple[str, tuple]:
        marks = ", ".join("?" for _ in row)
        return f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks}) RETURNING {returning}", tuple(row.values())

    def _insert(self, table: str, row: dict) -> int:
        cur = self.conn.execute(*self._insert_statement(table, row))
        if "id" in row:  # a key the caller chose (a note's number): nothing to wait for
            return row["id"]
        r = cur.fetchone()
        return r["id"] if "id" in r.keys() else 0

    def _append(self, table: str, row: dict) -> None:
        self.conn.execute(*self._insert_statement(table, row))

    def seal(self, txn_id: int) -> None:
        """The chain link, worked out by the server in the one statement that writes it: the same SHA-256
        over the same text as :func:`credit_coop.store.common.chain_hash` (and verify's walk), without
        reading the transaction back first, and without waiting for it (store/postgres.py: the chain's pipeline)."""
        self.conn.execute(
            f"""INSERT INTO txn_chain(txn_id, prev_hash, hash)
                SELECT t.id, p.prev, encode(sha256(convert_to(
                         p.prev || {as_hashed_text(TXN_COLUMNS, "t")} || chr(10)
                         || COALESCE((SELECT string_agg({as_hashed_text(LINE_COLUMNS, "l")} || chr(10), '' ORDER BY l.id)
                                      FROM journal_lines l WHERE l.txn_id = t.id), ''), 'UTF8')), 'hex')
                FROM txns t, (SELECT COALESCE((SELECT hash FROM txn_chain ORDER BY txn_id DESC LIMIT 1), ?) AS prev) p
                WHERE t.id = ? RETURNING hash""",
            (GENESIS, txn_id))

    # -- what differs from SQLite beyond the SQL ------------------------------------------------
    @contextmanager
    def replay_state(self) -> Iterator["PgStore"]:
        self.conn.execute("DROP TABLE IF EXISTS pg_temp.replay_state")
        self.conn.execute("CREATE TEMP TABLE replay_state (LIKE note_state INCLUDING DEFAULTS)")
        self.state = "replay_state"
        try:
            yield self
        finally:
            del self.state
            self.conn.execute("DROP TABLE IF EXISTS pg_temp.replay_state")

    def missing_guards(self) -> list[str]:
        from credit_coop.store.common import APPEND_ONLY

        have = {r[0]: r[1] for r in self._all(
            """SELECT t.tgname, p.proname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
               WHERE NOT t.tgisinternal AND t.tgenabled != 'D'""")}
        return [name if name not in have else f"{name} (its definition was replaced)"
                for t in APPEND_ONLY for name in (guard_name(t, "UPDATE"), guard_name(t, "DELETE"))
                if have.get(name) != "credit_coop_posted"]

    def _begin_reading(self) -> None:
        # one snapshot for the whole read; not READ ONLY: verify's replay fills a temporary table
        self.conn.raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")

    def _stream(self, sql: str, params: Iterable | dict = ()) -> Iterator:
        """A server-side cursor, fetched a batch at a time, so a walk over the whole journal of a large pool
        does not hold it in the client's memory. Outside a transaction the server keeps the result (WITH HOLD)."""
        raw = self.conn.raw
        self._streams += 1
        cur = raw.cursor(name=f"stream_{self._streams}", row_factory=_rows, withhold=not (self._depth or self._reading))
        cur.itersize = 5000
        cur.execute(translate(sql), _params(params))
        return _Stream(cur)

    def after_copy(self, tables: list[str]) -> None:
        """Rows came in with their keys: each generated key carries on after the highest copied."""
        for table, column in self._all(
                """SELECT table_name, column_name FROM information_schema.columns
                   WHERE table_schema = current_schema() AND is_identity = 'YES'"""):
            self.conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                              f"COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)")

    def wait_for_writers(self, ms: int | None = None) -> None:
        self.conn.raw.execute(f"SET lock_timeout = {int(_sqlite.BUSY_TIMEOUT_MS if ms is None else ms)}")

    def copy_to(self, dest_path: str) -> None:
        """The whole ledger as one self-contained SQLite file (a backup; ``dest_path`` may exist, empty)."""
        from credit_coop.store.copying import copy_ledger

        if os.path.exists(dest_path) and os.path.getsize(dest_path) == 0:
            os.remove(dest_path)
        dest = Store.create(dest_path)
        try:
            copy_ledger(self, dest)
        finally:
            dest.close()


def as_ledger_error(err: BaseException):
    """A server error a person can act on, as the domain error that says so."""
    try:
        import psycopg
    except ImportError:
        return None
    if isinstance(err, (psycopg.errors.IntegrityError, psycopg.errors.RaiseException)):
        return Conflict(f"the ledger refused the change as a conflict ({str(err).splitlines()[0]}); nothing was posted")
    if isinstance(err, psycopg.errors.LockNotAvailable):
        return LedgerBusy("the ledger is busy with another posting; please retry")
    if isinstance(err, psycopg.OperationalError):
        return LedgerUnavailable(f"the ledger server could not be used: {str(err).strip().splitlines()[-1]}")
    return None
