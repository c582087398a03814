"""The one place SQL lives. Core modules call :class:`Store` methods; a
provincial union moving to PostgreSQL replaces this package, not the core.

The counter path opens the ledger with the stdlib ``sqlite3`` module only;
``sqlite_utils`` is imported by :mod:`credit_coop.store.schema` when a ledger
is created or migrated.
"""

import sys

from credit_coop.store.sqlite import SCHEMA_VERSION, Store


def is_url(path) -> bool:
    """A server ledger's location (``postgresql://…``), not a file."""
    return isinstance(path, str) and path.startswith(("postgresql://", "postgres://"))


def shown(path: str) -> str:
    """A ledger location as it may be printed: a URL's password never is."""
    import re

    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", path) if is_url(path) else path


def _kind(path: str):
    """The store for a ledger location: a ``postgresql://`` URL is a server ledger (issue 12), anything
    else a SQLite file. The PostgreSQL module (and its driver) is imported only for a URL."""
    if is_url(path):
        from credit_coop.store.postgres import PgStore

        return PgStore
    return Store


def open_store(path: str) -> Store:
    return _kind(path).open(path)


def create_store(path: str) -> Store:
    return _kind(path).create(path)


def remove_store(path: str) -> None:
    _kind(path).remove(path)


def as_ledger_error(err: BaseException):
    """A database error a person can act on, as the domain error that says so (see each backend's)."""
    from credit_coop.store import sqlite

    known = sqlite.as_ledger_error(err)
    if known is None and "psycopg" in sys.modules:
        from credit_coop.store import postgres

        known = postgres.as_ledger_error(err)
    return known


__all__ = ["SCHEMA_VERSION", "Store", "open_store", "create_store", "remove_store", "as_ledger_error", "is_url", "shown"]
