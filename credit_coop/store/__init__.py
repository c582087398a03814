"""The one place SQL lives. Core modules call :class:`Store` methods; a
provincial union moving to PostgreSQL replaces this package, not the core.

The counter path opens the ledger with the stdlib ``sqlite3`` module only;
``sqlite_utils`` is imported by :mod:`credit_coop.store.schema` when a ledger
is created or migrated.
"""

from credit_coop.store.sqlite import SCHEMA_VERSION, Store

__all__ = ["SCHEMA_VERSION", "Store"]
