"""Bulk import from CSV (``credit-coop import KIND FILE``): how a cooperative
migrates from its old system. Every row goes through the same core functions
as the interactive commands, acting as the operator the row names, so every
rule (ceilings, tiers, segregation of duties, availability) applies.

- All-or-nothing by default: one bad row refuses the whole file; the report
  lists every bad row with its CSV line number and reason.
- With ``keep_good=True`` the good rows are posted and the bad ones returned.
- Re-importing the same file posts nothing twice: operators and borrowers are
  matched by name / ID number, grants by their old-system ``ref``, draws and
  repayments by their ``request_id`` (the counter's idempotency mechanism).
"""

from __future__ import annotations

import contextlib
import csv
import io
from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Iterable

from credit_coop.core import borrowers, grants, loans, operators, organisation
from credit_coop.core.dates import parse_date
from credit_coop.core.errors import Conflict, InvalidInput, LedgerError, NotFound
from credit_coop.core.identity import validate_id_number
from credit_coop.core.faults import fault
from credit_coop.core.journal import once
from credit_coop.core.ledger import Ledger

COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind: (required, optional)
    "operators": (("name", "role"), ("added_on", "id_number", "unit")),
    # the organisation, one row per village (issue 13): its township and the units serving it
    "villages": (("village", "township", "department", "branch"), ("department_name", "branch_name", "on")),
    "borrowers": (("id_number", "name", "kinds", "registered_on"), ("village", "settlement_account")),
    "grants": (
        ("ref", "id_number", "product", "amount", "applied_on", "applied_by", "line", "term_months",
         "surveyed_on", "surveyed_by", "reviewed_on", "reviewed_by", "approved_on", "approved_by"),
        ("grade", "posted_from", "posted_to", "village_reviewed_on", "guarantors"),
    ),
    "draws": (("request_id", "id_number", "product", "amount", "on", "teller"), ("maturity", "fingerprint_ok")),
    "repayments": (("request_id", "id_number", "product", "amount", "on", "teller"), ("note",)),
}
KINDS = tuple(COLUMNS)
# An import this long runs in maintenance mode: it is one all-or-nothing transaction that holds the
# write lock, so a teller who tries to post meanwhile is told at once what holds the ledger.
MAINTENANCE_ROWS = 500


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    posted: int = 0
    already_there: int = 0
    rejected: list[dict] = field(default_factory=list)
    committed: bool = False

    def as_dict(self) -> dict:
        return {"kind": self.kind, "rows": self.rows, "posted": self.posted, "already_there": self.already_there,
                "rejected": self.rejected, "committed": self.committed}


def read_csv(text: str, kind: str) -> list[tuple[int, dict]]:
    """Rows with their file line numbers; refuses missing columns up front."""
    if kind not in COLUMNS:
        raise InvalidInput(f"unknown import kind {kind!r}; kinds are: {', '.join(KINDS)}")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    required, optional = COLUMNS[kind]
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidInput(f"{kind} file is missing column(s): {', '.join(missing)} (needs {', '.join(required)})")
    rows = []
    for row in reader:
        clean = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        extra = [v for v in row.get(None) or [] if (v or "").strip()]
        if extra:  # values beyond the header: the row is refused, never silently cut (import_rows)
            clean[EXTRA] = f"{len(extra)} value(s) beyond the header's {len(header)} columns: {', '.join(extra)[:60]}"
        rows.append((reader.line_num, clean))
    return rows


EXTRA = "\0extra"  # marks a row that had more values than the header


def _opt(row: dict, key: str) -> str | None:
    return row.get(key) or None


def _operator(ledger: Ledger, row: dict, on: date) -> str:
    name, role = row["name"], row["role"]
    existing = ledger.store.get_operator(name)
    if existing is not None:
        if existing["role"] != role:
            raise Conflict(f"operator {name} exists with role {existing['role']}, not {role}")
        return "already"
    added_on = parse_date(row.get("added_on") or on, what="added_on")
    operators.add_operator(ledger, name, role, added_on, id_number=_opt(row, "id_number"))
    if _opt(row, "unit"):
        organisation.assign_operator(ledger, name, row["unit"], added_on)
    return "posted"


def _village(ledger: Ledger, row: dict, on: date) -> str:
    """A village of a township served by a department and a branch; units and township made as needed."""
    store = ledger.store
    since = parse_date(row.get("on") or on, what="on")
    posted = False
    for kind in ("department", "branch"):
        code = row[kind]
        if store.org_unit(code) is None:
            organisation.add_unit(ledger, kind, code, _opt(row, f"{kind}_name") or code, since)
            posted = True
    t = store.township(row["township"])
    d = since.isoformat()
    if t is None or (store.unit_of("township", row["township"], "department", d), store.unit_of("township", row["township"], "branch", d)) \
            != (row["department"], row["branch"]):
        organisation.place_township(ledger, row["township"], department=row["department"], branch=row["branch"], on=since)
        posted = True
    v = store.village(row["village"])
    if v is None:
        organisation.add_village(ledger, row["village"], row["township"])
        posted = True
    elif v["township"] != row["township"]:
        raise Conflict(f"village {row['village']} is already in {v['township']}")
    return "posted" if posted else "already"


def _borrower(ledger: Ledger, row: dict, on: date) -> str:
    idn = validate_id_number(row["id_number"])
    existing = ledger.store.get_borrower(idn)
    if existing is not None:
        if existing["name"] != row["name"]:
            raise Conflict(f"ID {row['id_number'][:6]}… is registered under another name")
        return "already"
    kinds = [k for k in row["kinds"].replace(";", "|").split("|") if k.strip()]
    borrowers.add_borrower(ledger, id_number=idn, name=row["name"], kinds=kinds,
                           on=parse_date(row["registered_on"], what="registered_on"),
                           village=_opt(row, "village"), settlement_account=_opt(row, "settlement_account"))
    return "posted"


def _grant(ledger: Ledger, row: dict, on: date) -> str:
    def steps() -> dict:
        officer = ledger.acting_as(row["applied_by"])
        g = grants.apply_grant(officer, borrower=row["id_number"], product=row["product"], amount=row["amount"],
                               on=parse_date(row["applied_on"], what="applied_on"))["grant_no"]
        if row.get("grade"):
            grants.village_review(officer, g, grade=row["grade"], posted_from=row.get("posted_from", ""),
                                  posted_to=row.get("posted_to", ""), on=parse_date(row.get("village_reviewed_on", ""), what="village_reviewed_on"))
        guarantors = [x for x in (row.get("guarantors") or "").split("|") if x]
        try:
            term = int(row["term_months"])
        except ValueError:
            raise InvalidInput(f"term_months {row['term_months']!r} is not a whole number") from None
        grants.survey(ledger.acting_as(row["surveyed_by"]), g, line=row["line"], term_months=term,
                      on=parse_date(row["surveyed_on"], what="surveyed_on"), guarantors=guarantors)
        grants.review(ledger.acting_as(row["reviewed_by"]), g, on=parse_date(row["reviewed_on"], what="reviewed_on"))
        return grants.approve(ledger.acting_as(row["approved_by"]), g, on=parse_date(row["approved_on"], what="approved_on"))

    result = once(ledger, f"import:grant:{row['ref']}", "import-grant", dict(row), steps)
    return "already" if result.get("replayed") else "posted"


def _card(ledger: Ledger, row: dict) -> str:
    idn = validate_id_number(row["id_number"])
    code = ledger.policy.product(row["product"])["code"]
    g = ledger.store.line_for(idn, code)
    if g is None:
        raise NotFound(f"the borrower has no approved {row['product']} line")
    return g["card_no"]


def _draw(ledger: Ledger, row: dict, on: date) -> str:
    fp = (row.get("fingerprint_ok") or "yes").lower() in ("1", "yes", "true", "y", "是")
    r = loans.draw(ledger.acting_as(row["teller"]), card=_card(ledger, row), id_number=row["id_number"], amount=row["amount"],
                   fingerprint_ok=fp, on=parse_date(row["on"], what="on"), request_id=f"import:{row['request_id']}",
                   maturity=_opt(row, "maturity"))
    return "already" if r.get("replayed") else "posted"


def _repayment(ledger: Ledger, row: dict, on: date) -> str:
    r = loans.repay(ledger.acting_as(row["teller"]), card=_card(ledger, row), amount=row["amount"],
                    on=parse_date(row["on"], what="on"), note=_opt(row, "note"), request_id=f"import:{row['request_id']}")
    return "already" if r.get("replayed") else "posted"


HANDLERS: dict[str, Callable[[Ledger, dict, date], str]] = {
    "operators": _operator, "villages": _village, "borrowers": _borrower, "grants": _grant, "draws": _draw, "repayments": _repayment,
}


def import_rows(
    ledger: Ledger,
    kind: str,
    rows: Iterable[tuple[int, dict]],
    *,
    on: date,
    keep_good: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import parsed rows in one transaction (see module docstring)."""
    rows = list(rows)
    operators.require(ledger, "import")
    handler = HANDLERS[kind]
    report = ImportReport(kind, rows=len(rows))
    store = ledger.store
    held = store.maintenance(f"an import of {len(rows)} {kind}", ledger.operator) if len(rows) >= MAINTENANCE_ROWS \
        else contextlib.nullcontext()
    with held, store.write():
        for i, (line_no, row) in enumerate(rows, 1):
            try:
                if EXTRA in row:
                    raise InvalidInput(f"the row has {row[EXTRA]}")
                with store.savepoint():
                    outcome = handler(ledger, row, on)
            except LedgerError as e:
                report.rejected.append({"line": line_no, "error": str(e), "row": row})
            except KeyError as e:
                report.rejected.append({"line": line_no, "error": f"missing value for {e}", "row": row})
            else:
                if outcome == "posted":
                    report.posted += 1
                else:
                    report.already_there += 1
            fault("import")
            if progress:
                progress(i, len(rows))
        if report.rejected and not keep_good:
            report.posted = report.already_there = 0
            store.rollback_all()
    report.committed = keep_good or not report.rejected
    return report


def import_file(ledger: Ledger, kind: str, path: str, *, on: date, keep_good: bool = False,
                progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Read ``path`` (UTF-8 CSV with a header row) and import it."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except OSError as e:
        raise InvalidInput(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text; save the CSV as UTF-8") from None
    rows = read_csv(text, kind)
    return import_rows(ledger, kind, rows, on=on, keep_good=keep_good, progress=progress)


def write_rejects(report: ImportReport, path: str) -> None:
    """The bad rows with a leading ``csv_line`` (line number in the file) and trailing ``error`` column."""
    cols = list(dict.fromkeys(k for r in report.rejected for k in r["row"]))
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["csv_line", *cols, "error"])
        for r in report.rejected:
            w.writerow([r["line"], *(r["row"].get(c, "") for c in cols), r["error"]])
