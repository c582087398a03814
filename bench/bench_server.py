"""The ledger on a SQLite file beside the same ledger on a PostgreSQL server, in one run (issue 12):
`draw` as a whole process (started afresh, and run by a resident process: credit_coop/resident.py),
draws/s with 1, 2, 4 and 8 tellers at once on different lines, one day-end over N notes, and `verify`.
Printed, never asserted.

    CREDIT_COOP_BENCH_PG=postgresql://USER@HOST:PORT/postgres python bench/bench_server.py [--notes 10000]

(The role must be allowed to create databases; a fresh one is made and dropped.)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
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
    print("ready", flush=True)
    sys.stdin.readline()  # all tellers start together, once started up and connected
    t = time.time()
    for _ in range(n):  # each with its audit row, as the command writes one
        ledger.store.pending_audit = {"operator": "柜员0", "action": "draw", "detail": f"--card {card} --amount 1.00"}
        draw(ledger, card=card, id_number=idn, amount="1.00", fingerprint_ok=True, on=date(2025, 3, 4))
    print(t, time.time(), flush=True)
"""


def median_ms(cmd, env, n=11) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return sorted(times)[n // 2] * 1000


def tellers_at_once(where: str, lines: list[tuple[str, str]], k: int, per: int = 100) -> float:
    """k processes, each drawing ``per`` times on its own line: draws per second, all together, from the
    first teller's first draw to the last one's last (Python's start-up and the connection not counted)."""
    procs = [subprocess.Popen([sys.executable, "-c", TELLER, where, card, idn, str(per)], text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE) for card, idn in lines[:k]]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    spans = []
    for p in procs:
        spans.append([float(x) for x in p.stdout.readline().split()])
        assert p.wait() == 0
    return k * per / (max(e for _, e in spans) - min(s for s, _ in spans))


def cpu_busy(since: tuple[int, int] | None = None):
    """The machine's CPU ticks (busy, all) now, or the busy share since ``since``."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    now = (sum(ticks) - ticks[3] - ticks[4], sum(ticks))
    return now if since is None else (now[0] - since[0]) / max(now[1] - since[1], 1)


@contextmanager
def resident_process(script: str):
    """A resident process of the installed credit-coop on a socket of its own: its path, for
    CREDIT_COOP_RESIDENT."""
    home = tempfile.mkdtemp(prefix="ccr-")
    sock = os.path.join(home, "r.sock")
    env = dict(os.environ, CREDIT_COOP_RESIDENT=sock)
    subprocess.run([script, "resident", "start"], env=env, check=True, capture_output=True)
    try:
        yield sock
        status = subprocess.run([script, "--json", "resident", "status"], env=env, capture_output=True, text=True).stdout
        print(f"(the resident process ran {json.loads(status).get('commands', 0)} commands)")
    finally:
        subprocess.run([script, "resident", "stop"], env=env, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def run(where: str, notes: int, script: str, round_trip_ms: float, township_ms: float, resident: str) -> dict:
    build_ledger(where, notes, on=ON)
    with Ledger.open(where, ADMIN) as ledger:
        day_end(ledger, ON, today=date(2030, 1, 1))  # the notes' first close makes their day-end state
        lines = [(r["card_no"], r["borrower_id"]) for r in ledger.store._all("SELECT card_no, borrower_id FROM grants ORDER BY id LIMIT 9")]
    out = {}
    env = dict(os.environ, CREDIT_COOP_DB=where, CREDIT_COOP_OPERATOR="柜员0", CREDIT_COOP_LANG="en", CREDIT_COOP_RESIDENT="off")
    env.pop("CREDIT_COOP_PASSWORD", None)
    subprocess.run([script, "login"], env=dict(env, CREDIT_COOP_PASSWORD=PASSPHRASE), check=True, capture_output=True)
    card, idn = lines[8]
    draw_cmd = [script, "draw", "--card", card, "--id-number", idn, "--amount", "1", "--fingerprint-ok",
                "--on", (ON + timedelta(days=1)).isoformat()]
    out["draw_ms"] = median_ms(draw_cmd, env)
    out["draw_resident_ms"] = median_ms(draw_cmd, dict(env, CREDIT_COOP_RESIDENT=resident))
    out["tellers"], out["busy"] = {}, {}
    for k in (1, 2, 4, 8):
        before = cpu_busy()
        out["tellers"][k] = tellers_at_once(where, lines, k)
        out["busy"][k] = cpu_busy(before)
    if where.startswith("postgresql://"):  # the same tellers over a township's line to the county's server
        from urllib.parse import urlsplit

        from latency import DelayedRelay

        u = urlsplit(where)

        def through(relay: DelayedRelay) -> str:  # the server's URL by way of the relay
            return u._replace(netloc=f"{u.username}@127.0.0.1:{relay.port}").geturl()

        with DelayedRelay(u.hostname, u.port or 5432, round_trip_ms) as relay:
            out["tellers_far"] = {k: tellers_at_once(through(relay), lines, k, per=40) for k in (1, 2, 4, 8)}
        with DelayedRelay(u.hostname, u.port or 5432, township_ms) as relay:  # one teller's command, start to end
            out["draw_township_ms"] = median_ms(draw_cmd, dict(env, CREDIT_COOP_DB=through(relay)), n=7)
            out["draw_township_resident_ms"] = median_ms(
                draw_cmd, dict(env, CREDIT_COOP_DB=through(relay), CREDIT_COOP_RESIDENT=resident), n=7)
    with Ledger.open(where, ADMIN) as ledger:
        t = time.perf_counter()
        day_end(ledger, ON + timedelta(days=1), today=date(2030, 1, 1))  # a day's close, every note accruing
        out["dayend_s"] = time.perf_counter() - t
        t = time.perf_counter()
        out["clean"] = verify(ledger)["ok"]
        out["verify_s"] = time.perf_counter() - t
    return out


def demo_on_both(server_url: str) -> dict:
    """The demo ledger (``credit-coop demo``) copied onto the server: the copy's time, and verify on each."""
    from credit_coop.core.backup import copy
    from credit_coop.core.demo import build_demo, DEMO_ADMIN

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "demo.db")
        build_demo(path, None, date(2025, 12, 31))
        out = {}
        with Ledger.open(path, DEMO_ADMIN) as ledger:
            t = time.perf_counter()
            out["rows"] = copy(ledger, server_url)["rows"]
            out["copy_s"] = time.perf_counter() - t
        for where in (path, server_url):
            with Ledger.open(where, DEMO_ADMIN) as ledger:
                t = time.perf_counter()
                clean = verify(ledger)["ok"]
                out[where] = (time.perf_counter() - t, clean)
        out["file_verify"], out["server_verify"] = out.pop(path), out.pop(server_url)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--notes", type=int, default=10_000)
    ap.add_argument("--demo", action="store_true", help="also copy the demo ledger onto the server and verify it on both")
    ap.add_argument("--round-trip-ms", type=float, default=2.0, help="the counters' line to the server, for the far tellers")
    ap.add_argument("--township-ms", type=float, default=20.0,
                    help="a township's line to the county's server, for one whole drawdown command")
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
        with tempfile.TemporaryDirectory() as d, resident_process(script) as resident:
            results = {"SQLite file": run(os.path.join(d, "b.db"), args.notes, script, args.round_trip_ms, args.township_ms,
                                          resident),
                       "PostgreSQL": run(url, args.notes, script, args.round_trip_ms, args.township_ms, resident)}
        if args.demo:
            with psycopg.connect(server, autocommit=True) as admin:
                admin.execute(f"CREATE DATABASE {name}_demo")
            demo = demo_on_both(f"{url}_demo")
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.execute(f"DROP DATABASE IF EXISTS {name}_demo WITH (FORCE)")
    print(f"{args.notes:,} notes | draw (whole process: started afresh / by the resident) | draws/s with 1 / 2 / 4 / 8 tellers on different lines "
          "| day-end (a day's close) | verify\n|---|---|---|---|---|")
    for backend, r in results.items():
        t = r["tellers"]
        busy = " / ".join(f"{100 * r['busy'][k]:.0f}%" for k in (1, 2, 4, 8))
        print(f"| {backend} | {r['draw_ms']:.0f} / {r['draw_resident_ms']:.0f} ms | {t[1]:.0f} / {t[2]:.0f} / {t[4]:.0f} / {t[8]:.0f} (CPU busy {busy}) "
              f"| {r['dayend_s']:.2f} s ({args.notes / r['dayend_s']:,.0f} notes/s) | {r['verify_s']:.2f} s{'' if r['clean'] else ' (FINDINGS)'} |")
    s, p = results["SQLite file"], results["PostgreSQL"]
    far = p["tellers_far"]
    print(f"| PostgreSQL, {args.round_trip_ms:g} ms round trip | | {far[1]:.0f} / {far[2]:.0f} / {far[4]:.0f} / {far[8]:.0f} | | |")
    print(f"| PostgreSQL, {args.township_ms:g} ms round trip | {p['draw_township_ms']:.0f} / {p['draw_township_resident_ms']:.0f} ms | | | |")
    print(f"\nPostgreSQL draw / SQLite draw: {p['draw_ms'] / s['draw_ms']:.2f}× started afresh, "
          f"{p['draw_resident_ms'] / s['draw_resident_ms']:.2f}× by the resident process; "
          f"PostgreSQL with 8 tellers / 1 teller: {p['tellers'][8] / p['tellers'][1]:.2f}× on the loopback, "
          f"{far[8] / far[1]:.2f}× over a {args.round_trip_ms:g} ms line")
    if args.demo:
        (fv, fok), (sv, sok) = demo["file_verify"], demo["server_verify"]
        print(f"The demo ledger onto the server: {demo['rows']:,} rows in {demo['copy_s']:.1f} s; verify {fv:.2f} s on the "
              f"file, {sv:.2f} s on the server{'' if fok and sok else ' (FINDINGS)'}")


if __name__ == "__main__":
    main()
