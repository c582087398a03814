"""Year-end refund batch (年终返还) — SPEC §7, source §七.

For year Y, each officer none of whose loans became non-performing (次级,
可疑, 损失 — policy) or needed compensation during Y gets 20% (policy) of the
holdbacks withheld from their Y pay refunded as payable; the rest stays in the
fund. Refunds never exceed the fund's balance. A transferred officer whose
loans are all recovered gets the whole fund back instead. Once per year.
"""

from __future__ import annotations

from datetime import date

from credit_coop.core import accounts, dates
from credit_coop.core.errors import InvalidInput, RuleViolation
from credit_coop.core.faults import fault
from credit_coop.core.journal import post
from credit_coop.core.ledger import Ledger
from credit_coop.core.operators import require
from credit_coop.core.pay import AlreadyRun, fen_keys, net_lines, percent_of
from credit_coop.core.riskfund import fund_balance


def _lines(ledger: Ledger, year: int) -> list[dict]:
    store = ledger.store
    first, last = f"{year:04d}-01-01", f"{year:04d}-12-31"
    holdbacks = store.holdbacks_in(f"{year:04d}-01", f"{year:04d}-12")
    npl = store.officers_with_npl_in(first, last, ledger.policy["classification"]["non_performing"])
    comp = store.officers_compensating_in(first, last)
    percent = ledger.policy["risk_fund"]["year_end_refund_percent"]
    people = sorted(set(holdbacks) | set(store.officers_with([accounts.RISK_FUND])))
    lines = []
    for officer in people:
        fund = fund_balance(ledger, officer, through=last)
        held = holdbacks.get(officer, 0)
        transferred = store.transfer(officer)
        if transferred and transferred["on_date"] <= last and not store.settlement(officer) and \
                not store.unrecovered_issued(officer, accounts.LOANS + ".", accounts.RISK_FUND, accounts.OFFICER_DEBT):
            lines.append({"officer": officer, "holdbacks": held, "clean": 1, "reason": "transferred; every loan recovered",
                          "refund": max(fund, 0), "full_settlement": 1})
            continue
        reason = None
        if officer in comp:
            reason = f"compensated {comp[officer]}"
        elif officer in npl:
            reason = f"{npl[officer]} became non-performing"
        refund = 0 if reason else min(percent_of(held, percent), max(fund, 0))
        if held or refund:
            lines.append({"officer": officer, "holdbacks": held, "clean": 0 if reason else 1, "reason": reason,
                          "refund": refund, "full_settlement": 0})
    return lines


def compute_adjustments(ledger: Ledger, year: int) -> list[dict]:
    """A back-dated correction after an earlier year-end (a compensation reversed, a note no longer
    non-performing) may change who was clean that year: the refund it earns now less what was given
    for it is carried by this year-end (issue 14). Full settlements are not reopened."""
    store = ledger.store
    since = store.recheck_from("year-end")
    if since is None:
        return []
    out = []
    for prior in store.paid_periods("year-end", since, str(year)):
        now = {l["officer"]: l for l in _lines(ledger, int(prior)) if not l["full_settlement"]}
        given = store.refunded_for(prior)
        for officer in sorted(set(now) | set(given)):
            delta = (now[officer]["refund"] if officer in now else 0) - given.get(officer, 0)
            if delta:
                reason = now[officer]["reason"] if officer in now else None
                out.append({"officer": officer, "for_year": prior, "refund_delta": delta,
                            "reason": reason or ("clean after a correction" if delta > 0 else "no longer clean")})
    return out


def _result(year: int, lines, *, posted: bool, dry_run: bool, txn_id=None, run_on=None, adjustments=None) -> dict:
    rows = [fen_keys(l, ("id", "year")) for l in lines]
    adjustments = [fen_keys(a, ("id", "year")) for a in adjustments or []]
    return {"year": year, "dry_run": dry_run, "posted": posted, "run_on": run_on, "txn_id": txn_id, "officers": rows,
            "adjustments": adjustments, "total_holdbacks_fen": sum(r["holdbacks_fen"] for r in rows),
            "total_refund_fen": sum(r["refund_fen"] for r in rows),
            "total_adjustment_fen": sum(a["refund_delta_fen"] for a in adjustments)}


def run_year_end(ledger: Ledger, year: int, *, on: date | None = None, dry_run: bool = False, today: date | None = None) -> dict:
    """``credit-coop batch year-end --year Y``: refunds posted as payable; once per year, after every month
    of the year (since the ledger began) is paid. ``on``: by default the open business date."""
    from credit_coop.core.business_day import open_business_date

    require(ledger, "year-end")
    try:
        year = int(year)
    except (TypeError, ValueError):
        raise InvalidInput(f"year {year!r} is not a year") from None
    today = today or dates.today()
    if year > today.year or year < 1990:
        raise InvalidInput(f"year {year} is not a past or current year")
    store = ledger.store
    with store.write():
        prior = store.batch_run("year-end", str(year))
        if prior is not None:
            raise AlreadyRun(
                f"the {year} year-end was already run on {prior['run_on']} by {prior['operator']}; nothing posted",
                _result(year, store.batch_lines("year-end", str(year)), posted=True, dry_run=False, txn_id=prior["txn_id"],
                        run_on=prior["run_on"], adjustments=store.adjustments("year_end_adjustments", "year", str(year))),
            )
        closed = store.closed_through()
        if not closed or closed < f"{year:04d}-12-31":
            raise RuleViolation(f"December {year} is not closed yet (day-end has run through {closed or 'no day'})")
        on = on or open_business_date(ledger)
        if on.year <= year:
            raise RuleViolation(f"the {year} year-end is posted after the year ends, not on {on.isoformat()}")
        begun = max(f"{year:04d}-01", (store.get_meta("created_on") or "0000-01")[:7])
        missing = [m for m in (f"{year:04d}-{i:02d}" for i in range(1, 13)) if m >= begun and store.batch_run("payroll", m) is None]
        if missing:
            raise RuleViolation(f"the {year} year-end needs every month paid first; no payroll yet for {', '.join(missing)}")
        lines = _lines(ledger, year)
        adjustments = compute_adjustments(ledger, year)
        if dry_run:
            return _result(year, lines, posted=False, dry_run=True, adjustments=adjustments)
        amounts: dict[tuple[str, str | None], int] = {}  # credit-positive, per account and officer
        for officer, fen in [(l["officer"], l["refund"]) for l in lines] + [(a["officer"], a["refund_delta"]) for a in adjustments]:
            amounts[(accounts.RISK_FUND, officer)] = amounts.get((accounts.RISK_FUND, officer), 0) - fen
            amounts[(accounts.PAY_PAYABLE, officer)] = amounts.get((accounts.PAY_PAYABLE, officer), 0) + fen
        journal = net_lines(amounts)
        txn_id = post(ledger, "year-end", on, journal, memo=f"risk fund year-end refund {year}") if journal else None
        store.insert_batch("year-end", str(year), on.isoformat(), ledger.operator, txn_id, lines)
        store.insert_adjustments("year_end_adjustments", [{"year": str(year), **a} for a in adjustments])
        store.clear_recheck("year-end")
        for l in lines:
            if l["full_settlement"]:
                store.insert_settlement(l["officer"], on.isoformat(), l["refund"], txn_id)
            fault("year-end")
    return _result(year, lines, posted=True, dry_run=False, txn_id=txn_id, run_on=on.isoformat(), adjustments=adjustments)
