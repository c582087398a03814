"""The ledger on a SQLite file beside the same ledger on a PostgreSQL server, in one run (issue 12):
`draw` as a whole process, draws/s with 1, 2, 4 and 8 tellers at once on different lines, one day-end
over N notes, and `verify`. Printed, never asserted.

    CREDIT_COOP_BENCH_PG=postgresql://USER@HOST:PORT/postgres python bench/bench_server.py [--notes 10000]

(The role must be allowed to create databases; a fresh one is made and dropped.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta

sys.path.insert(0, os.path.dirname(__file__))
from common import ADMIN, PASSPHRASE, build_ledger  # noqa: E402

from credit_coop.core.dayend import day_end  # noqa: E402
from credit_coop.core.ledger import Ledger  # noqa: E402
from credit_coop.core.verify import verify  # noqa: E402

ON = date(2025, 3, 3)
TELLER = """
import sys, time
from datetime import date
from credit_coop.core.ledger import Ledger
from credit_coop.core.loans import draw
where, card, idn, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with Ledger.open(where, "柜员0") as ledger:
    for _ in range(n):
        draw(ledger, card=card, id_number=idn, amount="1.00", fingerprint_ok=True, on=date(2025, 3, 4))
"""


def median_ms(cmd, env, n=11) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return sorted(times)[n // 2] * 1000


def tellers_at_once(where: str, lines: list[tuple[str, str]], k: int, per: int = 60) -> float:
    """k processes, each drawing ``per`` times on its own line: draws per second, all together."""
    t = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", TELLER, where, card, idn, str(per)]) for card, idn in lines[:k]]
    for p in procs:
        assert p.wait() == 0
    return k * per / (time.perf_counter() - t)


def run(where: str, notes: int, script: str) -> dict:
    build_ledger(where, notes, on=ON)
    with Ledger.open(where, ADMIN) as ledger:
        t = time.perf_counter()
        day_end(ledger, ON, today=date(2030, 1, 1))
        dayend_s = time.perf_counter() - t
        lines = [(r["card_no"], r["borrower_id"]) for r in ledger.store._all("SELECT card_no, borrower_id FROM grants ORDER BY id LIMIT 9")]
    out = {"dayend_s": dayend_s}
    env = dict(os.environ, CREDIT_COOP_DB=where, CREDIT_COOP_OPERATOR="柜员0", CREDIT_COOP_LANG="en")
    env.pop("CREDIT_COOP_PASSWORD", None)
    subprocess.run([script, "login"], env=dict(env, CREDIT_COOP_PASSWORD=PASSPHRASE), check=True, capture_output=True)
    card, idn = lines[8]
    out["draw_ms"] = median_ms([script, "draw", "--card", card, "--id-number", idn, "--amount", "1", "--fingerprint-ok",
                                "--on", (ON + timedelta(days=1)).isoformat()], env)
    out["tellers"] = {k: tellers_at_once(where, lines, k) for k in (1, 2, 4, 8)}
    with Ledger.open(where, ADMIN) as ledger:
        t = time.perf_counter()
        out["clean"] = verify(ledger)["ok"]
        out["verify_s"] = time.perf_counter() - t
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--notes", type=int, default=10_000)
    args = ap.parse_args()
    server = os.environ.get("CREDIT_COOP_BENCH_PG")
    if not server:
        sys.exit("set CREDIT_COOP_BENCH_PG to a PostgreSQL server URL (a role that may create databases)")
    import psycopg

    script = shutil.which("credit-coop") or os.path.join(os.path.dirname(sys.executable), "credit-coop")
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = server.rsplit("/", 1)[0] + "/" + name
    try:
        with tempfile.TemporaryDirectory() as d:
            results = {"SQLite file": run(os.path.join(d, "b.db"), args.notes, script), "PostgreSQL": run(url, args.notes, script)}
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    print(f"{args.notes:,} notes | draw (whole process) | draws/s with 1 / 2 / 4 / 8 tellers on different lines "
          "| day-end (one day) | verify\n|---|---|---|---|---|")
    for backend, r in results.items():
        t = r["tellers"]
        print(f"| {backend} | {r['draw_ms']:.0f} ms | {t[1]:.0f} / {t[2]:.0f} / {t[4]:.0f} / {t[8]:.0f} "
              f"| {r['dayend_s']:.2f} s ({args.notes / r['dayend_s']:,.0f} notes/s) | {r['verify_s']:.2f} s{'' if r['clean'] else ' (FINDINGS)'} |")
    s, p = results["SQLite file"], results["PostgreSQL"]
    print(f"\nPostgreSQL draw / SQLite draw: {p['draw_ms'] / s['draw_ms']:.2f}×; "
          f"PostgreSQL with 8 tellers / 1 teller: {p['tellers'][8] / p['tellers'][1]:.2f}×")


if __name__ == "__main__":
    main()
