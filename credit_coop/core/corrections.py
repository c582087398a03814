"""Back-dated corrections (补记 / 冲正 after the day-end) — SPEC §5, issue 3.

Closed business days take no postings (``journal.check_open``). The one
exception is a **correction**: a drawdown, repayment or reversal dated on a
closed day, by a role allowed ``correction`` (accountant, admin), with a
reason. It happens in the caller's single write transaction, so it lands
whole or not at all:

1. **Checks.** The payroll of that month and the year-end of that year have
   not run (they would no longer match the journal). Nothing else has been
   posted to the line after that date; such postings are reversed first,
   newest first, as corrections, and posted again afterwards. (A posting and
   its reversal on the same day cancel out and do not count.)
2. **Reopen, by reversal.** For the line's notes, what the day-end posted on
   each day from the correction date on is reversed by one
   ``day-end-reversal`` transaction dated that day (per note, with the
   product's income), and compensations from an officer's risk fund dated
   from then on are reversed (``compensation-reversal``). The line's journal
   balances are now what the counter saw on the correction date.
3. **Rebuild.** The day-end state of the line's notes is rebuilt as at the
   end of the day before: from the last settlement day (when every note's
   rounding period starts afresh) the day-end is replayed without posting, so
   each note's exact period numerator is the one the day-end had. The rebuilt
   balances are checked against the journal.
4. **Post** the correction on its date, under the normal rules.
5. **Recompute.** The day-end is replayed for the line's notes from the
   correction date through the last closed day, posting a new day-end
   transaction on each day (dated that day, its memo naming the correction),
   restating each note's class on the first day, and compensating afresh any
   note still unpaid at maturity. The notes' day-end state is replaced by the
   replayed one.

Nothing posted is edited: for every affected day the journal holds the
original day-end, its reversal and the recomputation. Other lines are not
touched, and the days stay closed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Callable, Iterable

from credit_coop.core import accounts
from credit_coop.core.dates import parse_date
from credit_coop.core.errors import NotPermitted, RuleViolation
from credit_coop.core.dayend import is_settlement_day, run_day, state_row
from credit_coop.core.journal import Line, mirror, post
from credit_coop.core.ledger import Ledger, require_text
from credit_coop.core.operators import PERMISSIONS, require

ONE_DAY = timedelta(days=1)


def back_dated(ledger: Ledger, on: date, reason: str, grant_ids: Iterable[int], action: Callable[[], dict]) -> dict:
    """Run ``action`` (which posts on ``on``, a closed day) as a correction of the given lines.

    Must run inside ``store.write()``. Returns the action's result with a
    ``correction`` summary added.
    """
    try:
        op = require(ledger, "correction")
    except NotPermitted:
        raise NotPermitted(
            f"{ledger.operator} may not post on a closed day; a back-dated correction needs: {', '.join(PERMISSIONS['correction'])}"
        ) from None
    reason = require_text(reason, "reason for the correction")
    store = ledger.store
    grant_ids = list(grant_ids)
    from credit_coop.core.operators import not_own

    for grant_id in grant_ids:
        not_own(op, store.get_grant(grant_id)["borrower_id"], "correct postings on their own line")
    if not store.in_transaction:
        raise AssertionError("back_dated() must run inside store.write()")
    closed = store.closed_through()
    d0 = on.isoformat()
    if not closed or d0 > closed:
        raise RuleViolation(f"{d0} is not closed yet; post it normally, without --correction")
    if d0 < store.first_closed_day():
        raise RuleViolation(f"{d0} is before this ledger's first business day ({store.first_closed_day()})")
    compact_since = store.get_meta("compact_since")
    if compact_since and d0 < compact_since:  # days before the upgrade keep the form they were posted in
        raise RuleViolation(f"{d0} is before this ledger moved to compact books on {compact_since}; "
                            "a back-dated correction can reach back to that day at the earliest")
    # A payroll or year-end already run for that period is never rewritten: the next run carries the
    # difference (补发 / 扣回, pay.compute_adjustments; yearend.compute_adjustments).
    for batch, period in (("payroll", d0[:7]), ("year-end", d0[:4])):
        if store.first_batch_from(batch, period):
            store.flag_recheck(batch, period)
    grant_ids = sorted(set(grant_ids))
    if grant_ids:
        later = store.counter_postings_after(grant_ids, d0)
        if later:
            from credit_coop.core.journal import _reverse_command

            listed = ", ".join(f"transaction {t['id']} ({t['kind']} {t['business_date']})" for t in later)
            steps = "; ".join(_reverse_command(t, ledger) for t in sorted(later, key=lambda t: -t["id"]))
            raise RuleViolation(
                f"the line has postings after {d0}: {listed}. Reverse them first, newest first: {steps}; "
                "then post this correction, then post them again"
            )
    ledger.reopened_from = on
    try:
        if not grant_ids:  # nothing on a loan line: no day-end figures depend on it
            result = action()
            result["correction"] = {"reason": reason, "from": d0, "through": closed, "days_recomputed": 0}
            return result
        with store.replay_state():
            _rebuild(ledger, grant_ids, on)
            posted = _replay(ledger, grant_ids, on, parse_date(closed))  # what the day-end booked on them, per day
            store.clear_replay_state()
            _rebuild(ledger, grant_ids, on, check=False)
            undone = _reopen(ledger, grant_ids, d0, reason, posted)
            result = action()
            redone = _recompute(ledger, grant_ids, on, parse_date(closed), result.get("txn_id"))
            negative = store.negative_replayed()
            if negative:
                raise RuleViolation(
                    f"the correction would leave loan note {negative[0]['note_no']} owing less than nothing; nothing posted"
                )
            store.replace_note_states(grant_ids)
    finally:
        ledger.reopened_from = None
    officers = {c["officer"] for c in undone["compensations"]} | {c["officer"] for c in redone["compensated"]}
    for r in store.negative_officer_balances(accounts.RISK_FUND, accounts.OFFICER_DEBT):
        if r["officer"] in officers:
            raise RuleViolation(
                f"the correction would undo a compensation {r['officer']} has already paid in; nothing posted"
            )
    result["correction"] = {
        "reason": reason,
        "from": d0,
        "through": closed,
        "days_recomputed": (parse_date(closed) - on).days + 1,
        "interest_before_fen": undone["interest"],
        "interest_after_fen": redone["interest"],
        "penalty_before_fen": undone["penalty"],
        "penalty_after_fen": redone["penalty"],
        "compensations_reversed": [c["note_no"] for c in undone["compensations"]],
        "compensations_made": redone["compensated"],
        "transactions": undone["txns"] + redone["txns"],
    }
    return result


def _replay(ledger: Ledger, grant_ids: list[int], on: date, closed: date) -> dict[str, dict]:
    """The day-end replayed for the lines' notes from ``on`` through ``closed`` as it ran (nothing posted):
    per day, their share of what it booked per product — accrued (``pooled``) and moved out of the
    accrued accounts into the notes' claims (``settled``)."""
    out = {}
    day = on
    while day <= closed:
        ran = run_day(ledger, day, post=False, grant_ids=grant_ids)
        out[day.isoformat()] = {"pooled": ran["pooled"], "settled": ran["settled"]}
        day += ONE_DAY
    return out


def _reopen(ledger: Ledger, grant_ids: list[int], d0: str, reason: str, replayed: dict[str, dict]) -> dict:
    """Step 2: reverse, day by day, what the day-end posted on the lines' notes from ``d0`` on: their own
    lines (interest and penalty that became claims) as the journal holds them, and their share of the
    lines kept per product — accruals against income, claims out of the accrued accounts — from the
    replay (issue 11). Each reversal must balance like any posting, so a replay that disagreed with
    what was posted would be refused here."""
    store = ledger.store
    by_day: dict[str, list] = defaultdict(list)
    for r in store.day_end_postings_from(grant_ids, d0):
        by_day[r["business_date"]].append(r)
    interest = penalty = 0
    txns = []
    for day in sorted(set(by_day) | set(replayed)):
        lines = []
        for r in by_day.get(day, []):
            net = r["net"]
            lines.append(Line(r["account"], debit=max(-net, 0), credit=max(net, 0), grant_id=r["grant_id"], note_id=r["note_id"]))
        ran = replayed.get(day, {"pooled": {}, "settled": {}})
        for product, (accrued, penalties) in sorted(ran["pooled"].items()):
            for receivable, income, fen in ((accounts.accrued_account(product), accounts.INTEREST_INCOME, accrued),
                                            (accounts.penalty_accrued_account(product), accounts.PENALTY_INCOME, penalties)):
                if fen:
                    lines += [Line(receivable, credit=fen), Line(f"{income}.{product}", debit=fen)]
            interest += accrued
            penalty += penalties
        for product, (due, claimed) in sorted(ran["settled"].items()):
            for receivable, fen in ((accounts.accrued_account(product), due), (accounts.penalty_accrued_account(product), claimed)):
                if fen:
                    lines.append(Line(receivable, debit=fen))
        if not any(l.debit for l in lines):
            continue
        txns.append(post(ledger, "day-end-reversal", parse_date(day), lines,
                         memo=f"day-end {day} reversed for a back-dated correction: {reason}"))
    comps = store.compensations_from(grant_ids, d0)
    for c in comps:
        txns.append(post(ledger, "compensation-reversal", parse_date(c["on_date"]), mirror(store.txn_lines(c["txn_id"])),
                         memo=f"全额赔偿 {c['note_no']} reversed for a back-dated correction: {reason}", reverses=c["txn_id"]))
    return {"interest": interest, "penalty": penalty, "compensations": comps, "txns": txns}


def _rebuild(ledger: Ledger, grant_ids: list[int] | None, on: date, *, check: bool = True) -> None:
    """Step 3: the notes' day-end state (of some lines, or ``None``: all) as at the end of the day before ``on``.

    It starts from the last settlement day, when every note's accrued interest and penalty have become
    claims on its own accounts and every rounding period starts afresh: the state there is the journal's
    claims and the class records. The day-end is replayed from there without posting (issue 11: this is
    also how ``verify`` proves each note's accrued interest)."""
    store = ledger.store
    it = ledger.policy["interest"]
    first = parse_date(store.first_closed_day())
    start = on - ONE_DAY
    while start >= first and not is_settlement_day(start, it):
        start -= ONE_DAY
    start = max(start, first - ONE_DAY)
    notes = store.notes_of_grants(grant_ids, start.isoformat())
    if notes:
        claims = store.note_claims_through(grant_ids, start.isoformat())
        classes = store.class_as_of(grant_ids, start.isoformat())
        rows = []
        for n in notes:
            b = claims.get(n["id"])
            c = classes.get(n["id"])
            since = c["past_due_since"] if c else None
            dpd = (start - parse_date(since)).days + 1 if since and since <= start.isoformat() else 0
            rows.append((*state_row(n, it), b["p"] if b else 0, 0, b["i"] if b else 0, b["q"] if b else 0,
                         since, dpd, c["class"] if c else "正常", 0))
        store.insert_note_states(rows)
    day = start + ONE_DAY
    while day < on:
        run_day(ledger, day, post=False, grant_ids=grant_ids)
        day += ONE_DAY
    wrong = store.note_state_mismatches((on - ONE_DAY).isoformat(), grant_ids) if check else []
    if wrong:
        raise RuleViolation(
            f"cannot rebuild the day-end state of loan note id {wrong[0]['note_id']} as at {(on - ONE_DAY).isoformat()}; "
            "nothing posted. Run `credit-coop verify` and report what it finds"
        )


def replay_open_period(ledger: Ledger) -> list:
    """``verify`` (issue 11): replay every note's day-end from the last settlement day through the last
    closed day, from the journal's claims, and return the notes whose kept state differs."""
    store = ledger.store
    closed = store.closed_through()
    if not closed:
        return []
    with store.replay_state():
        _rebuild(ledger, None, parse_date(closed) + ONE_DAY, check=False)
        return store.replayed_state_mismatches()


def _recompute(ledger: Ledger, grant_ids: list[int], on: date, closed: date, correction_txn: int | None) -> dict:
    """Step 5: replay and post the day-end for the lines' notes from ``on`` through the last closed day."""
    store = ledger.store
    txns, compensated = [], []
    day = on
    while day <= closed:
        out = run_day(ledger, day, grant_ids=grant_ids, restate=day == on,
                      memo=f"day-end {day.isoformat()} recomputed after back-dated correction {correction_txn}")
        if out["txn_id"] is not None:
            txns.append(out["txn_id"])
        for c in out["compensated"]:
            compensated.append(c)
        day += ONE_DAY
    comp_txns = [c["txn_id"] for c in compensated]
    return {
        "txns": txns + comp_txns,
        "compensated": compensated,
        "interest": store.journal_sum_of_txns(txns, accounts.INTEREST_INCOME, side="credit"),
        "penalty": store.journal_sum_of_txns(txns, accounts.PENALTY_INCOME, side="credit"),
    }

