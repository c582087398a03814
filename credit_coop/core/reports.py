"""Reports: pure functions returning rows (rendering is the CLI's job)."""

from __future__ import annotations

from datetime import date

from credit_coop.core import accounts
from credit_coop.core.ledger import Ledger

# SPEC §8: the source's table (from March 2025), in 万元.
SOURCE_TABLE = {
    "hnd": {"households": 921, "granted_wan": 9322, "drawn_wan": 9150},
    "sdt": {"households": 404, "granted_wan": 6581, "drawn_wan": 6140},
    "pos": {"households": 20, "granted_wan": 350, "drawn_wan": 280},
    "gxd": {"households": 624, "granted_wan": 12715, "drawn_wan": 11670},
}


def product_report(ledger: Ledger, as_of: date | None = None) -> list[dict]:
    """Per product: households granted, granted, drawn (cumulative) and outstanding, in fen,
    with the source's figures beside them (SPEC §8 shape)."""
    as_of = as_of or date.today()
    rows = {r["product"]: r for r in ledger.store.product_totals(as_of.isoformat(), accounts.LOANS + ".")}
    out = []
    for code, prod in ledger.policy.products.items():
        r = rows.get(code)
        src = SOURCE_TABLE.get(code)
        out.append(
            {
                "product": code,
                "name": prod["name"],
                "households": r["households"] if r else 0,
                "granted_fen": r["granted"] if r else 0,
                "drawn_fen": r["drawn"] if r else 0,
                "outstanding_fen": r["outstanding"] if r else 0,
                "source_households": src["households"] if src else None,
                "source_granted_fen": src["granted_wan"] * 1_000_000 if src else None,
                "source_drawn_fen": src["drawn_wan"] * 1_000_000 if src else None,
            }
        )
    return out


def overdue_report(ledger: Ledger, as_of: date | None = None) -> dict:
    """Overdue notes as of a closed day: DPD, class, officer; totals by class and product; NPL ratio (SPEC §5)."""
    from credit_coop.core.dates import parse_date
    from credit_coop.core.errors import RuleViolation
    from credit_coop.core.identity import mask_id_number

    store = ledger.store
    closed = store.closed_through()
    if closed is None:
        raise RuleViolation("no day has been closed yet; run `credit-coop batch day-end` first")
    as_of = as_of or parse_date(closed)
    if as_of.isoformat() > closed:
        raise RuleViolation(f"{as_of.isoformat()} is not closed yet (day-end has run through {closed})")
    npl_classes = set(ledger.policy["classification"]["non_performing"])
    principal = store.principal_as_of(as_of.isoformat())
    names = {c: p["name"] for c, p in ledger.policy.products.items()}
    notes, by_class, by_product = [], {}, {}
    for r in store.note_class_as_of(as_of.isoformat()):
        pds = r["past_due_since"]
        dpd = (as_of - parse_date(pds)).days + 1 if pds and pds <= as_of.isoformat() else 0
        cls = r["class"] if dpd or r["class"] != "正常" else "正常"
        p = principal.pop(r["note_id"], 0)
        by_class[cls] = by_class.get(cls, 0) + p
        if dpd <= 0:
            continue
        officer = store.note_officer(r["note_id"], r["line_officer"])
        notes.append({"note_no": r["note_no"], "card_no": r["card_no"], "product": r["product"],
                      "borrower_masked": mask_id_number(r["borrower_id"]), "maturity": r["maturity"],
                      "past_due_since": pds, "days_past_due": dpd, "class": cls, "officer": officer, "principal_fen": p})
        pr = by_product.setdefault(r["product"], {"product": r["product"], "name": names.get(r["product"], r["product"]),
                                                  "notes": 0, "principal_fen": 0})
        pr["notes"] += 1
        pr["principal_fen"] += p
    by_class["正常"] = by_class.get("正常", 0) + sum(principal.values())  # notes never classified yet
    total = sum(by_class.values())
    npl = sum(v for c, v in by_class.items() if c in npl_classes)
    bp = npl * 10000 // total if total else 0
    return {
        "as_of": as_of.isoformat(),
        "notes": sorted(notes, key=lambda x: (-x["days_past_due"], x["note_no"])),
        "by_class": [{"class": c["name"], "principal_fen": by_class.get(c["name"], 0)} for c in ledger.policy["classification"]["categories"]],
        "by_product": list(by_product.values()),
        "outstanding_fen": total,
        "non_performing_fen": npl,
        "npl_ratio_percent": f"{bp // 100}.{bp % 100:02d}",
    }


def unit_report(ledger: Ledger, as_of: date | None = None, by: str = "department") -> dict:
    """The department (or branch) league table (issue 13): grants, live lines, granted, drawn, outstanding,
    non-performing and its ratio per unit, and for departments the officers' average monthly pay (the
    source reports 客户经理月均工资 ≈ 9,000元). The units add up to the union's totals."""
    from credit_coop.core.errors import InvalidInput
    from credit_coop.core.organisation import operator_unit

    if by not in ("department", "branch"):
        raise InvalidInput(f"--by must be department or branch, got {by!r}")
    overdue = overdue_report(ledger, as_of)  # checks the day is closed; gives the classes the same way
    d = overdue["as_of"]
    store = ledger.store
    npl_classes = set(ledger.policy["classification"]["non_performing"])
    units = {u["code"]: {"unit": u["code"], "name": u["name"], "grants": 0, "lines": 0, "granted_fen": 0, "drawn_fen": 0,
                         "outstanding_fen": 0, "non_performing_fen": 0, "officers": 0, "officer_avg_monthly_pay_fen": None}
             for u in store.org_units() if u["kind"] == by}
    for g in store.grants_by_unit(by, d):
        u = units[g["unit"]]
        u["grants"] += 1
        u["drawn_fen"] += g["drawn"]
        if g["status"] in ("approved", "frozen") and g["valid_from"] <= d <= g["valid_to"]:
            u["lines"] += 1
            u["granted_fen"] += g["line_amount"]
    note_unit = store.note_units(by)
    principal = store.principal_as_of(d)
    for r in store.note_class_as_of(d):
        p = principal.get(r["note_id"], 0)
        if p and r["class"] in npl_classes:
            units[note_unit[r["note_id"]]]["non_performing_fen"] += p
    for note_id, p in principal.items():
        units[note_unit[note_id]]["outstanding_fen"] += p
    if by == "department":
        pay: dict[str, list[int]] = {}
        for r in store.officer_pay_months(d[:7]):
            op = store.get_operator(r["officer"])
            if op is not None and op["role"] == "officer":
                unit = operator_unit(ledger, r["officer"], "officer", d)
                pay.setdefault(unit, []).append(r["total"] // r["months"])
        for code, monthly in pay.items():
            if code in units:
                units[code]["officers"] = len(monthly)
                units[code]["officer_avg_monthly_pay_fen"] = sum(monthly) // len(monthly)
    rows = [u for u in units.values() if u["grants"] or u["unit"] not in ("D00", "B00")]  # the default units when used
    for u in rows:
        bp = u["non_performing_fen"] * 10000 // u["outstanding_fen"] if u["outstanding_fen"] else 0
        u["npl_ratio_percent"] = f"{bp // 100}.{bp % 100:02d}"
    total = {k: sum(u[k] for u in rows) for k in ("grants", "lines", "granted_fen", "drawn_fen", "outstanding_fen", "non_performing_fen")}
    bp = total["non_performing_fen"] * 10000 // total["outstanding_fen"] if total["outstanding_fen"] else 0
    total["npl_ratio_percent"] = f"{bp // 100}.{bp % 100:02d}"
    return {"as_of": d, "by": by, "units": rows, "total": total}


def officers_report(ledger: Ledger) -> list[dict]:
    """Per loan officer: grants surveyed, principal managed, interest collected, fund balance."""
    return [
        {"officer": r["name"], "grants": r["grants"], "managed_fen": r["managed"], "interest_collected_fen": r["collected"],
         "fund_fen": r["fund"]}
        for r in ledger.store.officer_summary(accounts.LOANS + ".", accounts.RISK_FUND)
    ]


def sla_report(ledger: Ledger, as_of: date | None = None) -> dict:
    """Grants whose acceptance-to-first-disbursement exceeded the policy's days (办贷时限, SPEC §3),
    and approved grants still undrawn past it."""
    from credit_coop.core.identity import mask_id_number

    as_of = as_of or date.today()
    limit = ledger.policy["service_level"]["days_to_first_disbursement"]
    late = []
    total = 0
    for r in ledger.store.first_disbursements():
        applied = date.fromisoformat(r["applied_on"])
        end = date.fromisoformat(r["first_drawn"]) if r["first_drawn"] else as_of
        if applied > as_of:
            continue
        total += 1
        days = (end - applied).days
        if days > limit:
            late.append({"grant_no": r["grant_no"], "product": r["product"], "borrower_masked": mask_id_number(r["borrower_id"]),
                         "applied_on": r["applied_on"], "approved_on": r["approved_on"], "first_drawn": r["first_drawn"],
                         "days": days, "officer": r["officer"], "state": "disbursed late" if r["first_drawn"] else "not yet disbursed"})
    return {"as_of": as_of.isoformat(), "limit_days": limit, "grants": total, "late": late}
