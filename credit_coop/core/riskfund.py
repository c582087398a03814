"""Officers' risk compensation funds (风险补偿金账户) — SPEC §7, source §七.

- In: the monthly holdbacks (pay.py) and recoveries; out: compensation and refunds.
- Full compensation (全额赔偿): a loan note of at most 30万 (policy, inclusive)
  still unpaid ``compensation_grace_days`` after maturity (default 0: 到期未收回)
  is paid off in full by the officer who issued it (the grant's surveyor): from
  their fund, and any shortfall is recorded as the officer's debt (1221) until
  they pay it in. Run by the day-end, at the end of that day.
- Recovery: when the borrower later repays a compensated note, the money first
  repays the part of that case booked as the officer's debt (the cooperative
  advanced it), and only the rest goes back to the officer's fund (issue 18).
- Transfer: an officer moved off the post gets the whole fund back once every
  loan they issued is recovered (``settle``, or the next year-end).
- The statement is read from the journal, so it always reconciles to it.
"""

from __future__ import annotations

from datetime import date

from credit_coop.core import accounts
from credit_coop.core.errors import Conflict, NotFound, NotPermitted, RuleViolation
from credit_coop.core.journal import Line, post
from credit_coop.core.ledger import Ledger
from credit_coop.core.money import format_yuan, to_fen
from credit_coop.core.operators import require
from credit_coop.core.organisation import cash_account_of, operator_unit


def fund_balance(ledger: Ledger, officer: str, through: str | None = None) -> int:
    return ledger.store.officer_balance(officer, accounts.RISK_FUND, sign=-1, through=through)


def officer_debt(ledger: Ledger, officer: str) -> int:
    return ledger.store.officer_balance(officer, accounts.OFFICER_DEBT, sign=1)


def compensate_matured(ledger: Ledger, day: date) -> list[dict]:
    """Inside the day-end for ``day``: compensate every note due for it (see module docstring)."""
    store = ledger.store
    rf = ledger.policy["risk_fund"]
    cases = []
    for c in store.compensation_candidates(day.isoformat(), rf["compensation_grace_days"]):
        if not ledger.policy.within(c["amount"], rf["compensation_ceiling"]):
            continue
        owed = {"principal": c["principal"], "interest_accrued": c["accrued"], "interest_due": c["interest_due"], "penalty": c["penalty"]}
        amount = sum(owed.values())
        from_fund = min(amount, max(fund_balance(ledger, c["officer"]), 0))
        shortfall = amount - from_fund
        lines = []
        if from_fund:
            lines.append(Line(accounts.RISK_FUND, debit=from_fund, grant_id=c["grant_id"], note_id=c["note_id"], officer=c["officer"]))
        if shortfall:
            lines.append(Line(accounts.OFFICER_DEBT, debit=shortfall, grant_id=c["grant_id"], note_id=c["note_id"], officer=c["officer"]))
        for comp, fen in owed.items():
            for account, part in accounts.receivable_credits(comp, fen, c["product"], c["penalty"] - c["penalty_accrued"]) if fen else ():
                lines.append(Line(account, credit=part, grant_id=c["grant_id"], note_id=c["note_id"]))
        txn_id = post(ledger, "compensation", day, lines, memo=f"全额赔偿 {c['note_no']} by {c['officer']}")
        store.insert_compensation({"note_id": c["note_id"], "officer": c["officer"], "on_date": day.isoformat(), "amount": amount,
                                   "from_fund": from_fund, "shortfall": shortfall, "txn_id": txn_id})
        store.clear_note_state(c["note_id"])
        cases.append({"note_no": c["note_no"], "officer": c["officer"], "amount_fen": amount, "shortfall_fen": shortfall,
                      "txn_id": txn_id})
    return cases


def pay_in(ledger: Ledger, officer: str, amount: int | str, on: date) -> dict:
    """``credit-coop officer pay-in``: the officer pays in (part of) their compensation shortfall."""
    teller = require(ledger, "officer.pay-in")
    amount = to_fen(amount, what="pay-in amount")
    store = ledger.store
    with store.write():
        _officer(ledger, officer)
        debt = officer_debt(ledger, officer)
        if debt <= 0:
            raise RuleViolation(f"{officer} owes nothing for compensation")
        if amount > debt:
            raise RuleViolation(f"{format_yuan(amount)} is more than the {format_yuan(debt)} {officer} owes")
        txn_id = post(ledger, "officer-pay-in", on, [Line(cash_account_of(ledger, teller, on), debit=amount),
                                                       Line(accounts.OFFICER_DEBT, credit=amount, officer=officer)],
                      memo=f"{officer} pays in compensation shortfall")
    return {"officer": officer, "amount_fen": amount, "debt_after_fen": debt - amount, "txn_id": txn_id}


def _officer(ledger: Ledger, name: str):
    op = ledger.store.get_operator(name)
    if op is None:
        raise NotFound(f"no operator {name}")
    return op


def transfer(ledger: Ledger, officer: str, on: date) -> dict:
    """``credit-coop officer transfer``: the officer leaves the post (no new surveys from then on)."""
    require(ledger, "officer.transfer")
    store = ledger.store
    with store.write():
        op = _officer(ledger, officer)
        if op["role"] != "officer":
            raise RuleViolation(f"{officer} is {op['role']}, not a loan officer")
        if store.transfer(officer):
            raise Conflict(f"{officer} was already transferred on {store.transfer(officer)['on_date']}")
        store.insert_transfer(officer, on.isoformat(), ledger.operator)
        open_loans = store.unrecovered_issued(officer, accounts.LOANS + ".", accounts.RISK_FUND, accounts.OFFICER_DEBT)
    return {"officer": officer, "transferred_on": on.isoformat(), "loans_not_recovered": open_loans,
            "fund_fen": fund_balance(ledger, officer)}


def settle(ledger: Ledger, officer: str, on: date) -> dict:
    """``credit-coop officer settle``: full refund of a transferred officer's fund once every loan is recovered."""
    require(ledger, "officer.settle")
    store = ledger.store
    with store.write():
        _officer(ledger, officer)
        result = settle_in_transaction(ledger, officer, on)
    return result


def settle_in_transaction(ledger: Ledger, officer: str, on: date) -> dict:
    store = ledger.store
    if store.transfer(officer) is None:
        raise RuleViolation(f"{officer} has not been transferred off the post; the fund is refunded in full only then")
    if store.settlement(officer):
        raise Conflict(f"{officer}'s fund was already settled on {store.settlement(officer)['on_date']}")
    debt = officer_debt(ledger, officer)
    if debt > 0:
        raise RuleViolation(f"{officer} still owes {format_yuan(debt)} for compensation; the fund is refunded only once it is paid in or recovered")
    pending = store.unrecovered_issued(officer, accounts.LOANS + ".", accounts.RISK_FUND, accounts.OFFICER_DEBT)
    if pending:
        raise RuleViolation(f"{pending} loan(s) {officer} issued are not yet recovered; the fund stays until they are")
    balance = fund_balance(ledger, officer)
    txn_id = None
    if balance > 0:
        txn_id = post(ledger, "fund-settlement", on, [Line(accounts.RISK_FUND, debit=balance, officer=officer),
                                                    Line(accounts.PAY_PAYABLE, credit=balance, officer=officer)],
                      memo=f"risk fund refunded in full to {officer} (transferred)")
    store.insert_settlement(officer, on.isoformat(), balance, txn_id)
    return {"officer": officer, "refund_fen": balance, "txn_id": txn_id}


MOVEMENT_NAMES = {  # screens name them in Chinese through core/labels.py
    "payroll": "holdback",
    "compensation": "compensation",
    "repayment": "recovery",
    "reversal": "reversal",
    "year-end": "year-end refund",
    "fund-settlement": "full refund",
    "officer-pay-in": "pay-in",
}


def closed_or_today(ledger: Ledger) -> str:
    from credit_coop.core.dates import today

    return ledger.store.closed_through() or today().isoformat()


def statement(ledger: Ledger, officer: str, year: int | None = None) -> dict:
    """An officer's fund statement: opening, each movement, closing (from the journal)."""
    store = ledger.store
    from credit_coop.core.operators import PERMISSIONS

    op_row = store.get_operator(ledger.operator or "")
    if op_row is None or (ledger.operator != officer and op_row["role"] not in PERMISSIONS["officer.statement"]):
        raise NotPermitted(f"a fund statement is for the officer themself, or {', '.join(PERMISSIONS['officer.statement'])}")
    _officer(ledger, officer)
    first = f"{year:04d}-01-01" if year else "0000-01-01"
    last = f"{year:04d}-12-31" if year else "9999-12-31"
    rows = store.officer_movements(officer, [accounts.RISK_FUND, accounts.OFFICER_DEBT])
    opening = sum(r["credit"] - r["debit"] for r in rows if r["account"] == accounts.RISK_FUND and r["business_date"] < first)
    balance = opening
    movements = []
    for r in rows:
        if not first <= r["business_date"] <= last:
            continue
        fund = r["credit"] - r["debit"] if r["account"] == accounts.RISK_FUND else 0
        debt = r["debit"] - r["credit"] if r["account"] == accounts.OFFICER_DEBT else 0
        balance += fund
        movements.append({"on": r["business_date"], "txn_id": r["txn_id"], "what": MOVEMENT_NAMES.get(r["kind"], r["kind"]),
                          "memo": r["memo"], "fund_fen": fund, "debt_fen": debt, "balance_fen": balance})
    closing = balance
    in_journal = fund_balance(ledger, officer, through=last)
    return {
        "officer": officer,
        "year": year,
        "opening_fen": opening,
        "movements": movements,
        "closing_fen": closing,
        "journal_balance_fen": in_journal,
        "reconciles": closing == in_journal,
        "debt_fen": officer_debt(ledger, officer),
        "transferred_on": (store.transfer(officer) or {"on_date": None})["on_date"],
        "department": operator_unit(ledger, officer, "officer", closed_or_today(ledger)),
    }


def compensation_report(ledger: Ledger) -> dict:
    """``credit-coop report compensation``: every case, recoveries, and officers' outstanding debts."""
    cases = [
        {"note_no": c["note_no"], "card_no": c["card_no"], "product": c["product"], "officer": c["officer"], "on": c["on_date"],
         "amount_fen": c["amount"], "from_fund_fen": c["from_fund"], "shortfall_fen": c["shortfall"], "recovered_fen": c["recovered"]}
        for c in ledger.store.compensation_cases(accounts.RISK_FUND, accounts.OFFICER_DEBT)
    ]
    officers = sorted({c["officer"] for c in cases})
    debts = [{"officer": o, "debt_fen": officer_debt(ledger, o), "fund_fen": fund_balance(ledger, o)} for o in officers]
    return {"cases": cases, "officers": debts, "total_fen": sum(c["amount_fen"] for c in cases),
            "outstanding_debt_fen": sum(d["debt_fen"] for d in debts)}
