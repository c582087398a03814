"""Who may act: passphrases, lockout, teller sessions (issue: reliability and security).

- Each operator's passphrase is stored as a salted scrypt hash (hashlib,
  n=2^14, r=8, p=1): ``scrypt$n$r$p$salt$hash``.
- Five failed attempts in a row lock the operator until an admin unlocks them;
  every failure is written to the audit log (never the passphrase).
- A teller runs ``credit-coop login`` once per shift: the passphrase is checked
  once and a session token — operator, expiry and an HMAC under the ledger's
  session key — is kept in a file readable only by the user. Later commands
  present it instead of re-running scrypt (30 ms), so the counter stays fast.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time

from credit_coop.core.errors import InvalidInput, NotPermitted
from credit_coop.core.ledger import Ledger

COST = 2**14
MAX_FAILURES = 5
SESSION_HOURS = 10
MIN_LENGTH = 6


def hash_passphrase(passphrase: str, *, cost: int = COST) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(passphrase.encode("utf-8"), salt=salt, n=cost, r=8, p=1, dklen=32)
    return f"scrypt${cost}$8$1${salt.hex()}${digest.hex()}"


def check_passphrase(passphrase: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(passphrase.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def valid_new_passphrase(passphrase: str | None) -> str:
    if not passphrase or len(passphrase) < MIN_LENGTH:
        raise InvalidInput(f"a passphrase needs at least {MIN_LENGTH} characters")
    return passphrase


def set_passphrase(ledger: Ledger, name: str, passphrase: str, *, cost: int = COST) -> None:
    """Set an operator's passphrase (admin for anyone; anyone for themself)."""
    store = ledger.store
    op = store.get_operator(name)
    if op is None:
        raise NotPermitted(f"operator {name} is not registered in this ledger")
    me = store.get_operator(ledger.operator or "")
    if ledger.operator != name and (me is None or me["role"] != "admin"):
        raise NotPermitted("only an admin sets another operator's passphrase")
    stored = hash_passphrase(valid_new_passphrase(passphrase), cost=cost)
    with store.write():
        store.update_operator(name, passphrase=stored, failed_attempts=0)
    store.audit(ledger.operator, "passphrase set", name)


def authenticate(ledger: Ledger, passphrase: str | None, session_token: str | None = None) -> None:
    """Check that ``ledger.operator`` is who they say: a passphrase, or a valid session token."""
    store = ledger.store
    name = ledger.operator
    if not name:
        raise NotPermitted("who is acting? pass --operator NAME or set CREDIT_COOP_OPERATOR")
    op = store.get_operator(name)
    if op is None:
        store.audit(name, "login refused", "unknown operator", result="refused")
        raise NotPermitted(f"operator {name} is not registered in this ledger")
    if op["locked"]:
        store.audit(name, "login refused", "operator locked", result="refused")
        raise NotPermitted(f"operator {name} is locked after {MAX_FAILURES} failed attempts; an admin must unlock them")
    if not op["active"]:
        raise NotPermitted(f"operator {name} is not active")
    if passphrase is None and session_token is not None and _session_ok(ledger, name, session_token):
        return
    if not op["passphrase"]:
        raise NotPermitted(f"operator {name} has no passphrase yet; an admin sets one with `credit-coop operator passwd {name}`")
    if passphrase is None:
        raise NotPermitted("give your passphrase (CREDIT_COOP_PASSWORD, the prompt, or `credit-coop login` for a shift)")
    if check_passphrase(passphrase, op["passphrase"]):
        if op["failed_attempts"]:
            with store.write():
                store.update_operator(name, failed_attempts=0)
        return
    failures = op["failed_attempts"] + 1
    with store.write():
        store.update_operator(name, failed_attempts=failures, locked=1 if failures >= MAX_FAILURES else 0)
        store.audit(name, "login failed", f"attempt {failures}", result="refused")
    if failures >= MAX_FAILURES:
        raise NotPermitted(f"wrong passphrase; operator {name} is now locked, an admin must unlock them")
    raise NotPermitted(f"wrong passphrase ({MAX_FAILURES - failures} attempts left before the operator is locked)")


def unlock(ledger: Ledger, name: str) -> dict:
    from credit_coop.core.operators import require

    require(ledger, "operator.unlock")
    store = ledger.store
    if store.get_operator(name) is None:
        raise NotPermitted(f"operator {name} is not registered in this ledger")
    with store.write():
        store.update_operator(name, locked=0, failed_attempts=0)
        store.audit(ledger.operator, "unlock", name)
    return {"name": name, "locked": False}


# -- teller sessions ---------------------------------------------------------
def _sign(ledger: Ledger, name: str, expires: int) -> str:
    key = bytes.fromhex(ledger.store.get_meta("session_key"))
    return hmac.new(key, f"{name}|{expires}|{ledger.store.path}".encode(), hashlib.sha256).hexdigest()


def _session_ok(ledger: Ledger, name: str, token: str) -> bool:
    try:
        data = json.loads(token)
        expires = int(data["expires"])
        ok = data["operator"] == name and expires > time.time()
        return ok and hmac.compare_digest(_sign(ledger, name, expires), data["mac"])
    except (ValueError, KeyError, TypeError):
        return False


def new_session(ledger: Ledger, hours: int = SESSION_HOURS) -> str:
    """A token for the (already authenticated) operator, valid for ``hours``."""
    expires = int(time.time()) + hours * 3600
    return json.dumps({"operator": ledger.operator, "expires": expires, "mac": _sign(ledger, ledger.operator, expires)})


def session_file(db_path: str, operator: str) -> str:
    base = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(os.path.expanduser("~"), ".cache")
    tag = hashlib.sha256(f"{os.path.abspath(db_path)}|{operator}".encode()).hexdigest()[:16]
    return os.path.join(base, "credit-coop", f"session-{tag}.json")
