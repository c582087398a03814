"""credit-coop init | policy show | operator ... | verify | reverse"""

from typing import Annotated, Optional

import typer

from credit_coop.cli.base import CURRENT, OnOpt, PostingOnOpt, command, emit, fail, new_group, open_ledger, print_correction, print_table, say, yuan
from credit_coop.core.labels import month_count, name, names

policy_app = new_group("The policy in force.")
operator_app = new_group("Operators and their roles.")




def init(
    policy: Annotated[Optional[str], typer.Option("--policy", metavar="FILE", help="Policy TOML [default: the shipped policy].")] = None,
    on: OnOpt = None,
) -> None:
    """Create a new ledger. The operator running it becomes its first admin.

    Example: credit-coop --db coop.db --operator 李主任 init
    """
    from credit_coop.cli.base import passphrase
    from credit_coop.core.dates import business_date
    from credit_coop.core.errors import InvalidInput
    from credit_coop.core.ledger import create_ledger

    secret = passphrase("passphrase for the new admin: ", confirm=True)
    if secret is None:
        raise InvalidInput("the first admin needs a passphrase: set CREDIT_COOP_PASSWORD or run init on a terminal")
    result = create_ledger(CURRENT.db, operator=CURRENT.operator, policy_file=policy, on=business_date(on), passphrase=secret)
    def human(r: dict) -> None:
        say(f"created ledger {r['db']} for {r['cooperative']}; admin: {r['admin']}; products: {', '.join(r['products'])}")
        say(f"recovery code (shown once; keep it sealed, away from the ledger): {r['recovery_code']}")
        say("  it unlocks an admin when no admin can sign in: credit-coop --operator ADMIN recover")

    emit(result, human)


@command(policy_app, "show")
def policy_show() -> None:
    """Print the policy stored in the ledger.

    Example: credit-coop policy show --json
    """
    with open_ledger() as ledger:
        policy = ledger.policy.public()

    def human(p: dict) -> None:
        print_table(
            f"Products — {p['cooperative']['name']}",
            ["code", "product name", "eligible", "ceiling", "max term", "note term", "rate %", "security", "village review"],
            [[c, x["name"], names(x["eligible_kinds"]), yuan(x["ceiling_fen"]), month_count(x['max_term_months']),
              month_count(f"{x['note_term_months']}/{x['max_note_term_months']}"), x["annual_rate_percent"], names(x["security"]),
              name("yes") if x["village_review"] else ""] for c, x in p["products"].items()],
            right=("ceiling",),
        )
        bound = "≤" if p["thresholds"]["inclusive"] else "<"
        print_table(
            f"Approval tiers (by {p['approval']['exposure_basis']})",
            ["role", "amount"],
            [[t["role"], f"{bound} {yuan(t['up_to_fen'])}" if t["up_to_fen"] is not None else name("above")] for t in p["approval"]["tiers"]],
        )
        caps = sorted(p["village_review"]["grade_caps_fen"].items(), key=lambda gc: -gc[1])
        print_table("Village grades", ["grade", "cap"], [[g, yuan(c)] for g, c in caps])
        rest = {k: v for k, v in p.items() if k not in ("products", "product_order", "approval", "cooperative", "village_review")}
        print_table("Other settings", ["section", "setting", "value"],
                    [[s, k, v] for s, d in rest.items() for k, v in d.items()])

    emit(policy, human)


@command(operator_app, "add")
def operator_add(
    name: Annotated[str, typer.Argument(help="Operator name.")],
    role: Annotated[str, typer.Option("--role", help="teller, accountant, officer, reviewer, dept-head, deputy-director, committee, auditor, admin.")],
    id_number: Annotated[Optional[str], typer.Option("--id-number", help="The operator's own ID number (they may never act on their own credit).")] = None,
    on: OnOpt = None,
) -> None:
    """Register an operator (admin only). Their passphrase comes from CREDIT_COOP_NEW_PASSWORD or a prompt.

    Example: CREDIT_COOP_NEW_PASSWORD=... credit-coop operator add 王柜员 --role teller
    """
    from credit_coop.cli.base import passphrase
    from credit_coop.core.dates import business_date
    from credit_coop.core.operators import add_operator

    with open_ledger() as ledger:
        secret = passphrase(f"passphrase for {name}: ", confirm=True, env="CREDIT_COOP_NEW_PASSWORD")
        result = add_operator(ledger, name, role, business_date(on), passphrase=secret, id_number=id_number)
    emit(result, lambda r: say(f"operator {r['name']} added as {r['role']}"
                                 + ("" if r["has_passphrase"] else f"; no passphrase yet: `credit-coop operator passwd {r['name']}`")))


@command(operator_app, "passwd")
def operator_passwd(name: Annotated[str, typer.Argument(help="Operator (yourself, or anyone if you are admin).")]) -> None:
    """Set a passphrase (from CREDIT_COOP_NEW_PASSWORD or a prompt).

    Example: credit-coop operator passwd 王柜员
    """
    from credit_coop.cli.base import passphrase
    from credit_coop.core.auth import set_passphrase
    from credit_coop.core.errors import InvalidInput

    with open_ledger() as ledger:
        secret = passphrase(f"new passphrase for {name}: ", confirm=True, env="CREDIT_COOP_NEW_PASSWORD")
        if secret is None:
            raise InvalidInput("give the new passphrase in CREDIT_COOP_NEW_PASSWORD or on a terminal")
        set_passphrase(ledger, name, secret)
    emit({"name": name, "passphrase": "set"}, lambda r: say(f"passphrase set for {r['name']}"))


@command(operator_app, "unlock")
def operator_unlock(name: Annotated[str, typer.Argument(help="The locked operator.")]) -> None:
    """Unlock an operator locked after five failed attempts (admin).

    Example: credit-coop operator unlock 王柜员
    """
    from credit_coop.core.auth import unlock

    with open_ledger() as ledger:
        result = unlock(ledger, name)
    emit(result, lambda r: say(f"{r['name']} unlocked"))


@command(operator_app, "set-role")
def operator_set_role(
    name: Annotated[str, typer.Argument(help="The operator.")],
    role: Annotated[str, typer.Option("--role", help="The new role.")],
) -> None:
    """Change another operator's role (admin; never one's own).

    Example: credit-coop operator set-role 张经理 --role dept-head
    """
    from credit_coop.core.operators import set_role

    with open_ledger() as ledger:
        result = set_role(ledger, name, role)
    emit(result, lambda r: say(f"{r['name']} is now {r['role']}"))


@command(operator_app, "set-id")
def operator_set_id(
    name: Annotated[str, typer.Argument(help="The operator.")],
    id_number: Annotated[str, typer.Option("--id-number", help="Their 18-digit resident ID number.")],
) -> None:
    """Record an operator's ID number (admin), so nobody acts on credit where they are the borrower.

    Example: credit-coop operator set-id 王柜员 --id-number 410523198005170127
    """
    from credit_coop.core.operators import set_id_number

    with open_ledger() as ledger:
        result = set_id_number(ledger, name, id_number)
    emit(result, lambda r: say(f"{r['name']}: ID number {r['id_masked']} recorded"))


def login(hours: Annotated[Optional[int], typer.Option("--hours", help="How long the session lasts [default and most: the policy's shift, 12].")] = None) -> None:
    """Start a shift: check the passphrase once; later commands by this operator use the session.

    Example: credit-coop --operator 王柜员 login
    """
    import os

    from credit_coop.cli.base import session_path
    from credit_coop.core.auth import new_session

    with open_ledger() as ledger:
        session = new_session(ledger, hours)
        path = session_path(ledger)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(session["token"])
        who = ledger.operator
    emit({"operator": who, "hours": session["hours"], "session_file": path},
         lambda r: say(f"{r['operator']} logged in for {r['hours']} hours"))


def logout() -> None:
    """End the shift: the session stops working, a copy of it too.

    Example: credit-coop --operator 王柜员 logout
    """
    import os

    from credit_coop.cli.base import session_path, session_token
    from credit_coop.core.auth import end_session
    from credit_coop.core.ledger import Ledger

    with Ledger.open(CURRENT.db, CURRENT.operator) as ledger:
        path = session_path(ledger)
        ended = end_session(ledger, session_token(ledger))
        ledger.store.audit(ledger.operator, "logout", None)
    if os.path.exists(path):
        os.remove(path)
        ended = True
    emit({"operator": CURRENT.operator, "logged_out": ended}, lambda r: say(f"{r['operator']} logged out" if r["logged_out"] else "no session"))


def recover() -> None:
    """Unlock an admin with the recovery code printed at init, when no admin can sign in.

    Needs the ledger file and the code (CREDIT_COOP_RECOVERY_CODE or the prompt); a new
    passphrase from CREDIT_COOP_NEW_PASSWORD (or the prompt) is set too. Prints a new code.

    Example: credit-coop --operator 李主任 recover
    """
    from credit_coop.cli.base import passphrase
    from credit_coop.core.auth import recover as core_recover
    from credit_coop.core.ledger import Ledger

    code = passphrase("recovery code: ", env="CREDIT_COOP_RECOVERY_CODE")
    new = passphrase("new passphrase: ", confirm=True, env="CREDIT_COOP_NEW_PASSWORD")
    with Ledger.open(CURRENT.db, CURRENT.operator) as ledger:
        result = core_recover(ledger, CURRENT.operator or "", code, new)

    def human(r: dict) -> None:
        say(f"{r['admin']} is unlocked" + (" with a new passphrase" if r["passphrase_set"] else ""))
        say(f"the old recovery code is used up; the new one (shown once): {r['recovery_code']}")

    emit(result, human)


@command(operator_app, "recovery-code")
def operator_recovery_code() -> None:
    """Issue a new recovery code (admin); the old one stops working. Shown once.

    Example: credit-coop operator recovery-code
    """
    from credit_coop.core.auth import issue_recovery_code

    with open_ledger() as ledger:
        result = issue_recovery_code(ledger)
    emit(result, lambda r: say(f"recovery code (shown once; keep it sealed, away from the ledger): {r['recovery_code']}"))


def audit_log(
    first: Annotated[Optional[str], typer.Option("--from", metavar="YYYY-MM-DD", help="From this day.")] = None,
    operator: Annotated[Optional[str], typer.Option("--by", help="Only this operator.")] = None,
    unmasked: Annotated[bool, typer.Option("--unmasked", help="Full ID numbers (auditor/admin; the asking is logged).")] = False,
) -> None:
    """Every command run against the ledger: who, when (the union's time zone), what, result (auditor, admin).

    Example: credit-coop audit-log --from 2025-12-01 --by 王柜员
    """
    from credit_coop.core.audit import audit_entries

    with open_ledger() as ledger:
        rows = audit_entries(ledger, first, operator, unmasked=unmasked)
    emit(rows, lambda rs: print_table("Audit log", ["at", "operator", "command", "detail", "result"],
                                      [[r["at"], r["operator"], r["action"], r["detail"], r["result"]] for r in rs]),
         key="entries")


@command(operator_app, "list")
def operator_list() -> None:
    """List operators and roles."""
    from credit_coop.core.operators import list_operators

    with open_ledger() as ledger:
        result = list_operators(ledger)
    emit(result, lambda rows: print_table("Operators", ["name", "role", "active", "added"],
                                          [[r["name"], r["role"], "yes" if r["active"] else "no", r["added_on"]] for r in rows]), key="operators")


def verify(
    head: Annotated[Optional[list[str]], typer.Option(
        "--head", metavar="HASH@T.R", help="A head recorded earlier (day-end slip, audit export): the ledger must pass through it.")] = None,
) -> None:
    """Recompute every balance from the journal and check every invariant; exit 1 on findings.

    Example: credit-coop verify --head 5d1c0b9e2f4a7a3b8c6d0e1f2a3b4c5d@14197.52
    """
    from credit_coop.core.errors import EXIT_VERIFY_FAILED
    from credit_coop.core.verify import verify as core_verify

    with open_ledger() as ledger:
        result = core_verify(ledger, head)

    def human(r: dict) -> None:
        if r["ok"]:
            say(f"ledger is sound: {len(r['checks'])} checks passed, {len(r['accounts'])} accounts balance"
                  + (f"; it passes through {len(head)} recorded head(s)" if head else ""))
            say(f"head now: {r['head']}  (keep it outside the file: `verify --head` proves later that nothing before it changed)")
        else:
            say(f"{len(r['findings'])} problem(s) found:")
            for f in r["findings"]:
                say(f"  [{f['check']}] {f['message']}")

    emit(result, human)
    if not result["ok"]:
        CURRENT.error = f"verify found {len(result['findings'])} problem(s)"  # the audit log says so
        raise typer.Exit(EXIT_VERIFY_FAILED)


def reverse(
    txn: Annotated[int, typer.Argument(help="Transaction id to reverse.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the reversal).")],
    request_id: Annotated[Optional[str], typer.Option("--request-id", help="Retry-safe id.")] = None,
    on: PostingOnOpt = None,
    correction: Annotated[bool, typer.Option(
        "--correction", help="Back-dated: reverse on a closed --on date; the line's interest is recomputed since.")] = False,
) -> None:
    """Reverse a posted transaction by posting its mirror image (accountant/admin).

    Example: credit-coop reverse 42 --reason "wrong card keyed"

    On a closed day: credit-coop reverse 42 --reason "wrong card" --on 2025-03-05 --correction
    """
    from credit_coop.core.journal import reverse as core_reverse

    with open_ledger() as ledger:
        result = core_reverse(ledger, txn, reason, on, request_id, correction=correction)
    emit(result, _print_reversal)


def _print_reversal(r: dict) -> None:
    say(f"transaction {r['reverses']} ({r['reversed_kind']}, ¥{yuan(r['amount_fen'])}) reversed by transaction {r['txn_id']}")
    print_correction(r)


def backup(out: Annotated[str, typer.Option("--out", metavar="FILE", help="The backup file to create.")]) -> None:
    """Copy the ledger into a backup file, safely while tellers work; the copy is verified.

    Example: credit-coop backup --out /backups/coop-2025-12-31.db
    """
    from credit_coop.core.backup import backup as core_backup

    with open_ledger() as ledger:
        result = core_backup(ledger, out)
    emit(result, lambda r: say(f"backed up {r['transactions']} transactions to {r['out']} ({r['bytes']:,} bytes); the copy verifies"))


def copy(to: Annotated[str, typer.Option("--to", metavar="LOCATION",
                                          help="A new SQLite file, or an empty PostgreSQL database: postgresql://USER@HOST:PORT/DB.")]) -> None:
    """Copy the whole ledger into a new one (admin): a file onto a database server, or a server ledger into a file.

    Every table, both hash chains and the audit log; the copy is verified before it is kept. Credentials
    follow libpq (the URL, PGPASSWORD, ~/.pgpass); a password is never printed.

    Example: credit-coop copy --to postgresql://coop@db.lianshe.local:5432/coop
    """
    from credit_coop.core.backup import copy as core_copy

    with open_ledger() as ledger:
        result = core_copy(ledger, to)
    emit(result, lambda r: say(f"copied {r['transactions']} transactions ({r['rows']:,} rows in {r['tables']} tables) "
                               f"to {r['to']}; the copy verifies"))


def restore(
    file: Annotated[str, typer.Argument(help="A backup made by `credit-coop backup`.")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: replace the ledger (for scripts; a terminal asks).")] = False,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why (kept in the audit log).")] = None,
    force: Annotated[Optional[str], typer.Option(
        "--force", metavar="REASON", help="Restore a backup that is not a past state of this ledger, and say why.")] = None,
) -> None:
    """Replace the ledger with a backup of one of its past states (admin); the replaced ledger is kept beside it.

    Shows what would be lost (transactions, closed days, audit rows) and asks to confirm.

    Example: credit-coop restore /backups/coop-2025-12-31.db --reason "disk fault on 01-03" --yes
    """
    import sys

    from credit_coop.core.backup import ledger_exists, restore as core_restore, restore_plan
    from credit_coop.core.ledger import default_db_path

    if ledger_exists(CURRENT.db or default_db_path()):
        with open_ledger():  # the restoring admin proves who they are on the current ledger
            pass
    plan = restore_plan(CURRENT.db, file, CURRENT.operator, force)
    if not yes:
        if not CURRENT.json:
            _print_restore_plan(plan)
        if CURRENT.json or not sys.stdin.isatty() or not typer.confirm("replace the ledger with this backup?", default=False):
            fail(5, "restore not confirmed; nothing changed (pass --yes to confirm)")
    result = core_restore(CURRENT.db, file, CURRENT.operator, force=force, reason=reason)

    def human(r: dict) -> None:
        if yes:
            _print_restore_plan(r)
        say(f"restored {r['db']} from {r['from']} ({r['transactions']} transactions, verified)")
        if r["kept_as"]:
            say(f"the replaced ledger is kept as {r['kept_as']}")

    emit(result, human)


def _print_restore_plan(p: dict) -> None:
    for problem in p["problems"]:
        say(f"warning: {problem} (forced: {p['forced']})")
    if p["current"] is None:
        say(f"{p['db']}: no ledger there yet; the backup becomes it")
        return
    if not p["lost_transactions"] and not p["lost_days"] and not p["lost_audit_rows"]:
        say("the backup holds everything the ledger holds; nothing is lost")
        return
    say(f"restoring loses {p['lost_transactions']} transaction(s) posted after the backup:")
    for kind, k in p["lost"].items():
        say(f"  {kind:<22} {k['count']:>6}   ¥{yuan(k['amount_fen'])}")
    if p["lost_days"]:
        say(f"  closed days {p['lost_days']['from'] or '(none)'} → {p['lost_days']['through']} become open again")
    say(f"  {p['lost_audit_rows']} audit-log row(s) (kept in the replaced file)")


COMMANDS = {"init": init, "verify": verify, "reverse": reverse, "backup": backup, "copy": copy, "restore": restore,
            "login": login, "logout": logout, "audit-log": audit_log, "recover": recover}
GROUPS = {"policy": policy_app, "operator": operator_app}
