"""A drawdown as a whole process on a line with 1, 100 and 1,000 past loan notes and a year of day-ends
(issue 11: the counter must stay flat in the line's age). Prints the median of 11 draws (and 11 repayments,
which read every live note on the line) per size beside
F1 (python + import typer + one committed insert), and the ledger's journal lines and bytes.

    python bench/bench_line_age.py [--sizes 1,100,1000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta

sys.path.insert(0, os.path.dirname(__file__))
from common import ADMIN, PASSPHRASE, build_ledger  # noqa: E402

from credit_coop.core.imports import import_rows  # noqa: E402
from credit_coop.core.dayend import day_end  # noqa: E402
from credit_coop.core.ledger import Ledger  # noqa: E402
from credit_coop.core.loans import repay, show_line  # noqa: E402

START = date(2025, 1, 6)


def median_ms(cmds, env=None) -> float:
    times = []
    for cmd in cmds:
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, env=env, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def run(notes: int, script: str) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "age.db")
        build_ledger(path, 1, on=START)  # one 10万 line with a 5万 note
        with Ledger.open(path, ADMIN) as ledger:
            idn = ledger.store.get_grant(1)["borrower_id"]
            rows = [(i + 2, {"request_id": f"A{i}", "id_number": idn, "product": "sdt", "amount": "1.00",
                             "on": START.isoformat(), "teller": "柜员0"}) for i in range(notes - 1)]
            if rows:
                assert import_rows(ledger, "draws", rows, on=START).committed
            through = START + timedelta(days=364)
            day = START
            while day < through:  # a year of day-ends, the borrower paying what falls due each month
                nxt = min(day + timedelta(days=30), through)
                day_end(ledger, nxt - timedelta(days=1), today=date(2027, 1, 1))
                card = ledger.store.get_grant(1)["card_no"]
                owed = sum(n["interest_due_fen"] + n["penalty_fen"] for n in show_line(ledger, card, nxt)["notes"])
                if owed:
                    repay(ledger.acting_as("柜员0"), card=card, amount=f"{owed // 100}.{owed % 100:02d}", on=nxt)
                day = nxt
            card = ledger.store.get_grant(1)["card_no"]
            lines = ledger.store._scalar("SELECT COUNT(*) FROM journal_lines")
        size = os.path.getsize(path)
        env = dict(os.environ, CREDIT_COOP_DB=path, CREDIT_COOP_OPERATOR="柜员0")
        env.pop("CREDIT_COOP_PASSWORD", None)
        subprocess.run([script, "login"], env=dict(env, CREDIT_COOP_PASSWORD=PASSPHRASE), check=True, capture_output=True)
        on = through.isoformat()
        ms = median_ms([[script, "draw", "--card", card, "--id-number", idn, "--amount", "1", "--fingerprint-ok", "--on", on]
                        for _ in range(11)], env)
        repay_ms = median_ms([[script, "repay", "--card", card, "--amount", "0.01", "--on", on] for _ in range(11)], env)
        return ms, repay_ms, lines, size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,100,1000")
    args = ap.parse_args()
    script = shutil.which("credit-coop") or os.path.join(os.path.dirname(sys.executable), "credit-coop")
    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "f.db")
        insert = f"import typer,sqlite3;c=sqlite3.connect({db!r});c.execute('create table if not exists f(x)');c.execute('insert into f values(1)');c.commit()"
        f1 = median_ms([[sys.executable, "-c", insert] for _ in range(11)])
    print("| notes on the line | journal lines | ledger bytes | draw | repay | F1 | draw / F1 |\n|---|---|---|---|---|---|---|")
    for n in (int(x) for x in args.sizes.split(",")):
        ms, repay_ms, lines, size = run(n, script)
        print(f"| {n:,} | {lines:,} | {size:,} | {ms:.0f} ms | {repay_ms:.0f} ms | {f1:.0f} ms | {ms / f1:.2f}× |", flush=True)
    sqlite3.connect(":memory:").close()


if __name__ == "__main__":
    main()
