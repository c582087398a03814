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


def npl_ratio_percent(non_performing_fen: int, outstanding_fen: int) -> str:
    """The NPL ratio (不良率) as a percentage with two decimals, truncated: ``"0.39"``."""
    bp = non_performing_fen * 10000 // outstanding_fen if outstanding_fen else 0
    return f"{bp // 100}.{bp % 100:02d}"


# -- by department or branch (issue 13) -------------------------------------------------------
def unit_scope(ledger: Ledger, unit: str | None) -> tuple[str, str] | None:
    """``--unit CODE`` as (kind, code): one department's or branch's share of a report."""
    if unit is None:
        return None
    from credit_coop.core.errors import NotFound

    u = ledger.store.org_unit(unit)
    if u is None:
        raise NotFound(f"no department or branch {unit}")
    return u["kind"], u["code"]


def unit_kinds(ledger: Ledger, by: str | None) -> list[tuple[str, str]]:
    """``--by department|branch``: the units of that kind, (code, name), in code order."""
    if by is None:
        return []
    from credit_coop.core.errors import InvalidInput

    if by not in ("department", "branch"):
        raise InvalidInput(f"--by must be department or branch, got {by!r}")
    return [(u["code"], u["name"]) for u in ledger.store.org_units() if u["kind"] == by]


def product_report(ledger: Ledger, as_of: date | None = None, unit: str | None = None) -> list[dict]:
    """Per product: households granted, granted, drawn (cumulative) and outstanding, in fen,
    with the source's figures beside them (SPEC §8 shape); ``unit``: one department's or branch's."""
    as_of = as_of or date.today()
    rows = {r["product"]: r for r in ledger.store.product_totals(as_of.isoformat(), accounts.LOANS + ".", unit_scope(ledger, unit))}
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


def products_by_unit(ledger: Ledger, as_of: date | None, by: str) -> list[dict]:
    """``report products --by``: each unit's products (the units add up to the union's table)."""
    return [{"unit": code, "name": name, "products": product_report(ledger, as_of, code)} for code, name in unit_kinds(ledger, by)]


def overdue_report(ledger: Ledger, as_of: date | None = None, unit: str | None = None, by: str | None = None) -> dict:
    """Overdue notes as of a closed day: DPD, class, officer; totals by class and product; NPL ratio (SPEC §5).
    ``unit``: one department's or branch's notes only; ``by``: totals per department or branch too."""
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
    scope = unit_scope(ledger, unit)
    groups = unit_kinds(ledger, by)
    unit_of = store.note_units(scope[0]) if scope else {}
    if scope:
        principal = {n: p for n, p in principal.items() if unit_of.get(n) == scope[1]}
    grouped = store.note_units(by) if groups else {}
    per_unit = {code: {"unit": code, "name": name, "notes": 0, "overdue_fen": 0, "outstanding_fen": 0, "non_performing_fen": 0}
                for code, name in groups}
    for note_id, p in principal.items():
        if note_id in grouped:
            per_unit[grouped[note_id]]["outstanding_fen"] += p
    notes, by_class, by_product = [], {}, {}
    for r in store.note_class_as_of(as_of.isoformat()):
        if scope and unit_of.get(r["note_id"]) != scope[1]:
            continue
        pds = r["past_due_since"]
        dpd = (as_of - parse_date(pds)).days + 1 if pds and pds <= as_of.isoformat() else 0
        cls = r["class"] if dpd or r["class"] != "正常" else "正常"
        p = principal.pop(r["note_id"], 0)
        by_class[cls] = by_class.get(cls, 0) + p
        g = per_unit.get(grouped.get(r["note_id"]))
        if g is not None and cls in npl_classes:
            g["non_performing_fen"] += p
        if dpd <= 0:
            continue
        if g is not None:
            g["notes"] += 1
            g["overdue_fen"] += p
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
    return {
        "as_of": as_of.isoformat(),
        "notes": sorted(notes, key=lambda x: (-x["days_past_due"], x["note_no"])),
        "by_class": [{"class": c["name"], "principal_fen": by_class.get(c["name"], 0)} for c in ledger.policy["classification"]["categories"]],
        "by_product": list(by_product.values()),
        **({"unit": scope[1]} if scope else {}),
        **({"by": by, "by_unit": [{**u, "npl_ratio_percent": npl_ratio_percent(u["non_performing_fen"], u["outstanding_fen"])}
                                   for u in per_unit.values()]} if groups else {}),
        "outstanding_fen": total,
        "non_performing_fen": npl,
        "npl_ratio_percent": npl_ratio_percent(npl, total),
    }


def unit_report(ledger: Ledger, as_of: date | None = None, by: str = "department") -> dict:
    """The department (or branch) league table (issue 13): grants, live lines, granted, drawn, outstanding,
    non-performing and its ratio per unit, and for departments the officers' average monthly pay (the
    source reports 客户经理月均工资 ≈ 9,000元). The units add up to the union's totals."""
    from credit_coop.core.organisation import DEFAULT_BRANCH, DEFAULT_DEPARTMENT, operator_unit

    overdue = overdue_report(ledger, as_of, by=by)  # checks the day is closed; outstanding and NPL per unit
    d = overdue["as_of"]
    store = ledger.store
    units = {u["unit"]: {"unit": u["unit"], "name": u["name"], "grants": 0, "lines": 0, "granted_fen": 0, "drawn_fen": 0,
                         "outstanding_fen": u["outstanding_fen"], "non_performing_fen": u["non_performing_fen"],
                         "npl_ratio_percent": u["npl_ratio_percent"], "officers": 0, "officer_avg_monthly_pay_fen": None}
             for u in overdue["by_unit"]}
    for g in store.grants_by_unit(by, d):
        u = units[g["unit"]]
        u["grants"] += 1
        u["drawn_fen"] += g["drawn"]
        if g["status"] in ("approved", "frozen") and g["valid_from"] <= d <= g["valid_to"]:
            u["lines"] += 1
            u["granted_fen"] += g["line_amount"]
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
    rows = [u for u in units.values() if u["grants"] or u["unit"] not in (DEFAULT_DEPARTMENT, DEFAULT_BRANCH)]  # defaults when used
    total = {k: sum(u[k] for u in rows) for k in ("grants", "lines", "granted_fen", "drawn_fen", "outstanding_fen", "non_performing_fen")}
    total["npl_ratio_percent"] = npl_ratio_percent(total["non_performing_fen"], total["outstanding_fen"])
    return {"as_of": d, "by": by, "units": rows, "total": total}


def officers_report(ledger: Ledger, unit: str | None = None) -> list[dict]:
    """Per loan officer: their department, grants surveyed, principal managed, interest collected, fund
    balance; ``unit``: one department's officers only."""
    from credit_coop.core.dates import today
    from credit_coop.core.organisation import operator_unit

    scope = unit_scope(ledger, unit)
    on = ledger.store.closed_through() or today().isoformat()
    rows = [
        {"officer": r["name"], "department": operator_unit(ledger, r["name"], "officer", on), "grants": r["grants"],
         "managed_fen": r["managed"], "interest_collected_fen": r["collected"], "fund_fen": r["fund"]}
        for r in ledger.store.officer_summary(accounts.LOANS + ".", accounts.RISK_FUND)
    ]
    return [r for r in rows if not scope or r["department"] == scope[1]]


def officers_by_unit(rows: list[dict], ledger: Ledger, by: str = "department") -> list[dict]:
    """``report officers --by department``: the officers' figures summed per department (officers belong to
    departments, so that is the only ``by`` there is)."""
    from credit_coop.core.errors import InvalidInput

    if by != "department":
        raise InvalidInput(f"--by must be department for officers, got {by!r}")
    out = {code: {"unit": code, "name": name, "officers": 0, "grants": 0, "managed_fen": 0, "interest_collected_fen": 0, "fund_fen": 0}
           for code, name in unit_kinds(ledger, "department")}
    for r in rows:
        u = out[r["department"]]
        u["officers"] += 1
        for k in ("grants", "managed_fen", "interest_collected_fen", "fund_fen"):
            u[k] += r[k]
    return list(out.values())


def sla_report(ledger: Ledger, as_of: date | None = None, unit: str | None = None, by: str | None = None) -> dict:
    """Grants whose acceptance-to-first-disbursement exceeded the policy's days (办贷时限, SPEC §3),
    and approved grants still undrawn past it; ``unit`` / ``by``: one department or branch, or per unit."""
    from credit_coop.core.identity import mask_id_number

    as_of = as_of or date.today()
    limit = ledger.policy["service_level"]["days_to_first_disbursement"]
    scope = unit_scope(ledger, unit)
    per_unit = {code: {"unit": code, "name": name, "grants": 0, "late": 0} for code, name in unit_kinds(ledger, by)}
    late = []
    total = 0
    for r in ledger.store.first_disbursements():
        applied = date.fromisoformat(r["applied_on"])
        end = date.fromisoformat(r["first_drawn"]) if r["first_drawn"] else as_of
        if applied > as_of or (scope and r[scope[0]] != scope[1]):
            continue
        total += 1
        days = (end - applied).days
        g = per_unit.get(r[by]) if by else None
        if g is not None:
            g["grants"] += 1
            g["late"] += days > limit
        if days > limit:
            late.append({"grant_no": r["grant_no"], "product": r["product"], "borrower_masked": mask_id_number(r["borrower_id"]),
                         "applied_on": r["applied_on"], "approved_on": r["approved_on"], "first_drawn": r["first_drawn"],
                         "days": days, "officer": r["officer"], "state": "disbursed late" if r["first_drawn"] else "not yet disbursed"})
    out = {"as_of": as_of.isoformat(), "limit_days": limit, "grants": total, "late": late}
    if by:
        out.update(by=by, by_unit=list(per_unit.values()))
    return out
