"""Backup and restore (SQLite online backup API; safe while tellers keep posting).

- ``backup``: copies the live ledger page by page into a temporary file beside
  the target, checks the copy with every ``verify`` check (including its own
  hash chain), then renames it into place.
- ``restore``: checks the backup the same way first; only a sound backup of a
  past state of *this* ledger replaces it (issue 16 §2). The caller is told
  exactly what would be lost (transactions, closed days, audit rows) and must
  confirm; the replaced ledger is kept beside it; the restore, its reason and
  what it dropped go to the audit log. The replacement goes through the backup
  API (under SQLite's locks, so no reader sees a half-restored file).
"""

from __future__ import annotations

import json
import os
import tempfile

from credit_coop.core.faults import fault
from credit_coop.core.errors import Conflict, InvalidInput, LedgerUnavailable, RuleViolation
from credit_coop.core.ledger import Ledger, default_db_path
from credit_coop.core.operators import require
from credit_coop.store.sqlite import copy_file


def _check(path: str) -> dict:
    from credit_coop.core.verify import verify

    with Ledger.open(path) as copy:
        result = verify(copy)
        txns = copy.store.count_transactions()
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
        ledger.store.copy_to(tmp)  # a backup is one self-contained file
        checked = _check(tmp)
        fault("backup")
        os.replace(tmp, out)
    finally:
        for leftover in (tmp, tmp + "-wal", tmp + "-shm"):
            if os.path.exists(leftover):
                os.remove(leftover)
    ledger.store.audit(ledger.operator, "backup", out)
    return {"out": out, "bytes": os.path.getsize(out), **checked}


def _identity(ledger: Ledger) -> tuple:
    """What makes a ledger itself: its id (ledgers made before ids existed: who created it, and when)."""
    store = ledger.store
    return (store.get_meta("ledger_id"), store.get_meta("created_on"), store.get_meta("created_by"))


def _state(ledger: Ledger) -> dict:
    store = ledger.store
    head = store.chain_head()
    return {"txns": head[0] if head else 0, "head": head[1] if head else None,
            "closed_through": store.closed_through(), "audit_rows": store.audit_count()}


def restore_plan(path: str | None, backup_file: str, operator: str | None, force: str | None = None) -> dict:
    """What ``restore`` would do: the backup checked, and exactly what the current ledger would lose.

    A backup must be a past state of this ledger: the same ledger (its id) and a hash chain
    that leads to this ledger's head (the backup's last link is this ledger's link at that
    transaction). Anything else (another cooperative's ledger, a doctored copy) is refused
    unless ``force`` states why.
    """
    path = os.path.abspath(path or default_db_path())
    if not os.path.isfile(backup_file):
        raise InvalidInput(f"no backup file at {backup_file}")
    checked = _check(backup_file)
    with Ledger.open(backup_file) as old:
        before, old_id = _state(old), _identity(old)
    plan = {"db": path, "from": os.path.abspath(backup_file), "backup": before, **checked,
            "current": None, "lost": {}, "lost_transactions": 0, "lost_days": None, "lost_audit_rows": 0,
            "forced": force, "problems": []}
    if not os.path.exists(path):
        return plan
    try:
        current = Ledger.open(path, operator)
    except LedgerUnavailable:
        plan["problems"].append(f"{path} is not a readable ledger")
        return plan
    with current:
        now, now_id = _state(current), _identity(current)
        plan["current"] = now
        if old_id[0] and now_id[0] and old_id[0] != now_id[0] or (not (old_id[0] and now_id[0]) and old_id[1:] != now_id[1:]):
            plan["problems"].append("the backup is of another ledger (its ledger id or creation differs)")
        elif before["txns"] and current.store.chain_link(before["txns"]) != before["head"]:
            plan["problems"].append(
                f"the backup's hash chain does not lead to this ledger's (transaction {before['txns']} differs): "
                "it is not a past state of this ledger")
        elif before["txns"] > now["txns"]:
            plan["problems"].append("the backup is newer than this ledger")
        plan["lost"] = current.store.txns_after(before["txns"])
        plan["lost_transactions"] = sum(k["count"] for k in plan["lost"].values())
        if now["closed_through"] and now["closed_through"] != before["closed_through"]:
            plan["lost_days"] = {"from": before["closed_through"], "through": now["closed_through"]}
        plan["lost_audit_rows"] = max(0, now["audit_rows"] - before["audit_rows"])
    if plan["problems"] and not force:
        raise RuleViolation(f"restore refused: {plan['problems'][0]}; nothing changed (--force REASON to restore anyway)")
    return plan


def restore(path: str | None, backup_file: str, operator: str | None, *, force: str | None = None,
            reason: str | None = None) -> dict:
    """``credit-coop restore FILE --yes``: verify the backup, keep the current ledger beside it as
    ``PATH.replaced-YYYYMMDDTHHMMSS``, replace it, and log the restore and its reason.

    An admin of the current ledger restores it; when no ledger exists at the
    path, the backup's own admin must be named.
    """
    from datetime import datetime

    from credit_coop.core.ledger import require_text

    if force is not None:
        force = require_text(force, "reason for forcing the restore")
    plan = restore_plan(path, backup_file, operator, force)
    path = plan["db"]
    try:
        with Ledger.open(path if os.path.exists(path) else backup_file, operator) as who:
            require(who, "restore")
    except LedgerUnavailable:
        with Ledger.open(backup_file, operator) as who:  # the current file is not a readable ledger
            require(who, "restore")
    kept = None
    if os.path.exists(path):
        kept = f"{path}.replaced-{datetime.now().strftime('%Y%m%dT%H%M%S')}"
        copy_file(path, kept)  # a consistent copy, even of a ledger in WAL mode
        os.chmod(kept, 0o600)
    copy_file(backup_file, path, live=True, step=lambda: fault("restore"))
    detail = json.dumps({"from": plan["from"], "replaced_kept_as": kept, "lost_transactions": plan["lost_transactions"],
                         "lost_days": plan["lost_days"], "reason": reason, "forced": force,
                         "problems": plan["problems"]}, ensure_ascii=False)
    with Ledger.open(path, operator) as restored:
        restored.store.audit(operator, "restore", detail)
    return {**plan, "kept_as": kept}
