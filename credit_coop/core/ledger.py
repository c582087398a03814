"""The ledger handle every core function takes: store + policy + who is acting."""

from __future__ import annotations

import os
import unicodedata
import uuid
from datetime import date
from functools import cached_property

from credit_coop.core.errors import InvalidInput
from credit_coop.core.policy import Policy
from credit_coop.store import Store, create_store, open_store, remove_store


def default_db_path() -> str:
    """``$CREDIT_COOP_DB``, else ``~/.local/share/credit-coop/ledger.db`` (XDG data home)."""
    env = os.environ.get("CREDIT_COOP_DB")
    if env:
        return env
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "credit-coop", "ledger.db")


class Ledger:
    """An open ledger. Use as a context manager or call :meth:`close`."""

    def __init__(self, store: Store, operator: str | None = None):
        self.store = store
        self.operator = operator.strip() if operator else None
        # Set only while a back-dated correction runs: closed days from this date on take postings.
        self.reopened_from: date | None = None

    @classmethod
    def open(cls, path: str | None = None, operator: str | None = None) -> "Ledger":
        return cls(open_store(path or default_db_path()), operator)

    @cached_property
    def policy(self) -> Policy:
        return Policy.from_json(self.store.get_meta("policy"))

    def acting_as(self, operator: str) -> "Ledger":
        """The same open ledger, another operator acting (batch imports run each step as its operator)."""
        other = Ledger(self.store, operator)
        other.__dict__["policy"] = self.policy
        return other

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def create_ledger(path: str | None, *, operator: str | None, policy_file: str | None = None, on: date | None = None,
                  passphrase: str | None = None) -> dict:
    """``credit-coop init``: a new ledger with the given (or shipped) policy.

    The operator who creates it becomes its first admin.
    """
    from credit_coop.core.operators import check_operator_name
    from credit_coop.core.policy import load_policy_file

    path = path or default_db_path()
    from credit_coop.core.auth import hash_passphrase, valid_new_passphrase

    admin = check_operator_name(operator or "admin")
    policy = load_policy_file(policy_file)  # checked before anything touches the disk
    stored = hash_passphrase(valid_new_passphrase(passphrase)) if passphrase is not None else None
    on = on or date.today()
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))) and path == default_db_path():
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    store = create_store(path)
    try:
        with store.write():
            store.set_meta("policy", policy.to_json())
            store.set_meta("created_on", on.isoformat())
            store.set_meta("created_by", admin)
            store.set_meta("ledger_id", uuid.uuid4().hex)  # a backup is restored only into the ledger it came from
            store.insert_operator(admin, "admin", on.isoformat(), admin)
            store.update_operator(admin, passphrase=stored)
            from credit_coop.core.auth import new_recovery_code

            recovery = new_recovery_code(Ledger(store, admin))
    except BaseException:
        store.close()
        remove_store(path)  # a ledger that was never finished is not left behind
        raise
    store.close()
    return {"db": path, "admin": admin, "cooperative": policy["cooperative"]["name"], "products": list(policy.products),
            "recovery_code": recovery}


def require_text(value: str | None, what: str, max_len: int = 200) -> str:
    """A free-text field a person typed (name, village, reason): non-empty, one line."""
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"{what} must not be empty")
    if len(text) > max_len:
        raise InvalidInput(f"{what} is longer than {max_len} characters")
    if any(ord(c) < 32 for c in text):
        raise InvalidInput(f"{what} must be a single line of text")
    bad = next((c for c in text if unicodedata.category(c) in _INVISIBLE), None)
    if bad is not None:
        raise InvalidInput(f"{what} contains an invisible control character (U+{ord(bad):04X}); type it again")
    return text


# DEL and C1 controls (Cc), direction overrides such as U+202E and other format characters (Cf),
# line/paragraph separators and lone surrogates: stored raw they reorder or hide what staff see.
_INVISIBLE = ("Cc", "Cf", "Zl", "Zp", "Cs")
