"""Export of the journal register vs a bare openpyxl write-only loop writing the same rows.

    python bench/bench_export.py LEDGER.db [FROM TO]

The floor gets the rows already in memory, typed the same way (Decimal yuan and
dates with the same number formats), so the ratio shows what our export adds:
the query, masking, injection guard, hashing and control totals.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal

from credit_coop.core.export import export_workbook
from credit_coop.core.ledger import Ledger


def floor(rows: list[list], path: str) -> float:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    t = time.perf_counter()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("journal")
    money, day = WriteOnlyCell(ws), WriteOnlyCell(ws)
    money.number_format, day.number_format = "#,##0.00", "yyyy-mm-dd"
    for r in rows:
        out = list(r)
        for i in (9, 10):
            if out[i] is not None:
                c = WriteOnlyCell(ws, out[i])
                c._style = money._style
                out[i] = c
        c = WriteOnlyCell(ws, out[1])
        c._style = day._style
        out[1] = c
        ws.append(out)
    wb.save(path)
    return time.perf_counter() - t


def main() -> None:
    db = sys.argv[1]
    first, last = (sys.argv[2], sys.argv[3]) if len(sys.argv) > 3 else ("1900-01-01", "2999-12-31")
    import resource

    with Ledger.open(db, "bench") as ledger:
        with tempfile.TemporaryDirectory() as d:  # ours first, so its peak memory is measured alone
            t = time.perf_counter()
            export_workbook(ledger, os.path.join(d, "ours.xlsx"), first=first, last=last, registers=["journal"])
            t_ours = time.perf_counter() - t
        rss_ours = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows = []
        for r in ledger.store.register_rows("journal", first, last):
            rows.append([r["txn_id"], date.fromisoformat(r["business_date"]), r["kind"], r["operator"], r["memo"], r["reverses"],
                         r["line_id"], r["account"], r["account"], Decimal(r["debit"]).scaleb(-2) if r["debit"] else None,
                         Decimal(r["credit"]).scaleb(-2) if r["credit"] else None, r["note_no"], r["card_no"], r["officer"]])
        with tempfile.TemporaryDirectory() as d:
            t_floor = floor(rows, os.path.join(d, "floor.xlsx"))
    n = len(rows)
    print("| case | figure | floor | ratio |\n|---|---|---|---|")
    print(f"| export journal, {n:,} rows (peak RSS {rss_ours:.0f} MB) | {n / t_ours:,.0f} rows/s | "
          f"{n / t_floor:,.0f} rows/s (bare openpyxl write-only) | {t_floor / t_ours:.2f}× |")


if __name__ == "__main__":
    main()
