"""The ``credit-coop`` command: a thin shell over :mod:`credit_coop.core`.

The root is a lazy group: a run imports and builds only the command it
executes (the counter's ``draw`` does not pay for fifty other commands), and
``--help`` lists commands from the table below without importing them.
"""

import importlib
from typing import Optional

import typer
from typer.core import TyperGroup

from credit_coop.cli.base import CURRENT, DbOpt, JsonOpt, LangOpt, OperatorOpt, command, new_app

# name: (module under credit_coop.cli, short help shown by --help)
LAZY = {
    "init": ("ledger", "建账 Create a new ledger."),
    "policy": ("ledger", "制度参数 The policy in force."),
    "operator": ("ledger", "操作员与岗位 Operators and their roles."),
    "org": ("org", "组织机构 Departments, branches, townships, villages, and who belongs where."),
    "borrower": ("borrowers", "借款人 Borrowers and their qualifications."),
    "grant": ("grants", "授信 Credit grants: apply, village-review, survey, review, approve, line status."),
    "draw": ("counter", "用信 Draw down on a credit line: issues a loan note (借据)."),
    "repay": ("counter", "还款 Repay on a credit line; availability is restored (revolving)."),
    "line": ("counter", "额度查询 Credit lines as the counter sees them."),
    "loan": ("batch", "借据 Loan notes: show, reassign."),
    "batch": ("batch", "批处理 Head-office batch runs: day-end (日终), payroll (绩效工资), year-end (年终返还)."),
    "officer": ("batch", "风险补偿金 Loan officers' risk compensation funds."),
    "report": ("batch", "报表 Reports: overdue, products, compensation, trial balance, officers, SLA."),
    "export": ("exports", "导出 Audit exports: Excel workbooks and plain-text journals."),
    "reverse": ("ledger", "冲正 Reverse a posted transaction by posting its mirror image."),
    "verify": ("ledger", "校验 Recompute every balance from the journal and check every invariant."),
    "backup": ("ledger", "备份 Copy the ledger into a verified backup file (safe while tellers work)."),
    "restore": ("ledger", "恢复 Replace the ledger with a backup after checking it verifies."),
    "copy": ("ledger", "复制 Copy the whole ledger to a new file or an empty PostgreSQL database, verified."),
    "login": ("ledger", "签到 Start a shift: check the passphrase once for the following commands."),
    "logout": ("ledger", "签退 End the shift."),
    "recover": ("ledger", "恢复管理员 Unlock an admin with the recovery code printed at init."),
    "audit-log": ("ledger", "操作日志 Every command run against the ledger: who, when, what, result."),
    "import": ("data", "导入 Import a CSV from the old system through the same rules."),
    "demo": ("data", "演示 Build a fresh demo ledger from sample_data and show what it holds."),
    "resident": ("resident", "常驻进程 Keep Python started so each command starts in milliseconds."),
}


class LazyGroup(TyperGroup):
    def list_commands(self, ctx):
        return list(LAZY)

    def get_command(self, ctx, name):
        if name not in LAZY:
            return None
        module = importlib.import_module(f"credit_coop.cli.{LAZY[name][0]}")
        if name in module.GROUPS:
            return typer.main.get_command(module.GROUPS[name])
        single = new_app(LAZY[name][1])
        command(single, name)(module.COMMANDS[name])
        return typer.main.get_command(single)

    def format_commands(self, ctx, formatter):
        rows = [(name, help_) for name, (_, help_) in LAZY.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = new_app(
    "credit-coop: microcredit ledger for county rural credit cooperatives (农村信用社).\n\n"
    "Global options go before or after the command. Exit codes: 0 ok, 1 verify found problems, "
    "2 usage, 3 invalid input, 4 not found, 5 refused by a rule, 6 not permitted, 7 conflict, 8 busy, 9 no ledger.",
    cls=LazyGroup,
)


@app.callback()
def root(db: DbOpt = None, operator: OperatorOpt = None, json_output: JsonOpt = False, lang: LangOpt = None) -> None:
    CURRENT.db, CURRENT.operator, CURRENT.json, CURRENT.lang = db, operator, json_output, lang


def main(argv: Optional[list[str]] = None) -> None:
    """The console script. Under --json a usage error (unknown option, missing value) is one JSON
    document too, like every other refusal (exit 2, the line on stderr)."""
    import sys

    args = sys.argv[1:] if argv is None else list(argv)
    if "--json" not in args:
        app(args=args, prog_name="credit-coop")
        return
    import json

    try:
        code = app(args=args, prog_name="credit-coop", standalone_mode=False)
    except Exception as e:  # click's own exceptions (typer vendors click, so they are matched by shape)
        exit_code = getattr(e, "exit_code", None)
        if exit_code is None or not hasattr(e, "format_message"):
            raise
        if hasattr(e, "show"):
            e.show()
        if exit_code:
            print(json.dumps({"ok": False, "error": e.format_message(), "exit_code": exit_code}, ensure_ascii=False))
        sys.exit(exit_code)
    sys.exit(code if isinstance(code, int) else 0)
