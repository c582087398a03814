"""The union's organisation (source §一(一), §五; issue 13): customer departments (个人客户部), each
covering some townships (分片管理); branch counters (信用社 / 营业网点), one serving each township;
villages in townships. Authority follows it:

- a borrower's village places them in a township, so in a department and a branch; a grant records its
  department when it is applied for, and its loan card is designated to that branch
  ("在指定的信用社营业柜台" — the counter that serves the borrower's township);
- "30万元以下由客户部门负责人直接审批": the head of *the* customer department, the grant's own; a
  department head acts (approves, reviews, surveys) only on grants of their department, while the deputy
  director and the committee act union-wide; a loan officer surveys only in their department unless
  policy ``organisation.officer_any_department``;
- a teller serves only cards designated to their branch unless policy ``organisation.any_branch_service``
  (通存通兑).

Every move (a township to another department or branch, an operator to another unit) is recorded with
its business date and never rewritten: grants and postings made before it keep their units.
A ledger starts with one default department and branch holding everything (an older ledger, on upgrade,
too), so the rules bind only once the union has recorded its organisation.
"""

from __future__ import annotations

import re
from datetime import date

from credit_coop.core.dates import parse_date
from credit_coop.core.errors import Conflict, InvalidInput, NotFound, NotPermitted
from credit_coop.core.ledger import Ledger, require_text

DEFAULT_DEPARTMENT = "D00"
DEFAULT_BRANCH = "B00"
SINCE_ALWAYS = "0001-01-01"
KINDS = ("department", "branch")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,15}$")  # also an account name part (1001.B01, Assets:Cash:B01)

# which kind of unit each role belongs to; the rest (deputy director, committee, auditor, admin) are union-wide
_ROLE_UNIT = {"officer": "department", "reviewer": "department", "dept-head": "department",
              "teller": "branch", "accountant": "branch"}


def unit_kind_of_role(role: str) -> str | None:
    return _ROLE_UNIT.get(role)


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInput(f"unknown unit kind {kind!r}; kinds are: {', '.join(KINDS)}")
    return kind


def _unit(ledger: Ledger, code: str, kind: str | None = None):
    u = ledger.store.org_unit(code)
    if u is None or (kind and u["kind"] != kind):
        raise NotFound(f"no {kind or 'department or branch'} {code}")
    return u


# -- recording the organisation (admin) ------------------------------------------------------
def add_unit(ledger: Ledger, kind: str, code: str, name: str, on: date) -> dict:
    from credit_coop.core.operators import require

    require(ledger, "org.manage")
    kind, on = _kind(kind), parse_date(on)
    if not _CODE.match(code or ""):
        raise InvalidInput(f"unit code {code!r} must be 1 to 16 letters, digits or -")
    name = require_text(name, "unit name", 60)
    store = ledger.store
    with store.write():
        if store.org_unit(code):
            raise Conflict(f"unit {code} already exists")
        if store.org_unit_named(name):
            raise Conflict(f"a unit is already named {name}")
        store.insert_org_unit(code, kind, name, on.isoformat())
    return {"code": code, "kind": kind, "name": name, "added_on": on.isoformat()}


def rename_unit(ledger: Ledger, code: str, name: str) -> dict:
    from credit_coop.core.operators import require

    require(ledger, "org.manage")
    name = require_text(name, "unit name", 60)
    store = ledger.store
    with store.write():
        u = _unit(ledger, code)
        other = store.org_unit_named(name)
        if other and other["code"] != code:
            raise Conflict(f"a unit is already named {name}")
        store.rename_org_unit(code, name)
    return {"code": code, "kind": u["kind"], "name": name, "was": u["name"]}


def place_township(ledger: Ledger, township: str, *, department: str, branch: str, on: date) -> dict:
    """Record a township (乡镇) as served by ``department`` and ``branch`` from ``on`` — a new township,
    or a move of one (its earlier grants keep their units; new ones take these)."""
    from credit_coop.core.operators import require

    op = require(ledger, "org.manage")
    township = require_text(township, "township", 40)
    on = parse_date(on)
    store = ledger.store
    with store.write():
        _unit(ledger, department, "department")
        _unit(ledger, branch, "branch")
        new = store.township(township) is None
        if new:
            store.insert_township(township, on.isoformat())
        for kind, unit in (("department", department), ("branch", branch)):
            if new or store.unit_of("township", township, kind, on.isoformat()) != unit:
                store.insert_assignment("township", township, kind, unit, on.isoformat(), op["name"])
    return {"township": township, "department": department, "branch": branch, "from": on.isoformat(), "new": new}


def add_village(ledger: Ledger, village: str, township: str) -> dict:
    from credit_coop.core.operators import require

    require(ledger, "org.manage")
    village, township = require_text(village, "village", 60), require_text(township, "township", 40)
    store = ledger.store
    with store.write():
        if store.township(township) is None:
            raise NotFound(f"no township {township}; record it first with `credit-coop org township`")
        if store.village(village):
            raise Conflict(f"village {village} is already in {store.village(village)['township']}")
        store.insert_village(village, township)
    return {"village": village, "township": township}


def assign_operator(ledger: Ledger, name: str, unit: str, on: date) -> dict:
    """Put an operator in a department (officers, reviewers, department heads) or a branch (tellers,
    accountants) from ``on``; a move leaves what they did before where it was."""
    from credit_coop.core.operators import require

    op = require(ledger, "org.manage")
    on = parse_date(on)
    store = ledger.store
    with store.write():
        who = store.get_operator(name)
        if who is None:
            raise NotFound(f"no operator {name}")
        kind = unit_kind_of_role(who["role"])
        if kind is None:
            raise InvalidInput(f"{name} is {who['role']}, a union-wide role; only department and branch staff belong to a unit")
        u = _unit(ledger, unit)
        if u["kind"] != kind:
            raise InvalidInput(f"{name} is {who['role']} and belongs to a {kind}; {unit} is a {u['kind']}")
        store.insert_assignment("operator", name, kind, unit, on.isoformat(), op["name"])
    return {"operator": name, "unit_kind": kind, "unit": unit, "from": on.isoformat()}


def show_organisation(ledger: Ledger, on: date) -> dict:
    """Units, townships with the department and branch serving them on ``on``, villages, and staff."""
    store = ledger.store
    d = parse_date(on).isoformat()
    return {
        "as_of": d,
        "units": [dict(u) for u in store.org_units()],
        "townships": [{"township": t["name"], "department": store.unit_of("township", t["name"], "department", d),
                       "branch": store.unit_of("township", t["name"], "branch", d),
                       "villages": [v["name"] for v in store.villages_of(t["name"])]} for t in store.townships()],
        "operators": [{"name": o["name"], "role": o["role"], "unit": operator_unit(ledger, o["name"], o["role"], d)}
                      for o in store.list_operators() if unit_kind_of_role(o["role"])],
    }


# -- where things belong ---------------------------------------------------------------------
def operator_unit(ledger: Ledger, name: str, role: str, on: str) -> str | None:
    kind = unit_kind_of_role(role)
    if kind is None:
        return None
    return ledger.store.unit_of("operator", name, kind, on) or (DEFAULT_DEPARTMENT if kind == "department" else DEFAULT_BRANCH)


def cash_account_of(ledger: Ledger, op, on: date) -> str:
    """The till an operator's counter posting moves: their branch's (``1001.B01``); union-wide staff: the head office's."""
    from credit_coop.core import accounts

    branch = operator_unit(ledger, op["name"], op["role"], on.isoformat()) if unit_kind_of_role(op["role"]) == "branch" else None
    return accounts.cash_account(branch)


def units_for_village(ledger: Ledger, village: str | None, on: str) -> tuple[str, str]:
    """The department and branch serving a borrower's village on ``on`` (a village not recorded, or a
    township not placed: the default units)."""
    store = ledger.store
    v = store.village(village) if village else None
    if v is None:
        return DEFAULT_DEPARTMENT, DEFAULT_BRANCH
    t = v["township"]
    return (store.unit_of("township", t, "department", on) or DEFAULT_DEPARTMENT,
            store.unit_of("township", t, "branch", on) or DEFAULT_BRANCH)


def check_department(ledger: Ledger, op, g, on: date, step: str) -> None:
    """A department head or officer acts only on their own department's grants (policy may let officers
    survey anywhere); union-wide roles act everywhere."""
    role = op["role"]  # reviewers sit in the credit department and review for the whole union
    if role not in ("dept-head", "officer"):
        return
    if role == "officer" and ledger.policy.officer_any_department:
        return
    mine = operator_unit(ledger, op["name"], role, on.isoformat())
    theirs = g["department"] or DEFAULT_DEPARTMENT
    if mine != theirs:
        raise NotPermitted(
            f"grant {g['grant_no']} belongs to department {theirs}; {op['name']} ({role}) is in {mine} and may not {step} it"
        )


def check_branch(ledger: Ledger, op, g, on: date) -> None:
    """A teller serves cards designated to their own branch, unless policy ``organisation.any_branch_service``."""
    if op["role"] != "teller" or ledger.policy.any_branch_service:
        return
    mine = operator_unit(ledger, op["name"], "teller", on.isoformat())
    theirs = g["branch"] or DEFAULT_BRANCH
    if mine != theirs:
        raise NotPermitted(
            f"loan card {g['card_no']} is designated to branch {theirs}; {op['name']} serves {mine} "
            "(通存通兑 is off: policy organisation.any_branch_service)"
        )
