"""``credit-coop resident start|stop|status``: the resident process that runs this user's commands
in forks of an already started Python (credit_coop/resident.py)."""

from typing import Annotated

import typer

from credit_coop.cli.base import command, emit, new_group, say

app = new_group("常驻进程 A resident process: commands start in milliseconds (the counter's PC, a server ledger).")


def _said(r: dict) -> None:
    if r.get("running"):
        say(f"resident process {r['pid']} is running: {r['commands']} command(s) served, socket {r['socket']}")
    else:
        say("no resident process is running")


@command(app, "start")
def start(
    idle_minutes: Annotated[int, typer.Option("--idle-minutes", help="Stop after this long without a command.")] = 720,
) -> None:
    """Start the resident process for this user (in the background; it stops by itself when idle).

    Example: credit-coop resident start
    """
    from credit_coop import resident

    emit(resident.start(idle_minutes=idle_minutes), _said)


@command(app, "status")
def status() -> None:
    """Whether a resident process runs for this user, and how many commands it served."""
    from credit_coop import resident

    emit(resident.status(), _said)


@command(app, "stop")
def stop() -> None:
    """Stop the resident process: running commands finish first."""
    from credit_coop import resident

    emit(resident.stop(), lambda r: say(f"resident process {r['stopped_pid']} stopped"))


COMMANDS: dict = {}
GROUPS = {"resident": app}
