"""Audit exports (SPEC §1 masking; issue: auditors take Excel exports of every register).

- ``export_workbook``: one .xlsx with a cover sheet (cooperative, period,
  generated at/by, per sheet: rows, control total, the same figure from the
  journal, SHA-256 of the sheet's data) and one sheet per register. Written
  with openpyxl's write-only mode (flat memory), to a temporary file renamed
  into place, so a failure never leaves a partial file.
- Cells are typed: amounts are numbers in yuan (exact decimal text from fen)
  formatted ``#,##0.00``, dates are dates, identifiers are text.
- ID numbers are masked unless an auditor or admin asks for them unmasked;
  text typed by users that starts with = + - @ is written as a quoted string
  so no spreadsheet evaluates it.
- The same ledger and period always give the same register sheets; only the
  cover's "generated at/by" differ between two exports.
- ``export_plaintext``: the whole journal for hledger or beancount.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable

from credit_coop.core import accounts
from credit_coop.core.dates import parse_date
from credit_coop.core.errors import Conflict, InvalidInput, NotPermitted
from credit_coop.core.identity import mask_id_number
from credit_coop.core.labels import label, name, register_products, translate
from credit_coop.core.riskfund import MOVEMENT_NAMES
from credit_coop.core.ledger import Ledger


@dataclass(frozen=True)
class Column:
    """A register column; its Chinese header comes from the one table of labels (core/labels.py)."""

    key: str
    en: str
    kind: str = "text"  # text | code | phrase | money | date | int | number | id | bool | user (typed by people)
    width: int = 14

    def header(self, lang: str) -> str:
        if self.en.endswith(" code"):
            return label(self.en.removesuffix(" code"), lang) + "代码" if lang == "zh" else self.en
        return label(self.en, lang)


def _shown(cols: list[Column], lang: str) -> list[Column]:
    """The sheet's columns: in Chinese a coded value appears by its name, with the code beside it for filtering."""
    out = []
    for c in cols:
        out.append(c)
        if c.kind in ("code", "movement") and lang == "zh":
            out.append(Column(c.key, f"{c.en} code", "text", 10))
    return out


C = Column
REGISTERS: dict[str, tuple[str, str, list[Column]]] = {
    "borrowers": ("Borrowers", [
        C("id_number", "ID number", "id", 22), C("name", "Name", "user", 12), C("kinds", "Qualifications", "code", 22),
        C("village", "Village", "user", 16), C("settlement_account", "Settlement account", "text", 20),
        C("registered_on", "Registered", "date", 12), C("registered_by", "Registered by", "text", 10)]),
    "grants": ("Grants", [
        C("grant_no", "Grant", "text", 16), C("id_number", "ID number", "id", 22), C("name", "Name", "user", 10),
        C("product", "Product", "code", 8), C("status", "Status", "code", 10),
        C("applied_amount", "Applied", "money"), C("applied_on", "Applied on", "date", 12),
        C("applied_by", "Applied by", "text", 10), C("grade", "Village grade", "text", 8),
        C("posted_from", "Posted from", "date", 12), C("posted_to", "Posted to", "date", 12),
        C("village_reviewed_on", "Village review on", "date", 12), C("village_reviewed_by", "Recorded by", "text", 10),
        C("line_amount", "Line", "money"), C("term_months", "Term (months)", "int", 8),
        C("surveyed_on", "Surveyed on", "date", 12), C("surveyed_by", "Surveyor", "text", 10),
        C("reviewed_on", "Reviewed on", "date", 12), C("reviewed_by", "Reviewer", "text", 10),
        C("approved_on", "Approved on", "date", 12), C("approved_by", "Approver", "text", 10),
        C("approval_tier", "Tier", "code", 14), C("approval_exposure", "Exposure at approval", "money"),
        C("rejected_on", "Rejected", "date", 12), C("rejected_by", "Rejected by", "text", 10),
        C("reject_reason", "Reason rejected", "user", 20), C("contract_no", "Contract", "text", 16),
        C("card_no", "Loan card", "text", 18), C("department", "Department", "text", 8),
        C("branch", "Designated branch", "text", 8)]),
    "lines": ("Lines", [
        C("card_no", "Loan card", "text", 18), C("contract_no", "Contract", "text", 16),
        C("grant_no", "Grant", "text", 16), C("id_number", "ID number", "id", 22), C("product", "Product", "code", 8),
        C("line_amount", "Line", "money"), C("valid_from", "Valid from", "date", 12), C("valid_to", "Valid to", "date", 12),
        C("status", "Status", "code", 10), C("officer", "Officer", "text", 10),
        C("department", "Department", "text", 8), C("branch", "Designated branch", "text", 8),
        C("outstanding", "Outstanding at period end", "money")]),
    "loan_notes": ("Loan notes", [
        C("note_no", "Loan note", "text", 16), C("card_no", "Loan card", "text", 18),
        C("id_number", "ID number", "id", 22), C("product", "Product", "code", 8), C("amount", "Amount", "money"),
        C("drawn_on", "Drawn", "date", 12), C("maturity", "Maturity", "date", 12),
        C("annual_rate_percent", "Rate %", "number", 8), C("teller", "Teller", "text", 10),
        C("fingerprint_ok", "Fingerprint", "bool", 8), C("txn_id", "Transaction", "int", 10),
        C("reversed", "Reversed", "bool", 8), C("department", "Department", "text", 8), C("branch", "Designated branch", "text", 8),
        C("outstanding", "Principal at period end", "money")]),
    "repayments": ("Repayments", [
        C("txn_id", "Transaction", "int", 10), C("business_date", "Date", "date", 12),
        C("card_no", "Loan card", "text", 18), C("id_number", "ID number", "id", 22),
        C("amount", "Amount repaid", "money"), C("penalty", "Penalty", "money"), C("interest_due", "Interest due", "money"),
        C("interest_accrued", "Accrued interest", "money"), C("principal", "Principal", "money"),
        C("recovery", "Recovery to fund", "money"), C("operator", "Teller", "text", 10),
        C("reversed", "Reversed", "bool", 8), C("department", "Department", "text", 8), C("branch", "Designated branch", "text", 8)]),
    "journal": ("Journal", [
        C("txn_id", "Transaction", "int", 10), C("business_date", "Date", "date", 12), C("kind", "Kind", "code", 12),
        C("operator", "Operator", "text", 10), C("memo", "Memo", "user", 30), C("reverses", "Reverses", "int", 10),
        C("line_id", "Line no.", "int", 10), C("account", "Account", "text", 16), C("account_name", "Account name", "text", 24),
        C("debit", "Debit", "money"), C("credit", "Credit", "money"), C("note_no", "Loan note", "text", 16),
        C("card_no", "Loan card", "text", 18), C("officer", "Officer", "text", 10)]),
    "pay": ("Officers' pay", [
        C("month", "Month", "text", 8), C("officer", "Staff", "text", 10), C("role", "Role", "code", 12),
        C("surveyed", "Surveyed", "int", 8), C("reviewed", "Reviewed", "int", 8), C("approved", "Approved", "int", 8),
        C("grant_pay", "Grant pay", "money"), C("interest_collected", "Interest collected", "money"),
        C("interest_pay", "Interest pay", "money"), C("total", "Total", "money"),
        C("holdback", "Withheld {holdback}%", "money"), C("payable", "Payable {payable}%", "money"),
        C("adjusts", "Adjusts month", "text", 10), C("run_on", "Posted on", "date", 12),
        C("txn_id", "Transaction", "int", 10)]),
    "risk_fund": ("Risk-fund movements", [
        C("business_date", "Date", "date", 12), C("txn_id", "Transaction", "int", 10), C("officer", "Officer", "text", 10),
        C("kind", "Movement", "movement", 14), C("account", "Account", "text", 14), C("fund_in", "In (credit)", "money"),
        C("fund_out", "Out (debit)", "money"), C("note_no", "Loan note", "text", 16)]),
    "year_end": ("Year-end refunds", [
        C("year", "Year", "text", 6), C("officer", "Officer", "text", 10), C("holdbacks", "Holdbacks", "money"),
        C("clean", "Clean", "bool", 8), C("reason", "Reason", "phrase", 24), C("refund", "Refund", "money"),
        C("full_settlement", "Full settlement", "bool", 8), C("run_on", "Posted on", "date", 12),
        C("txn_id", "Transaction", "int", 10)]),
    "compensation": ("Compensation cases", [
        C("on_date", "Date", "date", 12), C("note_no", "Loan note", "text", 16), C("card_no", "Loan card", "text", 18),
        C("id_number", "ID number", "id", 22), C("officer", "Officer", "text", 10), C("amount", "Amount compensated", "money"),
        C("from_fund", "From fund", "money"), C("shortfall", "Shortfall", "money"), C("txn_id", "Transaction", "int", 10),
        C("reversed_by", "Reversed by", "int", 10), C("department", "Department", "text", 8)]),
}

# Control totals: (money column, how the journal gives the same figure)
CONTROLS = {
    "loan_notes": ("amount", lambda s, f, t, rows: s.journal_sum(f, t, kinds=("drawdown",), account=accounts.LOANS)),
    "repayments": ("amount", lambda s, f, t, rows: s.journal_sum(f, t, kinds=("repayment",), account=accounts.CASH)),
    "journal": ("debit", lambda s, f, t, rows: s.journal_sum(f, t, side="credit")),
    # each register's control total against the journal of the same period, summed independently of the register
    "pay": ("total", lambda s, f, t, rows: s.journal_sum(f, t, kinds=("payroll",), account=accounts.PAY_EXPENSE, side="net")),
    "risk_fund": ("fund_in", lambda s, f, t, rows: s.journal_sum(f, t, account=accounts.RISK_FUND, side="credit")
                  + s.journal_sum(f, t, account=accounts.OFFICER_DEBT, side="credit")),
    "year_end": ("refund", lambda s, f, t, rows: s.journal_sum(f, t, kinds=("year-end",), account="2241", side="net")),
    "compensation": ("amount", lambda s, f, t, rows: s.journal_sum(f, t, kinds=("compensation",), side="credit")),
}
INJECTION = ("=", "+", "-", "@", "\t", "\r")


def _yuan(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)


def _check_period(first, last) -> tuple[date, date]:
    first, last = parse_date(first, what="--from"), parse_date(last, what="--to")
    if first > last:
        raise InvalidInput(f"--from {first} is after --to {last}")
    return first, last


def _check_unmasked(ledger: Ledger, unmasked: bool) -> None:
    if not unmasked:
        return
    from credit_coop.core.operators import PERMISSIONS

    op = ledger.store.get_operator(ledger.operator or "")
    if op is None or op["role"] not in PERMISSIONS["export.unmasked"]:
        raise NotPermitted(f"unmasked ID numbers are for {', '.join(PERMISSIONS['export.unmasked'])} only")


def register_names() -> list[str]:
    return list(REGISTERS)


def _converters(ws, cols: list[Column], unmasked: bool, lang: str) -> list:
    """One function per column turning a stored value into what the sheet gets (typed cells)."""
    from openpyxl.cell import WriteOnlyCell

    money = WriteOnlyCell(ws)
    money.number_format = "#,##0.00"
    day = WriteOnlyCell(ws)
    day.number_format = "yyyy-mm-dd"
    money_style, day_style = money._style, day._style
    yes, no = ("是", "否") if lang == "zh" else ("yes", "no")

    def as_money(v):
        cell = WriteOnlyCell(ws, Decimal(v).scaleb(-2))
        cell._style = money_style
        return cell

    def as_date(v):
        cell = WriteOnlyCell(ws, date.fromisoformat(v))
        cell._style = day_style
        return cell

    def as_text(v):
        s = str(v)
        if s.startswith(INJECTION):
            cell = WriteOnlyCell(ws, s)
            cell.data_type = "s"
            cell.quotePrefix = True
            return cell
        return s

    table = {
        "money": as_money,
        "date": as_date,
        "int": int,
        "number": Decimal,  # a rate such as "6.5" is a number in the sheet, not text
        "bool": lambda v: yes if v else no,
        "code": lambda v: "、".join(name(x, lang) for x in str(v).split("|")) if lang == "zh" else str(v),  # kinds come "|"-joined
        "movement": lambda v: name(MOVEMENT_NAMES.get(v, v), lang) if lang == "zh" else str(v),  # a payroll here is the holdback
        "phrase": lambda v: translate(v, lang),  # a reason the ledger wrote in English, read in the sheet's language
        "id": str,  # masked beforehand when needed (the hash covers what the sheet shows)
        "text": str,     # written by the system (codes, numbers, operator names)
        "user": as_text,  # typed by people: guarded against formula injection
    }
    return [table[c.kind] for c in cols]


SHEET_ROWS = 1_048_576  # Excel's limit: a longer register continues on a second sheet


def _print_setup(ws, ledger: Ledger, first: date, last: date, lang: str, *, one_page: bool = False) -> None:
    """Landscape, fit to the page width, the header row on every page, the union and period in the
    page header, the sheet name and page numbers in the footer (issue 17: the workbook prints)."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = 9  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1 if one_page else 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.oddHeader.center.text = f"{ledger.policy['cooperative']['name']}  {first.isoformat()} .. {last.isoformat()}"
    ws.oddFooter.left.text = "&A"
    ws.oddFooter.right.text = "第 &P 页 / 共 &N 页" if lang == "zh" else "page &P of &N"
    if not one_page:
        ws.print_title_rows = "1:1"


def _header_row(ws, names: list[str]) -> list:
    """The header row, styled: bold on a light fill with a border."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Border, Font, PatternFill, Side

    thin = Side(style="thin", color="808080")
    out = []
    for header in names:
        cell = WriteOnlyCell(ws, header)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.border = Border(top=thin, bottom=thin, left=thin, right=thin)
        out.append(cell)
    return out


def _write_sheet(wb, ledger: Ledger, register: str, first: date, last: date, unmasked: bool, lang: str,
                 progress: Callable[[int], None] | None = None) -> dict:
    from openpyxl.utils import get_column_letter

    en, cols = REGISTERS[register]
    cols = _shown(cols, lang)
    title = label(en, lang)
    held = ledger.policy["pay"]["holdback_percent"]  # the shares in the headers are the policy's, not fixed text
    shares = {"holdback": held, "payable": str(100 - Decimal(str(held)))}
    headers = [c.header(lang).format(**shares) for c in cols]
    sheets: list = []

    def new_sheet():
        ws = wb.create_sheet(title if not sheets else f"{title}({len(sheets) + 1})")
        ws.freeze_panes = "A2"
        for i, c in enumerate(cols, 1):
            ws.column_dimensions[get_column_letter(i)].width = c.width
        _print_setup(ws, ledger, first, last, lang)
        ws.append(_header_row(ws, headers))
        sheets.append([ws, 0])
        return ws

    ws = new_sheet()
    convert = _converters(ws, cols, unmasked, lang)
    names, cursor = ledger.store.register_rows(register, first.isoformat(), last.isoformat())
    products = ledger.policy.products
    account_names: dict[str, str] = {}
    if register == "journal":  # the account's name is looked up, not stored
        acc = names.index("account")
        names.append("account_name")

        def with_name(row):
            a = row[acc]
            if a not in account_names:
                account_names[a] = accounts.describe(a, products, lang)
            return (*row, account_names[a])

        rows = map(with_name, cursor)
    else:
        rows = cursor
    pick = [names.index(c.key) for c in cols]
    control_col, journal_fn = CONTROLS.get(register, (None, None))
    ci = names.index(control_col) if control_col else None
    keep = register in ("pay", "year_end", "compensation")
    kept, control, n = [], 0, 0
    digest = hashlib.sha256()
    append, update = ws.append, digest.update
    id_cols = [] if unmasked else [i for i, c in enumerate(cols) if c.kind == "id"]
    per_sheet = SHEET_ROWS - 1
    for row in rows:
        if n and n % per_sheet == 0:  # Excel's last row reached: the register goes on on a new sheet
            sheets[-1][1] = per_sheet
            append = new_sheet().append
        values = [row[i] for i in pick]
        for i in id_cols:
            if values[i] is not None:
                values[i] = mask_id_number(values[i])
        append([None if v is None else f(v) for f, v in zip(convert, values)])
        update(repr(values).encode("utf-8"))
        update(b"\n")
        n += 1
        if progress and n % 10_000 == 0:
            progress(n)
        if ci is not None:
            control += row[ci] or 0
        if keep:
            kept.append(dict(zip(names, row)))
    sheets[-1][1] = n - per_sheet * (len(sheets) - 1)
    for sheet, count in sheets:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{count + 1}"
    journal_figure = journal_fn(ledger.store, first.isoformat(), last.isoformat(), kept) if journal_fn else None
    cross = None
    if register == "pay":  # the withheld column against what the same runs paid into the officers' funds
        withheld = sum(r["holdback"] for r in kept)
        into_funds = ledger.store.journal_sum(first.isoformat(), last.isoformat(), kinds=("payroll",),
                                              account=accounts.RISK_FUND, side="net-credit")
        cross = {"what": "withheld = paid into funds", "register_fen": withheld, "journal_fen": into_funds,
                 "agrees": withheld == into_funds}
    control_name = next((h for c, h in zip(cols, headers) if c.key == control_col), control_col)
    return {"register": register, "sheet": ws.title, "sheets": [s.title for s, _ in sheets], "rows": n,
            "control_column": control_col, "control_label": control_name, "cross_check": cross,
            "control_fen": control if control_col else None, "journal_fen": journal_figure,
            "agrees": None if journal_fn is None else control == journal_figure, "sha256": digest.hexdigest()}


def _normal_permissions(path: str) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _check_folder(out: str) -> str:
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise InvalidInput(f"folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise InvalidInput(f"cannot write in {folder}")
    return folder


CREATOR = "credit-coop"  # the workbook's author property, and the first line of a plain-text export
_PLAINTEXT_MARK = f"; written by {CREATOR}"


def written_by_us(path: str) -> bool:
    """Was the file at ``path`` written by credit-coop (an earlier export or demo workbook)?"""
    import zipfile

    try:
        if path.lower().endswith(".xlsx"):
            with zipfile.ZipFile(path) as z:
                core = z.read("docProps/core.xml").decode("utf-8", "replace")
                return f">{CREATOR}</dc:creator>" in core
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline().startswith(_PLAINTEXT_MARK)
    except (OSError, KeyError, zipfile.BadZipFile):
        return False


def check_replaceable(out: str, force: bool = False) -> None:
    """An export never replaces a file it did not write, unless told to (``--force``)."""
    if os.path.exists(out) and not force and not written_by_us(out):
        raise Conflict(f"{out} exists and was not written by credit-coop; choose another file, or pass --force to replace it")


def _atomic_write(out: str, write: Callable[[str], None], suffix: str = "", private: bool = False) -> None:
    """``write(tmp)`` into a temporary file beside ``out``, then rename it into place:
    a reader never sees half a file, and a failed write leaves nothing behind.
    ``private``: readable by its owner only (unmasked ID numbers)."""
    folder = _check_folder(out)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".credit-coop-", suffix=suffix, dir=folder)
    except OSError as e:
        raise InvalidInput(f"cannot write in {folder}: {e.strerror}") from None
    os.close(fd)
    if not private:
        _normal_permissions(tmp)  # mkstemp made it 0600
    try:
        write(tmp)
        os.replace(tmp, out)
    except OSError as e:
        raise InvalidInput(f"cannot write {out}: {e.strerror}") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def export_workbook(ledger: Ledger, out: str, *, first, last, registers: list[str] | None = None,
                    unmasked: bool = False, lang: str = "zh", force: bool = False,
                    progress: Callable[[int, int], None] | None = None) -> dict:
    """``credit-coop export audit`` (all registers) or ``export REGISTER`` (one). ``progress(done, total)``
    is told the registers done, and rows as they stream."""
    from openpyxl import Workbook

    first, last = _check_period(first, last)
    if lang not in ("zh", "en"):
        raise InvalidInput("--lang must be zh or en")
    registers = registers or register_names()
    unknown = [r for r in registers if r not in REGISTERS]
    if unknown:
        raise InvalidInput(f"unknown register {unknown[0]!r}; registers are: {', '.join(REGISTERS)}")
    _check_unmasked(ledger, unmasked)
    if not str(out).lower().endswith(".xlsx"):
        raise InvalidInput("the output file must end in .xlsx")
    _check_folder(out)
    check_replaceable(out, force)
    register_products(ledger.policy.products)  # coded product cells are named by the ledger's own policy
    wb = Workbook(write_only=True)
    wb.properties.creator = CREATOR
    cover = wb.create_sheet("封面" if lang == "zh" else "Cover")
    sheets = []
    with ledger.store.reading():  # every register, its controls and the head from one state of the ledger
        for i, r in enumerate(registers):
            sheets.append(_write_sheet(wb, ledger, r, first, last, unmasked, lang,
                                       progress=(lambda n, i=i: progress(i, len(registers))) if progress else None))
            if progress:
                progress(i + 1, len(registers))
        by_unit = _write_unit_controls(wb, ledger, first, last, lang, sheets) if len(registers) > 1 else None
        generated = datetime.now(union_time_zone(ledger)).replace(microsecond=0)
        _write_cover(cover, ledger, first, last, generated, sheets, unmasked, lang)
        head = ledger.store.head()
    _atomic_write(out, wb.save, suffix=".xlsx", private=unmasked)
    if unmasked:
        ledger.store.audit(ledger.operator, "export --unmasked", f"{','.join(registers)} {first}..{last} → {os.path.basename(out)}")
    return {"out": os.path.abspath(out), "from": first.isoformat(), "to": last.isoformat(), "generated_at": generated.isoformat(),
            "unmasked": unmasked, "sheets": sheets, "head": head,
            **({"unit_controls_agree": by_unit} if by_unit is not None else {})}


# the per-unit control sheet: (key in store.unit_controls, register whose control total it splits, column)
UNIT_CONTROLS = (("drawn", "loan_notes", "Loan notes drawn"), ("repaid", "repayments", "Repayments taken"),
                 ("compensated", "compensation", "Compensation paid"))


def _write_unit_controls(wb, ledger: Ledger, first: date, last: date, lang: str, sheets: list[dict]) -> bool:
    """Each department's and branch's share of the registers' control totals (issue 13); each kind's total
    row must equal the register's control total. Returns whether they all agree."""
    ws = wb.create_sheet(label("Controls by unit", lang))
    _print_setup(ws, ledger, first, last, lang)
    ws.append(_header_row(ws, [label(h, lang) for h in ("Unit kind", "Unit", "Unit name", *[c[2] for c in UNIT_CONTROLS])]))
    controls = {s["register"]: s["control_fen"] for s in sheets}
    names = {u["code"]: u["name"] for u in ledger.store.org_units()}
    agrees = True
    for kind in ("department", "branch"):
        rows = ledger.store.unit_controls(first.isoformat(), last.isoformat(), kind)
        totals = {k: sum(r[k] for r in rows.values()) for k, _, _ in UNIT_CONTROLS}
        for unit in sorted(rows):
            ws.append([label(kind, lang), unit, names.get(unit, unit), *[_yuan(rows[unit][k]) for k, _, _ in UNIT_CONTROLS]])
        ws.append([label(kind, lang), label("total", lang), "", *[_yuan(totals[k]) for k, _, _ in UNIT_CONTROLS]])
        agrees &= all(controls.get(register, totals[k]) == totals[k] for k, register, _ in UNIT_CONTROLS)
    return agrees


def union_time_zone(ledger: Ledger):
    """The union's time zone (policy ``cooperative.time_zone``, default Asia/Shanghai) for times people read."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = ledger.policy["cooperative"].get("time_zone", "Asia/Shanghai")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone(timedelta(hours=8), "Asia/Shanghai")


def _write_cover(ws, ledger: Ledger, first: date, last: date, generated: datetime, sheets: list[dict], unmasked: bool,
                 lang: str) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    zh = lang == "zh"
    _print_setup(ws, ledger, first, last, lang, one_page=True)
    for i, w in enumerate((22, 14, 10, 18, 20, 8, 66), 1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.append(["审计导出" if zh else "Audit export", ledger.policy["cooperative"]["name"]])
    ws.append(["期间" if zh else "Period", first, last])
    stamp = WriteOnlyCell(ws, generated.replace(tzinfo=None))  # a real date-time, in the union's time zone
    stamp.number_format = "yyyy-mm-dd hh:mm:ss"
    ws.append([f"生成时间({generated.tzname()})" if zh else f"Generated at ({generated.tzname()})", stamp])
    ws.append(["生成人" if zh else "Generated by", ledger.operator or ""])
    ws.append(["身份证号" if zh else "ID numbers", ("未脱敏" if zh else "unmasked") if unmasked else ("已脱敏" if zh else "masked")])
    head = ledger.store.head()
    ws.append(["账本链头" if zh else "Ledger head", head,
               f"{head.split('@')[1].split('.')[0]} {'笔交易' if zh else 'transactions'}",
               "credit-coop verify --head " + head])
    ws.append([])
    ws.append(["工作表" if zh else "Sheet", "行数" if zh else "Rows", "控制列" if zh else "Control column",
               "控制合计" if zh else "Control total", "总账核对数" if zh else "Journal figure", "一致" if zh else "Agrees", "SHA-256"])
    for s in sheets:
        row = [s["sheet"], s["rows"], s["control_label"] or ""]
        for fen in (s["control_fen"], s["journal_fen"]):
            if fen is None:
                row.append(None)
            else:
                cell = WriteOnlyCell(ws, _yuan(fen))
                cell.number_format = "#,##0.00"
                row.append(cell)
        row += ["" if s["agrees"] is None else (("是" if s["agrees"] else "否") if zh else ("yes" if s["agrees"] else "NO")), s["sha256"]]
        ws.append(row)
    crosses = [s for s in sheets if s.get("cross_check")]
    if crosses:
        ws.append([])
        ws.append(["交叉核对" if zh else "Cross-checks", "", "", "登记簿" if zh else "Register", "总账" if zh else "Journal",
                   "一致" if zh else "Agrees"])
        for s in crosses:
            c = s["cross_check"]
            what = "绩效扣留 = 存入风险补偿金" if zh else "pay withheld = paid into the officers' funds"
            ws.append([s["sheet"], what, "", _yuan(c["register_fen"]), _yuan(c["journal_fen"]),
                       ("是" if c["agrees"] else "否") if zh else ("yes" if c["agrees"] else "NO")])


# -- plain-text journal ----------------------------------------------------------------------------
LEDGER_NAMES = {
    "1001": "Assets:Cash",
    "1303": "Assets:Loans",
    "1132.accrued": "Assets:InterestReceivable:Accrued",
    "1132.due": "Assets:InterestReceivable:Due",
    "1132.penalty": "Assets:InterestReceivable:Penalty",
    "1221.officer": "Assets:OfficerReceivable",
    "2211.pay": "Liabilities:PayPayable",
    "2241.riskfund": "Liabilities:RiskFund",
    "6011.interest": "Income:Interest:Loans",
    "6011.penalty": "Income:Interest:Penalty",
    "6601.pay": "Expenses:PerformancePay",
}


def ledger_account_name(account: str) -> str:
    """A chart account as an hledger/beancount account: ``1303.hnd`` → ``Assets:Loans:Hnd``."""
    parts = account.split(".")
    for n in range(len(parts), 0, -1):
        base = LEDGER_NAMES.get(".".join(parts[:n]))
        if base:
            return ":".join([base] + [p[:1].upper() + p[1:] for p in parts[n:]])
    return f"Assets:Other:A{account.replace('.', ':')}"


def export_plaintext(ledger: Ledger, out: str, fmt: str, force: bool = False) -> dict:
    """``credit-coop export journal --format hledger|beancount``: every transaction, amounts in CNY."""
    if fmt not in ("hledger", "beancount"):
        raise InvalidInput("--format must be hledger or beancount (or omit it for Excel)")
    _check_folder(out)
    check_replaceable(out, force)
    with ledger.store.reading():  # the lines, the transactions and the head from one state of the ledger
        text, n, head = _plaintext(ledger, fmt)

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    _atomic_write(out, write)
    return {"out": os.path.abspath(out), "format": fmt, "transactions": n, "head": head}


def _plaintext(ledger: Ledger, fmt: str) -> tuple[str, int, str]:
    store = ledger.store
    lines_by_txn: dict[int, list] = {}
    for l in store.all_lines_by_txn():
        lines_by_txn.setdefault(l["txn_id"], []).append(l)
    head = store.head()
    chunks = [f"{_PLAINTEXT_MARK} ({fmt}) for {ledger.policy['cooperative']['name']}",
              f"; ledger head {head}: {head.split('@')[1].split('.')[0]} transactions (credit-coop verify --head {head})"]
    if fmt == "beancount":
        chunks.append('option "title" "%s"\noption "operating_currency" "CNY"\n' % ledger.policy["cooperative"]["name"].replace('"', "'"))
        for a in store.accounts_first_used():
            chunks.append(f"{a['first']} open {ledger_account_name(a['account'])} CNY")
        chunks.append("")
    n = 0
    for t in store.all_txns():
        memo = (t["memo"] or t["kind"]).replace('"', "'").replace("\n", " ")
        if fmt == "hledger":
            chunks.append(f"{t['business_date']} ({t['id']}) {t['kind']} | {memo}")
        else:
            chunks.append(f'{t["business_date"]} * "{t["kind"]}" "{memo}"\n  txn: "{t["id"]}"')
        for l in lines_by_txn.get(t["id"], []):
            fen = l["debit"] - l["credit"]
            chunks.append(f"    {ledger_account_name(l['account'])}  {_yuan(fen)} CNY")
        chunks.append("")
        n += 1
    return "\n".join(chunks) + "\n", n, head


def trial_balance(ledger: Ledger, as_of: date | None = None, by: str | None = None, unit: str | None = None) -> dict:
    """``credit-coop report trial-balance``: every account's debit, credit and balance; totals equal.
    ``by`` (department or branch): the same split by unit — a line goes to the unit of the grant it is
    posted on, a branch's cash to its branch, the rest to the union (``UNION``); the units' debits and
    credits add up to the union's, which balance (issue 13)."""
    as_of = as_of or date.today()
    products = ledger.policy.products

    def row(r) -> dict:
        return {"account": r["account"], "name": accounts.describe(r["account"], products), "ledger_name": ledger_account_name(r["account"]),
                "debit_fen": r["debit"], "credit_fen": r["credit"], "balance_fen": r["debit"] - r["credit"]}

    rows = [row(r) for r in ledger.store.trial_balance(as_of.isoformat())]
    debit, credit = sum(r["debit_fen"] for r in rows), sum(r["credit_fen"] for r in rows)
    out = {"as_of": as_of.isoformat(), "accounts": rows, "total_debit_fen": debit, "total_credit_fen": credit, "balanced": debit == credit}
    if unit is not None:  # one unit's share: the split by its kind, that unit alone
        from credit_coop.core.reports import unit_scope

        by = unit_scope(ledger, unit)[0]
    if by is not None:
        from credit_coop.core.reports import unit_kinds

        names = dict(unit_kinds(ledger, by)) | {"UNION": "联社本部"}  # the union's own books (head office)
        units: dict[str, dict] = {}
        for r in ledger.store.trial_balance_by_unit(as_of.isoformat(), by):
            u = units.setdefault(r["unit"], {"unit": r["unit"], "name": names.get(r["unit"], r["unit"]), "accounts": [],
                                             "debit_fen": 0, "credit_fen": 0})
            u["accounts"].append(row(r))
            u["debit_fen"] += r["debit"]
            u["credit_fen"] += r["credit"]
        out.update(by=by, by_unit=[u for u in units.values() if unit is None or u["unit"] == unit])
    return out
