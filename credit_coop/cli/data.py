"""credit-coop import | demo"""

from typing import Annotated, Optional

import typer

from credit_coop.cli.base import CURRENT, OnOpt, command, emit, open_ledger, print_table, progress_bar, wan, say, yuan




def import_(
    kind: Annotated[str, typer.Argument(help="operators | villages | borrowers | grants | draws | repayments")],
    file: Annotated[str, typer.Argument(help="UTF-8 CSV with a header row.")],
    rejects: Annotated[Optional[str], typer.Option("--rejects", metavar="FILE", help="Load the good rows; write bad ones here with reasons.")] = None,
    on: OnOpt = None,
) -> None:
    """Import a CSV from the old system; every row passes the same rules as the commands.

    All-or-nothing unless --rejects is given. Re-importing a file posts nothing twice.

    Example: credit-coop import grants grants.csv --operator 联社管理员
    """
    from credit_coop.core.dates import business_date
    from credit_coop.core.imports import import_file, write_rejects

    with open_ledger() as ledger:
        report = import_file(ledger, kind, file, on=business_date(on), keep_good=rejects is not None,
                             progress=progress_bar(f"importing {kind}"))
    if rejects and report.rejected:
        write_rejects(report, rejects)
    result = report.as_dict()

    def human(r: dict) -> None:
        if r["committed"]:
            say(f"{r['kind']}: {r['rows']} rows, {r['posted']} posted, {r['already_there']} already in the ledger, {len(r['rejected'])} rejected")
        else:
            say(f"{r['kind']}: file refused, nothing posted — {len(r['rejected'])} bad row(s) of {r['rows']}:")
        for bad in r["rejected"][:50]:
            say(f"  line {bad['line']}: {bad['error']}")
        if len(r["rejected"]) > 50:
            say(f"  … and {len(r['rejected']) - 50} more (use --rejects FILE to get them all)")

    emit(result, human)
    if not report.committed:
        CURRENT.error = f"import refused: {len(report.rejected)} bad row(s), nothing posted"  # the audit log says so
        raise typer.Exit(5)


def demo(
    sample_data: Annotated[Optional[str], typer.Option("--sample-data", metavar="DIR", help="Folder with policy.toml and the CSVs [default: shipped sample data].")] = None,
    through: Annotated[str, typer.Option("--through", metavar="YYYY-MM-DD", help="Run the demo year up to this date.")] = "2025-12-31",
    force: Annotated[bool, typer.Option("--force", help="Replace an audit workbook there that credit-coop did not write.")] = False,
) -> None:
    """Build a fresh demo ledger from sample_data and show what it holds.

    Uses --db if given, else ./credit-coop-demo.db. An existing demo ledger
    there is replaced; any other file is left alone.

    Example: credit-coop demo
    """
    from credit_coop.core.dates import parse_date
    from credit_coop.core.demo import build_demo

    result = build_demo(CURRENT.db or "credit-coop-demo.db", sample_data, parse_date(through, what="--through"),
                        progress_for=progress_bar, force=force)

    def human(r: dict) -> None:
        from credit_coop.core.labels import translate

        for step in r["steps"]:
            print("  " + translate(step))
        rows = []
        for p in r["products"]:
            src = p["source_households"] is not None
            rows.append([p["name"], p["households"], p["source_households"] if src else "",
                         wan(p["granted_fen"]), wan(p["source_granted_fen"]) if src else "",
                         wan(p["drawn_fen"]), wan(p["source_drawn_fen"]) if src else "", wan(p["outstanding_fen"])])
        print_table(f"Products as of {r['through']} — ledger vs the source's table (万元)",
                    ["product", "households", "source", "granted", "source", "drawn", "source", "outstanding"], rows,
                    right=("households", "source", "granted", "drawn", "outstanding"))
        say(r["note_hnd"])
        from credit_coop.cli.batch import print_units

        print_units(r["departments"])
        o = r["overdue"]
        say(f"\nloan classification at {r['through']}: " + ", ".join(f"{c['class']} {yuan(c['principal_fen'])}" for c in o["by_class"])
              + f"; {o['notes']} overdue notes; NPL ratio {o['npl_ratio_percent']}%")
        c = r["compensation"]
        say(f"compensation (全额赔偿): {c['cases']} cases, {yuan(c['total_fen'])}; officers' outstanding debt {yuan(c['outstanding_debt_fen'])}")
        if r["verify_ok"]:
            say("\nverify: sound")
        else:
            say(f"\nverify: PROBLEMS: {'; '.join(r['findings'])}")
        say(f"demo ledger: {r['db']}")
        say(f"audit workbook: {r['workbook']}")
        say(f"every demo operator's passphrase is {r['passphrase']!r} (demo only). Try:")
        for hint in r["try"]:
            say(f"  {hint}")

    emit(result, human)
    if not result["verify_ok"]:  # CI's first command runs the demo: a demo that does not verify fails it
        CURRENT.error = "the demo ledger does not verify"
        raise typer.Exit(1)


COMMANDS = {"import": import_, "demo": demo}
GROUPS: dict = {}
