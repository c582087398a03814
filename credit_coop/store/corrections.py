"""Back-dated corrections: the replay state and what it reverses and rebuilds."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import Iterator

from credit_coop.store.common import _DAY_END_KINDS_SQL, _note_components, LIVE_COMPENSATIONS


class CorrectionQueries:
    """Mixed into :class:`credit_coop.store.sqlite.Store` (``self.conn``, ``self._all`` … come from it)."""

    # -- back-dated corrections (see core/corrections.py) -------------------
    @contextmanager
    def replay_state(self) -> Iterator["CorrectionQueries"]:
        """A temporary, empty copy of ``note_state``; the day-end queries work on it inside the block."""
        import re

        ddl = self._scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'note_state'")
        ddl = re.sub(r"\s+REFERENCES\s+\w+\s*\(\w+\)", "", ddl).replace("CREATE TABLE note_state", "CREATE TEMP TABLE replay_state", 1)
        self.conn.execute("DROP TABLE IF EXISTS temp.replay_state")
        self.conn.execute(ddl)
        self.state = "replay_state"
        try:
            yield self
        finally:
            del self.state  # back to the class default, note_state
            self.conn.execute("DROP TABLE IF EXISTS temp.replay_state")

    def replace_note_states(self, grant_ids: list[int]) -> None:
        """Put the replayed state of a line's notes in place of their day-end state."""
        marks = ", ".join("?" for _ in grant_ids)
        self.conn.execute(f"DELETE FROM note_state WHERE grant_id IN ({marks})", grant_ids)
        self.conn.execute("INSERT INTO note_state SELECT * FROM temp.replay_state")

    def notes_of_grants(self, grant_ids: list[int], drawn_through: str) -> list[sqlite3.Row]:
        marks = ", ".join("?" for _ in grant_ids)
        return self._all(
            f"""SELECT n.id, n.grant_id, n.maturity, n.annual_rate_percent, g.product FROM loan_notes n
                JOIN grants g ON g.id = n.grant_id WHERE n.grant_id IN ({marks}) AND n.drawn_on <= ? ORDER BY n.id""",
            (*grant_ids, drawn_through),
        )

    def note_components_through(self, grant_ids: list[int], day: str) -> dict[int, sqlite3.Row]:
        """{note_id: (p, a, i, q)} for a line's notes: principal, accrued, due and penalty through ``day``."""
        return {r["note_id"]: r for r in self._all(_note_components("<=", grant_ids=grant_ids), (day,))}

    def class_as_of(self, note_ids: list[int], day: str) -> dict[int, sqlite3.Row]:
        """Each note's class record in force at the end of ``day`` (the latest written on or before it)."""
        marks = ", ".join("?" for _ in note_ids)
        rows = self._all(
            f"""SELECT c.* FROM note_classes c
                JOIN (SELECT note_id, MAX(id) AS id FROM note_classes WHERE on_date <= ? AND note_id IN ({marks})
                      GROUP BY note_id) last ON last.id = c.id""",
            (day, *note_ids),
        )
        return {r["note_id"]: r for r in rows}

    def negative_replayed(self) -> list[sqlite3.Row]:
        return self._all(
            """SELECT s.*, n.note_no FROM temp.replay_state s JOIN loan_notes n ON n.id = s.note_id
               WHERE s.principal < 0 OR s.accrued < 0 OR s.interest_due < 0 OR s.penalty < 0"""
        )

    def day_end_postings_from(self, grant_ids: list[int], day: str) -> list[sqlite3.Row]:
        """Net of what the day-end posted per business day, note and account on a line's notes, from ``day`` on."""
        marks = ", ".join("?" for _ in grant_ids)
        return self._all(
            f"""SELECT t.business_date, l.note_id, l.grant_id, g.product, l.account, SUM(l.debit - l.credit) AS net
                FROM journal_lines l JOIN txns t ON t.id = l.txn_id JOIN grants g ON g.id = l.grant_id
                WHERE l.grant_id IN ({marks}) AND l.note_id IS NOT NULL AND t.business_date >= ?
                  AND t.kind IN ('day-end', 'day-end-reversal')
                GROUP BY t.business_date, l.note_id, l.account HAVING net != 0
                ORDER BY t.business_date, l.note_id, l.account""",
            (*grant_ids, day),
        )

    def compensations_from(self, grant_ids: list[int], day: str) -> list[sqlite3.Row]:
        marks = ", ".join("?" for _ in grant_ids)
        return self._all(
            f"""SELECT c.*, n.note_no FROM {LIVE_COMPENSATIONS} c JOIN loan_notes n ON n.id = c.note_id
                WHERE n.grant_id IN ({marks}) AND c.on_date >= ? ORDER BY c.on_date, c.id""",
            (*grant_ids, day),
        )

    def counter_postings_after(self, grant_ids: list[int], day: str) -> list[sqlite3.Row]:
        """Counter transactions on a line dated after ``day`` (a transaction and its reversal on the
        same day cancel out and are left out)."""
        marks = ", ".join("?" for _ in grant_ids)
        latest = self._scalar(f"SELECT MAX(last_counter_date) FROM line_positions WHERE grant_id IN ({marks})", grant_ids)
        if latest is None or latest <= day:  # the usual case, without reading the line's history
            return []
        return self._all(
            f"""SELECT DISTINCT t.id, t.kind, t.business_date FROM txns t JOIN journal_lines l ON l.txn_id = t.id
                WHERE l.grant_id IN ({marks}) AND t.business_date > ? AND t.kind NOT IN {_DAY_END_KINDS_SQL}
                  AND NOT EXISTS (SELECT 1 FROM txns r WHERE r.reverses = t.id AND r.business_date = t.business_date)
                  AND NOT EXISTS (SELECT 1 FROM txns o WHERE o.id = t.reverses AND o.business_date = t.business_date)
                ORDER BY t.id""",
            (*grant_ids, day),
        )

    def flag_recheck(self, batch: str, period: str) -> None:
        """A back-dated correction touched ``period``, already paid by ``batch``: the next run rechecks from it."""
        key = f"recheck_{batch}_from"
        now = self.get_meta(key)
        if now is None or period < now:
            self.set_meta(key, period)

    def recheck_from(self, batch: str) -> str | None:
        return self.get_meta(f"recheck_{batch}_from")

    def clear_recheck(self, batch: str) -> None:
        self.conn.execute("DELETE FROM meta WHERE key = ?", (f"recheck_{batch}_from",))

    def paid_periods(self, batch: str, first: str, before: str) -> list[str]:
        runs, _, key = self.BATCHES[batch]
        return [r[0] for r in self._all(f"SELECT {key} FROM {runs} WHERE {key} >= ? AND {key} < ? ORDER BY {key}", (first, before))]

    def _given_so_far(self, run: str, adjustments: str, period: str) -> dict[str, int]:
        """Per officer: what a batch gave for ``period``, its run plus the adjustments carried since
        (``run`` and ``adjustments``: ``SELECT officer, v … WHERE … = ?``)."""
        rows = self._all(f"SELECT officer, SUM(v) FROM ({run} UNION ALL {adjustments}) GROUP BY officer", (period, period))
        return {r[0]: r[1] for r in rows}

    def interest_pay_for(self, month: str) -> dict[str, int]:
        """Per officer: the interest pay given for ``month`` so far."""
        return self._given_so_far("SELECT officer, interest_pay AS v FROM payroll_lines WHERE month = ?",
                                  "SELECT officer, interest_pay_delta FROM pay_adjustments WHERE for_month = ?", month)

    def refunded_for(self, year: str) -> dict[str, int]:
        """Per officer: the year-end refund given for ``year`` so far (a full settlement is not a refund)."""
        return self._given_so_far("SELECT officer, refund AS v FROM year_end_lines WHERE year = ? AND full_settlement = 0",
                                  "SELECT officer, refund_delta FROM year_end_adjustments WHERE for_year = ?", year)

    def insert_adjustments(self, table: str, rows: list[dict]) -> None:
        for row in rows:
            self._insert(table, row)

    def adjustments(self, table: str, period_key: str, period: str) -> list[sqlite3.Row]:
        return self._all(f"SELECT * FROM {table} WHERE {period_key} = ? ORDER BY officer, id", (period,))

    def first_batch_from(self, batch: str, period: str) -> str | None:
        """The first period on or after ``period`` for which a batch (payroll, year-end) has run."""
        runs, _, key = self.BATCHES[batch]
        return self._scalar(f"SELECT MIN({key}) FROM {runs} WHERE {key} >= ?", (period,))

    def classes_of_grant(self, grant_id: int) -> list[sqlite3.Row]:
        """Each of the line's notes' five-category class as the last day-end left it."""
        return self._all("SELECT s.note_id, s.class FROM loan_notes n JOIN note_state s ON s.note_id = n.id WHERE n.grant_id = ?",
                         (grant_id,))

    def past_due_notes(self, grant_id: int) -> list[sqlite3.Row]:
        """The line's notes the last day-end left past due, most overdue first (during a back-dated
        correction: as the replayed day-end left them the day before the correction's date)."""
        return self._all(
            f"""SELECT n.id, n.note_no, n.maturity, s.dpd, s.class FROM loan_notes n JOIN {self.state} s ON s.note_id = n.id
               WHERE n.grant_id = ? AND s.dpd > 0 ORDER BY s.dpd DESC, n.id""",
            (grant_id,),
        )

    def note_state(self, note_id: int) -> sqlite3.Row | None:
        return self._one("SELECT * FROM note_state WHERE note_id=?", (note_id,))

    def note_state_mismatches(self, through: str, grant_ids: list[int] | None = None) -> list[sqlite3.Row]:
        """Day-end state balances (of ``self.state``, optionally only these lines' notes) that differ
        from the journal through ``through``."""
        return self._all(
            f"""WITH j AS ({_note_components("<=", grant_ids=grant_ids)})
               SELECT s.note_id, s.principal, s.accrued, s.interest_due, s.penalty, j.p, j.a, j.i, j.q
               FROM {self.state} s LEFT JOIN j ON j.note_id = s.note_id
               WHERE s.principal != COALESCE(j.p, 0) OR s.accrued != COALESCE(j.a, 0)
                  OR s.interest_due != COALESCE(j.i, 0) OR s.penalty != COALESCE(j.q, 0)""",
            (through,),
        )

    def lines_owing_interest(self, day: str) -> list[sqlite3.Row]:
        """Lines with interest due or penalty at the last close, and whether any of their notes has matured unpaid."""
        return self._all(
            """SELECT g.card_no, SUM(s.interest_due + s.penalty) AS owed,
                      MAX(CASE WHEN s.principal > 0 AND s.maturity < ? THEN 1 ELSE 0 END) AS matured_unpaid
               FROM note_state s JOIN grants g ON g.id = s.grant_id
               WHERE s.interest_due + s.penalty > 0 GROUP BY g.id ORDER BY g.id""",
            (day,),
        )

    def note_officer(self, note_id: int, default: str | None) -> str | None:
        row = self._one("SELECT officer FROM note_officers WHERE note_id=? ORDER BY id DESC LIMIT 1", (note_id,))
        return row[0] if row else default

    def insert_note_officer(self, note_id: int, officer: str, from_date: str, by: str) -> None:
        self._insert("note_officers", {"note_id": note_id, "officer": officer, "from_date": from_date, "by_operator": by})

    def note_lines(self, note_id: int) -> list[sqlite3.Row]:
        return self._all(
            """SELECT t.id AS txn_id, t.kind, t.business_date, l.account, l.debit, l.credit
               FROM journal_lines l JOIN txns t ON t.id = l.txn_id WHERE l.note_id = ? ORDER BY t.id, l.id""",
            (note_id,),
        )

    def note_class_as_of(self, as_of: str) -> list[sqlite3.Row]:
        """Each note's latest classification record on or before ``as_of``, with note and line facts."""
        return self._all(
            """WITH last AS (SELECT note_id, MAX(id) AS id FROM note_classes WHERE on_date <= ? GROUP BY note_id)
               SELECT c.note_id, c.class, c.past_due_since, n.note_no, n.maturity, n.amount, g.product, g.card_no,
                      g.officer AS line_officer, g.borrower_id
               FROM last JOIN note_classes c ON c.id = last.id
               JOIN loan_notes n ON n.id = c.note_id JOIN grants g ON g.id = n.grant_id
               ORDER BY c.note_id""",
            (as_of,),
        )

    def grants_by_unit(self, unit_kind: str, as_of: str) -> list[sqlite3.Row]:
        """Per grant applied by ``as_of``: its unit (``department`` or ``branch``), status, line and validity, and what
        was drawn on it by then; with each note's unit for the principal side (issue 13)."""
        column = {"department": "department", "branch": "branch"}[unit_kind]
        return self._all(
            f"""SELECT g.id, g.{column} AS unit, g.status, g.line_amount, g.valid_from, g.valid_to,
                       COALESCE((SELECT SUM(l.debit) FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                                 WHERE l.grant_id = g.id AND l.account LIKE '1303.%' AND t.kind = 'drawdown'
                                   AND t.business_date <= :d), 0) AS drawn
                FROM grants g WHERE g.applied_on <= :d ORDER BY g.id""",
            {"d": as_of},
        )

    def note_units(self, unit_kind: str) -> dict[int, str]:
        column = {"department": "department", "branch": "branch"}[unit_kind]
        return {r[0]: r[1] for r in self._all(f"SELECT n.id, g.{column} FROM loan_notes n JOIN grants g ON g.id = n.grant_id")}

    def officer_pay_months(self, last_month: str) -> list[sqlite3.Row]:
        """Per person paid: months paid and the total pay, through ``last_month``."""
        return self._all(
            "SELECT officer, COUNT(DISTINCT month) AS months, SUM(total) AS total FROM payroll_lines WHERE month <= ? GROUP BY officer",
            (last_month,),
        )

    def principal_as_of(self, as_of: str) -> dict[int, int]:
        rows = self._all(
            """SELECT l.note_id, SUM(l.debit - l.credit) FROM journal_lines l JOIN txns t ON t.id = l.txn_id
               WHERE t.business_date <= ? AND l.account LIKE '1303.%' AND l.note_id IS NOT NULL GROUP BY l.note_id""",
            (as_of,),
        )
        return {r[0]: r[1] for r in rows}
