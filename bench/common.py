"""Helpers for the benchmark scripts: build a ledger with N live loan notes through the import path."""

from __future__ import annotations

import resource
import time
from datetime import date

from credit_coop.core.identity import make_id_number
from credit_coop.core.imports import import_rows
from credit_coop.core.ledger import Ledger, create_ledger

ADMIN = "管理员"
PASSPHRASE = "bench-pass"
STAFF = [("经理", "officer"), ("审查", "reviewer"), ("部长", "dept-head"), ("柜员", "teller"), ("会计", "accountant")]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ids(n: int) -> list[str]:
    out = []
    for i in range(n):
        born = date(1950 + i % 50, 1 + i % 12, 1 + i % 28)
        out.append(make_id_number(f"41{i // 50000 % 100:02d}{(i // 1000) % 50:02d}", born, i % 1000))
    return out


def build_ledger(path: str, notes: int, officers: int = 1, on: date = date(2025, 3, 3)) -> dict:
    """``notes`` borrowers, each with a 商贷通 line (applied two days before ``on``, approved the day
    before) and one 5万 drawdown on ``on``; returns timings."""
    from datetime import timedelta

    t0 = time.perf_counter()
    d2, d1 = (on - timedelta(days=2)).isoformat(), (on - timedelta(days=1)).isoformat()
    create_ledger(path, operator=ADMIN, on=on - timedelta(days=2))
    with Ledger.open(path, ADMIN) as ledger:
        staff = [(f"{name}{k}", role) for k in range(officers) for name, role in STAFF]
        import_rows(ledger, "operators", [(i, {"name": n, "role": r}) for i, (n, r) in enumerate(staff, 2)], on=on)
        from credit_coop.core.auth import set_passphrase

        set_passphrase(ledger, "柜员0", PASSPHRASE)
        people = ids(notes)
        t = time.perf_counter()
        import_rows(ledger, "borrowers", [(i + 2, {"id_number": p, "name": f"户{i}", "kinds": "business", "registered_on": d2})
                                          for i, p in enumerate(people)], on=on)
        rows = []
        for i, p in enumerate(people):
            k = i % officers
            rows.append((i + 2, {"ref": f"G{i}", "id_number": p, "product": "sdt", "amount": "10万", "applied_on": d2,
                                 "applied_by": f"经理{k}", "line": "10万", "term_months": "24", "surveyed_on": d2,
                                 "surveyed_by": f"经理{k}", "reviewed_on": d1, "reviewed_by": f"审查{k}",
                                 "approved_on": d1, "approved_by": f"部长{k}"}))
        rep = import_rows(ledger, "grants", rows, on=on)
        assert rep.committed, rep.rejected[:3]
        t_grants = time.perf_counter() - t
        t = time.perf_counter()
        rep = import_rows(ledger, "draws", [(i + 2, {"request_id": f"D{i}", "id_number": p, "product": "sdt", "amount": "5万",
                                                     "on": on.isoformat(), "teller": f"柜员{i % officers}"})
                                            for i, p in enumerate(people)], on=on)
        assert rep.committed, rep.rejected[:3]
        t_draws = time.perf_counter() - t
    return {"build_s": time.perf_counter() - t0, "grants_s": t_grants, "draws_s": t_draws}


def table(rows: list[tuple]) -> str:
    out = ["| case | figure | floor | ratio |", "|---|---|---|---|"]
    out += [f"| {c} | {f} | {fl} | {r} |" for c, f, fl, r in rows]
    return "\n".join(out)
