"""Domain exceptions. Each carries a message a teller understands and the
process exit code the CLI uses for it (the one place codes are defined).

| code | meaning |
|------|---------|
| 0 | success |
| 1 | `verify` found problems |
| 2 | command-line usage error (unknown option, missing argument) |
| 3 | invalid input: an amount, date, ID number or value that does not parse |
| 4 | not found: unknown borrower, grant, card, loan note, operator |
| 5 | refused by a rule: ceiling, tier, availability, line not live, workflow order |
| 6 | not permitted: the operator's role may not do this |
| 7 | conflict: already exists, or a request id reused with different content |
| 8 | ledger busy: another process holds the write lock; retry |
| 9 | ledger unavailable: no ledger at the path, or it cannot be opened |
"""


class LedgerError(Exception):
    """Base class: a refusal the user can act on. ``str(err)`` is the message."""

    exit_code = 9


class InvalidInput(LedgerError):
    exit_code = 3


class NotFound(LedgerError):
    exit_code = 4


class RuleViolation(LedgerError):
    exit_code = 5


class NotPermitted(LedgerError):
    exit_code = 6


class Conflict(LedgerError):
    exit_code = 7


class LedgerBusy(LedgerError):
    exit_code = 8


class LedgerUnavailable(LedgerError):
    exit_code = 9


EXIT_VERIFY_FAILED = 1
EXIT_USAGE = 2
