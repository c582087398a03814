"""credit-coop export ... and the auditors' reports (trial balance, officers, SLA)."""

from typing import Annotated, Optional

import typer

from credit_coop.cli.base import progress_bar, command, emit, new_group, open_ledger, print_table, say, yuan

app = new_group("Audit exports: Excel workbooks and plain-text journals.")

FromOpt = Annotated[Optional[str], typer.Option("--from", metavar="YYYY-MM-DD", help="Period start [default: the ledger's first day].")]
ToOpt = Annotated[Optional[str], typer.Option("--to", metavar="YYYY-MM-DD", help="Period end [default: today].")]
OutOpt = Annotated[str, typer.Option("--out", metavar="FILE", help="Where to write.")]
UnmaskedOpt = Annotated[bool, typer.Option("--unmasked", help="Full ID numbers (auditor/admin only; recorded in the audit log).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing file that credit-coop did not write.")]

REGISTER_COMMANDS = {
    "borrowers": "borrowers", "grants": "grants", "lines": "lines", "loan-notes": "loan_notes", "repayments": "repayments",
    "pay": "pay", "risk-fund": "risk_fund", "year-end": "year_end", "compensation": "compensation",
}


def _period(ledger, first, last):
    from datetime import date

    return first or ledger.store.get_meta("created_on"), last or date.today().isoformat()


def _run(registers, out, first, last, unmasked, force=False) -> None:
    from credit_coop.core.export import export_workbook
    from credit_coop.core.labels import language

    with open_ledger() as ledger:
        f, t = _period(ledger, first, last)
        result = export_workbook(ledger, out, first=f, last=t, registers=registers, unmasked=unmasked, lang=language(),
                                 force=force, progress=progress_bar("exporting registers"))

    def human(r: dict) -> None:
        print_table(f"{r['out']} — {r['from']} .. {r['to']}" + (" (unmasked)" if r["unmasked"] else ""),
                    ["sheet", "rows", "control total", "journal", "agrees"],
                    [[s["sheet"], s["rows"], yuan(s["control_fen"]), yuan(s["journal_fen"]),
                      "" if s["agrees"] is None else ("yes" if s["agrees"] else "NO")] for s in r["sheets"]],
                    right=("rows", "control total", "journal"))

    emit(result, human)


@command(app, "audit")
def audit(out: OutOpt, first: FromOpt = None, last: ToOpt = None, unmasked: UnmaskedOpt = False,
          force: ForceOpt = False) -> None:
    """One workbook with a cover sheet and every register for the period.

    Example: credit-coop export audit --from 2025-01-01 --to 2025-12-31 --out audit-2025.xlsx
    """
    _run(None, out, first, last, unmasked, force)


@command(app, "journal")
def journal(
    out: OutOpt,
    fmt: Annotated[Optional[str], typer.Option("--format", help="hledger or beancount for plain text; omit for Excel.")] = None,
    first: FromOpt = None, last: ToOpt = None, unmasked: UnmaskedOpt = False, force: ForceOpt = False,
) -> None:
    """The journal: as an Excel register, or the whole journal for hledger / beancount.

    Example: credit-coop export journal --format beancount --out coop.beancount
    """
    if fmt is None:
        _run(["journal"], out, first, last, unmasked, force)
        return
    from credit_coop.core.export import export_plaintext

    with open_ledger() as ledger:
        result = export_plaintext(ledger, out, fmt, force)
    emit(result, lambda r: say(f"wrote {r['transactions']} transactions to {r['out']} ({r['format']})"))


def _register_command(name: str, key: str) -> None:
    def run(out: OutOpt, first: FromOpt = None, last: ToOpt = None, unmasked: UnmaskedOpt = False,
            force: ForceOpt = False) -> None:
        _run([key], out, first, last, unmasked, force)

    run.__doc__ = f"The {name} register as an Excel workbook.\n\n    Example: credit-coop export {name} --out {name}.xlsx\n    "
    run.__name__ = f"export_{key}"
    command(app, name)(run)


for _name, _key in REGISTER_COMMANDS.items():
    _register_command(_name, _key)


COMMANDS: dict = {}
GROUPS = {"export": app}
