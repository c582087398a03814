"""Import N small drawdowns on ONE credit line (the case issue 16 found quadratic): prints rows/s
at 2,500 / 5,000 / 10,000 rows, so flat per-row cost shows as a flat rate.

    python bench/bench_import_one_line.py [--sizes 2500,5000,10000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date

sys.path.insert(0, os.path.dirname(__file__))
from common import ADMIN, build_ledger  # noqa: E402

from credit_coop.core.imports import import_rows  # noqa: E402
from credit_coop.core.ledger import Ledger  # noqa: E402


def run(n: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "one.db")
        build_ledger(path, 1)  # one 10万 line with a 5万 note; 5万 left for N draws of 1.00
        with Ledger.open(path, ADMIN) as ledger:
            idn = ledger.store.get_grant(1)["borrower_id"]
            rows = [(i + 2, {"request_id": f"L{i}", "id_number": idn, "product": "sdt", "amount": "1.00",
                             "on": "2025-03-03", "teller": "柜员0"}) for i in range(n)]
            t = time.perf_counter()
            rep = import_rows(ledger, "draws", rows, on=date(2025, 3, 3))
            took = time.perf_counter() - t
            assert rep.committed, rep.rejected[:2]
        return took


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="2500,5000,10000")
    sizes = [int(x) for x in p.parse_args().sizes.split(",")]
    print(f"{'rows':>8} {'seconds':>8} {'rows/s':>8}")
    for n in sizes:
        s = run(n)
        print(f"{n:>8} {s:>8.2f} {n / s:>8.0f}")
