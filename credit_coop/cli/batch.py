"""credit-coop batch ... | loan ... | report ..."""

from typing import Annotated, Optional

import typer

from credit_coop.cli.base import CURRENT, AsOfOpt, OnOpt, PostingOnOpt, command, emit, new_group, open_ledger, print_fields, print_table, progress_bar, wan, say, yuan

batch_app = new_group("Head-office batch runs: day-end, payroll, year-end.")
loan_app = new_group("Loan notes (借据).")
report_app = new_group("Reports.")




@command(batch_app, "day-end")
def day_end(
    through: Annotated[str, typer.Option("--through", metavar="YYYY-MM-DD", help="Close every open day up to this date.")],
) -> None:
    """The end-of-day run (日终): interest, penalty, settlement, overdue and classification.

    Catches up every day not yet closed, each day in its own transaction.

    Example: credit-coop batch day-end --through 2025-12-31
    """
    from credit_coop.core.dayend import day_end as core_day_end

    with open_ledger() as ledger:
        result = core_day_end(ledger, through, progress=progress_bar("day-end"))
    def human(r: dict) -> None:
        if r["already_closed"]:
            say(f"closed through {r['through']} (already closed)")
            return
        say(f"closed {r['days_closed']} day(s) {r['from']} .. {r['through']}; {r['active_notes']} live loan notes")
        say(f"chain head {r['head']} — write it on the day-end slip (credit-coop verify --head checks it later)")

    emit(result, human)


@command(loan_app, "show")
def loan_show(
    note: Annotated[str, typer.Argument(help="Loan note number, e.g. JJ202500000001.")],
    all_days: Annotated[bool, typer.Option("--all-days", help="Every day-end posting, not a line a month.")] = False,
) -> None:
    """A loan note so far: principal, accrued, due, penalty, days past due, class, postings (day-ends by month).

    Example: credit-coop loan show JJ202500000001
    """
    from credit_coop.core.loans import show_note

    with open_ledger() as ledger:
        result = show_note(ledger, note, all_days)

    def human(r: dict) -> None:
        print_fields(f"Loan note {r['note_no']} — card {r['card_no']}", [
            ("borrower", r["borrower_masked"]), ("amount", yuan(r["amount_fen"])),
            ("drawn / matures", f"{r['drawn_on']} / {r['maturity']}"), ("rate", f"{r['annual_rate_percent']}%"),
            ("officer", r["officer"]), ("principal", yuan(r["principal_fen"])), ("accrued interest", yuan(r["interest_accrued_fen"])),
            ("interest due", yuan(r["interest_due_fen"])), ("penalty", yuan(r["penalty_fen"])),
            ("days past due", r["days_past_due"]), ("class", r["class"]), ("closed through", r["closed_through"]),
        ])
        print_table("Postings", ["txn", "date", "kind", "principal", "accrued", "due", "penalty"],
                    [[m["txn_id"] or "", m["on"], m["kind"], yuan(m["principal_fen"]), yuan(m["interest_accrued_fen"]),
                      yuan(m["interest_due_fen"]), yuan(m["penalty_fen"])] for m in r["movements"]],
                    right=("principal", "accrued", "due", "penalty"))

    emit(result, human)


@command(loan_app, "reassign")
def loan_reassign(
    note: Annotated[str, typer.Argument(help="Loan note number.")],
    officer: Annotated[str, typer.Option("--officer", help="The new managing loan officer.")],
    on: OnOpt = None,
) -> None:
    """Hand a loan note to another managing officer (dept-head, admin).

    Example: credit-coop loan reassign JJ202500000001 --officer 刘经理
    """
    from credit_coop.core.dates import business_date
    from credit_coop.core.loans import reassign

    with open_ledger() as ledger:
        result = reassign(ledger, note, officer, business_date(on))
    emit(result, lambda r: say(f"loan note {r['note_no']} managed by {r['officer']} from {r['from']}"))


ByOpt = Annotated[Optional[str], typer.Option("--by", metavar="department|branch", help="Totals per department or branch too.")]
UnitOpt = Annotated[Optional[str], typer.Option("--unit", metavar="CODE", help="Only this department's or branch's share.")]


def _by_unit_table(title: str, rows: list[dict], cols: list[tuple[str, str]]) -> None:
    """A ``--by`` table: one row a unit and the total row, which equals the report's union total."""
    def shown(k: str, v):
        return yuan(v) if k.endswith("_fen") else v

    from credit_coop.core.reports import npl_ratio_percent

    total = {k: sum(u[k] for u in rows) for k, _ in cols if k != "npl_ratio_percent"}
    if "non_performing_fen" in total:
        total["npl_ratio_percent"] = npl_ratio_percent(total["non_performing_fen"], total["outstanding_fen"])
    table = [[u["name"], *[shown(k, u[k]) for k, _ in cols]] for u in rows]
    table.append(["total", *[shown(k, total.get(k, "")) for k, _ in cols]])
    print_table(title, ["unit", *[c for _, c in cols]], table, right=tuple(c for _, c in cols))


@command(report_app, "overdue")
def report_overdue(
    as_of: AsOfOpt = None,
    by: ByOpt = None,
    unit: UnitOpt = None,
) -> None:
    """Overdue loan notes with days past due, class and officer; totals; NPL ratio.

    Example: credit-coop report overdue --as-of 2025-12-31
    """
    from credit_coop.core.dates import parse_date
    from credit_coop.core.reports import overdue_report

    with open_ledger() as ledger:
        result = overdue_report(ledger, parse_date(as_of, what="--as-of") if as_of else None, unit=unit, by=by)

    def human(r: dict) -> None:
        print_table(f"Overdue loan notes as of {r['as_of']}",
                    ["note", "product", "borrower", "matures", "days past due", "class", "officer", "principal"],
                    [[n["note_no"], n["product"], n["borrower_masked"], n["maturity"], n["days_past_due"], n["class"],
                      n["officer"], yuan(n["principal_fen"])] for n in r["notes"]],
                    right=("days past due", "principal"))
        print_table("By class (五级分类)", ["class", "principal"], [[c["class"], yuan(c["principal_fen"])] for c in r["by_class"]],
                    right=("principal",))
        if r["by_product"]:
            print_table("Overdue by product", ["product", "notes", "principal"],
                        [[p["name"], p["notes"], yuan(p["principal_fen"])] for p in r["by_product"]], right=("notes", "principal"))
        if r.get("by_unit"):
            _by_unit_table(f"By {r['by']}", r["by_unit"], [("notes", "notes"), ("overdue_fen", "overdue"),
                                                             ("outstanding_fen", "outstanding"), ("non_performing_fen", "non-performing"),
                                                             ("npl_ratio_percent", "NPL ratio %")])
        say(f"outstanding {yuan(r['outstanding_fen'])}; non-performing {yuan(r['non_performing_fen'])}; NPL ratio {r['npl_ratio_percent']}%")

    emit(result, human)


@command(report_app, "products")
def report_products(
    as_of: AsOfOpt = None,
    by: ByOpt = None,
    unit: UnitOpt = None,
) -> None:
    """Per product: households granted, granted, drawn (cumulative), outstanding — beside the source's table.

    Example: credit-coop report products --as-of 2025-12-31
    """
    from credit_coop.core.dates import business_date
    from credit_coop.core.reports import product_report, products_by_unit

    with open_ledger() as ledger:
        if by:
            units = products_by_unit(ledger, business_date(as_of), by)
            emit({"by": by, "units": units}, lambda r: _by_unit_table(
                f"Products by {by} (万元)", [{"name": u["name"], **{k: sum(p[k] for p in u["products"]) for k in
                                                                   ("households", "granted_fen", "drawn_fen", "outstanding_fen")}}
                                            for u in r["units"]],
                [("households", "households"), ("granted_fen", "granted"), ("drawn_fen", "drawn"), ("outstanding_fen", "outstanding")]))
            return
        result = product_report(ledger, business_date(as_of), unit)

    emit(result, lambda rows: print_table(
        "Products (万元; source = SPEC §8)" + (f" — {unit}" if unit else ""),
        ["product", "households", "source", "granted 万", "source", "drawn 万", "source", "outstanding 万", "outstanding ¥"],
        [[p["name"], p["households"], p["source_households"], wan(p["granted_fen"]), wan(p["source_granted_fen"]),
          wan(p["drawn_fen"]), wan(p["source_drawn_fen"]), wan(p["outstanding_fen"]), yuan(p["outstanding_fen"])] for p in rows],
        right=("households", "source", "granted 万", "drawn 万", "outstanding 万", "outstanding ¥")), key="products")


officer_app = new_group("Loan officers' risk compensation funds (风险补偿金).")


def _batch_state(r: dict) -> str:
    """How a once-per-period batch (payroll, year-end) ran, for its table's title."""
    if r["dry_run"]:
        return "DRY RUN — nothing posted"
    if r["txn_id"] is None:
        return f"run on {r['run_on']}: nothing was due, nothing posted"
    return f"posted on {r['run_on']} (transaction {r['txn_id']})"


def _pay_table(r: dict) -> None:
    from decimal import Decimal

    held = f"withheld {r['holdback_percent']}%"
    payable = f"payable {100 - Decimal(r['holdback_percent'])}%"  # the policy's shares, never fixed text
    print_table(
        f"Performance pay {r['month']} — {_batch_state(r)}",
        ["officer", "role", "department", "surveyed", "reviewed", "approved", "grant pay", "interest collected", "interest pay",
         "total", held, payable],
        [[o["officer"], o["role"], o["department"] or "", o["surveyed"], o["reviewed"], o["approved"], yuan(o["grant_pay_fen"]),
          yuan(o["interest_collected_fen"]), yuan(o["interest_pay_fen"]), yuan(o["total_fen"]), yuan(o["holdback_fen"]),
          yuan(o["payable_fen"])] for o in r["officers"]]
        + [["total", "", "", "", "", "", yuan(r["totals"]["grant_pay_fen"]), "", yuan(r["totals"]["interest_pay_fen"]),
            yuan(r["totals"]["total_fen"]), yuan(r["totals"]["holdback_fen"]), yuan(r["totals"]["payable_fen"])]],
        right=("surveyed", "reviewed", "approved", "grant pay", "interest collected", "interest pay", "total", held, payable),
    )
    if r["adjustments"]:
        print_table(
            "Adjustments for months already paid, after back-dated corrections (补发 / 扣回)",
            ["officer", "for month", "interest collected now", "interest pay", held, payable],
            [[a["officer"], a["for_month"], yuan(a["interest_collected_fen"]), yuan(a["interest_pay_delta_fen"]),
              yuan(a["holdback_fen"]), yuan(a["payable_fen"])] for a in r["adjustments"]],
            right=("interest collected now", "interest pay", held, payable),
        )


def _once(run, render) -> None:
    """Run a once-per-period batch; a repeat shows the first run's result and exits 7."""
    from credit_coop.cli.base import fail
    from credit_coop.core.pay import AlreadyRun

    try:
        result = run()
    except AlreadyRun as e:
        if not CURRENT.json:
            render(e.result)
        fail(e.exit_code, str(e), result=e.result)
    emit(result, render)


@command(batch_app, "payroll")
def payroll(
    month: Annotated[str, typer.Option("--month", metavar="YYYY-MM", help="The month to pay (must be closed by the day-end).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the table; post nothing.")] = False,
    on: PostingOnOpt = None,
) -> None:
    """Monthly performance pay: grant pay + a share of interest collected; the policy's holdback withheld into each fund.

    A month is paid once; a second run shows the first run's result and exits 7.

    Example: credit-coop batch payroll --month 2025-09 --dry-run
    """
    from credit_coop.core.dates import parse_date
    from credit_coop.core.pay import run_payroll

    with open_ledger() as ledger:
        _once(lambda: run_payroll(ledger, month, on=parse_date(on, what="--on") if on else None, dry_run=dry_run), _pay_table)


@command(batch_app, "year-end")
def year_end(
    year: Annotated[int, typer.Option("--year", help="The year to settle (December must be closed).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the table; post nothing.")] = False,
    on: PostingOnOpt = None,
) -> None:
    """Year-end: refund 20% of the year's holdbacks to officers with no NPL or compensation in the year.

    Once per year; a second run shows the first run's result and exits 7.

    Example: credit-coop batch year-end --year 2025 --on 2026-01-05
    """
    from credit_coop.core.dates import parse_date
    from credit_coop.core.yearend import run_year_end

    def render(r: dict) -> None:
        print_table(f"Year-end {r['year']} — {_batch_state(r)}", ["officer", "holdbacks in year", "clean", "why not", "refund"],
                    [[o["officer"], yuan(o["holdbacks_fen"]), "yes" if o["clean"] else "no", o["reason"], yuan(o["refund_fen"])]
                     for o in r["officers"]] + [["total", yuan(r["total_holdbacks_fen"]), "", "", yuan(r["total_refund_fen"])]],
                    right=("holdbacks in year", "refund"))
        if r["adjustments"]:
            print_table("Adjustments for earlier years after back-dated corrections (补发 / 扣回)", ["officer", "for year", "refund", "why"],
                        [[a["officer"], a["for_year"], yuan(a["refund_delta_fen"]), a["reason"]] for a in r["adjustments"]],
                        right=("refund",))

    with open_ledger() as ledger:
        progress = progress_bar("year-end")
        if progress:
            progress(0, 1)
        _once(lambda: run_year_end(ledger, year, on=parse_date(on, what="--on") if on else None, dry_run=dry_run), render)
        if progress:
            progress(1, 1)


@command(officer_app, "statement")
def officer_statement(
    name: Annotated[str, typer.Argument(help="The officer.")],
    year: Annotated[Optional[int], typer.Option("--year", help="Only this year.")] = None,
) -> None:
    """An officer's fund statement: opening, each movement, closing; reconciles to the journal.

    Example: credit-coop --operator 张经理 officer statement 张经理 --year 2025
    """
    from credit_coop.core.riskfund import statement

    with open_ledger() as ledger:
        result = statement(ledger, name, year)

    def human(r: dict) -> None:
        rows = [["", "opening", "", "", yuan(r["opening_fen"])]]
        rows += [[m["on"], m["what"], yuan(m["fund_fen"]), yuan(m["debt_fen"]) if m["debt_fen"] else "", yuan(m["balance_fen"])]
                 for m in r["movements"]]
        rows += [["", "closing", "", "", yuan(r["closing_fen"])]]
        print_table(f"Risk compensation fund — {r['officer']} · {r['department']}" + (f" {r['year']}" if r["year"] else ""),
                    ["date", "movement", "fund", "debt", "balance"], rows, right=("fund", "debt", "balance"))
        say(f"journal balance {yuan(r['journal_balance_fen'])}: {'reconciles' if r['reconciles'] else 'DOES NOT RECONCILE'}; "
              f"compensation debt outstanding {yuan(r['debt_fen'])}"
              + (f"; transferred {r['transferred_on']}" if r["transferred_on"] else ""))

    emit(result, human)


@command(officer_app, "pay-in")
def officer_pay_in(
    name: Annotated[str, typer.Argument(help="The officer.")],
    amount: Annotated[str, typer.Option("--amount", help="Amount paid in against the compensation shortfall.")],
    on: OnOpt = None,
) -> None:
    """Record an officer paying in (part of) a compensation shortfall.

    Example: credit-coop officer pay-in 张经理 --amount 5000
    """
    from credit_coop.core.dates import business_date
    from credit_coop.core.riskfund import pay_in

    with open_ledger() as ledger:
        result = pay_in(ledger, name, amount, business_date(on))
    emit(result, lambda r: say(f"{r['officer']} paid in ¥{yuan(r['amount_fen'])}; still owes ¥{yuan(r['debt_after_fen'])}"))


@command(officer_app, "transfer")
def officer_transfer(
    name: Annotated[str, typer.Argument(help="The officer.")],
    on: OnOpt = None,
) -> None:
    """Record an officer moving off the loan-officer post.

    Example: credit-coop officer transfer 张经理 --on 2025-10-01
    """
    from credit_coop.core.dates import business_date
    from credit_coop.core.riskfund import transfer

    with open_ledger() as ledger:
        result = transfer(ledger, name, business_date(on))
    emit(result, lambda r: say(f"{r['officer']} transferred {r['transferred_on']}; fund ¥{yuan(r['fund_fen'])}; "
                                 f"{r['loans_not_recovered']} loan(s) not yet recovered"))


@command(officer_app, "settle")
def officer_settle(
    name: Annotated[str, typer.Argument(help="The officer.")],
    on: OnOpt = None,
) -> None:
    """Refund a transferred officer's whole fund once every loan they issued is recovered.

    Example: credit-coop officer settle 张经理
    """
    from credit_coop.core.dates import business_date
    from credit_coop.core.riskfund import settle

    with open_ledger() as ledger:
        result = settle(ledger, name, business_date(on))
    emit(result, lambda r: say(f"{r['officer']}: fund refunded in full, ¥{yuan(r['refund_fen'])}"))


@command(report_app, "compensation")
def report_compensation() -> None:
    """Compensation cases (全额赔偿), recoveries, and officers' outstanding debts.

    Example: credit-coop report compensation
    """
    from credit_coop.core.riskfund import compensation_report

    with open_ledger() as ledger:
        result = compensation_report(ledger)

    def human(r: dict) -> None:
        print_table("Compensation cases", ["date", "note", "product", "officer", "amount", "from fund", "shortfall", "recovered"],
                    [[c["on"], c["note_no"], c["product"], c["officer"], yuan(c["amount_fen"]), yuan(c["from_fund_fen"]),
                      yuan(c["shortfall_fen"]), yuan(c["recovered_fen"])] for c in r["cases"]],
                    right=("amount", "from fund", "shortfall", "recovered"))
        print_table("Officers", ["officer", "fund", "debt outstanding"],
                    [[o["officer"], yuan(o["fund_fen"]), yuan(o["debt_fen"])] for o in r["officers"]], right=("fund", "debt outstanding"))

    emit(result, human)


@command(report_app, "trial-balance")
def report_trial_balance(
    as_of: AsOfOpt = None,
    by: ByOpt = None,
    unit: UnitOpt = None,
) -> None:
    """Every account's debit, credit and balance; the totals are equal. --by: each unit's share too.

    Example: credit-coop report trial-balance --as-of 2025-12-31 --by branch
    """
    from credit_coop.core.dates import business_date
    from credit_coop.core.export import trial_balance

    with open_ledger() as ledger:
        result = trial_balance(ledger, business_date(as_of), by, unit)

    def human(r: dict) -> None:
        print_table(
            f"Trial balance as of {r['as_of']} — {'balanced' if r['balanced'] else 'NOT BALANCED'}",
            ["account", "account name", "debit", "credit", "balance"],
            [[a["account"], a["name"], yuan(a["debit_fen"]), yuan(a["credit_fen"]), yuan(a["balance_fen"])] for a in r["accounts"]]
            + [["total", "", yuan(r["total_debit_fen"]), yuan(r["total_credit_fen"]), ""]],
            right=("debit", "credit", "balance"))
        if r.get("by_unit"):
            print_table(f"By {r['by']}", ["unit", "account", "account name", "debit", "credit", "balance"],
                        [[u["name"], a["account"], a["name"], yuan(a["debit_fen"]), yuan(a["credit_fen"]), yuan(a["balance_fen"])]
                         for u in r["by_unit"] for a in u["accounts"]]
                        + [["total", "", "", yuan(sum(u["debit_fen"] for u in r["by_unit"])),
                            yuan(sum(u["credit_fen"] for u in r["by_unit"])), ""]],
                        right=("debit", "credit", "balance"))

    emit(result, human)


@command(report_app, "officers")
def report_officers(
    by: Annotated[Optional[str], typer.Option("--by", metavar="department", help="Totals per department too.")] = None,
    unit: Annotated[Optional[str], typer.Option("--unit", metavar="CODE", help="Only this department's officers.")] = None,
) -> None:
    """Per loan officer: department, grants, managed balance, interest collected, fund balance.

    Example: credit-coop report officers --by department
    """
    from credit_coop.core.reports import officers_by_unit, officers_report

    with open_ledger() as ledger:
        result = officers_report(ledger, unit)
        units = officers_by_unit(result, ledger, by) if by else None

    def human(rows) -> None:
        print_table(
            "Loan officers", ["officer", "department", "grants", "managed principal", "interest collected", "risk fund"],
            [[o["officer"], o["department"], o["grants"], yuan(o["managed_fen"]), yuan(o["interest_collected_fen"]), yuan(o["fund_fen"])]
             for o in rows],
            right=("grants", "managed principal", "interest collected", "risk fund"))
        if units:
            _by_unit_table("By department", units, [("officers", "officers"), ("grants", "grants"), ("managed_fen", "managed principal"),
                                                    ("interest_collected_fen", "interest collected"), ("fund_fen", "risk fund")])

    emit({"officers": result, "by_unit": units} if by else result, human if not by else lambda r: human(r["officers"]),
         key="officers")


def print_units(r: dict) -> None:
    """The league table of departments (or branches); shared by the report and the demo."""
    dept = r["by"] == "department"
    cols = ["unit", "grants", "live lines", "granted 万", "drawn 万", "outstanding 万", "NPL ratio %"]
    if dept:
        cols += ["officers", "avg monthly pay"]
    rows = []
    for u in r["units"] + [{**r["total"], "name": "total"}]:
        row = [u["name"], u["grants"], u["lines"], wan(u["granted_fen"]), wan(u["drawn_fen"]), wan(u["outstanding_fen"]),
               u["npl_ratio_percent"]]
        if dept:
            row += [u.get("officers", ""), yuan(u.get("officer_avg_monthly_pay_fen"))]
        rows.append(row)
    print_table(f"{'Departments' if dept else 'Branches'} as of {r['as_of']}", cols, rows,
                right=tuple(c for c in cols if c != "unit"))


@command(report_app, "departments")
def report_departments(
    as_of: AsOfOpt = None,
    by: Annotated[str, typer.Option("--by", help="department (个人客户部) or branch (信用社).")] = "department",
) -> None:
    """The league table by department (or branch): grants, lines, drawn, outstanding, NPL ratio, officers' pay.

    Example: credit-coop report departments --by branch --as-of 2025-12-31
    """
    from credit_coop.core.dates import business_date
    from credit_coop.core.reports import unit_report

    with open_ledger() as ledger:
        result = unit_report(ledger, business_date(as_of) if as_of else None, by)
    emit(result, print_units)


@command(report_app, "sla")
def report_sla(
    as_of: AsOfOpt = None,
    by: ByOpt = None,
    unit: UnitOpt = None,
) -> None:
    """Grants whose acceptance-to-first-disbursement exceeded 7 days (办贷时限; policy).

    Example: credit-coop report sla
    """
    from credit_coop.core.dates import business_date
    from credit_coop.core.reports import sla_report

    with open_ledger() as ledger:
        result = sla_report(ledger, business_date(as_of), unit=unit, by=by)

    def human(r: dict) -> None:
        print_table(f"Over the {r['limit_days']}-day service level: {len(r['late'])} of {r['grants']} grants",
                    ["grant", "product", "borrower", "accepted", "approved on", "first drawn", "days", "officer", "state"],
                    [[x["grant_no"], x["product"], x["borrower_masked"], x["applied_on"], x["approved_on"], x["first_drawn"],
                      x["days"], x["officer"], x["state"]] for x in r["late"]], right=("days",))
        if r.get("by_unit"):
            _by_unit_table(f"By {r['by']}", r["by_unit"], [("grants", "grants"), ("late", "late")])

    emit(result, human)


COMMANDS: dict = {}
GROUPS = {"batch": batch_app, "loan": loan_app, "report": report_app, "officer": officer_app}
