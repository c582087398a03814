"""credit-coop batch ... | loan ... | report ..."""

from typing import Annotated, Optional

import typer

from credit_coop.cli.base import OnOpt, command, emit, new_app, open_ledger, print_fields, print_table, progress_bar, yuan

batch_app = new_app("Head-office batch runs: day-end.")
loan_app = new_app("Loan notes (借据).")
report_app = new_app("Reports.")


def register(app: typer.Typer) -> None:
    app.add_typer(batch_app, name="batch")
    app.add_typer(loan_app, name="loan")
    app.add_typer(report_app, name="report")


@command(batch_app, "day-end")
def day_end(
    through: Annotated[str, typer.Option("--through", metavar="YYYY-MM-DD", help="Close every open day up to this date.")],
) -> None:
    """The end-of-day run (日终): interest, penalty, settlement, overdue and classification.

    Catches up every day not yet closed, each day in its own transaction.

    Example: credit-coop batch day-end --through 2025-12-31
    """
    from credit_coop.core.interest import day_end as core_day_end

    with open_ledger() as ledger:
        result = core_day_end(ledger, through, progress=progress_bar("day-end"))
    emit(result, lambda r: print(
        f"closed through {r['through']} (already closed)" if r["already_closed"]
        else f"closed {r['days_closed']} day(s) {r['from']} .. {r['through']}; {r['active_notes']} live loan notes"))


@command(loan_app, "show")
def loan_show(note: Annotated[str, typer.Argument(help="Loan note number, e.g. JJ202500000001.")]) -> None:
    """A loan note so far: principal, accrued, due, penalty, days past due, class, postings.

    Example: credit-coop loan show JJ202500000001
    """
    from credit_coop.core.loans import show_note

    with open_ledger() as ledger:
        result = show_note(ledger, note)

    def human(r: dict) -> None:
        print_fields(f"Loan note {r['note_no']} — card {r['card_no']}", [
            ("borrower", r["borrower_masked"]), ("amount", yuan(r["amount_fen"])),
            ("drawn / matures", f"{r['drawn_on']} / {r['maturity']}"), ("rate", f"{r['annual_rate_percent']}%"),
            ("officer", r["officer"]), ("principal", yuan(r["principal_fen"])), ("accrued interest", yuan(r["accrued_fen"])),
            ("interest due", yuan(r["interest_due_fen"])), ("penalty", yuan(r["penalty_fen"])),
            ("days past due", r["days_past_due"]), ("class", r["class"]), ("closed through", r["closed_through"]),
        ])
        print_table("Postings", ["txn", "date", "kind", "principal", "accrued", "due", "penalty"],
                    [[m["txn_id"], m["on"], m["kind"], yuan(m["principal_fen"]), yuan(m["accrued_fen"]),
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
    emit(result, lambda r: print(f"loan note {r['note_no']} managed by {r['officer']} from {r['from']}"))


@command(report_app, "overdue")
def report_overdue(
    as_of: Annotated[Optional[str], typer.Option("--as-of", metavar="YYYY-MM-DD", help="A closed day [default: the last closed].")] = None,
) -> None:
    """Overdue loan notes with days past due, class and officer; totals; NPL ratio.

    Example: credit-coop report overdue --as-of 2025-12-31
    """
    from credit_coop.core.dates import parse_date
    from credit_coop.core.reports import overdue_report

    with open_ledger() as ledger:
        result = overdue_report(ledger, parse_date(as_of, what="--as-of") if as_of else None)

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
        print(f"outstanding {yuan(r['outstanding_fen'])}; non-performing {yuan(r['non_performing_fen'])}; NPL ratio {r['npl_ratio_percent']}%")

    emit(result, human)


@command(report_app, "products")
def report_products(
    as_of: Annotated[Optional[str], typer.Option("--as-of", metavar="YYYY-MM-DD", help="As of this date [default: today].")] = None,
) -> None:
    """Per product: households granted, granted, drawn (cumulative), outstanding — beside the source's table.

    Example: credit-coop report products --as-of 2025-12-31
    """
    from credit_coop.core.dates import business_date
    from credit_coop.core.money import format_wan
    from credit_coop.core.reports import product_report

    with open_ledger() as ledger:
        result = product_report(ledger, business_date(as_of))

    def wan(fen):
        return "" if fen is None else format_wan(fen).removesuffix("万")

    emit(result, lambda rows: print_table(
        "Products (万元; source = SPEC §8)",
        ["product", "households", "source", "granted 万", "source", "drawn 万", "source", "outstanding 万", "outstanding ¥"],
        [[p["name"], p["households"], p["source_households"], wan(p["granted_fen"]), wan(p["source_granted_fen"]),
          wan(p["drawn_fen"]), wan(p["source_drawn_fen"]), wan(p["outstanding_fen"]), yuan(p["outstanding_fen"])] for p in rows],
        right=("households", "source", "granted 万", "drawn 万", "outstanding 万", "outstanding ¥")))
