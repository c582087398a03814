"""A whole ledger copied from one store into a new one, either backend (issue 12): a SQLite file into an
empty PostgreSQL database, or a server ledger into a SQLite file (its portable backup).

Every table is copied row for row in the order the tables reference each other, keys included, so the
hash chain, the record chain and the audit log arrive exactly as they were; what the destination's own
creation seeded (schema version, default units) gives way to the source's. ``line_positions`` is not
copied: the destination's trigger rebuilds it from the journal as the lines arrive (and ``verify``
checks it). The source is read in one transaction, so a copy of a ledger in use is one consistent state.
"""

from __future__ import annotations

import re
from itertools import islice

from credit_coop.core.errors import Conflict

SKIP = {"line_positions", "_sqlite_migrations"}
BATCH = 5000


def table_order() -> list[str]:
    """The ledger's tables, each after the tables it references."""
    from credit_coop.store.postgres import schema_ddl

    statements, _ = schema_ddl()
    names = [re.match(r"CREATE TABLE\s+\"?(\w+)", s).group(1) for s in statements if s.startswith("CREATE TABLE")]
    return [n for n in names if n not in SKIP]


def columns(store, table: str) -> list[str]:
    cur = store.conn.execute(f"SELECT * FROM {table} LIMIT 0")
    return [d[0] for d in cur.description]


def copy_ledger(src, dest, step=None) -> dict:
    """Copy every row of ``src`` (an open store) into ``dest`` (a store just created, empty but for its seeds).
    Returns rows copied per table. ``step``: called after each batch of rows (the copy is one transaction)."""
    if dest.count_transactions():
        raise Conflict("the copy's destination already holds postings; a ledger is copied only into a new one")
    copied = {}
    tables = table_order()
    with src.reading(), dest.write():
        for table in ("meta", "org_units"):  # the destination's own seeds give way to the source's rows
            dest.conn.execute(f"DELETE FROM {table}")
        for table in tables:
            cols = columns(src, table)
            key = "key" if table == "meta" else cols[0]
            rows = src._stream(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {key}")
            insert = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
            n = 0
            while chunk := [tuple(r) for r in islice(rows, BATCH)]:
                dest.conn.executemany(insert, chunk)
                n += len(chunk)
                if step is not None:
                    step()
            copied[table] = n
        dest.after_copy(tables)
    return copied
