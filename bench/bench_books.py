"""How big the books grow (issue 11's baseline): N notes through a year of day-ends, then journal lines and
ledger bytes per note (all of it, and what the year of day-ends added), day-end notes/s, and `verify` beside `hledger check` on the same exported
journal, in the same run. Printed, never asserted.

    python bench/bench_books.py [--notes 1000,10000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta

sys.path.insert(0, os.path.dirname(__file__))
from common import ADMIN, build_ledger  # noqa: E402

from credit_coop.core.export import export_plaintext  # noqa: E402
from credit_coop.core.dayend import day_end  # noqa: E402
from credit_coop.core.ledger import Ledger  # noqa: E402
from credit_coop.core.verify import verify  # noqa: E402

START = date(2025, 1, 6)


def _size(path: str) -> int:
    return os.path.getsize(path) + sum(os.path.getsize(path + x) for x in ("-wal",) if os.path.exists(path + x))


def run(notes: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "books.db")
        build_ledger(path, notes, officers=max(1, notes // 100), on=START)
        built = _size(path)
        with Ledger.open(path, ADMIN) as ledger:
            t = time.perf_counter()
            day_end(ledger, START + timedelta(days=364), today=date(2027, 1, 1))
            dayend_s = time.perf_counter() - t
            lines = ledger.store._scalar("SELECT COUNT(*) FROM journal_lines")
            t = time.perf_counter()
            ok = verify(ledger)["ok"]
            verify_s = time.perf_counter() - t
            journal = os.path.join(d, "books.journal")
            export_plaintext(ledger, journal, "hledger")
        size = _size(path)
        hledger = shutil.which("hledger")
        if hledger:
            t = time.perf_counter()
            subprocess.run([hledger, "-f", journal, "check"], check=True, capture_output=True)
            hledger_s = f"{time.perf_counter() - t:.2f} s"
        else:
            hledger_s = "(hledger not installed)"
        return {"notes": notes, "lines": lines, "bytes": size, "grown": size - built, "dayend_notes_s": notes * 365 / dayend_s,
                "verify_s": verify_s, "clean": ok, "hledger": hledger_s}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--notes", default="1000")
    args = ap.parse_args()
    print("| notes | journal lines (a year) | lines / note-year | ledger bytes | bytes / note | the year's bytes / note "
          "| day-end notes/s | verify | hledger check |\n|---|---|---|---|---|---|---|---|---|")
    for n in (int(x) for x in args.notes.split(",")):
        r = run(n)
        print(f"| {n:,} | {r['lines']:,} | {r['lines'] / n:,.0f} | {r['bytes']:,} | {r['bytes'] / n:,.0f} | {r['grown'] / n:,.0f} | "
              f"{r['dayend_notes_s']:,.0f} | {r['verify_s']:.2f} s{'' if r['clean'] else ' (FINDINGS)'} | {r['hledger']} |", flush=True)


if __name__ == "__main__":
    main()
