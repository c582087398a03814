"""Credit grants (授信), "grant first, draw later" (SPEC §3).

Workflow: application (受理) → [village review, 惠农贷] → survey (调查岗) →
review (审查岗) → approval (审批岗) by the tier covering the amount. Each step
is recorded with operator and business date in ``grant_events``; surveyor,
reviewer and approver are three different people. On approval the grant is
a live credit line with a 最高额借款合同 number and a loan card (贷款卡).
"""

from __future__ import annotations

import json
from datetime import date

from credit_coop.core import accounts
from credit_coop.core.borrowers import KIND_NAMES, get_borrower
from credit_coop.core.dates import days_inclusive, parse_date, term_end
from credit_coop.core.errors import Conflict, InvalidInput, NotFound, NotPermitted, RuleViolation
from credit_coop.core.identity import luhn_digit, mask_id_number, validate_id_number
from credit_coop.core.ledger import Ledger, require_text
from credit_coop.core.money import format_yuan, to_fen
from credit_coop.core.operators import not_own, require
from credit_coop.core.organisation import check_department, units_for_village

PENDING = ("applied", "village-reviewed", "surveyed", "reviewed")
LINE_STATES = ("approved", "frozen")
# Statuses a user can filter on (``approved`` shows as ``live`` or ``expired``).
VISIBLE_STATUSES = ("applied", "village-reviewed", "surveyed", "reviewed", "live", "frozen", "expired", "rejected", "closed")


# -- reading -----------------------------------------------------------------
def get_grant(ledger: Ledger, grant_no: str):
    row = ledger.store.get_grant_by_no(str(grant_no).strip().upper())
    if row is None:
        raise NotFound(f"no grant {grant_no}")
    return row


def is_live(g, on: date) -> bool:
    """A line that counts toward exposure: approved or frozen, not expired (SPEC §3)."""
    return g["status"] in LINE_STATES and g["valid_to"] >= on.isoformat()


def effective_status(g, on: date) -> str:
    if g["status"] == "approved":
        return "expired" if g["valid_to"] < on.isoformat() else "live"
    if g["status"] == "frozen" and g["valid_to"] < on.isoformat():
        return "expired"
    return g["status"]


def live_exposure(ledger: Ledger, borrower_id: str, on: date, exclude_grant: int | None = None, grants=None) -> int:
    """Sum of the borrower's live lines on ``on`` (SPEC §3.4 "total credit exposure").

    ``grants``: the borrower's grant rows, when the caller already has them.
    """
    if grants is None:
        grants = ledger.store.borrower_grants(borrower_id)
    return sum(g["line_amount"] for g in grants if is_live(g, on) and g["id"] != exclude_grant)


def outstanding(ledger: Ledger, g) -> int:
    """Principal outstanding on a line, from the journal."""
    return ledger.store.grant_balance(g["id"], accounts.loans_account(g["product"]))


def grant_summary(ledger: Ledger, g, as_of: date) -> dict:
    product = ledger.policy.products.get(g["product"], {"name": g["product"]})
    out = outstanding(ledger, g) if g["status"] in LINE_STATES + ("closed",) else 0
    line = g["line_amount"] or 0
    status = effective_status(g, as_of)
    return {
        "grant_no": g["grant_no"],
        "product": g["product"],
        "product_name": product["name"],
        "borrower_masked": mask_id_number(g["borrower_id"]),
        "status": status,
        "applied_fen": g["applied_amount"],
        "line_fen": g["line_amount"],
        "term_months": g["term_months"],
        "card_no": g["card_no"],
        "contract_no": g["contract_no"],
        "valid_from": g["valid_from"],
        "valid_to": g["valid_to"],
        "outstanding_fen": out,
        "available_fen": max(line - out, 0) if status == "live" else 0,
        "approval_tier": g["approval_tier"],
        "department": g["department"],
        "branch": g["branch"],
        "officer": g["officer"],
    }


def show_grant(ledger: Ledger, grant_no: str, as_of: date | None = None) -> dict:
    """One grant: summary, every workflow step, guarantors."""
    as_of = as_of or date.today()
    g = get_grant(ledger, grant_no)
    out = grant_summary(ledger, g, as_of)
    b = ledger.store.get_borrower(g["borrower_id"])
    out["borrower_name"] = b["name"]
    out["grade"] = g["grade"]
    out["approval_exposure_fen"] = g["approval_exposure"]
    out["reject_reason"] = g["reject_reason"]
    out["guarantors_masked"] = [mask_id_number(i) for i in ledger.store.guarantors(g["id"])]
    out["steps"] = [
        {"action": e["action"], "on": e["on_date"], "operator": e["operator"], "detail": json.loads(e["detail"] or "{}")}
        for e in ledger.store.grant_events(g["id"])
    ]
    return out


def list_grants(ledger: Ledger, product: str | None = None, status: str | None = None, as_of: date | None = None) -> list[dict]:
    as_of = as_of or date.today()
    code = ledger.policy.product(product)["code"] if product else None
    if status is not None and status not in VISIBLE_STATUSES:
        raise InvalidInput(f"unknown status {status!r}; statuses are: {', '.join(VISIBLE_STATUSES)}")
    rows = [grant_summary(ledger, g, as_of) for g in ledger.store.list_grants(code)]
    return [r for r in rows if status is None or r["status"] == status]


# -- workflow ----------------------------------------------------------------
def _event(ledger: Ledger, g, action: str, on: date, **detail) -> None:
    ledger.store.insert_grant_event(g["id"], action, on.isoformat(), ledger.operator, json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None)


def _not_before(on: date, earlier: str | None, step: str) -> None:
    if earlier and on.isoformat() < earlier:
        raise RuleViolation(f"the {step} is dated {on.isoformat()}, before the previous step on {earlier}")


def _expect_status(g, *expected: str, step: str) -> None:
    if g["status"] not in expected:
        raise RuleViolation(f"grant {g['grant_no']} is {g['status']}; {step} needs it to be {' or '.join(expected)}")


def apply_grant(ledger: Ledger, *, borrower: str, product: str, amount: int | str, on: date) -> dict:
    """Accept an application (受理). Returns the new grant number."""
    require(ledger, "grant.apply")
    on = parse_date(on)
    prod = ledger.policy.product(product)
    amount = to_fen(amount, what="applied amount")
    b = get_borrower(ledger, borrower)
    eligible = set(prod["eligible_kinds"]) & set(b["kinds"])
    if not eligible:
        need = " or ".join(KIND_NAMES.get(k, k) + f" ({k})" for k in prod["eligible_kinds"])
        raise RuleViolation(f"{prod['name']} is only for {need}; {b['name']} is not registered as one")
    if amount > prod["ceiling"]:
        raise RuleViolation(f"{format_yuan(amount)} is over the {prod['name']} ceiling of {format_yuan(prod['ceiling'])}")
    store = ledger.store
    with store.write():
        for g in store.borrower_grants(b["id_number"]):
            if g["product"] != prod["code"]:
                continue
            if g["status"] in PENDING:
                raise Conflict(f"{b['name']} already has a {prod['name']} application in progress: {g['grant_no']}")
            if is_live(g, on):
                raise Conflict(f"{b['name']} already holds a live {prod['name']} line: {g['grant_no']} (one live line per product)")
        grant_id = store.next_id("grants")
        grant_no = f"SX{on.year}{grant_id:06d}"
        department, branch = units_for_village(ledger, b["village"], on.isoformat())
        store.insert_grant(
            {
                "id": grant_id,
                "grant_no": grant_no,
                "borrower_id": b["id_number"],
                "product": prod["code"],
                "applied_amount": amount,
                "applied_on": on.isoformat(),
                "applied_by": ledger.operator,
                "status": "applied",
                "department": department,
                "branch": branch,
            }
        )
        g = store.get_grant(grant_id)
        _event(ledger, g, "apply", on, amount_fen=amount)
    return {
        "grant_no": grant_no,
        "product": prod["code"],
        "product_name": prod["name"],
        "borrower_masked": b["borrower_masked"],
        "applied_fen": amount,
        "status": "applied",
        "next": "village-review" if prod["village_review"] else "survey",
    }


def village_review(ledger: Ledger, grant_no: str, *, grade: str, posted_from: date | str, posted_to: date | str, on: date) -> dict:
    """Record the village credit evaluation group's screening and public posting (惠农贷, SPEC §3.1)."""
    op = require(ledger, "grant.village-review")
    on, posted_from, posted_to = parse_date(on), parse_date(posted_from, what="--posted-from"), parse_date(posted_to, what="--posted-to")
    policy = ledger.policy
    vr = policy["village_review"]
    store = ledger.store
    with store.write():
        g = get_grant(ledger, grant_no)
        check_department(ledger, op, g, on, "record the village review of")
        prod = policy.product(g["product"])
        if not prod["village_review"]:
            raise RuleViolation(f"{prod['name']} does not go through the village credit review")
        _expect_status(g, "applied", step="the village review")
        grade = str(grade).strip()
        if grade not in vr["grade_caps"]:
            raise InvalidInput(f"unknown credit grade {grade!r}; grades are: {', '.join(vr['grade_caps'])}")
        if posted_to < posted_from:
            raise InvalidInput("the posting ends before it starts (--posted-to is before --posted-from)")
        days = days_inclusive(posted_from, posted_to)
        if days < vr["posting_days"]:
            raise RuleViolation(f"the public posting (张榜公示) ran {days} days; policy requires at least {vr['posting_days']}")
        if on <= posted_to:
            raise RuleViolation(f"the posting runs through {posted_to.isoformat()}; record the village review after it ends")
        # The application arrives through the village group (SPEC §3.1), so the
        # posting may precede the cooperative's acceptance; the record may not.
        _not_before(on, g["applied_on"], "village review")
        cap = vr["grade_caps"][grade]
        store.update_grant(
            g["id"], status="village-reviewed", grade=grade, posted_from=posted_from.isoformat(),
            posted_to=posted_to.isoformat(), village_reviewed_on=on.isoformat(), village_reviewed_by=ledger.operator,
        )
        _event(ledger, g, "village-review", on, grade=grade, posted_from=posted_from.isoformat(), posted_to=posted_to.isoformat(), cap_fen=cap)
    return {"grant_no": g["grant_no"], "status": "village-reviewed", "grade": grade, "grade_cap_fen": cap, "posting_days": days}


def survey(
    ledger: Ledger, grant_no: str, *, line: int | str, term_months: int, on: date, guarantors: list[str] = ()
) -> dict:
    """The loan officer's on-site survey (调查岗): proposes line and term within the product's limits."""
    op = require(ledger, "grant.survey")
    on = parse_date(on)
    line = to_fen(line, what="line")
    try:
        term_months = int(term_months)
    except (TypeError, ValueError):
        raise InvalidInput(f"term must be a whole number of months, got {term_months!r}") from None
    if term_months < 1:
        raise InvalidInput("term must be at least one month")
    policy = ledger.policy
    store = ledger.store
    with store.write():
        g = get_grant(ledger, grant_no)
        prod = policy.product(g["product"])
        if prod["village_review"] and g["status"] == "applied":
            raise RuleViolation(f"{prod['name']} needs the village credit review (grant village-review) before the survey")
        _expect_status(g, "village-reviewed" if prod["village_review"] else "applied", step="the survey")
        not_own(op, g["borrower_id"], "survey their own grant")
        check_department(ledger, op, g, on, "survey")
        _not_before(on, g["village_reviewed_on"] or g["applied_on"], "survey")
        moved = store.transfer(op["name"])
        if moved and moved["on_date"] <= on.isoformat():
            raise NotPermitted(f"{op['name']} was transferred off the loan-officer post on {moved['on_date']}")
        if line > prod["ceiling"]:
            raise RuleViolation(f"line {format_yuan(line)} is over the {prod['name']} ceiling of {format_yuan(prod['ceiling'])}")
        if term_months > prod["max_term_months"]:
            raise RuleViolation(f"term {term_months} months is over the {prod['name']} maximum of {prod['max_term_months']} months")
        if line > g["applied_amount"] and not policy.data.get("grants", {}).get("survey_above_applied", False):
            raise RuleViolation(f"line {format_yuan(line)} is more than the {format_yuan(g['applied_amount'])} applied for; "
                                "the survey may lower a line, not raise it (policy grants.survey_above_applied)")
        if prod["village_review"]:
            cap = policy["village_review"]["grade_caps"][g["grade"]]
            if line > cap:
                raise RuleViolation(f"line {format_yuan(line)} is over the cap for village grade {g['grade']} ({format_yuan(cap)})")
        ids = list(dict.fromkeys(validate_id_number(i, what="guarantor ID number") for i in guarantors))
        if ids and "guaranteed" not in prod["security"]:
            raise RuleViolation(f"{prod['name']} is pure credit (信用); it takes no guarantors")
        if g["borrower_id"] in ids:
            raise RuleViolation("the borrower cannot guarantee their own line")
        store.update_grant(
            g["id"], status="surveyed", line_amount=line, term_months=term_months,
            surveyed_on=on.isoformat(), surveyed_by=op["name"], officer=op["name"],
        )
        store.insert_guarantors(g["id"], ids)
        _event(ledger, g, "survey", on, line_fen=line, term_months=term_months, guarantors=len(ids))
    return {"grant_no": g["grant_no"], "status": "surveyed", "line_fen": line, "term_months": term_months, "guarantors": len(ids)}


def review(ledger: Ledger, grant_no: str, *, on: date, reject: str | None = None) -> dict:
    """The review post (审查岗): a different person from the surveyor passes or rejects."""
    op = require(ledger, "grant.review")
    on = parse_date(on)
    reason = require_text(reject, "rejection reason") if reject is not None else None
    store = ledger.store
    with store.write():
        g = get_grant(ledger, grant_no)
        _expect_status(g, "surveyed", step="the review")
        not_own(op, g["borrower_id"], "review their own grant")
        check_department(ledger, op, g, on, "review")
        if op["name"] == g["surveyed_by"]:
            raise NotPermitted(f"{op['name']} surveyed this grant; the reviewer must be a different person")
        _not_before(on, g["surveyed_on"], "review")
        if reason:
            store.update_grant(g["id"], status="rejected", reviewed_on=on.isoformat(), reviewed_by=op["name"],
                               rejected_on=on.isoformat(), rejected_by=op["name"], reject_reason=reason)
            _event(ledger, g, "reject-at-review", on, reason=reason)
            return {"grant_no": g["grant_no"], "status": "rejected", "reason": reason}
        store.update_grant(g["id"], status="reviewed", reviewed_on=on.isoformat(), reviewed_by=op["name"])
        _event(ledger, g, "review", on)
    return {"grant_no": g["grant_no"], "status": "reviewed"}


def approval_tier(ledger: Ledger, g, on: date) -> tuple[dict, int]:
    """The tier that must approve this grant and the exposure that picked it (SPEC §3.4)."""
    policy = ledger.policy
    if policy["approval"]["exposure_basis"] == "this_grant":
        exposure = g["line_amount"]
    else:
        exposure = live_exposure(ledger, g["borrower_id"], on, exclude_grant=g["id"]) + g["line_amount"]
    return policy.tier_for(exposure), exposure


def approve(ledger: Ledger, grant_no: str, *, on: date, reject: str | None = None) -> dict:
    """Approval (审批岗) by the tier covering the amount; a higher tier may approve too.

    On approval: a maximum-amount loan contract (最高额借款合同) number and a
    loan card number; the line is valid from the approval date for its term.
    """
    op = require(ledger, "grant.approve")
    on = parse_date(on)
    reason = require_text(reject, "rejection reason") if reject is not None else None
    policy = ledger.policy
    store = ledger.store
    with store.write():
        g = get_grant(ledger, grant_no)
        _expect_status(g, "reviewed", step="approval")
        not_own(op, g["borrower_id"], "approve their own grant")
        check_department(ledger, op, g, on, "approve")
        if op["name"] in (g["surveyed_by"], g["reviewed_by"]):
            raise NotPermitted(f"{op['name']} already surveyed or reviewed this grant; the approver must be a third person")
        _not_before(on, g["reviewed_on"], "approval")
        tier, exposure = approval_tier(ledger, g, on)
        roles = policy.approval_roles
        if op["role"] not in roles or roles.index(op["role"]) < roles.index(tier["role"]):
            raise NotPermitted(
                f"a total exposure of {format_yuan(exposure)} needs approval by {tier['role']} or higher; "
                f"{op['name']} is {op['role']}"
            )
        if reason:
            store.update_grant(g["id"], status="rejected", rejected_on=on.isoformat(), rejected_by=op["name"], reject_reason=reason,
                               approval_tier=tier["role"], approval_exposure=exposure)
            _event(ledger, g, "reject-at-approval", on, reason=reason, tier=tier["role"], exposure_fen=exposure)
            return {"grant_no": g["grant_no"], "status": "rejected", "reason": reason, "approval_tier": tier["role"]}
        for other in store.borrower_grants(g["borrower_id"]):
            if other["id"] != g["id"] and other["product"] == g["product"] and is_live(other, on):
                raise Conflict(f"the borrower already holds a live line for this product: {other['grant_no']}")
        card = f"62{on.year}{g['id']:09d}"
        card += luhn_digit(card)
        contract = f"ZGE{on.year}{g['id']:06d}"
        valid_to = term_end(on, g["term_months"])
        store.update_grant(
            g["id"], status="approved", approved_on=on.isoformat(), approved_by=op["name"], approval_tier=tier["role"],
            approval_exposure=exposure, contract_no=contract, card_no=card, valid_from=on.isoformat(), valid_to=valid_to.isoformat(),
        )
        _event(ledger, g, "approve", on, tier=tier["role"], exposure_fen=exposure, contract_no=contract, card_no=card)
    return {
        "grant_no": g["grant_no"],
        "status": "live",
        "approval_tier": tier["role"],
        "exposure_fen": exposure,
        "contract_no": contract,
        "card_no": card,
        "line_fen": g["line_amount"],
        "valid_from": on.isoformat(),
        "valid_to": valid_to.isoformat(),
    }


def _change_line(ledger: Ledger, grant_no: str, action: str, on: date, reason: str | None) -> dict:
    op = require(ledger, f"grant.{action}")
    on = parse_date(on)
    reason = require_text(reason, "reason") if reason else None
    store = ledger.store
    with store.write():
        g = get_grant(ledger, grant_no)
        not_own(op, g["borrower_id"], f"{action} their own line")
        if action == "freeze":
            _expect_status(g, "approved", step="freezing")
            new = "frozen"
        elif action == "unfreeze":
            _expect_status(g, "frozen", step="unfreezing")
            new = "approved"
        else:
            _expect_status(g, "approved", "frozen", step="closing")
            owed = outstanding(ledger, g)
            if owed:
                raise RuleViolation(f"line {g['card_no']} still has {format_yuan(owed)} outstanding; it can be closed once repaid")
            new = "closed"
        fields = {"status": new}
        if action == "close":
            fields["closed_on"] = on.isoformat()
        store.update_grant(g["id"], **fields)
        _event(ledger, g, action, on, **({"reason": reason} if reason else {}))
        g = store.get_grant(g["id"])
    return grant_summary(ledger, g, on)


def freeze(ledger: Ledger, grant_no: str, *, on: date, reason: str | None = None) -> dict:
    """Freeze a live line: no drawdowns until unfrozen; repayments still accepted."""
    return _change_line(ledger, grant_no, "freeze", on, reason)


def unfreeze(ledger: Ledger, grant_no: str, *, on: date, reason: str | None = None) -> dict:
    return _change_line(ledger, grant_no, "unfreeze", on, reason)


def close(ledger: Ledger, grant_no: str, *, on: date, reason: str | None = None) -> dict:
    """Close a line with nothing outstanding; closed lines never reopen."""
    return _change_line(ledger, grant_no, "close", on, reason)
