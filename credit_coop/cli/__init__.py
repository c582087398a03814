"""The ``credit-coop`` command: a thin shell over :mod:`credit_coop.core`."""

from typing import Optional

import typer

from credit_coop.cli import batch, borrowers, counter, data, exports, grants, ledger
from credit_coop.cli.base import CURRENT, DbOpt, JsonOpt, OperatorOpt, new_app

app = new_app(
    "credit-coop: microcredit ledger for county rural credit cooperatives (农村信用社).\n\n"
    "Global options go before or after the command. Exit codes: 0 ok, 1 verify found problems, "
    "2 usage, 3 invalid input, 4 not found, 5 refused by a rule, 6 not permitted, 7 conflict, 8 busy, 9 no ledger."
)


@app.callback()
def root(db: DbOpt = None, operator: OperatorOpt = None, json_output: JsonOpt = False) -> None:
    CURRENT.db, CURRENT.operator, CURRENT.json = db, operator, json_output


ledger.register(app)
app.add_typer(borrowers.app, name="borrower")
app.add_typer(grants.app, name="grant")
counter.register(app)
data.register(app)
batch.register(app)
app.add_typer(exports.app, name="export")


def main(argv: Optional[list[str]] = None) -> None:
    app(args=argv, prog_name="credit-coop")
