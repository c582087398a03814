"""The benchmark suite: each case and its floor measured in the same run, printed as a markdown table.

    python bench/run.py            # full size (1,000,000-row cases; several minutes)
    python bench/run.py --scale 0.1  # one tenth, to see growth is linear

Run it from a regular install (`pip install .`, as the README says): an editable install under
PYTHONDONTWRITEBYTECODE recompiles the package on every process start and doubles the counter figures.

Figures are printed, never asserted. Cases:
- counter: `credit-coop draw` as a whole process (median of 25) on a ledger with ≥1M journal lines,
  against F0 (python opens the ledger, inserts and commits a row) and F1 (the same plus `import typer`);
  `credit-coop --help` against `python -c 'import typer'`.
- import: draws through `credit-coop import` (every rule) against raw executemany of the rows it writes.
- day-end over N live notes; payroll and year-end for N/100 officers; export of the journal against a
  bare openpyxl write-only loop; verify over the whole journal.
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
from datetime import date

sys.path.insert(0, os.path.dirname(__file__))

from common import ADMIN, PASSPHRASE, build_ledger, peak_rss_mb  # noqa: E402

from credit_coop.core.dayend import day_end  # noqa: E402
from credit_coop.core.loans import repay  # noqa: E402
from credit_coop.core.ledger import Ledger  # noqa: E402
from credit_coop.core.pay import run_payroll  # noqa: E402
from credit_coop.core.verify import verify  # noqa: E402
from credit_coop.core.yearend import run_year_end  # noqa: E402

ROWS: list[tuple[str, str, str, str]] = []


def record(case: str, figure: str, floor: str = "", ratio: str = "") -> None:
    ROWS.append((case, figure, floor, ratio))
    print(f"  {case}: {figure}  {floor}  {ratio}", file=sys.stderr)


def median_ms(cmd, n: int = 25, env=None) -> float:
    times = []
    for i in range(n):
        t = time.perf_counter()
        subprocess.run(cmd(i), capture_output=True, env=env, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def counter_latency(path: str) -> None:
    script = shutil.which("credit-coop") or os.path.join(os.path.dirname(sys.executable), "credit-coop")
    env = dict(os.environ, CREDIT_COOP_DB=path, CREDIT_COOP_OPERATOR="柜员0")
    env.pop("CREDIT_COOP_PASSWORD", None)
    # the teller starts a shift: one scrypt check, then every draw presents the session token
    subprocess.run([script, "login"], env=dict(env, CREDIT_COOP_PASSWORD=PASSPHRASE), check=True, capture_output=True)
    con = sqlite3.connect(path)
    cards = con.execute("SELECT card_no, borrower_id FROM grants WHERE status='approved' ORDER BY id DESC LIMIT 30").fetchall()
    con.close()
    # December's interest fell due on the 20th and is unpaid, so these lines are past due and would refuse a
    # draw (policy drawdown.refuse_when_past_due): the borrowers pay it on the open business date first
    from credit_coop.core.loans import show_line

    with Ledger.open(path, "柜员0") as teller:
        for card, _ in cards:
            owed = sum(n["interest_due_fen"] + n["penalty_fen"] for n in show_line(teller, card, date(2026, 1, 1))["notes"])
            if owed:
                repay(teller, card=card, amount=f"{owed // 100}.{owed % 100:02d}", on=date(2026, 1, 1))
        lines = teller.store._scalar("SELECT COUNT(*) FROM journal_lines")
    py = sys.executable
    insert = f"import sqlite3;c=sqlite3.connect({path!r});c.execute('create table if not exists bench_f(x)');c.execute('insert into bench_f values(1)');c.commit()"
    f0 = median_ms(lambda i: [py, "-c", insert])
    f1 = median_ms(lambda i: [py, "-c", "import typer;" + insert])
    draw = median_ms(lambda i: [script, "draw", "--card", cards[i][0], "--id-number", cards[i][1], "--amount", "1",
                                "--fingerprint-ok", "--on", "2026-01-05"], env=env)
    typer_ms = median_ms(lambda i: [py, "-c", "import typer"])
    help_ms = median_ms(lambda i: [script, "--help"])
    record(f"draw (whole process, {lines:,} journal lines)", f"{draw:.0f} ms", f"F1 {f1:.0f} ms (F0 {f0:.0f} ms)", f"{draw / f1:.2f}× F1")
    record("credit-coop --help", f"{help_ms:.0f} ms", f"import typer {typer_ms:.0f} ms", f"{help_ms / typer_ms:.2f}×")


def raw_draw_floor(path: str, n: int) -> float:
    """Write the rows an import of n draws writes (txn, note, two journal lines each) with executemany."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, kind, business_date, operator, memo, posted_at)")
    con.execute("CREATE TABLE n (id INTEGER PRIMARY KEY, note_no, grant_id, amount, drawn_on, maturity, rate, txn_id, teller, fp)")
    con.execute("CREATE TABLE l (id INTEGER PRIMARY KEY, txn_id, account, debit, credit, grant_id, note_id, officer)")
    t = time.perf_counter()
    with con:
        con.executemany("INSERT INTO t VALUES (?, 'drawdown', '2025-03-03', 'x', 'm', 'now')", ((i,) for i in range(n)))
        con.executemany("INSERT INTO n VALUES (?, ?, ?, 5000000, '2025-03-03', '2026-03-03', '7.2', ?, 'x', 1)",
                        ((i, f"JJ{i}", i, i) for i in range(n)))
        con.executemany("INSERT INTO l(txn_id, account, debit, credit, grant_id, note_id, officer) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        ((i // 2, "1303.sdt" if i % 2 == 0 else "1001", 5000000 * (i % 2 == 0), 5000000 * (i % 2), i // 2, i // 2, None)
                         for i in range(2 * n)))
    con.close()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--batches-only", action="store_true",
                    help="build, day-end, payroll, year-end and verify only (e.g. --scale 10 for 1,000,000 notes)")
    args = ap.parse_args()
    notes = int(100_000 * args.scale)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bench.db")
        officers = max(1, notes // 100)
        built = build_ledger(path, notes, officers=officers, on=date(2025, 12, 3))
        floor = raw_draw_floor(os.path.join(d, "raw.db"), notes)
        record(f"import {notes:,} draws (every rule)", f"{notes / built['draws_s']:,.0f} rows/s",
               f"raw executemany {notes / floor:,.0f} rows/s", f"{floor / built['draws_s']:.2f}×")
        record(f"import {notes:,} grants (whole workflow)", f"{notes / built['grants_s']:,.0f} rows/s")
        with Ledger.open(path, ADMIN) as ledger:
            day_end(ledger, date(2025, 12, 2))
            t = time.perf_counter()
            day_end(ledger, date(2025, 12, 12))
            per_day = (time.perf_counter() - t) / 10
            record(f"day-end, {notes:,} live notes", f"{per_day:.2f} s/day", "", f"{notes / per_day:,.0f} notes/s")
            # a repayment missed on 12-05 and keyed after 12-12 was closed: 8 closed days recomputed for its line
            card = ledger.store.get_grant(1)["card_no"]
            t = time.perf_counter()
            repay(ledger.acting_as("会计0"), card=card, amount="1,000.00", on=date(2025, 12, 5), correction="bench")
            record(f"back-dated correction, 8 closed days, {notes:,} notes", f"{(time.perf_counter() - t) * 1000:.0f} ms",
                   "one day-end", f"{(time.perf_counter() - t) / per_day:.2f}× a day")
            day_end(ledger, date(2025, 12, 31))
            t = time.perf_counter()
            pay = run_payroll(ledger, "2025-12", on=date(2026, 1, 1))
            record(f"payroll, {len(pay['officers']):,} people / {notes:,} notes", f"{time.perf_counter() - t:.2f} s")
            t = time.perf_counter()
            ye = run_year_end(ledger, 2025, on=date(2026, 1, 2), today=date(2026, 1, 2))
            record(f"year-end, {len(ye['officers']):,} officers", f"{time.perf_counter() - t:.2f} s")
            lines = ledger.store._scalar("SELECT COUNT(*) FROM journal_lines")
            t = time.perf_counter()
            ok = verify(ledger)["ok"]
            record(f"verify, {lines:,} journal lines", f"{time.perf_counter() - t:.2f} s", "", "clean" if ok else "FINDINGS")
        if args.batches_only:
            out = None
        else:
            counter_latency(path)
        out = out if args.batches_only else subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "bench_export.py"), path, "2025-12-01",
                              "2025-12-09"], capture_output=True, text=True, check=True)
        if out is not None:
            last = out.stdout.strip().splitlines()[-1].strip("|").split("|")
            record(*[x.strip() for x in last])
    record("peak RSS (this process)", f"{peak_rss_mb():.0f} MB")
    print(f"\nscale {args.scale} — {date.today()} — {os.cpu_count()} cores\n")
    print("| case | figure | floor | ratio |\n|---|---|---|---|")
    for r in ROWS:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
