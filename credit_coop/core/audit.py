"""The audit log (操作日志): every command run against the ledger, who, when, what, result."""

from __future__ import annotations

import re
from datetime import date, datetime

from credit_coop.core.dates import parse_date
from credit_coop.core.errors import NotPermitted
from credit_coop.core.identity import mask_id_number
from credit_coop.core.ledger import Ledger

_ID = re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])")


def audit_entries(ledger: Ledger, first: date | str | None = None, operator: str | None = None, *,
                  unmasked: bool = False) -> list[dict]:
    """``credit-coop audit-log``: entries from ``first`` (a day, checked like every date) by ``operator``.

    ID numbers in the entries are masked unless ``unmasked`` is asked by a role allowed full IDs (the
    asking is itself logged); times are shown in the union's time zone (issue 17)."""
    from credit_coop.core.export import union_time_zone
    from credit_coop.core.operators import PERMISSIONS

    if unmasked:
        op = ledger.store.get_operator(ledger.operator or "")
        if op is None or op["role"] not in PERMISSIONS["export.unmasked"]:
            raise NotPermitted(f"full ID numbers are for {', '.join(PERMISSIONS['export.unmasked'])} only")
    day = parse_date(first, what="--from").isoformat() if first is not None else None
    zone = union_time_zone(ledger)
    out = []
    for r in ledger.store.audit_entries(day, operator):
        row = dict(r)
        try:
            row["at"] = datetime.fromisoformat(row["at"]).astimezone(zone).isoformat()
        except (TypeError, ValueError):
            pass
        if not unmasked:
            for key in ("detail", "result"):
                if row[key]:
                    row[key] = _ID.sub(lambda m: mask_id_number(m.group(0).upper()), row[key])
        out.append(row)
    return out
