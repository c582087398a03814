"""Borrowers and their qualifications (SPEC §1 identity, §2 who may borrow)."""

from __future__ import annotations

from datetime import date

from credit_coop.core.errors import Conflict, InvalidInput, NotFound, NotPermitted
from credit_coop.core.identity import mask_id_number, validate_id_number
from credit_coop.core.ledger import Ledger, require_text
from credit_coop.core.operators import require
from credit_coop.core.policy import BORROWER_KINDS

KIND_NAMES = {
    "farmer": "农户",
    "business": "个体工商户",
    "public-employee": "公职人员",
    "pos-merchant": "POS特约工商户",
}


def add_borrower(
    ledger: Ledger,
    *,
    id_number: str,
    name: str,
    kinds: list[str],
    on: date,
    village: str | None = None,
    settlement_account: str | None = None,
) -> dict:
    """Register a borrower. A POS merchant needs a settlement account at the union."""
    require(ledger, "borrower.add")
    id_number = validate_id_number(id_number)
    name = require_text(name, "borrower name", 100)
    kinds = list(dict.fromkeys(k.strip().lower() for k in kinds))
    if not kinds:
        raise InvalidInput(f"give at least one --kind: {', '.join(BORROWER_KINDS)}")
    unknown = [k for k in kinds if k not in BORROWER_KINDS]
    if unknown:
        raise InvalidInput(f"unknown borrower kind {unknown[0]!r}; kinds are: {', '.join(BORROWER_KINDS)}")
    village = require_text(village, "village", 100) if village else None
    account = require_text(settlement_account, "settlement account", 40) if settlement_account else None
    if account is not None and not account.replace("-", "").isalnum():
        raise InvalidInput("settlement account may hold only digits, letters and dashes")
    if "pos-merchant" in kinds and not account:
        raise InvalidInput("a POS merchant needs --settlement-account (the union account its POS settles to)")
    with ledger.store.write():
        if ledger.store.get_borrower(id_number):
            raise Conflict(f"borrower {mask_id_number(id_number)} is already registered")
        ledger.store.insert_borrower(
            {
                "id_number": id_number,
                "name": name,
                "village": village,
                "settlement_account": account,
                "registered_on": on.isoformat(),
                "registered_by": ledger.operator,
            },
            kinds,
        )
    return {"borrower_masked": mask_id_number(id_number), "name": name, "kinds": kinds, "village": village}


def get_borrower(ledger: Ledger, id_number: str) -> dict:
    """The borrower row plus qualifications; NotFound when unknown."""
    id_number = validate_id_number(id_number)
    row = ledger.store.get_borrower(id_number)
    if row is None:
        raise NotFound(f"no borrower with ID {mask_id_number(id_number)}; register them with `credit-coop borrower add`")
    out = dict(row)
    out["kinds"] = ledger.store.borrower_kinds(id_number)
    out["borrower_masked"] = mask_id_number(id_number)
    return out


def show_borrower(ledger: Ledger, id_number: str, as_of: date | None = None, *, unmasked: bool = False) -> dict:
    """Borrower, their lines and total exposure (sum of live lines). The ID number comes back masked
    (SPEC §1) unless ``unmasked`` is asked by a role allowed full IDs (``export.unmasked``)."""
    from credit_coop.core.grants import grant_summary, is_live, live_exposure
    from credit_coop.core.operators import PERMISSIONS

    as_of = as_of or date.today()
    b = get_borrower(ledger, id_number)
    grants = ledger.store.borrower_grants(b["id_number"])
    lines = [grant_summary(ledger, g, as_of) for g in grants]
    b["lines"] = lines
    b["total_exposure_fen"] = live_exposure(ledger, b["id_number"], as_of, grants=grants)
    b["outstanding_fen"] = sum(l["outstanding_fen"] for l in lines)
    b["live_lines"] = sum(1 for g in grants if is_live(g, as_of))
    if unmasked:
        op = ledger.store.get_operator(ledger.operator or "")
        if op is None or op["role"] not in PERMISSIONS["export.unmasked"]:
            raise NotPermitted(f"full ID numbers are for {', '.join(PERMISSIONS['export.unmasked'])} only")
    else:
        b.pop("id_number")
    return b
