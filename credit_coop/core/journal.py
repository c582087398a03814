"""Double-entry journal: balanced postings, idempotent requests, reversals.

Every money movement is one transaction (``txns`` row) with at least two
journal lines whose debits equal their credits. Posted rows are never
changed (database triggers refuse it); a mistake is undone by a reversal
that mirrors the original lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Callable

from credit_coop.core import accounts
from credit_coop.core.errors import Conflict, NotFound, RuleViolation
from credit_coop.core.ledger import Ledger, require_text
from credit_coop.core.money import format_yuan
from credit_coop.core.accounts import DAY_END_KINDS


@dataclass(frozen=True)
class Line:
    account: str
    debit: int = 0
    credit: int = 0
    grant_id: int | None = None
    note_id: int | None = None
    officer: str | None = None


def post(ledger: Ledger, kind: str, on: date, lines: list[Line], *, memo: str | None = None, reverses: int | None = None) -> int:
    """Post one balanced transaction inside the caller's write transaction; returns its id."""
    if not ledger.store.in_transaction:
        raise AssertionError("post() must run inside store.write()")
    debit = sum(line.debit for line in lines)
    credit = sum(line.credit for line in lines)
    if len(lines) < 2 or debit != credit or debit <= 0:
        raise AssertionError(f"unbalanced posting: debit {debit} credit {credit}")
    for line in lines:
        if line.debit < 0 or line.credit < 0 or (line.debit == 0) == (line.credit == 0):
            raise AssertionError(f"a journal line needs exactly one positive side: {line}")
    if kind != "day-end":
        check_open(ledger, on)
    txn_id = ledger.store.insert_txn(kind, on.isoformat(), ledger.operator, memo, reverses)
    ledger.store.insert_lines(
        txn_id, [(l.account, l.debit, l.credit, l.grant_id, l.note_id, l.officer) for l in lines]
    )
    ledger.store.seal(txn_id)
    return txn_id


def seal_bulk(ledger: Ledger, txn_id: int) -> None:
    """Close a transaction whose lines were written set-wise (the day-end's ``INSERT … SELECT``): the same
    balance and one-side checks as :func:`post`, then its chain link."""
    bad = ledger.store.txn_line_problems(txn_id)
    if bad:
        raise AssertionError(f"unbalanced bulk posting {txn_id}: {bad}")
    ledger.store.seal(txn_id)


def mirror(lines) -> list[Line]:
    """The mirror image of posted journal lines (each debit a credit and back): what a reversal posts."""
    return [Line(l["account"], l["credit"], l["debit"], l["grant_id"], l["note_id"], l["officer"]) for l in lines]


def check_open(ledger: Ledger, on: date) -> None:
    """Postings go on open business dates only: the day-end has not closed ``on`` (SPEC §5),
    unless a back-dated correction has reopened the days from a date on or before it."""
    closed = ledger.store.closed_through()
    if closed and on.isoformat() <= closed:
        if ledger.reopened_from is not None and on >= ledger.reopened_from:
            return
        raise RuleViolation(
            f"business date {on.isoformat()} is closed (day-end has run through {closed}); post on an open business "
            "date, or as a back-dated correction (--correction REASON, accountant)"
        )


def once(ledger: Ledger, request_id: str | None, command: str, content: dict, action: Callable[[], dict]) -> dict:
    """Run ``action`` at most once per request id (SPEC §4: a retry posts nothing new).

    Must be called inside a write transaction. The same id with the same
    content returns the first result (marked ``replayed``); with different
    content it is refused as a conflict.
    """
    if request_id is None:
        return action()
    import hashlib

    request_id = require_text(request_id, "request id", max_len=128)
    fingerprint = hashlib.sha256(json.dumps({"command": command, **content}, sort_keys=True).encode()).hexdigest()
    ledger.store.lock("request", request_id)  # retries of one request, racing each other, post once
    prior = ledger.store.get_request(request_id)
    if prior is not None:
        if prior["command"] != command or prior["fingerprint"] != fingerprint:
            raise Conflict(
                f"request id {request_id} was already used for a different {prior['command']}; nothing posted. Use a new request id"
            )
        result = json.loads(prior["result"])
        result["replayed"] = True
        return result
    result = action()
    ledger.store.insert_request(request_id, command, fingerprint, json.dumps(result, ensure_ascii=False, sort_keys=True))
    return result


def reverse(ledger: Ledger, txn_id: int, reason: str, on: date | str | None = None, request_id: str | None = None,
            correction: bool = False) -> dict:
    """Post the mirror image of transaction ``txn_id`` (``credit-coop reverse``).

    ``on``: by default the open business date (business_day.py); a reversal, like a
    repayment, is dated on it. ``correction``: dated on a closed day, the lines'
    interest recomputed since (corrections.py).
    """
    from credit_coop.core.business_day import check_not_far, check_settles_on_open_day, open_business_date
    from credit_coop.core.dates import parse_date
    from credit_coop.core.errors import InvalidInput
    from credit_coop.core.operators import require

    from credit_coop.core.operators import not_own

    op = require(ledger, "reverse")
    reason = require_text(reason, "reason for the reversal")
    if on is None and correction:
        raise InvalidInput("a back-dated correction needs the day it belongs to (--on YYYY-MM-DD)")
    on = None if on is None else parse_date(on, what="business date (--on)")
    store = ledger.store
    with store.write():
        if on is None:
            on = open_business_date(ledger)
        if not correction:
            check_settles_on_open_day(ledger, on, "reversal")
            check_not_far(ledger, on)

        def act() -> dict:
            txn = store.get_txn(txn_id)
            if txn is None:
                raise NotFound(f"no transaction {txn_id}")
            if txn["reverses"] is not None:
                raise RuleViolation(f"transaction {txn_id} is itself a reversal; post a new transaction instead")
            if txn["kind"] in DAY_END_KINDS:
                raise RuleViolation(
                    f"transaction {txn_id} was posted by the day-end; it is not reversed by hand. Correct the "
                    "counter posting behind it instead (a back-dated correction recomputes the day-end)"
                )
            for grant_id in {l["grant_id"] for l in store.txn_lines(txn_id) if l["grant_id"] is not None}:
                not_own(op, store.get_grant(grant_id)["borrower_id"], "reverse a posting on their own line")
            prior = store.reversal_of(txn_id)
            if prior is not None:
                raise RuleViolation(f"transaction {txn_id} was already reversed by transaction {prior['id']}")
            if on.isoformat() < txn["business_date"]:
                raise RuleViolation(f"a reversal cannot be dated before the transaction it reverses ({txn['business_date']})")
            check_open(ledger, on)
            lines = store.txn_lines(txn_id)
            note_ids = sorted({l["note_id"] for l in lines if l["note_id"] is not None})
            later = store.later_txns_touching(txn_id, note_ids)
            if correction:  # the day-end's postings since are reversed and recomputed around this one
                later = [t for t in later if t["kind"] not in DAY_END_KINDS]
            if any(t["kind"] in DAY_END_KINDS for t in later):
                raise RuleViolation(
                    "the day-end has accrued interest on this loan note since; reverse it as a back-dated "
                    "correction dated on a closed day (--correction), which recomputes those days"
                )
            if later:
                ids = ", ".join(str(t["id"]) for t in later)
                steps = "; ".join(_reverse_command(t, ledger) for t in sorted(later, key=lambda t: -t["id"]))
                raise RuleViolation(f"later transactions ({ids}) post to the same loan notes; reverse them first, newest "
                                    f"first: {steps}; then this one, then post them again")
            new_id = post(ledger, "reversal", on, mirror(lines), memo=reason, reverses=txn_id)
            _check_after_reversal(ledger, lines)
            return {
                "txn_id": new_id,
                "reverses": txn_id,
                "reversed_kind": txn["kind"],
                "amount_fen": sum(l["debit"] for l in lines),
                "reason": reason,
                "on": on.isoformat(),
            }

        if not correction:
            return once(ledger, request_id, "reverse", {"txn": txn_id, "reason": reason}, act)

        def corrected() -> dict:
            from credit_coop.core.corrections import back_dated

            grants = {l["grant_id"] for l in store.txn_lines(txn_id) if l["grant_id"] is not None}
            return back_dated(ledger, on, reason, grants, act)

        return once(ledger, request_id, "reverse", {"txn": txn_id, "reason": reason, "correction": True}, corrected)


def _reverse_command(txn, ledger: Ledger) -> str:
    """The exact command that takes a posting back (as a correction when its day is closed)."""
    closed = ledger.store.closed_through()
    on_closed = closed is not None and txn["business_date"] <= closed
    tail = f' --on {txn["business_date"]} --correction' if on_closed else ""
    return f'credit-coop reverse {txn["id"]} --reason "REASON"{tail}'


def _check_after_reversal(ledger: Ledger, lines) -> None:
    store = ledger.store
    for l in lines:
        if l["note_id"] is not None and l["account"].startswith(accounts.NON_NEGATIVE_PER_NOTE):
            if store.note_balance(l["note_id"], l["account"]) < 0:
                raise RuleViolation("this reversal would leave a loan balance below zero; nothing posted")
    for grant_id in {l["grant_id"] for l in lines if l["grant_id"] is not None}:
        grant = store.get_grant(grant_id)
        outstanding = store.grant_balance(grant_id, accounts.loans_account(grant["product"]))
        if outstanding > grant["line_amount"]:
            raise RuleViolation(
                f"this reversal would put line {grant['card_no']} at {format_yuan(outstanding)}, over its "
                f"{format_yuan(grant['line_amount'])} limit; nothing posted"
            )
