"""``credit-coop demo``: a fresh demo ledger built from sample_data through the
import path, then the year's batches, the product report beside the source's
table, and a verify."""

from __future__ import annotations

import csv
import os
import time
from datetime import date, timedelta
from pathlib import Path

from credit_coop.core import loans
from credit_coop.core.auth import hash_passphrase
from credit_coop.core.errors import Conflict, LedgerUnavailable, RuleViolation
from credit_coop.core.export import export_workbook
from credit_coop.core.imports import import_rows, read_csv
from credit_coop.core.dayend import day_end, next_day_to_close
from credit_coop.core.ledger import Ledger, create_ledger
from credit_coop.core.money import format_yuan
from credit_coop.core.pay import run_payroll
from credit_coop.core.reports import overdue_report, product_report, unit_report
from credit_coop.core.riskfund import compensation_report
from credit_coop.core.yearend import run_year_end
from credit_coop.core.verify import verify

DEMO_ADMIN = "联社管理员"
DEMO_TELLER = "会计1号"
DEMO_AUDITOR = "郑稽核"
DEMO_PASSPHRASE = "demo-pass"  # every demo operator's passphrase (printed by the demo; never use it for real)
DEMO_CREATED = date(2025, 2, 20)


def sample_data_dir(given: str | None = None) -> Path:
    """The sample data folder: as given, else the installed copy, else the checkout's."""
    if given:
        path = Path(given)
    else:
        try:
            from importlib import resources

            path = Path(str(resources.files("credit_coop.sample_data")))
        except ModuleNotFoundError:
            path = Path(__file__).resolve().parents[2] / "sample_data"
    if not (path / "policy.toml").is_file():
        raise LedgerUnavailable(f"no sample data (policy.toml and CSVs) in {path}")
    return path


def _replaceable(path: str) -> None:
    """Remove an earlier demo ledger at ``path``; refuse to touch anything else."""
    if not os.path.exists(path):
        return
    try:
        with Ledger.open(path) as old:
            is_demo = old.store.get_meta("demo") == "1"
    except LedgerUnavailable:
        is_demo = False
    if not is_demo:
        raise Conflict(f"{path} exists and is not a demo ledger; refusing to replace it (choose another --db)")
    from credit_coop.store import Store

    Store.remove(path)


def _settlement_cuts(first: date, through: date, interest_policy: dict) -> list[date]:
    """Every settlement day from ``first`` up to ``through``, then ``through`` itself."""
    from credit_coop.core.dayend import is_settlement_day

    cuts, day = [], first
    while day < through:
        if is_settlement_day(day, interest_policy):
            cuts.append(day)
        day += timedelta(days=1)
    return cuts + [through]


def _borrowers_pay_interest(ledger: Ledger, on: date, defaulters: dict[str, str]) -> int:
    """The demo's borrowers: each pays the interest due at the counter the day after settlement,
    except the sample's defaulters (card → the day they stop paying)."""
    teller = ledger.acting_as(DEMO_TELLER)
    paid = 0
    for line in ledger.store.lines_owing_interest(on.isoformat()):
        stops = defaulters.get(line["card_no"])
        if not line["matured_unpaid"] and not (stops and on.isoformat() >= stops):
            loans.repay(teller, card=line["card_no"], amount=line["owed"], on=on, request_id=f"demo-interest-{line['card_no']}-{on}")
            paid += 1
    return paid


def build_demo(path: str, sample_dir: str | None, through: date, progress_for=None, force: bool = False) -> dict:
    """``progress_for(label)`` gives a ``(done, total)`` callback or None. ``force``: replace an
    audit workbook beside the ledger that credit-coop did not write."""
    from credit_coop.core.export import check_replaceable

    data = sample_data_dir(sample_dir)
    workbook = os.path.splitext(path)[0] + "-audit.xlsx"
    check_replaceable(workbook, force)  # before the demo touches anything
    _replaceable(path)
    steps: list[str] = []
    t0 = time.perf_counter()
    create_ledger(path, operator=DEMO_ADMIN, policy_file=str(data / "policy.toml"), on=DEMO_CREATED, passphrase=DEMO_PASSPHRASE)
    with Ledger.open(path, DEMO_ADMIN) as ledger:
        with ledger.store.write():
            ledger.store.set_meta("demo", "1")

        def load(kind: str, rows) -> int:
            report = import_rows(ledger, kind, rows, on=DEMO_CREATED)
            if not report.committed:
                first = report.rejected[0]
                raise RuleViolation(f"sample {kind}.csv line {first['line']} ({len(report.rejected)} bad rows): {first['error']}")
            return report.posted

        def rows_of(kind: str):
            return read_csv((data / f"{kind}.csv").read_text("utf-8"), kind)

        for kind in ("villages", "operators", "borrowers", "grants"):
            t = time.perf_counter()
            steps.append(f"imported {load(kind, rows_of(kind))} {kind} ({time.perf_counter() - t:.1f} s)")
            if kind == "operators":
                with ledger.store.write():
                    for op in ledger.store.list_operators():
                        ledger.store.update_operator(op["name"], passphrase=hash_passphrase(DEMO_PASSPHRASE))

        # the counter's year: each settlement period's drawdowns and repayments, then the day-end,
        # then the borrowers paying their interest on the day after settlement
        t = time.perf_counter()
        draws, repays = rows_of("draws"), rows_of("repayments")
        defaulters = {}
        with open(data / "defaulters.csv", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                line = ledger.store.line_for(row["id_number"], row["product"])
                defaulters[line["card_no"]] = row["stops_paying_on"]
        cuts = _settlement_cuts(next_day_to_close(ledger), through, ledger.policy["interest"])
        posted = {"draws": 0, "repayments": 0, "interest": 0, "payrolls": 0}
        prev = ""
        progress = progress_for("the demo year") if progress_for else None
        for i, cut in enumerate(cuts, 1):
            c = cut.isoformat()
            # the counter works on the open business date: each day's postings, then that day is closed
            period = sorted({r[1]["on"] for r in draws + repays if prev < r[1]["on"] <= c})
            for day in period:
                day_end(ledger, date.fromisoformat(day) - timedelta(days=1), today=through)
                posted["draws"] += load("draws", [r for r in draws if r[1]["on"] == day])
                posted["repayments"] += load("repayments", [r for r in repays if r[1]["on"] == day])
            day_end(ledger, cut, today=through)
            if cut < through:
                posted["interest"] += _borrowers_pay_interest(ledger, cut + timedelta(days=1), defaulters)
                before = cut.replace(day=1) - timedelta(days=1)  # the month before this settlement is closed: pay it
                if before >= DEMO_CREATED.replace(day=1):  # every month of the ledger's life is paid
                    run_payroll(ledger, before.strftime("%Y-%m"), on=cut + timedelta(days=1))
                    posted["payrolls"] += 1
            prev = c
            if progress:
                progress(i, len(cuts))
        steps.append(
            f"posted {posted['draws']} drawdowns, {posted['repayments']} repayments, {posted['interest']} interest payments; "
            f"closed every day through {through}; {posted['payrolls']} monthly payrolls ({time.perf_counter() - t:.1f} s)"
        )
        t = time.perf_counter()
        after = through + timedelta(days=1)
        if through.month == 12 and through.day == 31:
            run_payroll(ledger, through.strftime("%Y-%m"), on=after)
            year_end = run_year_end(ledger, through.year, on=after, today=max(date.today(), after))
            clean = sum(1 for o in year_end["officers"] if o["clean"])
            steps.append(f"paid December and ran the {through.year} year-end on {after}: {clean} of "
                         f"{len(year_end['officers'])} fund holders clean, refunds {format_yuan(year_end['total_refund_fen'])} "
                         f"({time.perf_counter() - t:.1f} s)")
        compensation = compensation_report(ledger)
        t = time.perf_counter()
        month = through.replace(day=1)
        exported = export_workbook(ledger.acting_as(DEMO_AUDITOR), workbook, first=month, last=through, force=force)
        steps.append(f"wrote the audit workbook for {month} .. {through}: "
                     f"{sum(x['rows'] for x in exported['sheets'])} rows ({time.perf_counter() - t:.1f} s)")
        products = product_report(ledger, through)
        overdue = overdue_report(ledger, through)
        departments = unit_report(ledger, through, "department")
        checked = verify(ledger)
    steps.append(f"total {time.perf_counter() - t0:.1f} s")
    return {
        "db": os.path.abspath(path),
        "workbook": exported["out"],
        "through": through.isoformat(),
        "steps": steps,
        "products": products,
        "departments": departments,
        "overdue": {k: overdue[k] for k in ("by_class", "outstanding_fen", "non_performing_fen", "npl_ratio_percent")}
        | {"notes": len(overdue["notes"])},
        "compensation": {"cases": len(compensation["cases"]), "total_fen": compensation["total_fen"],
                         "outstanding_debt_fen": compensation["outstanding_debt_fen"]},
        "note_hnd": (
            "惠农贷: the source reports 9,322万 granted to 921 households, more than the 10万 ceiling allows "
            "(921 × 10万 = 9,210万); the ledger holds every line at its ceiling and does not bend the rule."
        ),
        "verify_ok": checked["ok"],
        "findings": [f["message"] for f in checked["findings"]],
        "passphrase": DEMO_PASSPHRASE,
        "try": [
            f"export CREDIT_COOP_DB={path} CREDIT_COOP_PASSWORD={DEMO_PASSPHRASE} CREDIT_COOP_OPERATOR={DEMO_AUDITOR}",
            "credit-coop report overdue",
            "credit-coop report compensation",
            f"credit-coop report trial-balance --as-of {through}",
            "credit-coop officer statement 经理1-1 --year 2025",
            "credit-coop grant list --product hnd --status live",
            "credit-coop verify",
        ],
    }
