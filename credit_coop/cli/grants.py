"""credit-coop grant ... — the credit-grant workflow (授信)."""

from typing import Annotated, Optional

import typer

from credit_coop.cli.base import OnOpt, command, emit, new_group, open_ledger, print_fields, print_table, say, yuan
from credit_coop.core.labels import label, month_count, name

app = new_group("Credit grants (授信): apply, village-review, survey, review, approve, and line status.")

GrantArg = Annotated[str, typer.Argument(help="Grant number, e.g. SX2025000001.")]
RejectOpt = Annotated[Optional[str], typer.Option("--reject", metavar="REASON", help="Reject, giving the reason.")]
ReasonOpt = Annotated[Optional[str], typer.Option("--reason", help="Why (recorded with the step).")]


def _run(fn_name: str, grant: Optional[str] = None, on: Optional[str] = None, **kw):
    from credit_coop.core import grants
    from credit_coop.core.dates import business_date

    with open_ledger() as ledger:
        fn = getattr(grants, fn_name)
        args = (grant,) if grant is not None else ()
        return fn(ledger, *args, on=business_date(on), **kw)


def _print_step(r: dict) -> None:
    """One sentence per workflow step, as a loan officer would say it."""
    g = r["grant_no"]
    if r["status"] == "rejected":
        say(f"grant {g}: rejected — {r['reason']}")
    elif r["status"] == "applied":
        say(f"grant {g} accepted: {r['product_name']} {yuan(r['applied_fen'])} for {r['borrower_masked']}; next: grant {r['next']}")
    elif r["status"] == "village-reviewed":
        say(f"grant {g}: village review recorded — grade {r['grade']}, line cap {yuan(r['grade_cap_fen'])}, posted {r['posting_days']} days")
    elif r["status"] == "surveyed":
        if r["guarantors"]:
            say(f"grant {g}: surveyed — line {yuan(r['line_fen'])} for {r['term_months']} months, {r['guarantors']} guarantor(s); "
                "next: grant review")
        else:
            say(f"grant {g}: surveyed — line {yuan(r['line_fen'])} for {r['term_months']} months; next: grant review")
    elif r["status"] == "reviewed":
        say(f"grant {g}: reviewed; next: grant approve")
    else:
        say(f"grant {g} approved at the {r['approval_tier']} tier (total exposure {yuan(r['exposure_fen'])}): "
              f"contract {r['contract_no']}, loan card {r['card_no']}, line {yuan(r['line_fen'])} valid {r['valid_from']} .. {r['valid_to']}")


@command(app, "apply")
def apply(
    borrower: Annotated[str, typer.Option("--borrower", help="Borrower's ID number.")],
    product: Annotated[str, typer.Option("--product", help="hnd | sdt | gxd | pos, or the Chinese name (惠农贷 ...).")],
    amount: Annotated[str, typer.Option("--amount", help="Amount applied for.")],
    on: OnOpt = None,
) -> None:
    """Accept a credit application (受理); prints the grant number.

    Example: credit-coop grant apply --borrower 410523198005170127 --product hnd --amount 5万
    """
    emit(_run("apply_grant", on=on, borrower=borrower, product=product, amount=amount), _print_step)


@command(app, "village-review")
def village_review(
    grant: GrantArg,
    grade: Annotated[str, typer.Option("--grade", help="Village credit grade: 优秀 | 较好 | 一般.")],
    posted_from: Annotated[str, typer.Option("--posted-from", metavar="YYYY-MM-DD", help="Public posting (张榜公示) start.")],
    posted_to: Annotated[str, typer.Option("--posted-to", metavar="YYYY-MM-DD", help="Public posting end.")],
    on: OnOpt = None,
) -> None:
    """Record the village credit evaluation and public posting (惠农贷, before the survey).

    Example: credit-coop grant village-review SX2025000001 --grade 优秀 --posted-from 2025-03-02 --posted-to 2025-03-08 --on 2025-03-09
    """
    emit(_run("village_review", grant, on, grade=grade, posted_from=posted_from, posted_to=posted_to), _print_step)


@command(app, "survey")
def survey(
    grant: GrantArg,
    line: Annotated[str, typer.Option("--line", help="Proposed credit line (≤ product ceiling).")],
    term: Annotated[int, typer.Option("--term", help="Term in months (≤ product maximum).")],
    guarantor: Annotated[Optional[list[str]], typer.Option("--guarantor", help="Guarantor's ID number (商贷通; repeatable).")] = None,
    on: OnOpt = None,
) -> None:
    """The loan officer's survey (调查岗): proposes line and term.

    Example: credit-coop grant survey SX2025000001 --line 5万 --term 36
    """
    emit(_run("survey", grant, on, line=line, term_months=term, guarantors=guarantor or []), _print_step)


@command(app, "review")
def review(grant: GrantArg, reject: RejectOpt = None, on: OnOpt = None) -> None:
    """The review post (审查岗): a different person from the surveyor.

    Example: credit-coop grant review SX2025000001
    """
    emit(_run("review", grant, on, reject=reject), _print_step)


@command(app, "approve")
def approve(grant: GrantArg, reject: RejectOpt = None, on: OnOpt = None) -> None:
    """Approval (审批岗) by the tier covering the borrower's total exposure; issues contract and loan card.

    Example: credit-coop grant approve SX2025000001
    """
    emit(_run("approve", grant, on, reject=reject), _print_step)


@command(app, "freeze")
def freeze(grant: GrantArg, reason: ReasonOpt = None, on: OnOpt = None) -> None:
    """Freeze a live line (no drawdowns; repayments still taken)."""
    emit(_run("freeze", grant, on, reason=reason), _print_line_status)


@command(app, "unfreeze")
def unfreeze(grant: GrantArg, reason: ReasonOpt = None, on: OnOpt = None) -> None:
    """Unfreeze a frozen line."""
    emit(_run("unfreeze", grant, on, reason=reason), _print_line_status)


@command(app, "close")
def close(grant: GrantArg, reason: ReasonOpt = None, on: OnOpt = None) -> None:
    """Close a line with nothing outstanding."""
    emit(_run("close", grant, on, reason=reason), _print_line_status)


def _print_line_status(r: dict) -> None:
    say(f"grant {r['grant_no']} (card {r['card_no']}): {r['status']}")


@command(app, "show")
def show(grant: GrantArg, on: OnOpt = None) -> None:
    """One grant with every workflow step (一表通: survey, review, approval).

    Example: credit-coop grant show SX2025000001
    """
    from credit_coop.core.dates import business_date
    from credit_coop.core.grants import show_grant

    with open_ledger() as ledger:
        result = show_grant(ledger, grant, business_date(on))

    def human(r: dict) -> None:
        print_fields(
            f"Grant {r['grant_no']} — {r['product_name']}",
            [("borrower", f"{r['borrower_name']} {r['borrower_masked']}"), ("status", r["status"]),
             ("applied amount", yuan(r["applied_fen"])), ("village grade", r["grade"]), ("line", yuan(r["line_fen"])),
             ("term", month_count(r["term_months"]) if r["term_months"] else None),
             ("department", r["department"]), ("designated branch", r["branch"]),
             ("approval tier", r["approval_tier"]), ("exposure at approval", yuan(r["approval_exposure_fen"])),
             ("contract", r["contract_no"]), ("loan card", r["card_no"]),
             ("valid", f"{r['valid_from']} .. {r['valid_to']}" if r["valid_from"] else None),
             ("outstanding", yuan(r["outstanding_fen"])), ("available", yuan(r["available_fen"])),
             ("guarantors", ", ".join(r["guarantors_masked"]) or None), ("rejected because", r["reject_reason"])],
        )
        print_table(
            "Steps",
            ["step", "date", "operator", "detail"],
            [[s["action"], s["on"], s["operator"],
              ", ".join(f"{label(k.removesuffix('_fen'))}={yuan(v) if k.endswith('_fen') else name(v)}" for k, v in s["detail"].items())]
             for s in r["steps"]],
        )

    emit(result, human)


@command(app, "list")
def list_(
    product: Annotated[Optional[str], typer.Option("--product", help="Only this product.")] = None,
    status: Annotated[Optional[str], typer.Option("--status", help="applied, village-reviewed, surveyed, reviewed, live, frozen, expired, rejected, closed.")] = None,
    on: OnOpt = None,
) -> None:
    """List grants.

    Example: credit-coop grant list --product hnd --status live
    """
    from credit_coop.core.dates import business_date
    from credit_coop.core.grants import list_grants

    with open_ledger() as ledger:
        result = list_grants(ledger, product, status, business_date(on))
    emit(
        result,
        lambda rows: print_table(
            f"Grants ({len(rows)})",
            ["grant", "product", "borrower", "status", "line", "outstanding", "card", "valid to", "tier"],
            [[r["grant_no"], r["product_name"], r["borrower_masked"], r["status"], yuan(r["line_fen"]),
              yuan(r["outstanding_fen"]), r["card_no"], r["valid_to"], r["approval_tier"]] for r in rows],
            right=("line", "outstanding"),
        ),
        key="grants",
    )


COMMANDS: dict = {}
GROUPS = {"grant": app}
