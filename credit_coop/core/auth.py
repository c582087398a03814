"""Who may act: passphrases, lockout, teller sessions (issue: reliability and security).

- Each operator's passphrase is stored as a salted scrypt hash (hashlib,
  n=2^14, r=8, p=1): ``scrypt$n$r$p$salt$hash``.
- Five failed attempts in a row lock the operator until an admin unlocks them;
  every failure is written to the audit log (never the passphrase).
- A teller runs ``credit-coop login`` once per shift (at most the policy's
  ``auth.max_session_hours``): the passphrase is checked once and a random
  token is kept in a file readable only by the user; the ledger keeps only the
  token's hash, so a backup cannot mint sessions and ``logout`` ends a copied
  token too. Later commands present it instead of re-running scrypt (30 ms).
- An admin locked out (or the only admin's passphrase lost): ``credit-coop
  recover`` with the recovery code printed once at ``init`` (issue 16 §4).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time

from credit_coop.core.errors import InvalidInput, NotPermitted
from credit_coop.core.ledger import Ledger
from credit_coop.core.text import not_utf8

COST = 2**14
MAX_FAILURES = 5
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
    from credit_coop.core.operators import PERMISSIONS

    me = store.get_operator(ledger.operator or "")
    if ledger.operator != name and (me is None or me["role"] not in PERMISSIONS["operator.passwd-others"]):
        raise NotPermitted(f"only {', '.join(PERMISSIONS['operator.passwd-others'])} set another operator's passphrase")
    stored = hash_passphrase(valid_new_passphrase(passphrase), cost=cost)
    with store.write():
        store.update_operator(name, passphrase=stored, failed_attempts=0)
    store.audit(ledger.operator, "passphrase set", name)


def authenticate(ledger: Ledger, passphrase: str | None, session_token: str | None = None):
    """Check that ``ledger.operator`` is who they say: a passphrase, or a live session token. Returns
    their operator row (as it was read for the check).

    Every passphrase attempt is counted before it is checked (``Store.reserve_attempt``), so
    at most ``MAX_FAILURES`` guesses are ever checked, however many run in parallel; a right
    passphrase resets the count.
    """
    store = ledger.store
    name = ledger.operator
    if not name:
        raise NotPermitted("who is acting? pass --operator NAME or set CREDIT_COOP_OPERATOR")
    if passphrase is None and session_token is not None:
        op, session = store.operator_and_session(name, _token_hash(session_token))
    else:
        op, session = store.get_operator(name), None
    if op is None:
        store.audit(name, "login refused", "unknown operator", result="refused")
        raise NotPermitted(f"operator {name} is not registered in this ledger")
    if op["locked"]:
        store.audit(name, "login refused", "operator locked", result="refused")
        raise NotPermitted(f"operator {name} is locked after {MAX_FAILURES} failed attempts; an admin must unlock them")
    if not op["active"]:
        raise NotPermitted(f"operator {name} is not active")
    if session is not None and session["operator"] == name and session["expires_at"] > time.time():
        return op
    if not op["passphrase"]:
        raise NotPermitted(f"operator {name} has no passphrase yet; an admin sets one with `credit-coop operator passwd {name}`")
    if passphrase is None:
        raise NotPermitted("give your passphrase (CREDIT_COOP_PASSWORD, the prompt, or `credit-coop login` for a shift)")
    if not_utf8(passphrase):  # not what anyone set: said as such, and not counted as a guess
        raise InvalidInput("the passphrase typed is not UTF-8 text (is the terminal set to GBK?); set it to UTF-8 and type it again")
    if store.read_only:  # nothing can be counted on a read-only ledger; whoever has the file can read it anyway
        if check_passphrase(passphrase, op["passphrase"]):
            return op
        raise NotPermitted("wrong passphrase")
    attempt = store.reserve_attempt(name, MAX_FAILURES)
    if attempt is None:
        store.audit(name, "login refused", "operator locked", result="refused")
        raise NotPermitted(f"operator {name} is locked after {MAX_FAILURES} failed attempts; an admin must unlock them")
    if check_passphrase(passphrase, op["passphrase"]):
        with store.write():
            store.update_operator(name, failed_attempts=0, locked=0)
        return op
    store.audit(name, "login failed", f"attempt {attempt}", result="refused")
    if attempt >= MAX_FAILURES:
        raise NotPermitted(f"wrong passphrase; operator {name} is now locked, an admin must unlock them")
    raise NotPermitted(f"wrong passphrase ({MAX_FAILURES - attempt} attempts left before the operator is locked)")


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


# -- recovery of a locked-out admin -------------------------------------------
def new_recovery_code(ledger: Ledger) -> str:
    """A fresh recovery code (shown once); only its scrypt hash is kept in the ledger. Inside a write."""
    code = "-".join(secrets.token_hex(3).upper() for _ in range(5))
    ledger.store.set_meta("recovery_hash", hash_passphrase(code))
    return code


def issue_recovery_code(ledger: Ledger) -> dict:
    """``credit-coop operator recovery-code``: an admin replaces the recovery code (the old one stops working)."""
    from credit_coop.core.operators import require

    require(ledger, "operator.recovery-code")
    with ledger.store.write():
        code = new_recovery_code(ledger)
        ledger.store.audit(ledger.operator, "recovery code issued", None)
    return {"recovery_code": code}


def recover(ledger: Ledger, admin: str, code: str | None, new_passphrase: str | None = None) -> dict:
    """``credit-coop recover``: with the ledger file and the recovery code printed at ``init``, unlock an
    admin (and set a new passphrase) when no admin can sign in. The code is used up: a new one is printed."""
    store = ledger.store
    stored = store.get_meta("recovery_hash")
    if not stored:
        raise NotPermitted("this ledger has no recovery code; an admin issues one with `credit-coop operator recovery-code`")
    op = store.get_operator(admin)
    if op is None or op["role"] != "admin":
        raise NotPermitted(f"{admin} is not an admin of this ledger; recovery restores an admin only")
    if not code or not check_passphrase(code.strip().upper(), stored):
        store.audit(admin, "recovery refused", "wrong recovery code", result="refused")
        raise NotPermitted("wrong recovery code; nothing changed")
    fields = {"locked": 0, "failed_attempts": 0}
    if new_passphrase is not None:
        fields["passphrase"] = hash_passphrase(valid_new_passphrase(new_passphrase))
    with store.write():
        store.update_operator(admin, **fields)
        fresh = new_recovery_code(ledger)
        store.audit(admin, "recovered", "unlocked with the recovery code" + (", new passphrase" if new_passphrase else ""))
    return {"admin": admin, "unlocked": True, "passphrase_set": new_passphrase is not None, "recovery_code": fresh}


# -- shift sessions -------------------------------------------------------------
# A session is a random token in a file only the user can read; the ledger keeps just its SHA-256
# (a copied ledger or backup holds nothing that makes a token), so logout ends it everywhere.
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def new_session(ledger: Ledger, hours: int | None = None) -> dict:
    """A session for the (already authenticated) operator, at most the policy's shift length."""
    cap = ledger.policy.max_session_hours
    hours = cap if hours is None else hours
    if not 1 <= hours <= cap:
        raise InvalidInput(f"a session lasts 1 to {cap} hours (one shift, policy auth.max_session_hours)")
    token = secrets.token_urlsafe(32)
    now = int(time.time())
    with ledger.store.write():
        ledger.store.delete_sessions(ledger.operator, expired_before=now)
        ledger.store.insert_session(_token_hash(token), ledger.operator, now + hours * 3600)
    return {"token": token, "hours": hours}


def end_session(ledger: Ledger, token: str | None) -> bool:
    """Logout: the token stops working wherever a copy of it is."""
    if not token:
        return False
    with ledger.store.write():
        return ledger.store.delete_sessions(ledger.operator or "", _token_hash(token)) > 0


def session_file(ledger_id: str, operator: str) -> str:
    """Where this user keeps an operator's session for a ledger (by the ledger's id, not its path)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(os.path.expanduser("~"), ".cache")
    tag = hashlib.sha256(f"{ledger_id}|{operator}".encode()).hexdigest()[:16]
    return os.path.join(base, "credit-coop", f"session-{tag}.json")
