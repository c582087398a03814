"""The audit log (操作日志): every command run against the ledger, who, when, what, result."""

from __future__ import annotations

from datetime import date

from credit_coop.core.dates import parse_date
from credit_coop.core.ledger import Ledger


def audit_entries(ledger: Ledger, first: date | str | None = None, operator: str | None = None) -> list[dict]:
    """``credit-coop audit-log``: entries from ``first`` (a day, checked like every date) by ``operator``."""
    day = parse_date(first, what="--from").isoformat() if first is not None else None
    return [dict(r) for r in ledger.store.audit_entries(day, operator)]
