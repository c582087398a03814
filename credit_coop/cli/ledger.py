"""credit-coop init | policy show | operator ... | verify | reverse"""

from typing import Annotated, Optional

import typer

from credit_coop.cli.base import CURRENT, OnOpt, command, emit, new_group, open_ledger, print_table, yuan

policy_app = new_group("The policy in force.")
operator_app = new_group("Operators and their roles.")




def init(
    policy: Annotated[Optional[str], typer.Option("--policy", metavar="FILE", help="Policy TOML [default: the shipped policy].")] = None,
    on: OnOpt = None,
) -> None:
    """Create a new ledger. The operator running it becomes its first admin.

    Example: credit-coop --db coop.db --operator 李主任 init
    """
    from credit_coop.core.dates import business_date
    from credit_coop.core.ledger import create_ledger

    result = create_ledger(CURRENT.db, operator=CURRENT.operator, policy_file=policy, on=business_date(on))
    emit(result, lambda r: print(f"created ledger {r['db']} for {r['cooperative']}; admin: {r['admin']}; products: {', '.join(r['products'])}"))


@command(policy_app, "show")
def policy_show() -> None:
    """Print the policy stored in the ledger.

    Example: credit-coop policy show --json
    """
    with open_ledger() as ledger:
        policy = dict(ledger.policy.data, products=ledger.policy.products)

    def human(p: dict) -> None:
        print_table(
            f"Products — {p['cooperative']['name']}",
            ["code", "name", "who", "ceiling", "max term", "note term", "rate %", "security", "village review"],
            [[c, x["name"], ", ".join(x["eligible_kinds"]), yuan(x["ceiling"]), f"{x['max_term_months']} m",
              f"{x['note_term_months']}/{x['max_note_term_months']} m", x["annual_rate_percent"], ", ".join(x["security"]),
              "yes" if x["village_review"] else ""] for c, x in p["products"].items()],
            right=("ceiling",),
        )
        bound = "≤" if p["thresholds"]["inclusive"] else "<"
        print_table(
            f"Approval tiers (by {p['approval']['exposure_basis']})",
            ["role", "amount"],
            [[t["role"], f"{bound} {yuan(t['up_to'])}" if t["up_to"] is not None else "above"] for t in p["approval"]["tiers"]],
        )
        caps = sorted(p["village_review"]["grade_caps"].items(), key=lambda gc: -gc[1])
        print_table("Village grades", ["grade", "cap"], [[g, yuan(c)] for g, c in caps])
        rest = {k: v for k, v in p.items() if k not in ("products", "product_order", "approval", "cooperative", "village_review")}
        print_table("Other settings", ["section", "setting", "value"],
                    [[s, k, v] for s, d in rest.items() for k, v in d.items()])

    emit(policy, human)


@command(operator_app, "add")
def operator_add(
    name: Annotated[str, typer.Argument(help="Operator name.")],
    role: Annotated[str, typer.Option("--role", help="teller, accountant, officer, reviewer, dept-head, deputy-director, committee, auditor, admin.")],
    on: OnOpt = None,
) -> None:
    """Register an operator (admin only).

    Example: credit-coop operator add 王柜员 --role teller
    """
    from credit_coop.core.dates import business_date
    from credit_coop.core.operators import add_operator

    with open_ledger() as ledger:
        result = add_operator(ledger, name, role, business_date(on))
    emit(result, lambda r: print(f"operator {r['name']} added as {r['role']}"))


@command(operator_app, "list")
def operator_list() -> None:
    """List operators and roles."""
    from credit_coop.core.operators import list_operators

    with open_ledger() as ledger:
        result = list_operators(ledger)
    emit(result, lambda rows: print_table("Operators", ["name", "role", "active", "added"],
                                          [[r["name"], r["role"], "yes" if r["active"] else "no", r["added_on"]] for r in rows]))


def verify() -> None:
    """Recompute every balance from the journal and check every invariant; exit 1 on findings.

    Example: credit-coop verify
    """
    from credit_coop.core.errors import EXIT_VERIFY_FAILED
    from credit_coop.core.verify import verify as core_verify

    with open_ledger() as ledger:
        result = core_verify(ledger)

    def human(r: dict) -> None:
        if r["ok"]:
            print(f"ledger is sound: {len(r['checks'])} checks passed, {len(r['accounts'])} accounts balance")
        else:
            print(f"{len(r['findings'])} problem(s) found:")
            for f in r["findings"]:
                print(f"  [{f['check']}] {f['message']}")

    emit(result, human)
    if not result["ok"]:
        raise typer.Exit(EXIT_VERIFY_FAILED)


def reverse(
    txn: Annotated[int, typer.Argument(help="Transaction id to reverse.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the reversal).")],
    request_id: Annotated[Optional[str], typer.Option("--request-id", help="Retry-safe id.")] = None,
    on: OnOpt = None,
) -> None:
    """Reverse a posted transaction by posting its mirror image (accountant/admin).

    Example: credit-coop reverse 42 --reason "wrong card keyed"
    """
    from credit_coop.core.dates import business_date
    from credit_coop.core.journal import reverse as core_reverse

    with open_ledger() as ledger:
        result = core_reverse(ledger, txn, reason, business_date(on), request_id)
    emit(result, lambda r: print(f"transaction {r['reverses']} ({r['reversed_kind']}, ¥{yuan(r['amount_fen'])}) reversed by transaction {r['txn_id']}"))


def backup(out: Annotated[str, typer.Option("--out", metavar="FILE", help="The backup file to create.")]) -> None:
    """Copy the ledger into a backup file, safely while tellers work; the copy is verified.

    Example: credit-coop backup --out /backups/coop-2025-12-31.db
    """
    from credit_coop.core.backup import backup as core_backup

    with open_ledger() as ledger:
        result = core_backup(ledger, out)
    emit(result, lambda r: print(f"backed up {r['transactions']} transactions to {r['out']} ({r['bytes']:,} bytes); the copy verifies"))


def restore(file: Annotated[str, typer.Argument(help="A backup made by `credit-coop backup`.")]) -> None:
    """Replace the ledger with a backup, after checking the backup verifies (admin).

    Example: credit-coop restore /backups/coop-2025-12-31.db
    """
    from credit_coop.core.backup import restore as core_restore

    result = core_restore(CURRENT.db, file, CURRENT.operator)
    emit(result, lambda r: print(f"restored {r['db']} from {r['from']} ({r['transactions']} transactions, verified)"))


COMMANDS = {"init": init, "verify": verify, "reverse": reverse, "backup": backup, "restore": restore}
GROUPS = {"policy": policy_app, "operator": operator_app}
