"""Interest, maturity, overdue and five-category classification: the day-end (日终), SPEC §5.

For each business day not yet closed, in order, one SQLite transaction:

1. the day's counter postings (draws, repayments, reversals) are taken into
   each note's day-end state;
2. **interest** accrues on outstanding principal at the contract rate / 360
   (policy ``day_count_basis``) per day, counting the drawdown day and not the
   repayment day (算头不算尾: the balance at the end of the day accrues), up to
   and including the maturity day;
3. **penalty interest** (罚息) accrues on principal still outstanding after the
   maturity day at contract rate × (1 + ``penalty_uplift_percent``), and unpaid
   interest that fell due compounds (复利) at the same penalty rate
   (``compound_unpaid_interest``);
4. on each **settlement day** (the 20th, monthly or quarterly; policy) and on
   each note's maturity day, accrued interest becomes interest due;
6. **full compensation** (全额赔偿) of notes unpaid at maturity by their
   officer's risk fund (SPEC §7; see riskfund.py), at the end of the day;
5. **classification**: an amount unpaid at the end of the day it fell due is
   past due from the next day; days past due (DPD) count from the oldest such
   day until everything past due is paid; the policy table maps DPD to
   正常/关注/次级/可疑/损失 ("超过" excludes the figure: day 90 is 关注, 91 次级).

Each rule is written once here in plain Python (``regular_interest_num``, ``penalty_num``, ``falls_due``, ``past_due_since``, ``days_past_due``,
``is_overdue``, ``classify``) beside the SQL expression the set-based day-end applies to every note at
once (``SQL_*``; the store only runs them); ``reference_days`` replays one note with the Python rules,
and a property test holds the SQL day-end to it, day by day, to the fen (tests/test_dayend_oracle.py).
The day-end's lines pass the journal's balance check (``journal.seal_bulk``) like every posting.

Rounding rule (one, documented): **per note per settlement period**. Interest
for a period is the exact sum of the daily amounts, rounded half up to the fen
once; each day posts the change in that rounded running total. So the fen
posted over a period equal a direct recomputation over the period exactly.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable

from credit_coop.core import accounts, dates
from credit_coop.core.dates import parse_date
from credit_coop.core.faults import fault
from credit_coop.core.journal import seal_bulk
from credit_coop.core.errors import RuleViolation
from credit_coop.core.ledger import Ledger
from credit_coop.core.operators import require
from credit_coop.core.riskfund import compensate_matured

PPB = 10**9  # rates are held as integer parts per billion of 1 (6.5% = 65,000,000)


def rate_ppb(annual_rate_percent: str) -> int:
    """``"6.5"`` (percent a year) → 65,000,000 parts per billion, exact."""
    return int((Decimal(annual_rate_percent) * PPB / 100).to_integral_value(ROUND_HALF_UP))


def penalty_ppb(rate: int, uplift_percent: str) -> int:
    """Contract rate × (1 + uplift), rounded half up to a part per billion."""
    return int((Decimal(rate) * (100 + Decimal(uplift_percent)) / 100).to_integral_value(ROUND_HALF_UP))


def state_row(note, interest_policy: dict) -> tuple:
    """A loan note's day-end state to start from: (note_id, grant_id, product, maturity, rate_ppb, penalty_ppb)."""
    rate = rate_ppb(note["annual_rate_percent"])
    return (note["id"], note["grant_id"], note["product"], note["maturity"], rate,
            penalty_ppb(rate, interest_policy["penalty_uplift_percent"]))


def is_settlement_day(day: date, interest_policy: dict) -> bool:
    """The 20th of each month (monthly) or of Mar/Jun/Sep/Dec (quarterly)."""
    if day.day != interest_policy["settlement_day"]:
        return False
    return interest_policy["settlement"] == "monthly" or day.month in (3, 6, 9, 12)


def classify(dpd: int, categories: list[dict]) -> str:
    """Five-category class for a number of days past due (policy table)."""
    for c in categories:
        if c["max_days"] is None or dpd <= c["max_days"]:
            return c["name"]
    return categories[-1]["name"]


def _class_case(categories: list[dict]) -> str:
    """The policy table as an SQL CASE over ``{dpd}`` (filled in by the store)."""
    whens = " ".join(
        f"WHEN {{dpd}} <= {int(c['max_days'])} THEN '{c['name']}'" for c in categories if c["max_days"] is not None
    )
    last = categories[-1]["name"]
    return f"(CASE {whens} ELSE '{last}' END)"


# -- the rules, once in plain Python ------------------------------------------------------
# The day-end runs as set-based SQL over every note at once (store: ``dayend_*``). The rules it
# applies are written here as well, one note at a time, and a property test
# (tests/test_dayend_oracle.py) checks the SQL day-end against this reference to the fen, day by day.

def round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half up to an integer (non-negative numerators)."""
    return (2 * numerator + denominator) // (2 * denominator)


def regular_interest_num(principal: int, rate: int, day: date, maturity: date) -> int:
    """SPEC §5: a day's contract interest, as a numerator over PPB × basis: principal × rate for each day
    up to and including the maturity day (算头不算尾: the balance at the end of the day accrues)."""
    return principal * rate if day <= maturity else 0


def penalty_num(principal: int, interest_due: int, penalty_rate: int, day: date, maturity: date, compound: bool) -> int:
    """SPEC §5: 罚息 on principal unpaid after maturity, and 复利 on interest that fell due and is unpaid
    (``compound_unpaid_interest``), both at the contract rate × (1 + uplift)."""
    return ((principal if day > maturity else 0) + (interest_due if compound else 0)) * penalty_rate


# The same rules as SQL over a day-end state row (``:day`` is the business date), for the set-based day-end.
SQL_REGULAR_NUM = "(CASE WHEN :day <= maturity THEN principal * rate_ppb ELSE 0 END)"
SQL_OVERDUE = "((principal > 0 AND maturity <= :day) OR interest_due > 0 OR penalty > 0)"


def sql_penalty_num(compound: bool) -> str:
    return "((CASE WHEN :day > maturity THEN principal ELSE 0 END)" + (" + interest_due" if compound else "") + ") * penalty_ppb"


def sql_falls_due(settlement_day: bool) -> str:
    return "1 = 1" if settlement_day else "maturity = :day"


def falls_due(day: date, maturity: date, settlement_day: bool) -> bool:
    """SPEC §5: accrued interest becomes interest due on each settlement day, and on the note's maturity day."""
    return settlement_day or day == maturity


def is_overdue(principal: int, interest_due: int, penalty: int, day: date, maturity: date) -> bool:
    """SPEC §6: something unpaid at the end of the day it fell due (principal at maturity, interest at
    settlement, any penalty) makes the note past due from the next day."""
    return (principal > 0 and maturity <= day) or interest_due > 0 or penalty > 0


def past_due_since(overdue: bool, since: date | None, day: date) -> date | None:
    """SPEC §6: past due from the day after something fell due unpaid; the date stays (a part payment
    does not move it) until nothing is past due."""
    return (since or day + timedelta(days=1)) if overdue else None


def days_past_due(since: date | None, day: date) -> int:
    """SPEC §6: days past due at the end of ``day``, counting the first past-due day as 1."""
    return (day - since).days + 1 if since is not None and since <= day else 0


# The same two rules as SQL over a state row (``{overdue}`` is :data:`SQL_OVERDUE`; ``{pds}`` the first).
SQL_PAST_DUE_SINCE = "(CASE WHEN {overdue} THEN COALESCE(past_due_since, date(:day, '+1 day')) ELSE NULL END)"
SQL_DAYS_PAST_DUE = "(CASE WHEN {pds} <= :day THEN CAST(julianday(:day) - julianday({pds}) AS INTEGER) + 1 ELSE 0 END)"


def reference_days(*, drawn_on: date, amount: int, maturity: date, annual_rate_percent: str, repayments: dict,
                   through: date, policy) -> list[dict]:
    """The reference day-end of one loan note, day by day from ``drawn_on`` through ``through``.

    ``repayments``: business date → amount paid at the counter that day (split as the counter splits
    it: penalty, interest due, accrued interest, principal). Returns each day's state after its
    day-end: principal, accrued, interest_due, penalty, dpd, class. Compensation is not modelled.
    """
    it = policy["interest"]
    den = PPB * it["day_count_basis"]
    rate = rate_ppb(annual_rate_percent)
    pen_rate = penalty_ppb(rate, it["penalty_uplift_percent"])
    order = policy["repayment"]["order"]
    categories = policy["classification"]["categories"]
    s = {"principal": amount, "accrued": 0, "interest_due": 0, "penalty": 0}
    num = posted = pnum = pposted = 0
    since: date | None = None
    dpd, cls = 0, classify(0, categories)
    out = []
    day = drawn_on
    while day <= through:
        paid = repayments.get(day, 0)
        for part in order:  # the counter's split, on the balances the last day-end left
            key = "accrued" if part == "interest_accrued" else part
            take = min(paid, s[key])
            s[key] -= take
            paid -= take
        if paid:
            raise ValueError(f"overpayment on {day}")
        if s["principal"] > 0 or s["interest_due"] > 0:
            num += regular_interest_num(s["principal"], rate, day, maturity)
            change = round_half_up(num, den) - posted
            posted += change
            s["accrued"] += change
            pnum += penalty_num(s["principal"], s["interest_due"], pen_rate, day, maturity, it["compound_unpaid_interest"])
            change = round_half_up(pnum, den) - pposted
            pposted += change
            s["penalty"] += change
        settling = is_settlement_day(day, it)
        if falls_due(day, maturity, settling):
            s["interest_due"] += s["accrued"]
            s["accrued"] = 0
            num = posted = 0
            if settling:
                pnum = pposted = 0
        if sum(s.values()) > 0 or since is not None or dpd:
            since = past_due_since(is_overdue(s["principal"], s["interest_due"], s["penalty"], day, maturity), since, day)
            dpd = days_past_due(since, day)
            cls = classify(dpd, categories)
        out.append({"day": day, **s, "dpd": dpd, "class": cls})
        day += timedelta(days=1)
    return out


def next_day_to_close(ledger: Ledger) -> date:
    closed = ledger.store.closed_through()
    if closed:
        return parse_date(closed) + timedelta(days=1)
    starts = [ledger.store.get_meta("created_on"), ledger.store.earliest_business_date()]
    return parse_date(min(s for s in starts if s))


def run_day(ledger: Ledger, day: date, *, post: bool = True, grant_ids: list[int] | None = None,
            restate: bool = False, memo: str | None = None) -> dict:
    """The day-end steps for one day on the store's current state table (inside a write transaction).

    ``close_day`` runs them for every note. A back-dated correction (corrections.py)
    replays them for one line's notes (``grant_ids``): with ``post=False`` for days
    before the correction, to rebuild the exact state, then posting from its date on.
    """
    policy = ledger.policy
    it = policy["interest"]
    den = PPB * it["day_count_basis"]
    store = ledger.store
    d = day.isoformat()
    fresh = store.notes_without_state(d, grant_ids)
    if fresh:
        store.insert_note_states([state_row(n, it) for n in fresh])
    store.dayend_apply_postings(d, grant_ids)
    regular, pen = SQL_REGULAR_NUM, sql_penalty_num(it["compound_unpaid_interest"])
    touched, pooled = store.dayend_accruals(d, den, regular, pen)
    settling = is_settlement_day(day, it)
    which = sql_falls_due(settling)
    # an upgraded ledger's first compact day: old per-note accrued interest moves to its product's account
    compact_since = store.get_meta("compact_since")
    reclass = compact_since == d and store.has_old_accrued(accounts.INTEREST_ACCRUED, grant_ids)
    # before compact books, penalty became a claim the day it accrued: a day from then, replayed, still does
    penalty_which = "1 = 1" if compact_since and d < compact_since else which
    txn_id = None
    if post and (reclass or pooled or store.dayend_has_settlements(d, which, penalty_which)):
        txn_id = store.insert_txn("day-end", d, ledger.operator, memo or f"day-end {d}", None)
    if reclass:
        store.dayend_reclass_accrued(txn_id, accounts.INTEREST_ACCRUED, grant_ids)
    store.dayend_post_accruals(txn_id, pooled, d, den, regular, pen, accounts.INTEREST_ACCRUED, accounts.PENALTY_ACCRUED,
                               accounts.INTEREST_INCOME, accounts.PENALTY_INCOME)
    settled = store.dayend_settle(txn_id, d, settling, which, accounts.INTEREST_ACCRUED, accounts.INTEREST_DUE,
                                  accounts.PENALTY_ACCRUED, accounts.PENALTY_DUE, penalty_which)
    if txn_id is not None:
        seal_bulk(ledger, txn_id)  # the journal's balance check, as every posting
    pds = SQL_PAST_DUE_SINCE.format(overdue=SQL_OVERDUE)
    store.dayend_classify(d, pds, SQL_DAYS_PAST_DUE.format(pds=pds), _class_case(policy["classification"]["categories"]),
                          record=post, restate=restate)
    if post:
        compensated = compensate_matured(ledger, day)
    else:
        store.clear_compensated_state(d)
        compensated = []
    return {"day": d, "accrued_notes": touched, "txn_id": txn_id, "compensated": compensated, "pooled": pooled,
            "settled": settled}


def close_day(ledger: Ledger, day: date) -> dict:
    """Close one business day (one transaction). See the module docstring."""
    store = ledger.store
    d = day.isoformat()
    with store.write():
        if store.closed_through() and d <= store.closed_through():
            raise RuleViolation(f"{d} is already closed")
        out = run_day(ledger, day)
        active = store.count_active_notes()
        store.insert_day_close(d, ledger.operator, active, out["txn_id"])
    return {**out, "active_notes": active}


def day_end(ledger: Ledger, through: date, *, today: date | None = None, progress: Callable[[int, int], None] | None = None) -> dict:
    """``credit-coop batch day-end --through DATE``: close every open day up to DATE, in order.

    Each day is its own transaction, so a run killed half-way leaves every day
    either closed or not, and the next run resumes where it stopped.
    """
    require(ledger, "day-end")
    through = parse_date(through, what="--through")
    today = today or dates.today()
    if through > today:
        raise RuleViolation(f"cannot close {through.isoformat()}: it is in the future")
    first = next_day_to_close(ledger)
    days = [first + timedelta(days=i) for i in range((through - first).days + 1)]
    closed = []
    for i, day in enumerate(days, 1):
        closed.append(close_day(ledger, day))
        fault("day-end")
        if progress:
            progress(i, len(days))
    return {
        "from": days[0].isoformat() if days else None,
        "through": through.isoformat(),
        "days_closed": len(closed),
        "already_closed": not days,
        "active_notes": closed[-1]["active_notes"] if closed else ledger.store.count_active_notes(),
        "compensated": [c for day in closed for c in day["compensated"]],
        # the day's chain head: printed on the day-end slip, kept outside the file (verify --head)
        "head": ledger.store.head(),
    }
