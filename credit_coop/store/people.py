"""Operators, the organisation, borrowers, grants, sign-in sessions and the audit log."""

from __future__ import annotations

import sqlite3
from typing import Iterable

from credit_coop.store.common import _now, AUDIT_FIELDS, GRANT_EVENT_FIELDS, OPERATOR_FIELDS, record_payload


class PeopleRecords:
    """Mixed into :class:`credit_coop.store.sqlite.Store` (``self.conn``, ``self._all`` … come from it)."""

    _OPERATOR = "SELECT * FROM operators WHERE name=?"
    _SESSION = "SELECT * FROM sessions WHERE token_hash = ?"

    # -- operators --------------------------------------------------------
    def get_operator(self, name: str) -> sqlite3.Row | None:
        return self._one(self._OPERATOR, (name,))

    def operator_and_session(self, name: str, token_hash: str) -> tuple:
        """An operator's row and a sign-in session's (None for either not found), read together: a shift's
        command logs in with both (one round trip on a server)."""
        ops, sessions = self._each((self._OPERATOR, (name,)), (self._SESSION, (token_hash,)))
        return (ops[0] if ops else None), (sessions[0] if sessions else None)

    def insert_operator(self, name: str, role: str, on: str, by: str) -> None:
        self._insert("operators", {"name": name, "role": role, "added_on": on, "added_by": by})
        self.chain_operator(name)

    def update_operator(self, name: str, **fields) -> None:
        sets = ", ".join(f"{k}=?" for k in fields)
        self.conn.execute(f"UPDATE operators SET {sets} WHERE name=?", (*fields.values(), name))
        if set(fields) & set(OPERATOR_FIELDS):
            self.chain_operator(name)

    def list_operators(self) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM operators ORDER BY name")

    # -- organisation (see core/organisation.py) ----------------------------
    def org_unit(self, code: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM org_units WHERE code = ?", (code,))

    def org_unit_named(self, name: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM org_units WHERE name = ?", (name,))

    def org_units(self) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM org_units ORDER BY kind DESC, code")

    def insert_org_unit(self, code: str, kind: str, name: str, on: str) -> None:
        self._insert("org_units", {"code": code, "kind": kind, "name": name, "added_on": on})

    def rename_org_unit(self, code: str, name: str) -> None:
        self.conn.execute("UPDATE org_units SET name = ? WHERE code = ?", (name, code))

    def township(self, name: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM townships WHERE name = ?", (name,))

    def townships(self) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM townships ORDER BY name")

    def insert_township(self, name: str, on: str) -> None:
        self._insert("townships", {"name": name, "added_on": on})

    def village(self, name: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM villages WHERE name = ?", (name,))

    def villages_of(self, township: str) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM villages WHERE township = ? ORDER BY name", (township,))

    def insert_village(self, name: str, township: str) -> None:
        self._insert("villages", {"name": name, "township": township})

    def insert_assignment(self, subject_kind: str, subject: str, unit_kind: str, unit: str, on: str, by: str) -> None:
        self._insert("org_assignments", {"subject_kind": subject_kind, "subject": subject, "unit_kind": unit_kind,
                                         "unit": unit, "from_date": on, "recorded_by": by, "recorded_at": _now()})
        if self._units is not None:
            self._units.clear()

    def unit_of(self, subject_kind: str, subject: str, unit_kind: str, on: str) -> str | None:
        """The unit a township or operator belonged to on ``on`` (the latest move dated on or before it).
        Asked once per write transaction (a drawdown asks for the teller's branch twice)."""
        key = (subject_kind, subject, unit_kind, on)
        if self._units is not None and key in self._units:
            return self._units[key]
        unit = self._scalar(
            """SELECT unit FROM org_assignments WHERE subject_kind = ? AND subject = ? AND unit_kind = ? AND from_date <= ?
               ORDER BY from_date DESC, id DESC LIMIT 1""",
            (subject_kind, subject, unit_kind, on),
        )
        if self._units is not None:
            self._units[key] = unit
        return unit

    # -- borrowers --------------------------------------------------------
    def get_borrower(self, id_number: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM borrowers WHERE id_number=?", (id_number,))

    def borrower_kinds(self, id_number: str) -> list[str]:
        return [r[0] for r in self._all("SELECT kind FROM borrower_kinds WHERE id_number=? ORDER BY kind", (id_number,))]

    def insert_borrower(self, row: dict, kinds: Iterable[str]) -> None:
        self._insert("borrowers", row)
        self.conn.executemany(
            "INSERT INTO borrower_kinds(id_number, kind) VALUES (?, ?)", [(row["id_number"], k) for k in kinds]
        )

    # -- grants -----------------------------------------------------------
    def insert_grant(self, row: dict) -> int:
        return self._insert("grants", row)

    def update_grant(self, grant_id: int, **fields) -> None:
        sets = ", ".join(f"{k}=?" for k in fields)
        self.conn.execute(f"UPDATE grants SET {sets} WHERE id=?", (*fields.values(), grant_id))

    def get_grant(self, grant_id: int) -> sqlite3.Row | None:
        return self._one("SELECT * FROM grants WHERE id=?", (grant_id,))

    def get_grant_by_no(self, grant_no: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM grants WHERE grant_no=?", (grant_no,))

    def get_grant_by_card(self, card_no: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM grants WHERE card_no=?", (card_no,))

    def line_for(self, id_number: str, product: str) -> sqlite3.Row | None:
        """The borrower's most recent approved (or frozen/closed) line for a product."""
        return self._one(
            """SELECT * FROM grants WHERE borrower_id=? AND product=? AND status IN ('approved', 'frozen', 'closed')
               ORDER BY id DESC LIMIT 1""",
            (id_number, product),
        )

    def borrower_grants(self, id_number: str) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM grants WHERE borrower_id=? ORDER BY id", (id_number,))

    def list_grants(self, product: str | None = None, statuses: Iterable[str] | None = None) -> list[sqlite3.Row]:
        sql, params = "SELECT * FROM grants WHERE 1=1", []
        if product:
            sql += " AND product=?"
            params.append(product)
        if statuses:
            statuses = list(statuses)
            sql += f" AND status IN ({', '.join('?' for _ in statuses)})"
            params.extend(statuses)
        return self._all(sql + " ORDER BY id", params)

    def insert_guarantors(self, grant_id: int, id_numbers: Iterable[str]) -> None:
        self.conn.executemany(
            "INSERT INTO guarantors(grant_id, id_number) VALUES (?, ?)", [(grant_id, i) for i in id_numbers]
        )

    def guarantors(self, grant_id: int) -> list[str]:
        return [r[0] for r in self._all("SELECT id_number FROM guarantors WHERE grant_id=? ORDER BY id_number", (grant_id,))]

    def insert_grant_event(self, grant_id: int, action: str, on: str, operator: str, detail: str | None) -> None:
        row = {"grant_id": grant_id, "action": action, "on_date": on, "operator": operator, "detail": detail, "recorded_at": _now()}
        self.chain_record("grant_event", self._insert("grant_events", row), record_payload(row, GRANT_EVENT_FIELDS))

    def grant_events(self, grant_id: int) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM grant_events WHERE grant_id=? ORDER BY id", (grant_id,))

    # -- sign-in ----------------------------------------------------------------
    def reserve_attempt(self, name: str, limit: int) -> int | None:
        """Count a sign-in attempt *before* the passphrase is checked, locking at ``limit``, in one
        write transaction, so parallel guesses cannot all read the same count (issue 16 §4).
        Returns the attempt's number, or None when the operator was already locked."""
        with self.write():
            done = self.conn.execute(
                """UPDATE operators SET failed_attempts = failed_attempts + 1,
                          locked = CASE WHEN failed_attempts + 1 >= ? THEN 1 ELSE locked END
                   WHERE name = ? AND locked = 0""",
                (limit, name),
            ).rowcount
            return self.get_operator(name)["failed_attempts"] if done else None

    def insert_session(self, token_hash: str, operator: str, expires_at: int) -> None:
        self._insert("sessions", {"token_hash": token_hash, "operator": operator, "expires_at": expires_at, "created_at": _now()})

    def delete_sessions(self, operator: str, token_hash: str | None = None, expired_before: int | None = None) -> int:
        sql, params = "DELETE FROM sessions WHERE operator = ?", [operator]
        if token_hash is not None:
            sql, params = sql + " AND token_hash = ?", params + [token_hash]
        if expired_before is not None:
            sql, params = "DELETE FROM sessions WHERE expires_at < ?", [expired_before]
        return self.conn.execute(sql, params).rowcount

    # -- audit log ------------------------------------------------------------
    def audit(self, operator: str | None, action: str, detail: str | None = None, result: str = "ok",
              *, at: str | None = None, wait_ms: int | None = None) -> None:
        """Append to the audit log (its own small transaction when none is open). ``wait_ms``: how
        long to wait for a busy ledger before giving up with LedgerBusy (default: the usual 5 s)."""
        row = {"at": at or _now(), "operator": operator, "action": action, "detail": detail, "result": result}
        if self._depth:
            self._insert_audit(row)
            return
        if wait_ms is not None:
            self.wait_for_writers(wait_ms)
        try:
            with self.write():
                self._insert_audit(row)
        finally:
            if wait_ms is not None:
                self.wait_for_writers()

    def _insert_audit(self, row: dict) -> None:
        audit_id = self._insert("audit_log", row)
        self.chain_record("audit", audit_id, record_payload(row, AUDIT_FIELDS))
