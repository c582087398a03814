"""The journal, balances derived from it, loan notes and idempotent requests."""

from __future__ import annotations

import sqlite3
from typing import Iterable

from credit_coop.store.common import _DAY_END_KINDS_SQL, COMPONENT_SUMS, _now, IS_CASH


def txn_row(kind: str, business_date: str, operator: str, memo: str | None, reverses: int | None) -> dict:
    """A ``txns`` row as posted now (both stores insert it; the server with the chain lock alongside)."""
    return {"kind": kind, "business_date": business_date, "operator": operator, "memo": memo, "reverses": reverses,
            "posted_at": _now()}


class JournalRecords:
    """Mixed into :class:`credit_coop.store.sqlite.Store` (``self.conn``, ``self._all`` … come from it)."""

    # -- journal ----------------------------------------------------------
    def insert_txn(self, kind: str, business_date: str, operator: str, memo: str | None, reverses: int | None) -> int:
        return self._insert("txns", txn_row(kind, business_date, operator, memo, reverses))

    def insert_lines(self, txn_id: int, lines: Iterable[tuple]) -> None:
        """``lines``: (account, debit, credit, grant_id, note_id, officer) tuples."""
        self.conn.executemany(
            "INSERT INTO journal_lines(txn_id, account, debit, credit, grant_id, note_id, officer) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(txn_id, *line) for line in lines],
        )

    def get_txn(self, txn_id: int) -> sqlite3.Row | None:
        return self._one("SELECT * FROM txns WHERE id=?", (txn_id,))

    def txn_lines(self, txn_id: int) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM journal_lines WHERE txn_id=? ORDER BY id", (txn_id,))

    def reversal_of(self, txn_id: int) -> sqlite3.Row | None:
        return self._one("SELECT * FROM txns WHERE reverses=?", (txn_id,))

    def later_txns_touching(self, txn_id: int, note_ids: list[int]) -> list[sqlite3.Row]:
        """Transactions after ``txn_id`` that post to any of the given notes and are not reversed."""
        if not note_ids:
            return []
        marks = ", ".join("?" for _ in note_ids)
        return self._all(
            f"""SELECT DISTINCT t.* FROM txns t JOIN journal_lines l ON l.txn_id = t.id
                WHERE t.id > ? AND l.note_id IN ({marks}) AND t.reverses IS NULL
                  AND NOT EXISTS (SELECT 1 FROM txns r WHERE r.reverses = t.id)
                ORDER BY t.id""",
            (txn_id, *note_ids),
        )

    # -- balances (derived from the journal) ------------------------------
    def note_balance(self, note_id: int, account: str) -> int:
        return self._scalar(
            "SELECT COALESCE(SUM(debit - credit), 0) FROM journal_lines WHERE note_id=? AND account=?", (note_id, account)
        )

    @staticmethod
    def _query_line_principal(grant_id: int) -> tuple[str, tuple]:
        return "SELECT principal FROM line_positions WHERE grant_id = ?", (grant_id,)

    def grant_balance(self, grant_id: int, account: str) -> int:
        if account.startswith("1303."):  # a line's principal: kept in line_positions (schema.LINE_POSITIONS)
            return self._scalar(*self._query_line_principal(grant_id)) or 0
        return self._scalar(
            "SELECT COALESCE(SUM(debit - credit), 0) FROM journal_lines WHERE grant_id=? AND account=?", (grant_id, account)
        )

    def line_position_mismatches(self) -> list[sqlite3.Row]:
        """Lines whose kept position differs from the journal."""
        return self._all(
            f"""SELECT g.grant_no, p.principal, j.principal AS journal_principal, p.last_counter_date, j.last_counter_date AS journal_last
               FROM grants g LEFT JOIN line_positions p ON p.grant_id = g.id
               LEFT JOIN (SELECT l.grant_id,
                                 SUM(CASE WHEN l.account LIKE '1303.%' THEN l.debit - l.credit ELSE 0 END) AS principal,
                                 MAX(CASE WHEN {IS_CASH} THEN t.business_date END) AS last_counter_date
                          FROM journal_lines l JOIN txns t ON t.id = l.txn_id WHERE l.grant_id IS NOT NULL
                          GROUP BY l.grant_id) j ON j.grant_id = g.id
               WHERE COALESCE(p.principal, 0) != COALESCE(j.principal, 0)
                  OR COALESCE(p.last_counter_date, '') != COALESCE(j.last_counter_date, '')"""
        )

    def note_receivables(self, grant_id: int, after: str, note_ids: Iterable[int] | None = None) -> dict[int, sqlite3.Row]:
        """{note_id: principal, accrued, interest_due, penalty, penalty_accrued} for a line's notes (or only
        ``note_ids``): the day-end state (``self.state``, as at ``after``) plus the counter's postings dated
        after it. Reads the notes still owing, drawn since or touched by a reversal since, and only their own
        postings: nothing here grows with the line's age or the days it has lived (issue 11)."""
        return {r["note_id"]: r for r in self._all(*self._query_note_receivables(grant_id, after, note_ids))}

    def _query_note_receivables(self, grant_id: int, after: str, note_ids: Iterable[int] | None = None) -> tuple[str, dict]:
        st = self.state
        pick = "" if note_ids is None else f"AND n.id IN ({', '.join(str(int(i)) for i in note_ids)})"
        return (
            f"""WITH live AS (SELECT n.id FROM loan_notes n LEFT JOIN {st} s ON s.note_id = n.id
                              WHERE n.grant_id = :g {pick}
                                AND (n.drawn_on > :after OR s.principal + s.accrued + s.interest_due + s.penalty != 0
                                     -- a note paid off by then comes back to life only by a reversal since
                                     OR n.id IN (SELECT l.note_id FROM txns r JOIN journal_lines l ON l.txn_id = r.id
                                                 WHERE r.reverses IS NOT NULL AND r.business_date > :after
                                                   AND l.grant_id = :g))),
                     m AS (SELECT l.note_id, {COMPONENT_SUMS}
                           FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                           WHERE l.note_id IN (SELECT id FROM live) AND t.business_date > :after
                             AND t.kind NOT IN {_DAY_END_KINDS_SQL}
                           GROUP BY l.note_id)
                SELECT live.id AS note_id,
                       COALESCE(s.principal, 0) + COALESCE(m.p, 0) AS principal,
                       COALESCE(s.accrued, 0) + COALESCE(m.a, 0) AS accrued,
                       COALESCE(s.interest_due, 0) + COALESCE(m.i, 0) AS interest_due,
                       COALESCE(s.penalty, 0) + COALESCE(m.q, 0) AS penalty,
                       COALESCE(s.penalty_accrued, 0) + COALESCE(m.qa, 0) AS penalty_accrued
                FROM live LEFT JOIN {st} s ON s.note_id = live.id LEFT JOIN m ON m.note_id = live.id""",
            {"g": grant_id, "after": after},
        )

    # -- loan notes -------------------------------------------------------
    def insert_note(self, row: dict) -> int:
        return self._insert("loan_notes", row)

    def next_id(self, table: str) -> int:
        return (self._scalar(f"SELECT COALESCE(MAX(id), 0) FROM {table}") or 0) + 1

    def get_note_by_no(self, note_no: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM loan_notes WHERE note_no=?", (note_no,))

    @staticmethod
    def _query_notes_for_grant(grant_id: int) -> tuple[str, tuple]:
        return "SELECT * FROM loan_notes WHERE grant_id=? ORDER BY maturity, id", (grant_id,)

    def notes_for_grant(self, grant_id: int) -> list[sqlite3.Row]:
        return self._all(*self._query_notes_for_grant(grant_id))

    def reversed_txn_ids(self, txn_ids: Iterable[int]) -> set[int]:
        ids = list(txn_ids)
        if not ids:
            return set()
        marks = ", ".join("?" for _ in ids)
        return {r[0] for r in self._all(f"SELECT reverses FROM txns WHERE reverses IN ({marks})", ids)}

    # -- idempotent requests ----------------------------------------------
    def get_request(self, request_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM requests WHERE request_id=?", (request_id,))

    def insert_request(self, request_id: str, command: str, fingerprint: str, result: str) -> None:
        self._append(
            "requests",
            {"request_id": request_id, "command": command, "fingerprint": fingerprint, "result": result, "recorded_at": _now()},
        )
