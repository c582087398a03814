"""The teller's counter: drawdowns (用信) and repayments on a credit line (SPEC §4).

A drawdown needs the borrower's ID card and loan card to match the line and
a verified fingerprint; it creates a loan note (借据) with its own maturity.
Repayments restore availability (revolving) and are applied in the policy's
order: penalty, interest due, accrued interest, principal.

This module is on the counter path: stdlib only, no heavy imports.
"""

from __future__ import annotations

from datetime import date, timedelta

from credit_coop.core import accounts
from credit_coop.core.business_day import check_line_order, check_not_far, check_settles_on_open_day, open_business_date
from credit_coop.core.dates import add_months, parse_date
from credit_coop.core.errors import InvalidInput, NotFound, RuleViolation
from credit_coop.core.identity import mask_id_number, validate_card_number, validate_id_number
from credit_coop.core.faults import fault
from credit_coop.core.journal import Line, check_open, once, post
from credit_coop.core.ledger import Ledger
from credit_coop.core.money import format_yuan, to_fen
from credit_coop.core.operators import not_own, require
from credit_coop.core.organisation import cash_account_of, check_branch

COMPONENTS = ("penalty", "interest_due", "interest_accrued", "principal")


def _line_by_card(ledger: Ledger, card: str):
    card = validate_card_number(card)
    g = ledger.store.get_grant_by_card(card)
    if g is None:
        raise NotFound(f"no credit line with loan card {card}")
    return g


def _check_line_open_for_drawing(g, on: date) -> None:
    status = g["status"]
    if status == "frozen":
        raise RuleViolation(f"line {g['card_no']} is frozen; no drawdowns until it is unfrozen")
    if status == "closed":
        raise RuleViolation(f"line {g['card_no']} is closed")
    if status != "approved":
        raise RuleViolation(f"line {g['card_no']} is not approved")
    if on.isoformat() < g["valid_from"]:
        raise RuleViolation(f"line {g['card_no']} is valid from {g['valid_from']}")
    if on.isoformat() > g["valid_to"]:
        raise RuleViolation(f"line {g['card_no']} expired on {g['valid_to']}; no drawdowns after its last valid day")


def state_date(ledger: Ledger) -> str:
    """The business date the notes' day-end state stands at: the last closed day, or during a
    back-dated correction the day before its date ('' before any day is closed)."""
    if ledger.reopened_from is not None:
        return (ledger.reopened_from - timedelta(days=1)).isoformat()
    return ledger.store.closed_through() or ""


def note_balances(ledger: Ledger, g, cases: list | None = None) -> list[dict]:
    """Every loan note on a line with its balances per component: the day-end state of the notes
    still owing plus the counter's postings since (``store.note_receivables``, issue 11).

    ``cases``: the line's compensation rows, when the caller already has them.
    """
    store = ledger.store
    bal = store.note_receivables(g["id"], state_date(ledger))
    notes = store.notes_for_grant(g["id"])
    reversed_ids = store.reversed_txn_ids(n["txn_id"] for n in notes)
    out = []
    if cases is None:
        cases = store.compensations_for_grant(g["id"], accounts.RISK_FUND, accounts.OFFICER_DEBT)
    compensated = {c["note_id"] for c in cases}
    for n in notes:
        b = bal.get(n["id"])
        comps = {"penalty": b["penalty"], "interest_due": b["interest_due"], "interest_accrued": b["accrued"],
                 "principal": b["principal"]} if b else dict.fromkeys(COMPONENTS, 0)
        owed = sum(comps.values())
        status = "reversed" if n["txn_id"] in reversed_ids else ("outstanding" if owed else
                                                                  "compensated" if n["id"] in compensated else "repaid")
        out.append(
            {
                "id": n["id"],
                "note_no": n["note_no"],
                "amount_fen": n["amount"],
                "drawn_on": n["drawn_on"],
                "maturity": n["maturity"],
                "status": status,
                "owed_fen": owed,
                **{f"{c}_fen": comps[c] for c in COMPONENTS},
                "penalty_claim_fen": comps["penalty"] - (b["penalty_accrued"] if b else 0),
            }
        )
    return out


def draw(
    ledger: Ledger,
    *,
    card: str,
    id_number: str,
    amount: int | str,
    fingerprint_ok: bool,
    on: date | str | None = None,
    request_id: str | None = None,
    maturity: date | str | None = None,
    correction: str | None = None,
) -> dict:
    """A drawdown at the counter; returns the loan note (借据).

    ``on``: the business date, by default the open business date (business_day.py).
    ``correction``: the reason, for a drawdown dated on a closed day (corrections.py).
    """
    op = require(ledger, "draw")
    on = _given_date(on, correction)
    amount = to_fen(amount, what="drawdown amount")
    card = validate_card_number(card)
    id_number = validate_id_number(id_number)
    maturity = parse_date(maturity, what="--maturity") if maturity is not None else None
    policy = ledger.policy
    store = ledger.store
    content = {"card": card, "id_number": id_number, "amount": amount, "maturity": maturity.isoformat() if maturity else None}

    def act() -> dict:
        if policy["drawdown"]["fingerprint_required"] and not fingerprint_ok:
            raise RuleViolation("no verified fingerprint, no loan: check the fingerprint and pass --fingerprint-ok")
        g = _line_by_card(ledger, card)
        store.lock("line", g["id"], reading="drawdown")  # this line's postings one at a time (other lines' go on beside it)
        if g["borrower_id"] != id_number:
            raise RuleViolation(f"loan card {card} does not belong to ID {mask_id_number(id_number)}; check both cards")
        not_own(op, g["borrower_id"], "draw on this line")
        check_branch(ledger, op, g, on)
        _check_line_open_for_drawing(g, on)
        if correction is None:
            check_open(ledger, on)  # a closed day is named as such, before any other date rule
            check_not_far(ledger, on)
            check_line_order(ledger, g["id"], card, on)
        if policy.refuse_draws_after_compensation:
            _check_no_open_compensation(ledger, g)
        if policy.refuse_draws_when_past_due:
            _check_not_past_due(ledger, g, on)
        prod = policy.product(g["product"])
        loans_acc = accounts.loans_account(g["product"])
        available = g["line_amount"] - store.grant_balance(g["id"], loans_acc)
        if amount > available:
            raise RuleViolation(f"{format_yuan(amount)} is more than the {format_yuan(max(available, 0))} available on line {card}")
        latest = add_months(on, prod["max_note_term_months"])
        due = maturity or add_months(on, prod["note_term_months"])
        if due <= on:
            raise InvalidInput("the maturity must be after the drawdown date")
        if due > latest:
            raise RuleViolation(
                f"maturity {due.isoformat()} is beyond the {prod['name']} longest note term of {prod['max_note_term_months']} months ({latest.isoformat()})"
            )
        if policy["drawdown"]["maturity_within_line"] and due.isoformat() > g["valid_to"]:
            if maturity is None:
                due = parse_date(g["valid_to"])
            else:
                raise RuleViolation(f"maturity {due.isoformat()} is after the line expires ({g['valid_to']})")
        till = cash_account_of(ledger, op, on)
        note_id = store.next_id("loan_notes")  # numbering holds the chain until commit (store/postgres.py): last
        note_no = f"JJ{on.year}{note_id:08d}"
        txn_id = post(
            ledger, "drawdown", on,
            [
                Line(loans_acc, debit=amount, grant_id=g["id"], note_id=note_id, officer=g["officer"]),
                Line(till, credit=amount, grant_id=g["id"]),
            ],
            memo=f"drawdown {note_no} on {card}",
        )
        fault("draw")
        store.insert_note(
            {
                "id": note_id, "note_no": note_no, "grant_id": g["id"], "amount": amount, "drawn_on": on.isoformat(),
                "maturity": due.isoformat(), "annual_rate_percent": prod["annual_rate_percent"], "txn_id": txn_id,
                "teller": op["name"], "fingerprint_ok": 1 if fingerprint_ok else 0,
            }
        )
        return {
            "note_no": note_no,
            "card_no": card,
            "borrower_masked": mask_id_number(id_number),
            "product": g["product"],
            "amount_fen": amount,
            "drawn_on": on.isoformat(),
            "maturity": due.isoformat(),
            "annual_rate_percent": prod["annual_rate_percent"],
            "available_after_fen": available - amount,
            "txn_id": txn_id,
        }

    with store.write(counter=correction is None):
        if on is None:
            on = open_business_date(ledger)
        return once(ledger, request_id, "draw", _content(content, correction), _corrected(ledger, on, card, correction, act))


def _given_date(on: date | str | None, correction: str | None) -> date | None:
    """The ``--on`` date as typed; a correction must name its day."""
    if on is None:
        if correction is not None:
            raise InvalidInput("a back-dated correction needs the day it belongs to (--on YYYY-MM-DD)")
        return None
    return parse_date(on, what="business date (--on)")


def _check_not_past_due(ledger: Ledger, g, on: date) -> None:
    """Issue 17: a line with a note past due (as the last day-end found it, and not paid since) stops drawing."""
    store = ledger.store
    late_notes = store.past_due_notes(g["id"])
    if not late_notes:
        return
    owing = store.note_receivables(g["id"], state_date(ledger), [n["id"] for n in late_notes])
    for late in late_notes:
        b = owing.get(late["id"])
        owed_late = (b["interest_due"] + b["penalty"] + (b["principal"] if late["maturity"] < on.isoformat() else 0)) if b else 0
        if owed_late > 0:
            raise RuleViolation(
                f"loan note {late['note_no']} on line {g['card_no']} is {late['dpd']} day(s) past due ({late['class']}); "
                "no new drawdowns until it is brought current"
            )


def _check_no_open_compensation(ledger: Ledger, g) -> None:
    """SPEC §7 / issue 18: a note paid off from the officer's risk fund and not yet recovered stops the line."""
    for c in ledger.store.compensations_for_grant(g["id"], accounts.RISK_FUND, accounts.OFFICER_DEBT):
        if c["amount"] > c["recovered"]:
            raise RuleViolation(
                f"loan note {c['note_no']} on line {g['card_no']} was compensated on {c['on_date']} and "
                f"{format_yuan(c['amount'] - c['recovered'])} is not yet recovered; no new drawdowns until it is repaid"
            )


def _content(content: dict, correction: str | None) -> dict:
    """What a request id fingerprints (a correction's reason included)."""
    return {**content, "correction": correction} if correction else content


def _corrected(ledger: Ledger, on: date, card: str, correction: str | None, act):
    """``act`` itself, or ``act`` run as a back-dated correction of the line behind ``card``."""
    if correction is None:
        return act

    def run() -> dict:
        from credit_coop.core.corrections import back_dated

        return back_dated(ledger, on, correction, [_line_by_card(ledger, card)["id"]], act)

    return run


def repay(
    ledger: Ledger, *, card: str, amount: int | str, on: date | str | None = None, note: str | None = None,
    request_id: str | None = None, correction: str | None = None,
) -> dict:
    """A repayment on a line, in the policy's order of components (penalty, interest due,
    accrued interest, principal) across all its notes, earliest maturity first within each.

    ``correction``: the reason, for a repayment dated on a closed day (corrections.py).
    """
    op = require(ledger, "repay")
    on = _given_date(on, correction)
    amount = to_fen(amount, what="repayment amount")
    card = validate_card_number(card)
    note_no = note.strip().upper() if note else None
    store = ledger.store
    order = ledger.policy["repayment"]["order"]
    content = {"card": card, "amount": amount, "note": note_no}

    def act() -> dict:
        g = _line_by_card(ledger, card)
        store.lock("line", g["id"], reading="repayment")
        check_branch(ledger, op, g, on)
        if correction is None:
            check_open(ledger, on)
            check_settles_on_open_day(ledger, on, "repayment")
            check_not_far(ledger, on)
            check_line_order(ledger, g["id"], card, on)
        all_cases = store.compensations_for_grant(g["id"], accounts.RISK_FUND, accounts.OFFICER_DEBT)
        notes = [n for n in note_balances(ledger, g, all_cases) if n["owed_fen"] > 0]
        # compensated notes: what the borrower pays back goes to the officer's fund (SPEC §7)
        cases = [c for c in all_cases if c["amount"] > c["recovered"]]
        if note_no is not None:
            n = store.get_note_by_no(note_no)
            if n is None or n["grant_id"] != g["id"]:
                raise NotFound(f"no loan note {note_no} on line {card}")
            notes = [x for x in notes if x["note_no"] == note_no]
            cases = [c for c in cases if c["note_no"] == note_no]
            if not notes and not cases:
                raise RuleViolation(f"loan note {note_no} is fully repaid")
        owed = sum(n["owed_fen"] for n in notes) + sum(c["amount"] - c["recovered"] for c in cases)
        if owed == 0:
            raise RuleViolation(f"nothing is owed on line {card}")
        if amount > owed:
            raise RuleViolation(f"{format_yuan(amount)} is more than the {format_yuan(owed)} owed; overpayment refused")
        remaining = amount
        lines: list[Line] = [Line(cash_account_of(ledger, op, on), debit=amount, grant_id=g["id"])]
        split = {c: 0 for c in COMPONENTS}
        split["recovery"] = 0
        split["recovery_to_debt"] = 0
        paid: dict[str, dict] = {}
        officers: dict[int, str | None] = {}  # each note's managing officer, looked up once
        # component by component across the line (all penalty first, ...), earliest maturity first within each
        for comp in order:
            for n in notes:
                take = min(remaining, n[f"{comp}_fen"])
                if not take:
                    continue
                if n["id"] not in officers:
                    officers[n["id"]] = store.note_officer(n["id"], g["officer"])
                for account, fen in accounts.receivable_credits(comp, take, g["product"], n["penalty_claim_fen"]):
                    lines.append(Line(account, credit=fen, grant_id=g["id"], note_id=n["id"], officer=officers[n["id"]]))
                paid.setdefault(n["note_no"], {})[f"{comp}_fen"] = take
                split[comp] += take
                remaining -= take
        debts: dict[str, int] = {}  # each officer's debt still open, read once
        for c in cases:
            take = min(remaining, c["amount"] - c["recovered"])
            if not take:
                continue
            # the part booked as the officer's debt was the cooperative's money: repaid first (issue 18)
            if c["officer"] not in debts:
                store.lock("officer", c["officer"])  # the officer's debt, read and repaid by one line at a time
                debts[c["officer"]] = store.officer_balance(c["officer"], accounts.OFFICER_DEBT, sign=1)
            to_debt = max(0, min(take, c["shortfall"] - c["recovered_to_debt"], debts[c["officer"]]))
            debts[c["officer"]] -= to_debt
            if to_debt:
                lines.append(Line(accounts.OFFICER_DEBT, credit=to_debt, grant_id=g["id"], note_id=c["note_id"], officer=c["officer"]))
            if take - to_debt:
                lines.append(Line(accounts.RISK_FUND, credit=take - to_debt, grant_id=g["id"], note_id=c["note_id"],
                                  officer=c["officer"]))
            paid.setdefault(c["note_no"], {})["recovery_fen"] = take
            split["recovery"] += take
            split["recovery_to_debt"] += to_debt
            remaining -= take
        per_note = [{"note_no": no, **parts} for no, parts in paid.items()]
        txn_id = post(ledger, "repayment", on, lines, memo=f"repayment on {card}")
        fault("repay")
        out_after = store.grant_balance(g["id"], accounts.loans_account(g["product"]))
        live = g["status"] == "approved" and g["valid_to"] >= on.isoformat()
        return {
            "card_no": card,
            "amount_fen": amount,
            "on": on.isoformat(),
            "split": {f"{c}_fen": v for c, v in split.items()},
            "notes": per_note,
            "outstanding_after_fen": out_after,
            "available_after_fen": g["line_amount"] - out_after if live else 0,
            "txn_id": txn_id,
        }

    with store.write(counter=correction is None):
        if on is None:
            on = open_business_date(ledger)
        return once(ledger, request_id, "repay", _content(content, correction), _corrected(ledger, on, card, correction, act))


def show_line(ledger: Ledger, card: str, as_of: date | None = None) -> dict:
    """A line as the teller sees it: limit, drawn, available, notes."""
    from credit_coop.core.grants import grant_summary

    as_of = as_of or date.today()
    g = _line_by_card(ledger, card)
    out = grant_summary(ledger, g, as_of)
    b = ledger.store.get_borrower(g["borrower_id"])
    out["borrower_name"] = b["name"]
    states = {s["id"]: s for s in ledger.store.past_due_notes(g["id"])}
    classes = {r["note_id"]: r["class"] for r in ledger.store.classes_of_grant(g["id"])}
    out["notes"] = [{**{k: v for k, v in n.items() if k not in ("id", "penalty_claim_fen")}, "days_past_due": states[n["id"]]["dpd"] if n["id"] in states else 0,
                     "class": classes.get(n["id"], "正常")} for n in note_balances(ledger, g)]
    return out



def _note(ledger: Ledger, note_no: str):
    n = ledger.store.get_note_by_no(str(note_no).strip().upper())
    if n is None:
        raise NotFound(f"no loan note {note_no}")
    return n


def show_note(ledger: Ledger, note_no: str, all_days: bool = False) -> dict:
    """A loan note (借据) so far: balances, days past due, class, officer and its postings — the counter's
    one by one, the day-end's summed per month (``all_days``: every day's, one by one)."""
    n = _note(ledger, note_no)
    store = ledger.store
    g = store.get_grant(n["grant_id"])
    bal = next(b for b in note_balances(ledger, g) if b["id"] == n["id"])
    state = store.note_state(n["id"])
    movements: dict[int, dict] = {}
    for line in store.note_lines(n["id"]):
        component = accounts.component_of(line["account"])
        if component is None:  # the officer's side of a compensation or recovery
            continue
        m = movements.setdefault(line["txn_id"], {"txn_id": line["txn_id"], "on": line["business_date"], "kind": line["kind"],
                                                  "principal_fen": 0, "interest_accrued_fen": 0, "interest_due_fen": 0, "penalty_fen": 0})
        m[component + "_fen"] += line["debit"] - line["credit"]
    return {
        "note_no": n["note_no"],
        "card_no": g["card_no"],
        "product": g["product"],
        "borrower_masked": mask_id_number(g["borrower_id"]),
        "amount_fen": n["amount"],
        "drawn_on": n["drawn_on"],
        "maturity": n["maturity"],
        "annual_rate_percent": n["annual_rate_percent"],
        "officer": store.note_officer(n["id"], g["officer"]),
        "status": bal["status"],
        "branch": g["branch"],
        "principal_fen": bal["principal_fen"],
        "interest_accrued_fen": bal["interest_accrued_fen"],
        "interest_due_fen": bal["interest_due_fen"],
        "penalty_fen": bal["penalty_fen"],
        "closed_through": store.closed_through(),
        "days_past_due": state["dpd"] if state else 0,
        "past_due_since": state["past_due_since"] if state else None,
        "class": state["class"] if state else "正常",
        "movements": list(movements.values()) if all_days else _by_month(movements.values()),
    }


def _by_month(movements) -> list[dict]:
    """Counter postings as they are; the day-end's accruals summed per month (issue 17: 335 lines for one note)."""
    from credit_coop.core.accounts import DAY_END_KINDS

    out: list[dict] = []
    months: dict[str, dict] = {}
    for m in movements:
        if m["kind"] not in DAY_END_KINDS or m["kind"] == "compensation":
            out.append(m)
            continue
        key = m["on"][:7]
        if key not in months:
            months[key] = {"txn_id": None, "on": key, "kind": "day-end", "days": 0, "principal_fen": 0, "interest_accrued_fen": 0,
                           "interest_due_fen": 0, "penalty_fen": 0}
            out.append(months[key])
        agg = months[key]
        agg["days"] += 1
        for k in ("principal_fen", "interest_accrued_fen", "interest_due_fen", "penalty_fen"):
            agg[k] += m[k]
    for agg in months.values():
        agg["kind"] = f"day-end × {agg['days']}"
    return out


def reassign(ledger: Ledger, note_no: str, officer: str, on: date) -> dict:
    """Hand a loan note to another managing officer (interest pay follows the manager)."""
    require(ledger, "loan.reassign")
    on = parse_date(on)
    store = ledger.store
    with store.write():
        n = _note(ledger, note_no)
        op = store.get_operator(officer)
        if op is None or op["role"] != "officer" or not op["active"]:
            raise RuleViolation(f"{officer} is not an active loan officer")
        store.insert_note_officer(n["id"], officer, on.isoformat(), ledger.operator)
    return {"note_no": n["note_no"], "officer": officer, "from": on.isoformat()}
