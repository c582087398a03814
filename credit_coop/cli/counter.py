"""The teller's counter: draw, repay, line show. Plain-text receipts (no rich
import) so a drawdown starts as fast as the CLI framework allows."""

from typing import Annotated, Optional

import typer

from credit_coop.cli.base import (
    CorrectionOpt, OnOpt, PostingOnOpt, command, emit, new_group, open_ledger, print_correction, print_fields, print_table, say, yuan,
)

line_app = new_group("Credit lines as the counter sees them.")

COMPONENT_LABELS = {  # named on the receipt through core/labels.py
    "penalty_fen": "penalty",
    "interest_due_fen": "interest due",
    "interest_accrued_fen": "accrued interest",
    "principal_fen": "principal",
    "recovery_to_debt_fen": "of which repays officer's debt",
    "recovery_fen": "recovery (compensated note)",
}




def draw(
    card: Annotated[str, typer.Option("--card", help="Loan card (贷款卡) number.")],
    id_number: Annotated[str, typer.Option("--id-number", help="Borrower's 18-digit resident ID number.")],
    amount: Annotated[str, typer.Option("--amount", help="Amount: 80000, 80,000.00, ¥80,000, 8万.")],
    fingerprint_ok: Annotated[bool, typer.Option("--fingerprint-ok", help="The fingerprint reader verified the borrower.")] = False,
    request_id: Annotated[Optional[str], typer.Option("--request-id", help="Retry-safe id: the same id never posts twice.")] = None,
    maturity: Annotated[Optional[str], typer.Option("--maturity", metavar="YYYY-MM-DD", help="Loan note maturity [default: product note term].")] = None,
    on: PostingOnOpt = None,
    correction: CorrectionOpt = None,
) -> None:
    """Draw down (用信) on a credit line: issues a loan note (借据).

    Example: credit-coop draw --card 6220250000000010 --id-number 410523198005170127 --amount 3万 --fingerprint-ok
    """
    from credit_coop.core.loans import draw as core_draw

    with open_ledger() as ledger:
        result = core_draw(
            ledger, card=card, id_number=id_number, amount=amount, fingerprint_ok=fingerprint_ok,
            on=on, request_id=request_id, maturity=maturity, correction=correction,
        )
    emit(result, _print_draw)


def _print_draw(r: dict) -> None:
    if r.get("replayed"):
        say(f"loan note {r['note_no']} (already posted; nothing new)")
    else:
        say(f"loan note {r['note_no']}")
    say(f"  card       {r['card_no']}   borrower {r['borrower_masked']}")
    say(f"  amount     ¥{yuan(r['amount_fen'])}   drawn {r['drawn_on']}   matures {r['maturity']}")
    say(f"  rate       {r['annual_rate_percent']}% a year")
    say(f"  available  ¥{yuan(r['available_after_fen'])}   transaction {r['txn_id']}")
    print_correction(r)


def repay(
    card: Annotated[str, typer.Option("--card", help="Loan card (贷款卡) number.")],
    amount: Annotated[str, typer.Option("--amount", help="Amount repaid.")],
    note: Annotated[Optional[str], typer.Option("--note", help="Apply to this loan note only [default: earliest maturity first].")] = None,
    request_id: Annotated[Optional[str], typer.Option("--request-id", help="Retry-safe id: the same id never posts twice.")] = None,
    on: PostingOnOpt = None,
    correction: CorrectionOpt = None,
) -> None:
    """Repay on a credit line; availability is restored (revolving).

    Example: credit-coop repay --card 6220250000000010 --amount 10000

    Missed on a closed day: ... --on 2025-04-15 --correction "receipt 0415-07 not keyed"
    """
    from credit_coop.core.loans import repay as core_repay

    with open_ledger() as ledger:
        result = core_repay(ledger, card=card, amount=amount, on=on, note=note, request_id=request_id,
                            correction=correction)
    emit(result, _print_repay)


def _print_repay(r: dict) -> None:
    if r.get("replayed"):
        say(f"repayment ¥{yuan(r['amount_fen'])} on card {r['card_no']} (already posted; nothing new)   transaction {r['txn_id']}")
    else:
        say(f"repayment ¥{yuan(r['amount_fen'])} on card {r['card_no']}   transaction {r['txn_id']}")
    from credit_coop.core.labels import pad, translate

    for key, label in COMPONENT_LABELS.items():
        if r["split"].get(key):
            print(f"  {pad(translate(label), 32)} ¥{yuan(r['split'][key])}")
    for n in r["notes"]:
        parts = ", ".join(f"{translate(COMPONENT_LABELS.get(k, k.removesuffix('_fen')))} {yuan(v)}"
                          for k, v in n.items() if k != "note_no")
        say(f"  note {n['note_no']}: {parts}")
    say(f"  outstanding ¥{yuan(r['outstanding_after_fen'])}   available ¥{yuan(r['available_after_fen'])}")
    print_correction(r)


@command(line_app, "show")
def line_show(
    card: Annotated[str, typer.Argument(help="Loan card number.")],
    on: OnOpt = None,
) -> None:
    """A credit line: limit, drawn, available and its loan notes.

    Example: credit-coop line show 6220250000000010
    """
    from credit_coop.core.dates import business_date
    from credit_coop.core.loans import show_line

    with open_ledger() as ledger:
        result = show_line(ledger, card, business_date(on))

    def human(r: dict) -> None:
        print_fields(
            f"Line {r['card_no']} — {r['product_name']}",
            [
                ("borrower", f"{r['borrower_name']} {r['borrower_masked']}"),
                ("grant / contract", f"{r['grant_no']} / {r['contract_no']}"),
                ("status", r["status"]),
                ("valid", f"{r['valid_from']} .. {r['valid_to']}"),
                ("line", yuan(r["line_fen"])),
                ("outstanding", yuan(r["outstanding_fen"])),
                ("available", yuan(r["available_fen"])),
                ("officer", r["officer"]),
                ("designated branch", r["branch"]),
            ],
        )
        if r["notes"]:
            print_table(
                "Loan notes 借据",
                ["note", "drawn on", "matures", "amount", "principal", "owed", "status", "class 五级分类", "days past due"],
                [[n["note_no"], n["drawn_on"], n["maturity"], yuan(n["amount_fen"]), yuan(n["principal_fen"]),
                  yuan(n["owed_fen"]), n["status"], n["class"], n["days_past_due"]] for n in r["notes"]],
                right=("amount", "principal", "owed"),
            )

    emit(result, human)


COMMANDS = {"draw": draw, "repay": repay}
GROUPS = {"line": line_app}
