"""credit-coop borrower ..."""

from typing import Annotated, Optional

import typer

from credit_coop.cli.base import OnOpt, command, emit, new_group, open_ledger, print_fields, print_table, say, yuan
from credit_coop.core.labels import names

app = new_group("Borrowers and their qualifications.")


@command(app, "add")
def add(
    id_number: Annotated[str, typer.Option("--id-number", help="18-digit resident ID number (check digit verified).")],
    name: Annotated[str, typer.Option("--name", help="Name as on the ID card.")],
    kind: Annotated[list[str], typer.Option("--kind", help="farmer | business | public-employee | pos-merchant (repeatable).")],
    village: Annotated[Optional[str], typer.Option("--village", help="Village (行政村).")] = None,
    settlement_account: Annotated[Optional[str], typer.Option("--settlement-account", help="Settlement account at the union (POS merchants).")] = None,
    on: OnOpt = None,
) -> None:
    """Register a borrower.

    Example: credit-coop borrower add --id-number 410523198005170127 --name 张三 --kind farmer --village 王庄村
    """
    from credit_coop.core.borrowers import add_borrower
    from credit_coop.core.dates import business_date

    with open_ledger() as ledger:
        result = add_borrower(ledger, id_number=id_number, name=name, kinds=kind, on=business_date(on),
                              village=village, settlement_account=settlement_account)
    emit(result, lambda r: say(f"registered {r['name']} {r['borrower_masked']} as {', '.join(r['kinds'])}"))


@command(app, "show")
def show(
    id_number: Annotated[str, typer.Argument(help="Borrower's ID number.")],
    on: OnOpt = None,
) -> None:
    """A borrower, their credit lines and total exposure.

    Example: credit-coop borrower show 410523198005170127
    """
    from credit_coop.core.borrowers import show_borrower
    from credit_coop.core.dates import business_date

    with open_ledger() as ledger:
        result = show_borrower(ledger, id_number, business_date(on))

    def human(r: dict) -> None:
        print_fields(
            f"Borrower {r['name']} {r['borrower_masked']}",
            [("qualifications", names(r["kinds"])), ("village", r["village"]),
             ("settlement account", r["settlement_account"]), ("live lines", r["live_lines"]),
             ("total exposure", yuan(r["total_exposure_fen"])), ("outstanding", yuan(r["outstanding_fen"]))],
        )
        if r["lines"]:
            print_table(
                "Grants and lines",
                ["grant", "product", "status", "line", "outstanding", "card", "valid to"],
                [[l["grant_no"], l["product_name"], l["status"], yuan(l["line_fen"]), yuan(l["outstanding_fen"]),
                  l["card_no"], l["valid_to"]] for l in r["lines"]],
                right=("line", "outstanding"),
            )

    emit(result, human)


COMMANDS: dict = {}
GROUPS = {"borrower": app}
