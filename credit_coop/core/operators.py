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
    # a drawdown, repayment or reversal dated on a closed day (corrections.py)
    "correction": ("accountant", "admin"),
    "import": ("admin",),
    "day-end": ("accountant", "admin"),
    "backup": ("accountant", "admin"),
    "restore": ("admin",),
    "copy": ("admin",),  # the whole ledger to another place (issue 12)
    "loan.reassign": ("dept-head", "admin"),
    "payroll": ("admin",),
    "year-end": ("admin",),
    "officer.transfer": ("admin",),
    "officer.settle": ("admin",),
    "officer.pay-in": ("teller", "accountant", "admin"),
    # officer.statement: the officer themself, or these roles (see riskfund.statement)
    "officer.statement": ("admin", "auditor", "dept-head", "deputy-director"),
    "operator.unlock": ("admin",),
    "operator.set-role": ("admin",),
    "operator.recovery-code": ("admin",),
    "operator.set-id": ("admin",),
    "operator.passwd-others": ("admin",),   # anyone sets their own passphrase
    "export.unmasked": ("auditor", "admin"),
    "org.manage": ("admin",),  # departments, branches, townships, villages, who belongs where (organisation.py)
}

EVERYONE = ROLES
EXPORTERS = ("auditor", "admin", "accountant", "dept-head", "deputy-director")

# The role × command matrix (README "Who may run what"): the CLI checks it for every
# command before running it; the core checks its own actions again. A command missing
# here is refused. init and demo create their own ledger and need no role; recover is for when
# no admin can sign in, and proves itself with the recovery code instead. The resident process
# belongs to the PC's user and opens no ledger (each command it runs is checked as ever).
NO_ROLE_COMMANDS = ("init", "demo", "recover", "resident start", "resident status", "resident stop")
COMMAND_ROLES: dict[str, tuple[str, ...]] = {
    "policy show": EVERYONE,
    "org show": EVERYONE,
    "org add": PERMISSIONS["org.manage"],
    "org rename": PERMISSIONS["org.manage"],
    "org township": PERMISSIONS["org.manage"],
    "org village": PERMISSIONS["org.manage"],
    "org assign": PERMISSIONS["org.manage"],
    "operator add": PERMISSIONS["operator.add"],
    "operator list": ("admin", "auditor"),
    "operator passwd": EVERYONE,          # your own; an admin sets anyone's
    "operator unlock": PERMISSIONS["operator.unlock"],
    "operator set-role": PERMISSIONS["operator.set-role"],
    "operator recovery-code": PERMISSIONS["operator.recovery-code"],
    "operator set-id": PERMISSIONS["operator.set-id"],
    "login": EVERYONE,
    "logout": EVERYONE,
    "borrower add": PERMISSIONS["borrower.add"],
    "borrower show": EVERYONE,
    "grant apply": PERMISSIONS["grant.apply"],
    "grant village-review": PERMISSIONS["grant.village-review"],
    "grant survey": PERMISSIONS["grant.survey"],
    "grant review": PERMISSIONS["grant.review"],
    "grant approve": PERMISSIONS["grant.approve"],
    "grant freeze": PERMISSIONS["grant.freeze"],
    "grant unfreeze": PERMISSIONS["grant.unfreeze"],
    "grant close": PERMISSIONS["grant.close"],
    "grant show": EVERYONE,
    "grant list": EVERYONE,
    "draw": PERMISSIONS["draw"],
    "repay": PERMISSIONS["repay"],
    "line show": EVERYONE,
    "loan show": EVERYONE,
    "loan reassign": PERMISSIONS["loan.reassign"],
    "batch day-end": PERMISSIONS["day-end"],
    "batch payroll": PERMISSIONS["payroll"],
    "batch year-end": PERMISSIONS["year-end"],
    "officer statement": ("officer", "reviewer", "dept-head", "deputy-director", "committee", "auditor", "admin"),
    "officer pay-in": PERMISSIONS["officer.pay-in"],
    "officer transfer": PERMISSIONS["officer.transfer"],
    "officer settle": PERMISSIONS["officer.settle"],
    "report overdue": EVERYONE,
    "report products": EVERYONE,
    "report compensation": EVERYONE,
    "report trial-balance": EVERYONE,
    "report officers": EVERYONE,
    "report sla": EVERYONE,
    "report departments": EVERYONE,
    "reverse": PERMISSIONS["reverse"],
    "verify": EVERYONE,
    "backup": PERMISSIONS["backup"],
    "restore": PERMISSIONS["restore"],
    "copy": PERMISSIONS["copy"],
    "import": PERMISSIONS["import"],
    "audit-log": ("auditor", "admin"),
    **{f"export {name}": EXPORTERS for name in (
        "audit", "journal", "borrowers", "grants", "lines", "loan-notes", "repayments", "pay", "risk-fund", "year-end", "compensation")},
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


def check_command(ledger: Ledger, command_path: str, op=None) -> None:
    """The matrix check the CLI runs before every command. ``op``: the acting operator's row, when the
    caller has just read it (authentication)."""
    allowed = COMMAND_ROLES.get(command_path)
    op = op or ledger.store.get_operator(ledger.operator or "")
    if allowed is None:
        raise NotPermitted(f"`{command_path}` is not in the role matrix; refused")
    if op is None or op["role"] not in allowed:
        role = op["role"] if op else "unknown"
        raise NotPermitted(f"operator {ledger.operator} ({role}) may not run `{command_path}`; that needs: {', '.join(allowed)}")


def not_own(op, borrower_id: str, what: str) -> None:
    """An operator never acts on credit where they are the borrower."""
    if op["id_number"] and op["id_number"] == borrower_id:
        raise NotPermitted(f"{op['name']} is the borrower here and cannot {what}")


def add_operator(ledger: Ledger, name: str, role: str, on: date, *, passphrase: str | None = None,
                 id_number: str | None = None, cost: int | None = None) -> dict:
    """Register an operator (admin only), with their passphrase when given."""
    from credit_coop.core.auth import COST, hash_passphrase, valid_new_passphrase
    from credit_coop.core.identity import validate_id_number

    require(ledger, "operator.add")
    name = check_operator_name(name)
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")
    id_number = validate_id_number(id_number, what="operator's ID number") if id_number else None
    stored = hash_passphrase(valid_new_passphrase(passphrase), cost=cost or COST) if passphrase is not None else None
    with ledger.store.write():
        if ledger.store.get_operator(name):
            raise Conflict(f"operator {name} already exists")
        ledger.store.insert_operator(name, role, on.isoformat(), ledger.operator)
        ledger.store.update_operator(name, passphrase=stored, id_number=id_number)
    return {"name": name, "role": role, "added_on": on.isoformat(), "added_by": ledger.operator, "has_passphrase": stored is not None}


def set_role(ledger: Ledger, name: str, role: str) -> dict:
    """Change another operator's role (admin; never one's own)."""
    require(ledger, "operator.set-role")
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")
    if name == ledger.operator:
        raise NotPermitted("no operator changes their own role")
    with ledger.store.write():
        if ledger.store.get_operator(name) is None:
            raise NotFound(f"no operator {name}")
        ledger.store.update_operator(name, role=role)
        ledger.store.audit(ledger.operator, "set-role", f"{name} → {role}")
    return {"name": name, "role": role}


def set_id_number(ledger: Ledger, name: str, id_number: str) -> dict:
    """Record an operator's resident ID number (admin), so the own-credit rule applies to them
    (imported operators came without one)."""
    from credit_coop.core.identity import mask_id_number, validate_id_number

    require(ledger, "operator.set-id")
    id_number = validate_id_number(id_number, what="operator's ID number")
    with ledger.store.write():
        op = ledger.store.get_operator(name)
        if op is None:
            raise NotFound(f"no operator {name}")
        if op["id_number"] and op["id_number"] != id_number:
            raise Conflict(f"{name} already has ID number {mask_id_number(op['id_number'])}; an ID number does not change")
        ledger.store.update_operator(name, id_number=id_number)
        ledger.store.audit(ledger.operator, "set-id", f"{name} → {mask_id_number(id_number)}")
    return {"name": name, "id_masked": mask_id_number(id_number)}


def _public(r) -> dict:
    """An operator as results show them: no passphrase hash, the ID number masked."""
    from credit_coop.core.identity import mask_id_number

    out = {k: v for k, v in dict(r).items() if k not in ("passphrase", "id_number")}
    return out | {"has_passphrase": bool(r["passphrase"]), "id_masked": mask_id_number(r["id_number"]) if r["id_number"] else None}


def list_operators(ledger: Ledger) -> list[dict]:
    return [_public(r) for r in ledger.store.list_operators()]


def get_operator(ledger: Ledger, name: str) -> dict:
    op = ledger.store.get_operator(name)
    if op is None:
        raise NotFound(f"no operator {name}")
    return _public(op)
