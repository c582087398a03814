"""What the store's parts share: the append-only tables, chain hashing, record payloads and SQL fragments."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from typing import Iterable

from credit_coop.core.accounts import DAY_END_KINDS

SCHEMA_VERSION = 10
# ``meta`` keys written once, when a ledger is made (a restore keeps them: a backup goes back only to its own ledger)
FIXED_META = ("ledger_id", "created_on", "created_by")
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


def as_hashed_text(columns: str, table: str = "") -> str:
    """SQL giving a row's text exactly as :func:`chain_hash` writes it (``|``-joined, NULL as empty), so a
    walk over millions of lines formats them in SQLite instead of Python (verify's hash-chain check)."""
    prefix = f"{table}." if table else ""
    return " || '|' || ".join(f"COALESCE(CAST({prefix}{c.strip()} AS TEXT), '')" for c in columns.split(","))

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
_DAY_END_KINDS_SQL = "(" + ", ".join(f"'{k}'" for k in DAY_END_KINDS) + ")"


def _of_grants(column: str, grant_ids: Iterable[int] | None) -> str:
    """``AND column IN (…)`` for some credit lines (ids are integers, written inline), or nothing for all."""
    return "" if grant_ids is None else f"AND {column} IN ({', '.join(str(int(g)) for g in grant_ids)})"


# A note's journal lines summed per component (``l``: journal_lines): principal ``p``, accrued interest
# ``a``, interest due ``i``, penalty ``q`` (claim and accrued) and of it still accrued ``qa``.
COMPONENT_SUMS = """SUM(CASE WHEN l.account LIKE '1303.%' THEN l.debit - l.credit ELSE 0 END) AS p,
       SUM(CASE WHEN l.account = '1132.accrued' OR l.account LIKE '1132.accrued.%' THEN l.debit - l.credit ELSE 0 END) AS a,
       SUM(CASE WHEN l.account = '1132.due' THEN l.debit - l.credit ELSE 0 END) AS i,
       SUM(CASE WHEN l.account = '1132.penalty' OR l.account LIKE '1132.penalty.accrued.%' THEN l.debit - l.credit ELSE 0 END) AS q,
       SUM(CASE WHEN l.account LIKE '1132.penalty.accrued.%' THEN l.debit - l.credit ELSE 0 END) AS qa"""


def _note_components(date_op: str, counter_only: bool = False, grant_ids: Iterable[int] | None = None) -> str:
    """Per loan note, the movements of its receivables on (``=``) or after (``>``) a business date:
    principal ``p``, accrued interest ``a``, interest due ``i``, penalty ``q`` (claim and accrued) and
    accrued penalty ``qa`` (``counter_only``: leave out what the day-end posts; ``grant_ids``: only
    these lines' notes). The day-end's accruals are kept per product, so ``a`` and ``qa`` here are only
    what a note's own postings took out of (or, reversed, put back into) the pools (issue 11)."""
    only = f"AND t.kind NOT IN {_DAY_END_KINDS_SQL} " if counter_only else ""
    only += _of_grants("l.grant_id", grant_ids)
    return f"""SELECT l.note_id, {COMPONENT_SUMS}
               FROM journal_lines l JOIN txns t ON t.id = l.txn_id
               WHERE t.business_date {date_op} ? AND l.note_id IS NOT NULL {only} GROUP BY l.note_id"""


def _note_claims(grant_ids: Iterable[int] | None = None) -> str:
    """Per loan note, its claims in the journal through a business date (``?``): principal ``p``,
    interest due ``i`` and penalty that became a claim ``q``, each on its own per-note account."""
    return f"""SELECT l.note_id,
                      SUM(CASE WHEN l.account LIKE '1303.%' THEN l.debit - l.credit ELSE 0 END) AS p,
                      SUM(CASE WHEN l.account = '1132.due' THEN l.debit - l.credit ELSE 0 END) AS i,
                      SUM(CASE WHEN l.account = '1132.penalty' THEN l.debit - l.credit ELSE 0 END) AS q
               FROM journal_lines l JOIN txns t ON t.id = l.txn_id
               WHERE t.business_date <= ? AND l.note_id IS NOT NULL {_of_grants("l.grant_id", grant_ids)}
                 AND (l.account LIKE '1303.%' OR l.account IN ('1132.due', '1132.penalty'))
               GROUP BY l.note_id"""


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


# a journal line on cash: the single account of ledgers before schema 9, or a branch counter's till (1001.<branch>)
IS_CASH = "(l.account = '1001' OR l.account LIKE '1001.%')"
