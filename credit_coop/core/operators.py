"""Operators, roles and who may do what (SPEC §3 segregation; role matrix).

The matrix below is the one place a command's allowed roles are written.
Approval of grants is further limited by the amount tier (see grants.py).
"""

from __future__ import annotations

from datetime import date

from credit_coop.core.errors import Conflict, InvalidInput, NotFound, NotPermitted
from credit_coop.core.ledger import Ledger, require_text

ROLES = (
    "teller",           # 柜员
    "accountant",       # 信贷会计
    "officer",          # 客户经理 (loan officer; surveyor)
    "reviewer",         # 审查岗
    "dept-head",        # 客户部负责人
    "deputy-director",  # 主管信贷副主任
    "committee",        # 贷审会
    "auditor",          # 稽核
    "admin",            # 系统管理员 / head office
)

PERMISSIONS: dict[str, tuple[str, ...]] = {
    "operator.add": ("admin",),
    "borrower.add": ("officer", "accountant", "admin"),
    "grant.apply": ("officer", "dept-head"),
    "grant.village-review": ("officer", "dept-head"),
    # A department head may also take the survey or review post in a small
    # branch; the same person still cannot hold two posts on one grant.
    "grant.survey": ("officer", "dept-head"),
    "grant.review": ("reviewer", "dept-head", "deputy-director"),
    "grant.approve": ("dept-head", "deputy-director", "committee"),
    "grant.freeze": ("officer", "dept-head", "deputy-director", "committee", "admin"),
    "grant.unfreeze": ("dept-head", "deputy-director", "committee", "admin"),
    "grant.close": ("officer", "dept-head", "deputy-director", "committee", "admin"),
    "draw": ("teller", "accountant"),
    "repay": ("teller", "accountant"),
    "reverse": ("accountant", "admin"),
    "import": ("admin",),
    "day-end": ("accountant", "admin"),
    "backup": ("accountant", "admin"),
    "restore": ("admin",),
    "loan.reassign": ("dept-head", "admin"),
    "payroll": ("admin",),
    "year-end": ("admin",),
    "officer.transfer": ("admin",),
    "officer.settle": ("admin",),
    "officer.pay-in": ("teller", "accountant", "admin"),
    # officer.statement: the officer themself, or these roles (see riskfund.statement)
    "officer.statement": ("admin", "auditor", "dept-head", "deputy-director"),
}


def check_operator_name(name: str | None) -> str:
    """Operator names appear in every export: no leading = + - @ (spreadsheet formulas)."""
    name = require_text(name, "operator name", max_len=64)
    if name[0] in "=+-@":
        raise InvalidInput("an operator name cannot start with = + - or @")
    return name


def require(ledger: Ledger, action: str):
    """The acting operator's row, if their role may perform ``action``."""
    if not ledger.operator:
        raise NotPermitted("who is acting? pass --operator NAME or set CREDIT_COOP_OPERATOR")
    op = ledger.store.get_operator(ledger.operator)
    if op is None:
        raise NotPermitted(f"operator {ledger.operator} is not registered in this ledger")
    if not op["active"]:
        raise NotPermitted(f"operator {ledger.operator} is not active")
    allowed = PERMISSIONS[action]
    if op["role"] not in allowed:
        raise NotPermitted(
            f"operator {op['name']} ({op['role']}) may not {action.replace('.', ' ')}; that needs: {', '.join(allowed)}"
        )
    return op


def add_operator(ledger: Ledger, name: str, role: str, on: date) -> dict:
    """Register an operator (admin only)."""
    require(ledger, "operator.add")
    name = check_operator_name(name)
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")
    with ledger.store.write():
        if ledger.store.get_operator(name):
            raise Conflict(f"operator {name} already exists")
        ledger.store.insert_operator(name, role, on.isoformat(), ledger.operator)
    return {"name": name, "role": role, "added_on": on.isoformat(), "added_by": ledger.operator}


def list_operators(ledger: Ledger) -> list[dict]:
    return [dict(r) for r in ledger.store.list_operators()]


def get_operator(ledger: Ledger, name: str) -> dict:
    op = ledger.store.get_operator(name)
    if op is None:
        raise NotFound(f"no operator {name}")
    return dict(op)
