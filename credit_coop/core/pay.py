"""Officer performance pay (绩效工资), monthly — SPEC §6, source §六.

- Each grant approved in the month pays the policy fee (50 yuan), split by
  post: surveyor 80% (40), reviewer 10% (5), approver 10% (5).
- Interest pay: 10% of the interest (and penalty interest) actually collected
  in the month on the loan notes the officer manages, net of reversals.
- ``pay.holdback_percent`` (40%) of each person's monthly pay is withheld into their
  risk compensation fund (风险补偿金账户); the rest (60%) is payable (SPEC §7). Policy
  ``holdback_officers_only`` limits the holdback to loan officers.

Rounding rule (one, documented): each percentage is rounded half up to the
fen; the surveyor's grant share takes whatever the other two shares leave of
the fee, and the payable part is the total less the holdback — so grant shares
add up to the fee and withheld + payable = total, exactly.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from credit_coop.core import accounts, dates
from credit_coop.core.errors import Conflict, RuleViolation
from credit_coop.core.faults import fault
from credit_coop.core.journal import Line, post
from credit_coop.core.ledger import Ledger
from credit_coop.core.operators import require

PAID_ROLES = ("officer", "reviewer", "dept-head", "deputy-director", "committee")


class AlreadyRun(Conflict):
    """A batch that runs once per period was run before; ``result`` is the first run."""

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result


def percent_of(fen: int, percent: str | int) -> int:
    """``fen × percent / 100`` rounded half up to the fen."""
    return int((Decimal(fen) * Decimal(str(percent)) / 100).to_integral_value(ROUND_HALF_UP))


def parse_month(text: str) -> tuple[str, date, date]:
    """The month as ``YYYY-MM`` (however it was typed), its first and its last day."""
    y, m = dates.parse_month(text)
    return f"{y:04d}-{m:02d}", date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])


def grant_shares(policy) -> dict[str, int]:
    fee = policy["pay"]["grant_fee"]
    split = policy["pay"]["split_percent"]
    reviewer, approver = percent_of(fee, split["reviewer"]), percent_of(fee, split["approver"])
    return {"surveyor": fee - reviewer - approver, "reviewer": reviewer, "approver": approver}


def compute_payroll(ledger: Ledger, month: str) -> tuple[str, date, date, list[dict]]:
    """The month's pay table (nothing posted)."""
    month, first, last = parse_month(month)
    store = ledger.store
    policy = ledger.policy
    shares = grant_shares(policy)
    pay = policy["pay"]
    collected = store.interest_collected_in(first.isoformat(), last.isoformat(), "1132.")
    counts = {r["person"]: r for r in store.grant_roles_in(first.isoformat(), last.isoformat())}
    lines = []
    for person in sorted(set(collected) | set(counts)):
        op = store.get_operator(person)
        role = op["role"] if op else "unknown"
        c = counts.get(person)
        s, r, a = (c["surveyed"], c["reviewed"], c["approved"]) if c else (0, 0, 0)
        grant_pay = s * shares["surveyor"] + r * shares["reviewer"] + a * shares["approver"]
        got = collected.get(person, 0)
        interest_pay = percent_of(got, pay["interest_share_percent"]) if got > 0 else 0
        total = grant_pay + interest_pay
        if total <= 0:
            continue
        held = held_back(ledger, role, total)
        lines.append({
            "officer": person, "role": role, "surveyed": s, "reviewed": r, "approved": a, "grant_pay": grant_pay,
            "interest_collected": got, "interest_pay": interest_pay, "total": total, "holdback": held, "payable": total - held,
        })
    return month, first, last, lines


def held_back(ledger: Ledger, role: str, fen: int) -> int:
    """The policy's holdback of an amount of pay (officers only, if the policy says so)."""
    pay = ledger.policy["pay"]
    return percent_of(fen, pay["holdback_percent"]) if (role == "officer" or not pay["holdback_officers_only"]) else 0


def compute_adjustments(ledger: Ledger, month: str) -> list[dict]:
    """补发 / 扣回 (issue 14): for each month paid before ``month`` that a back-dated correction has
    touched since, the interest pay its collections earn now less what was given for it (its run
    and any adjustment carried since), per officer, with its own holdback at the policy's percentage.
    Pay already posted is never rewritten; the next run carries the difference."""
    store = ledger.store
    since = store.recheck_from("payroll")
    if since is None:
        return []
    share = ledger.policy["pay"]["interest_share_percent"]
    out = []
    for prior in store.paid_periods("payroll", since, month):
        _, first, last = parse_month(prior)
        collected = store.interest_collected_in(first.isoformat(), last.isoformat(), "1132.")
        given = store.interest_pay_for(prior)
        for officer in sorted(set(collected) | set(given)):
            got = collected.get(officer, 0)
            delta = (percent_of(got, share) if got > 0 else 0) - given.get(officer, 0)
            if not delta:
                continue
            op = store.get_operator(officer)
            held = held_back(ledger, op["role"] if op else "unknown", delta)
            out.append({"officer": officer, "for_month": prior, "interest_collected": got, "interest_pay_delta": delta,
                        "holdback": held, "payable": delta - held})
    return out


def net_lines(amounts: dict[tuple[str, str | None], int]) -> list[Line]:
    """Journal lines from net amounts per (account, officer), credit-positive; zero amounts dropped."""
    return [Line(acc, credit=fen, officer=who) if fen > 0 else Line(acc, debit=-fen, officer=who)
            for (acc, who), fen in amounts.items() if fen]


MONEY_COLUMNS = ("grant_pay", "interest_collected", "interest_pay", "total", "holdback", "payable", "interest_pay_delta",
                 "holdbacks", "refund", "refund_delta")


def fen_keys(row, drop: tuple[str, ...] = ()) -> dict:
    """A stored pay or refund row as results show it: amounts under ``_fen`` keys (one JSON shape)."""
    return {(f"{k}_fen" if k in MONEY_COLUMNS else k): v for k, v in dict(row).items() if k not in drop}


def _result(ledger: Ledger, month: str, lines: list, *, posted: bool, dry_run: bool, txn_id=None, run_on=None,
            holdback_percent: str, adjustments: list | None = None) -> dict:
    from credit_coop.core.organisation import operator_unit

    keys = ("grant_pay", "interest_pay", "total", "holdback", "payable")
    adjustments = [dict(a) for a in adjustments or []]
    month_end = f"{month}-31"  # the department each person belonged to at the month's end (issue 13)
    return {
        "month": month,
        "holdback_percent": str(holdback_percent),
        "dry_run": dry_run,
        "posted": posted,
        "run_on": run_on,
        "txn_id": txn_id,
        "officers": [{**fen_keys(l, ("id", "month")), "department": operator_unit(ledger, l["officer"], l["role"], month_end)}
                     for l in lines],
        "adjustments": [fen_keys(a, ("id", "month")) for a in adjustments],
        "totals": {f"{k}_fen": sum(l[k] for l in lines) for k in keys},
        "adjustment_totals": {f"{k}_fen": sum(a[k] for a in adjustments) for k in ("interest_pay_delta", "holdback", "payable")},
    }


def run_payroll(ledger: Ledger, month: str, *, on: date | None = None, dry_run: bool = False) -> dict:
    """``credit-coop batch payroll --month YYYY-MM``: once per month (a re-run is refused).

    ``on``: by default the open business date — the first day not closed, which is the month's
    natural posting day once the month is closed — never the calendar date (issue 17)."""
    from credit_coop.core.business_day import open_business_date

    require(ledger, "payroll")
    store = ledger.store
    with store.write():
        on = on or open_business_date(ledger)
        month, first, last, lines = compute_payroll(ledger, month)
        ended = store.batch_run("year-end", month[:4])
        if ended is not None:
            raise RuleViolation(f"the {month[:4]} year-end has already run (on {ended['run_on']}); a month of that year is no "
                                "longer paid on its own")
        prior = store.batch_run("payroll", month)
        if prior is not None:
            raise AlreadyRun(
                f"payroll for {month} was already run on {prior['run_on']} by {prior['operator']}; nothing posted",
                _result(ledger, month, store.batch_lines("payroll", month), posted=True, dry_run=False, txn_id=prior["txn_id"], run_on=prior["run_on"],
                        holdback_percent=ledger.policy["pay"]["holdback_percent"],
                        adjustments=store.adjustments("pay_adjustments", "month", month)),
            )
        closed = store.closed_through()
        if not closed or closed < last.isoformat():
            raise RuleViolation(f"{month} is not closed yet (day-end has run through {closed or 'no day'}); close the month first")
        if on <= last:
            raise RuleViolation(f"the payroll for {month} is posted after the month ends, not on {on.isoformat()}")
        adjustments = compute_adjustments(ledger, month)
        held = ledger.policy["pay"]["holdback_percent"]
        if dry_run:
            return _result(ledger, month, lines, posted=False, dry_run=True, holdback_percent=held, adjustments=adjustments)
        txn_id = None
        amounts: dict[tuple[str, str | None], int] = {}  # credit-positive, per account and officer
        for l in [*lines, *adjustments]:
            total = l.get("total", l.get("interest_pay_delta"))
            amounts[(accounts.PAY_EXPENSE, None)] = amounts.get((accounts.PAY_EXPENSE, None), 0) - total
            amounts[(accounts.PAY_PAYABLE, l["officer"])] = amounts.get((accounts.PAY_PAYABLE, l["officer"]), 0) + l["payable"]
            amounts[(accounts.RISK_FUND, l["officer"])] = amounts.get((accounts.RISK_FUND, l["officer"]), 0) + l["holdback"]
        journal = net_lines(amounts)
        if journal:
            txn_id = post(ledger, "payroll", on, journal, memo=f"performance pay {month}"
                          + (f" (with {len(adjustments)} adjustment(s) 补发/扣回)" if adjustments else ""))
        store.insert_batch("payroll", month, on.isoformat(), ledger.operator, txn_id, lines)
        store.insert_adjustments("pay_adjustments", [{"month": month, **a} for a in adjustments])
        store.clear_recheck("payroll")
        for _ in lines:  # everything written, nothing committed yet
            fault("payroll")
    return _result(ledger, month, lines, posted=True, dry_run=False, txn_id=txn_id, run_on=on.isoformat(), holdback_percent=held,
                   adjustments=adjustments)
