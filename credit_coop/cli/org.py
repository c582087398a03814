"""credit-coop org ...: the union's departments, branches, townships and villages, and who belongs where."""

from typing import Annotated

import typer

from credit_coop.cli.base import OnOpt, command, emit, new_group, open_ledger, print_table, say

app = new_group("组织机构 The union's organisation: departments, branches, townships, villages, staff.")


def _on(on):
    from credit_coop.core.dates import business_date

    return business_date(on)


@command(app, "add")
def org_add(
    kind: Annotated[str, typer.Argument(help="department (个人客户部) or branch (信用社 / 营业网点).")],
    code: Annotated[str, typer.Argument(help="A short code, e.g. D1 or B-ZHAI.")],
    name: Annotated[str, typer.Option("--name", help="Its name, e.g. 第一客户部 or 寨子信用社.")],
    on: OnOpt = None,
) -> None:
    """Add a customer department or a branch counter (admin).

    Example: credit-coop org add department D1 --name 第一客户部
    """
    from credit_coop.core.organisation import add_unit

    with open_ledger() as ledger:
        result = add_unit(ledger, kind, code, name, _on(on))
    emit(result, lambda r: say(f"{r['kind']} {r['code']} added: {r['name']}"))


@command(app, "rename")
def org_rename(
    code: Annotated[str, typer.Argument(help="The unit's code.")],
    name: Annotated[str, typer.Option("--name", help="The new name.")],
) -> None:
    """Rename a department or branch (admin); its code, history and postings stay.

    Example: credit-coop org rename D1 --name 城关客户部
    """
    from credit_coop.core.organisation import rename_unit

    with open_ledger() as ledger:
        result = rename_unit(ledger, code, name)
    emit(result, lambda r: say(f"{r['code']} renamed: {r['was']} → {r['name']}"))


@command(app, "township")
def org_township(
    township: Annotated[str, typer.Argument(help="The township (乡镇).")],
    department: Annotated[str, typer.Option("--department", help="The customer department covering it.")],
    branch: Annotated[str, typer.Option("--branch", help="The branch counter serving it.")],
    on: OnOpt = None,
) -> None:
    """Record a township and who serves it, or move it (admin): new grants there take the new units,
    earlier grants keep theirs.

    Example: credit-coop org township 寨子镇 --department D1 --branch B1 --on 2025-03-01
    """
    from credit_coop.core.organisation import place_township

    with open_ledger() as ledger:
        result = place_township(ledger, township, department=department, branch=branch, on=_on(on))
    emit(result, lambda r: say(f"township {r['township']}: department {r['department']}, branch {r['branch']} from {r['from']}"))


@command(app, "village")
def org_village(
    village: Annotated[str, typer.Argument(help="The village (村).")],
    township: Annotated[str, typer.Option("--township", help="The township it lies in.")],
) -> None:
    """Record a village in its township (admin); a borrower's village places their grants.

    Example: credit-coop org village 王庄村 --township 寨子镇
    """
    from credit_coop.core.organisation import add_village

    with open_ledger() as ledger:
        result = add_village(ledger, village, township)
    emit(result, lambda r: say(f"village {r['village']} is in {r['township']}"))


@command(app, "assign")
def org_assign(
    name: Annotated[str, typer.Argument(help="The operator.")],
    unit: Annotated[str, typer.Option("--to", help="Department (officers, reviewers, department heads) or branch (tellers, accountants).")],
    on: OnOpt = None,
) -> None:
    """Put an operator in a department or branch, or move them (admin), from a business date.

    Example: credit-coop org assign 王柜员 --to B1 --on 2025-03-01
    """
    from credit_coop.core.organisation import assign_operator

    with open_ledger() as ledger:
        result = assign_operator(ledger, name, unit, _on(on))
    emit(result, lambda r: say(f"{r['operator']} belongs to {r['unit']} from {r['from']}"))


@command(app, "show")
def org_show(on: OnOpt = None) -> None:
    """Departments, branches, townships with their villages, and staff by unit, as of a date.

    Example: credit-coop org show
    """
    from credit_coop.core.organisation import show_organisation

    with open_ledger() as ledger:
        result = show_organisation(ledger, _on(on))

    def human(r: dict) -> None:
        print_table("Departments and branches", ["code", "kind", "name", "added"],
                    [[u["code"], u["kind"], u["name"], u["added_on"]] for u in r["units"]])
        if r["townships"]:
            print_table(f"Townships as of {r['as_of']}", ["township", "department", "branch", "villages"],
                        [[t["township"], t["department"], t["branch"], "、".join(t["villages"])] for t in r["townships"]])
        print_table("Staff by unit", ["name", "role", "unit"], [[o["name"], o["role"], o["unit"]] for o in r["operators"]])

    emit(result, human)


COMMANDS: dict = {}
GROUPS = {"org": app}
