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
from credit_coop.store import create_store, is_url, open_store, remove_store, shown
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


def copy(ledger: Ledger, to: str) -> dict:
    """``credit-coop copy --to LOCATION`` (issue 12): the whole ledger — every table, both hash chains, the
    audit log — into a new one: a SQLite file into an empty PostgreSQL database (``postgresql://…``), or a
    server ledger into a new SQLite file (its portable backup). The copy is verified, and its hash chain
    must be this ledger's, before it is kept; a target that already holds anything is refused."""
    from credit_coop.store.copying import copy_ledger

    require(ledger, "copy")
    if not is_url(to):
        to = os.path.abspath(to)
        if os.path.exists(to):
            raise Conflict(f"{to} already exists; a ledger is copied only into a new file")
    dest = create_store(to)  # refuses a database that is not empty
    try:
        try:
            copied = copy_ledger(ledger.store, dest)
        finally:
            dest.close()
        checked = _check(to)
        with Ledger.open(to) as c:
            state = _state(c)
        if state["txns"] and ledger.store.chain_link(state["txns"]) != state["head"]:
            raise RuleViolation("the copy's hash chain differs from this ledger's; nothing kept")
    except BaseException:
        remove_store(to)
        raise
    ledger.store.audit(ledger.operator, "copy", shown(to))
    return {"to": shown(to), "tables": len(copied), "rows": sum(copied.values()), **checked}


def _location(path: str | None) -> str:
    """The ledger's location as given (or the default): a server URL as it is, a file as an absolute path."""
    path = path or default_db_path()
    return path if is_url(path) else os.path.abspath(path)


def ledger_exists(path: str) -> bool:
    """Whether a ledger is there: a file, or a server database that holds one."""
    if not is_url(path):
        return os.path.exists(path)
    try:
        Ledger.open(path).close()
    except LedgerUnavailable:
        return False
    return True


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
    path = _location(path)
    if not os.path.isfile(backup_file):
        raise InvalidInput(f"no backup file at {backup_file}")
    checked = _check(backup_file)
    with Ledger.open(backup_file) as old:
        before, old_id = _state(old), _identity(old)
    plan = {"db": shown(path), "from": os.path.abspath(backup_file), "backup": before, **checked,
            "current": None, "lost": {}, "lost_transactions": 0, "lost_days": None, "lost_audit_rows": 0,
            "forced": force, "problems": []}
    if not ledger_exists(path):
        return plan
    try:
        current = Ledger.open(path, operator)
    except LedgerUnavailable:
        plan["problems"].append(f"{plan['db']} is not a readable ledger")  # a server's URL without its password
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
    path = _location(path)  # (the plan shows a server's URL without its password)
    exists = ledger_exists(path)
    try:
        with Ledger.open(path if exists else backup_file, operator) as who:
            require(who, "restore")
    except LedgerUnavailable:
        with Ledger.open(backup_file, operator) as who:  # the current file is not a readable ledger
            require(who, "restore")
    kept = None
    stamp = datetime.now().strftime('%Y%m%dT%H%M%S')
    if is_url(path):  # a server ledger: the replaced one is kept as a file beside the backup, then rebuilt from it
        from credit_coop.store.postgres import PgStore

        if exists:
            base = os.path.join(os.path.dirname(os.path.abspath(backup_file)), f"{path.rsplit('/', 1)[-1]}.replaced-{stamp}")
            kept, n = f"{base}.db", 1
            while os.path.exists(kept):  # a restore retried within the second
                n += 1
                kept = f"{base}-{n}.db"
            with Ledger.open(path) as current:
                current.store.copy_to(kept)
            os.chmod(kept, 0o600)
        src = open_store(backup_file)
        try:
            PgStore.replace(path, src, step=lambda: fault("restore"))  # one transaction: killed half-way, nothing changes
        finally:
            src.close()
    else:
        if exists:
            kept = f"{path}.replaced-{stamp}"
            copy_file(path, kept)  # a consistent copy, even of a ledger in WAL mode
            os.chmod(kept, 0o600)
        copy_file(backup_file, path, live=True, step=lambda: fault("restore"))
    detail = json.dumps({"from": plan["from"], "replaced_kept_as": kept, "lost_transactions": plan["lost_transactions"],
                         "lost_days": plan["lost_days"], "reason": reason, "forced": force,
                         "problems": plan["problems"]}, ensure_ascii=False)
    with Ledger.open(path, operator) as restored:
        restored.store.audit(operator, "restore", detail)
    return {**plan, "kept_as": kept}
