"""Deterministic fault points for crash tests (issue 14): ``CREDIT_COOP_FAULT=POINT:N`` kills the
process with SIGKILL the N-th time the named point is reached, so a test knows its kill landed
mid-run instead of hoping a timed kill did.

Points: ``day-end`` (after the N-th day is committed), ``import`` / ``payroll`` / ``year-end``
(inside the transaction, after the N-th row or officer, before the commit), ``draw`` / ``repay``
(inside the transaction, after the posting, before the commit), ``backup`` (after the copy is
verified, before it is renamed into place), ``restore`` (after the replaced ledger is kept, in
the middle of writing the backup over it).

``POINT:N:pause`` holds the process there instead (for five minutes) after writing its pid to the file
``CREDIT_COOP_FAULT_MARK`` names: a test then knows the command is mid-transaction when it kills
another process (the caller of a command run by the resident process, or the resident itself).
"""

from __future__ import annotations

import os

_counts: dict[str, int] = {}


def fault(point: str) -> None:
    """Die here if ``CREDIT_COOP_FAULT`` names this point and its count is reached."""
    spec = os.environ.get("CREDIT_COOP_FAULT")
    if not spec:
        return
    name, _, rest = spec.partition(":")
    if name != point:
        return
    n, _, mode = rest.partition(":")
    _counts[point] = _counts.get(point, 0) + 1
    if _counts[point] >= int(n or 1):
        if mode == "pause":
            import time

            with open(os.environ["CREDIT_COOP_FAULT_MARK"], "w") as mark:
                mark.write(str(os.getpid()))
            time.sleep(300)
            return
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
