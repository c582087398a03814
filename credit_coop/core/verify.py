"""``credit-coop verify``: recompute balances from the journal and check every invariant.

Shaped like beancount's validations: each ``check_*`` returns a list of
findings; :func:`verify` runs them all. An empty list means the ledger is
sound.
"""

from __future__ import annotations

from dataclasses import dataclass

from credit_coop.core import accounts
from credit_coop.core.ledger import Ledger
from credit_coop.core.money import format_yuan


@dataclass(frozen=True)
class Finding:
    check: str
    message: str


def check_journal_balanced(ledger: Ledger) -> list[Finding]:
    """Every transaction's debits equal its credits, with at least two lines."""
    out = [
        Finding("balanced", f"transaction {r['id']}: debits {format_yuan(r['total_debit'])} != credits {format_yuan(r['total_credit'])} ({r['n']} lines)")
        for r in ledger.store.unbalanced_txns()
    ]
    out += [Finding("balanced", f"journal line {r['id']} belongs to no transaction") for r in ledger.store.orphan_lines()]
    out += [Finding("balanced", f"journal line {r['id']} must have exactly one positive side") for r in ledger.store.bad_sided_lines()]
    return out


def check_notes(ledger: Ledger) -> list[Finding]:
    """Each loan note was disbursed for its face amount; its principal stays within 0..amount."""
    out = []
    for r in ledger.store.note_disbursements(accounts.LOANS + "."):
        if r["disbursed"] != r["amount"]:
            out.append(Finding("notes", f"loan note {r['note_no']}: face {format_yuan(r['amount'])} but the journal disbursed {format_yuan(r['disbursed'])}"))
        if not 0 <= r["outstanding"] <= r["amount"]:
            out.append(Finding("notes", f"loan note {r['note_no']}: principal {format_yuan(r['outstanding'])} outside 0..{format_yuan(r['amount'])}"))
    return out


def check_no_negative_balances(ledger: Ledger) -> list[Finding]:
    """Receivables per loan note are never below zero."""
    return [
        Finding("non-negative", f"loan note id {r['note_id']}: account {r['account']} at {format_yuan(r['balance'])}")
        for r in ledger.store.negative_sub_balances(accounts.NON_NEGATIVE_PER_NOTE)
    ]


def check_lines(ledger: Ledger) -> list[Finding]:
    """Lines within product ceilings and terms; outstanding within the line; segregation of duties."""
    out = []
    products = ledger.policy.products
    for g in ledger.store.grant_outstanding_all(accounts.LOANS + "."):
        prod = products.get(g["product"])
        name = g["grant_no"]
        if prod is None:
            out.append(Finding("lines", f"grant {name}: unknown product {g['product']}"))
            continue
        line = g["line_amount"]
        if line is not None and line > prod["ceiling"]:
            out.append(Finding("lines", f"grant {name}: line {format_yuan(line)} over the {prod['name']} ceiling {format_yuan(prod['ceiling'])}"))
        if g["term_months"] is not None and g["term_months"] > prod["max_term_months"]:
            out.append(Finding("lines", f"grant {name}: term {g['term_months']} months over the maximum {prod['max_term_months']}"))
        if g["outstanding"] < 0:
            out.append(Finding("lines", f"grant {name}: outstanding principal {format_yuan(g['outstanding'])} is negative"))
        if g["outstanding"] and (line is None or g["outstanding"] > line):
            out.append(Finding("lines", f"grant {name}: outstanding {format_yuan(g['outstanding'])} over its line {format_yuan(line or 0)}"))
        if g["status"] in ("approved", "frozen", "closed"):
            people = [g["surveyed_by"], g["reviewed_by"], g["approved_by"]]
            if None in people or len(set(people)) != 3:
                out.append(Finding("segregation", f"grant {name}: surveyor, reviewer and approver are not three different people"))
            if not g["card_no"] or not g["contract_no"]:
                out.append(Finding("lines", f"grant {name}: approved without a contract and loan card number"))
    return out


def check_line_positions(ledger: Ledger) -> list[Finding]:
    """Each line's kept position (outstanding principal, latest counter posting) equals the journal's."""
    return [
        Finding("lines", f"grant {r['grant_no']}: kept position (principal {format_yuan(r['principal'] or 0)}, last counter "
                         f"posting {r['last_counter_date']}) differs from the journal ({format_yuan(r['journal_principal'] or 0)}, "
                         f"{r['journal_last']})")
        for r in ledger.store.line_position_mismatches()
    ]


def check_reversals(ledger: Ledger) -> list[Finding]:
    """Each reversal is the exact mirror of the transaction it reverses."""
    return [Finding("reversals", f"reversal transaction {r['rid']} does not mirror its original") for r in ledger.store.reversal_mismatches()]


def check_append_only_guards(ledger: Ledger) -> list[Finding]:
    """The triggers that keep posted rows from being changed are in place."""
    return [
        Finding("guards", f"protective trigger {t} is missing: posted rows could be altered")
        for t in ledger.store.missing_guards()
    ]


def check_day_end_state(ledger: Ledger) -> list[Finding]:
    """The day-end state of every note agrees with the journal through the last closed day (issue 11):
    its claims (principal, interest due, penalty claimed) with its own accounts; its accrued interest and
    penalty, numerators, days past due and class with a replay of its postings from the last settlement
    day; and the notes' accrued interest and penalty, per product, with the general ledger's accounts."""
    from credit_coop.core.corrections import replay_open_period

    store = ledger.store
    closed = store.closed_through()
    if not closed:
        return []
    out = [
        Finding("day-end", f"loan note {r['note_no']}: day-end state (principal {format_yuan(r['principal'])}, "
                           f"interest due {format_yuan(r['interest_due'])}, penalty claimed {format_yuan(r['penalty_claim'])}) "
                           f"differs from the journal ({format_yuan(r['p'] or 0)}, {format_yuan(r['i'] or 0)}, {format_yuan(r['q'] or 0)})")
        for r in store.note_state_mismatches(closed)
    ]
    out += [
        Finding("day-end", f"loan note {r['note_no']}: day-end state {r['field']} is {r['kept']}, but replaying its postings "
                           f"from the last settlement day gives {r['replayed']}")
        for r in replay_open_period(ledger)
    ]
    out += [
        Finding("day-end", f"accrued {r['kind']} of product {r['product']}: the notes hold {format_yuan(r['notes'])} "
                           f"but the ledger's accrued account holds {format_yuan(r['ledger'])}")
        for r in store.accrued_pool_mismatches(closed)
    ]
    return out


def check_officer_funds(ledger: Ledger) -> list[Finding]:
    """Payroll runs, compensation cases and year-end refunds equal their journal lines;
    no fund overdrawn; no negative officer debt."""
    out = [Finding("funds", f"payroll {r['month']}: recorded holdbacks or payables differ from the journal")
           for r in ledger.store.payroll_mismatches(accounts.PAY_PAYABLE, accounts.RISK_FUND)]
    out += [Finding("funds", f"officer {r['officer']}: {r['account']} balance {format_yuan(-r['balance'])} has the wrong sign")
            for r in ledger.store.negative_officer_balances(accounts.RISK_FUND, accounts.OFFICER_DEBT)]
    out += [Finding("funds", f"compensation case {r['id']} (note id {r['note_id']}) differs from its journal lines")
            for r in ledger.store.compensation_mismatches(accounts.RISK_FUND, accounts.OFFICER_DEBT)]
    out += [Finding("funds", f"year-end {r['year']}: recorded refunds differ from the journal")
            for r in ledger.store.year_end_mismatches(accounts.RISK_FUND)]
    return out + _compensation_recoveries(ledger)


def _compensation_recoveries(ledger: Ledger) -> list[Finding]:
    """A recovery never exceeds what was compensated; the part booked as the officer's debt is repaid
    first and never beyond it; an officer owes no more than their cases' unrecovered shortfalls (issue 18)."""
    out = []
    open_shortfall: dict[str, int] = {}
    for c in ledger.store.compensation_cases(accounts.RISK_FUND, accounts.OFFICER_DEBT):
        if c["recovered"] > c["amount"]:
            out.append(Finding("funds", f"compensation of loan note {c['note_no']}: recovered {format_yuan(c['recovered'])} "
                                        f"is more than the {format_yuan(c['amount'])} compensated"))
        if not 0 <= c["recovered_to_debt"] <= c["shortfall"]:
            out.append(Finding("funds", f"compensation of loan note {c['note_no']}: {format_yuan(c['recovered_to_debt'])} "
                                        f"recovered to the officer's debt, outside 0..{format_yuan(c['shortfall'])}"))
        open_shortfall[c["officer"]] = open_shortfall.get(c["officer"], 0) + c["shortfall"] - c["recovered_to_debt"]
    for officer in ledger.store.officers_with([accounts.OFFICER_DEBT]):
        debt = ledger.store.officer_balance(officer, accounts.OFFICER_DEBT, sign=1)
        if debt > open_shortfall.get(officer, 0):
            out.append(Finding("funds", f"officer {officer}: debt {format_yuan(debt)} is more than the unrecovered "
                                        f"shortfall of their compensation cases ({format_yuan(open_shortfall.get(officer, 0))})"))
    return out


def check_posting_dates(ledger: Ledger) -> list[Finding]:
    """Nothing posts to a loan note before the day it was drawn (issue 19)."""
    return [
        Finding("dates", f"transaction {r['txn_id']} ({r['kind']}, {r['business_date']}) posts to loan note {r['note_no']} "
                         f"drawn later, on {r['drawn_on']}")
        for r in ledger.store.postings_before_drawdown()
    ]


def check_hash_chain(ledger: Ledger) -> list[Finding]:
    """Every transaction and its lines hash to their link in the chain (tamper evidence)."""
    broken = ledger.store.first_broken_link()
    return [Finding("hash-chain", f"transaction {broken[0]} {broken[1]}; everything from there on is suspect")] if broken else []


def check_record_chain(ledger: Ledger) -> list[Finding]:
    """The audit log, the grant workflow's events and every change to an operator are chained too
    (issue 16 §5): a row edited, inserted or wiped outside the program breaks the chain or no longer
    matches it; an operator's role, ID number or passphrase must be their last recorded one."""
    broken = ledger.store.first_broken_record()
    if broken is None:
        return []
    if broken[0]:
        return [Finding("record-chain", f"record {broken[0]}: {broken[1]}")]
    return [Finding("record-chain", broken[1])]


def check_grant_lines(ledger: Ledger) -> list[Finding]:
    """Each live line's amount is the one its survey recorded, its card the one its approval issued."""
    return [
        Finding("lines", f"grant {r['grant_no']}: line {format_yuan(r['line_amount'] or 0)} / card {r['card_no']} is not what "
                         f"its recorded survey and approval say ({format_yuan(r['surveyed_line'] or 0)} / {r['approved_card']})")
        for r in ledger.store.grant_line_mismatches()
    ]


def check_head(ledger: Ledger, anchor: str) -> list[Finding]:
    """``verify --head HASH@T.R``: this ledger's chains pass through a head recorded earlier (a day-end
    slip, an audit export's cover). Found otherwise: the history up to T / R was rewritten."""
    import re

    m = re.fullmatch(r"\s*([0-9a-f]{32})@([0-9]+)\.([0-9]+)\s*", anchor or "")
    if not m:
        from credit_coop.core.errors import InvalidInput

        raise InvalidInput(f"--head {anchor!r} is not a head; copy it as printed, e.g. 3f9c…e1@1234.567")
    want, txn_id, seq = m.group(1), int(m.group(2)), int(m.group(3))
    got = ledger.store.head_at(txn_id, seq)
    if got is None:
        gone = f"transaction {txn_id}" if ledger.store.chain_link(txn_id) is None and txn_id else f"record {seq}"
        return [Finding("head", f"the recorded head {anchor.strip()} names {gone}, which this ledger no longer has "
                                "(deleted after the head was recorded)")]
    if got.split("@")[0] != want:
        return [Finding("head", f"this ledger's history up to transaction {txn_id} / record {seq} differs from the head "
                                f"{anchor.strip()} recorded earlier: it was rewritten at or before that point")]
    return []


CHECKS = (
    check_journal_balanced,
    check_notes,
    check_no_negative_balances,
    check_lines,
    check_line_positions,
    check_reversals,
    check_append_only_guards,
    check_day_end_state,
    check_officer_funds,
    check_posting_dates,
    check_hash_chain,
    check_record_chain,
    check_grant_lines,
)


def verify(ledger: Ledger, heads: list[str] | None = None) -> dict:
    """Run every check; ``findings`` is empty when the ledger is sound. ``heads``: anchors recorded
    earlier outside the file, each checked (``check_head``)."""
    with ledger.store.reading():  # one state of the ledger throughout, however busy the counters are
        return _verify(ledger, heads)


def _verify(ledger: Ledger, heads: list[str] | None) -> dict:
    findings = [f for check in CHECKS for f in check(ledger)]
    passed, failed = [], []
    for anchor in heads or []:
        found = check_head(ledger, anchor)
        findings += found
        (failed if found else passed).append(int(anchor.strip().split("@")[1].split(".")[0]))
    if failed and passed:  # several slips narrow down where the history was rewritten
        first_bad = min(failed)
        good = [t for t in passed if t < first_bad]
        if good:
            findings.append(Finding("head", f"the journal matches the slips through transaction {max(good)} and "
                                            f"diverges between transactions {max(good) + 1} and {first_bad}"))
    balances = ledger.store.account_balances()
    debit = sum(r["debit"] for r in balances)
    credit = sum(r["credit"] for r in balances)
    if debit != credit:
        findings.append(Finding("trial-balance", f"total debits {format_yuan(debit)} != total credits {format_yuan(credit)}"))
    return {
        "ok": not findings,
        "head": ledger.store.head(),
        "checks": [c.__name__.removeprefix("check_") for c in CHECKS] + ["trial_balance"],
        "findings": [{"check": f.check, "message": f.message} for f in findings],
        "accounts": [
            {"account": r["account"], "debit_fen": r["debit"], "credit_fen": r["credit"], "balance_fen": r["debit"] - r["credit"]}
            for r in balances
        ],
    }
