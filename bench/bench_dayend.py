"""Day-end over N live loan notes (default 100,000 and 10,000): seconds per day, linear growth.

    python bench/bench_dayend.py [N]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import date

sys.path.insert(0, os.path.dirname(__file__))

from common import build_ledger, peak_rss_mb  # noqa: E402

from credit_coop.core.dayend import day_end  # noqa: E402
from credit_coop.core.ledger import Ledger  # noqa: E402
from credit_coop.core.verify import verify  # noqa: E402


def run(n: int, days: int = 5) -> dict:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bench.db")
        built = build_ledger(path, n)
        with Ledger.open(path, "管理员") as ledger:
            # close the days before the draws (no notes yet), then time days with n live notes
            day_end(ledger, date(2025, 3, 2))
            t = time.perf_counter()
            day_end(ledger, date(2025, 3, 2 + days))
            per_day = (time.perf_counter() - t) / days
            t = time.perf_counter()
            ok = verify(ledger)["ok"]
            t_verify = time.perf_counter() - t
            lines = ledger.store._scalar("SELECT COUNT(*) FROM journal_lines")
    return {"n": n, "per_day_s": per_day, "verify_s": t_verify, "ok": ok, "lines": lines, **built}


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    results = [run(n) for n in sizes]
    print("| live notes | day-end per day | notes/s | import grants | import draws | verify | journal lines | peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['n']:,} | {r['per_day_s']:.2f} s | {r['n'] / r['per_day_s']:,.0f} | {r['grants_s']:.1f} s | "
              f"{r['draws_s']:.1f} s | {r['verify_s']:.1f} s | {r['lines']:,} | {peak_rss_mb():.0f} MB |")
    if len(results) > 1:
        a, b = results[0], results[-1]
        print(f"\ngrowth: {b['n'] / a['n']:.0f}× notes → {b['per_day_s'] / a['per_day_s']:.1f}× time per day")


if __name__ == "__main__":
    main()
