"""Backup and restore (SQLite online backup API; safe while tellers keep posting).

- ``backup``: copies the live ledger page by page into a temporary file beside
  the target, checks the copy with every ``verify`` check (including its own
  hash chain), then renames it into place.
- ``restore``: checks the backup the same way first; only a sound backup
  replaces the ledger, and the replacement goes through the backup API too
  (under SQLite's locks, so no reader sees a half-restored file).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile

from credit_coop.core.errors import Conflict, InvalidInput, LedgerUnavailable, RuleViolation
from credit_coop.core.ledger import Ledger, default_db_path
from credit_coop.core.operators import require


def _check(path: str) -> dict:
    from credit_coop.core.verify import verify

    with Ledger.open(path) as copy:
        result = verify(copy)
        txns = copy.store._scalar("SELECT COUNT(*) FROM txns")
    if not result["ok"]:
        first = result["findings"][0]["message"]
        raise RuleViolation(f"the backup does not verify ({len(result['findings'])} problems; first: {first})")
    return {"transactions": txns, "checks": len(result["checks"])}


def backup(ledger: Ledger, out: str) -> dict:
    """``credit-coop backup --out FILE``."""
    require(ledger, "backup")
    out = os.path.abspath(out)
    folder = os.path.dirname(out)
    if not os.path.isdir(folder):
        raise InvalidInput(f"folder {folder} does not exist")
    if os.path.exists(out):
        raise Conflict(f"{out} already exists; choose a new backup file")
    fd, tmp = tempfile.mkstemp(prefix=".credit-coop-backup-", suffix=".db", dir=folder)
    os.close(fd)
    try:
        dest = sqlite3.connect(tmp)
        ledger.store.conn.backup(dest)
        dest.execute("PRAGMA journal_mode=DELETE")  # a backup is one self-contained file
        dest.close()
        checked = _check(tmp)
        os.replace(tmp, out)
    finally:
        for leftover in (tmp, tmp + "-wal", tmp + "-shm"):
            if os.path.exists(leftover):
                os.remove(leftover)
    ledger.store.audit(ledger.operator, "backup", out)
    return {"out": out, "bytes": os.path.getsize(out), **checked}


def restore(path: str | None, backup_file: str, operator: str | None) -> dict:
    """``credit-coop restore FILE``: verify the backup, then replace the ledger with it.

    An admin of the current ledger restores it; when no ledger exists at the
    path, the backup's own admin must be named.
    """
    path = os.path.abspath(path or default_db_path())
    if not os.path.isfile(backup_file):
        raise InvalidInput(f"no backup file at {backup_file}")
    checked = _check(backup_file)
    authority = path if os.path.exists(path) else backup_file
    try:
        with Ledger.open(authority, operator) as who:
            require(who, "restore")
    except LedgerUnavailable:
        with Ledger.open(backup_file, operator) as who:  # the current file is not a readable ledger
            require(who, "restore")
    src = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    dest = sqlite3.connect(path, timeout=5)
    try:
        src.backup(dest)
        dest.execute("PRAGMA journal_mode=WAL")
    finally:
        src.close()
        dest.close()
    with Ledger.open(path, operator) as restored:
        restored.store.audit(operator, "restore", os.path.abspath(backup_file))
    return {"db": path, "from": os.path.abspath(backup_file), **checked}
