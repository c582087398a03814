"""Back-dated corrections: the replay state and what it reverses and rebuilds."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import Iterator

from credit_coop.store.common import _DAY_END_KINDS_SQL, _note_claims, _of_grants, LIVE_COMPENSATIONS


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

    def clear_replay_state(self) -> None:
        self.conn.execute("DELETE FROM temp.replay_state")

    def replace_note_states(self, grant_ids: list[int]) -> None:
        """Put the replayed state of a line's notes in place of their day-end state."""
        marks = ", ".join("?" for _ in grant_ids)
        self.conn.execute(f"DELETE FROM note_state WHERE grant_id IN ({marks})", grant_ids)
        self.conn.execute("INSERT INTO note_state SELECT * FROM temp.replay_state")

    def notes_of_grants(self, grant_ids: list[int] | None, drawn_through: str) -> list[sqlite3.Row]:
        """The loan notes drawn on or before a date on some lines (``None``: on every line)."""
        return self._all(
            f"""SELECT n.id, n.grant_id, n.maturity, n.annual_rate_percent, g.product FROM loan_notes n
                JOIN grants g ON g.id = n.grant_id WHERE n.drawn_on <= ? {_of_grants("n.grant_id", grant_ids)} ORDER BY n.id""",
            (drawn_through,),
        )

    def note_claims_through(self, grant_ids: list[int] | None, day: str) -> dict[int, sqlite3.Row]:
        """{note_id: (p, i, q)} for some lines' notes (``None``: all): principal, interest due and penalty
        that became a claim, through ``day``, each from its own per-note account."""
        return {r["note_id"]: r for r in self._all(_note_claims(grant_ids), (day,))}

    def class_as_of(self, grant_ids: list[int] | None, day: str) -> dict[int, sqlite3.Row]:
        """Each note's class record in force at the end of ``day`` (the latest written on or before it), for
        some lines' notes (``None``: all)."""
        rows = self._all(
            f"""SELECT c.* FROM note_classes c
                JOIN (SELECT k.note_id, MAX(k.id) AS id FROM note_classes k JOIN loan_notes n ON n.id = k.note_id
                      WHERE k.on_date <= ? {_of_grants("n.grant_id", grant_ids)} GROUP BY k.note_id) last ON last.id = c.id""",
            (day,),
        )
        return {r["note_id"]: r for r in rows}

    def negative_replayed(self) -> list[sqlite3.Row]:
        return self._all(
            """SELECT s.*, n.note_no FROM temp.replay_state s JOIN loan_notes n ON n.id = s.note_id
               WHERE s.principal < 0 OR s.accrued < 0 OR s.interest_due < 0 OR s.penalty < 0 OR s.penalty_accrued < 0"""
        )

    def day_end_postings_from(self, grant_ids: list[int], day: str) -> list[sqlite3.Row]:
        """Net of what the day-end posted per business day, note and account on a line's notes, from ``day`` on."""
        marks = ", ".join("?" for _ in grant_ids)
        return self._all(
            f"""SELECT t.business_date, l.note_id, l.grant_id, l.account, SUM(l.debit - l.credit) AS net
                FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                WHERE l.grant_id IN ({marks}) AND l.note_id IS NOT NULL AND t.business_date >= ?
                  AND t.kind IN ('day-end', 'day-end-reversal')
                GROUP BY t.business_date, l.note_id, l.grant_id, l.account HAVING SUM(l.debit - l.credit) != 0
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

    @staticmethod
    def _query_latest_counter_date(grant_ids: list[int]) -> tuple[str, tuple]:
        marks = ", ".join("?" for _ in grant_ids)
        return f"SELECT MAX(last_counter_date) FROM line_positions WHERE grant_id IN ({marks})", tuple(grant_ids)

    def counter_postings_after(self, grant_ids: list[int], day: str) -> list[sqlite3.Row]:
        """Counter transactions on a line dated after ``day`` (a transaction and its reversal on the
        same day cancel out and are left out)."""
        marks = ", ".join("?" for _ in grant_ids)
        latest = self._scalar(*self._query_latest_counter_date(grant_ids))
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
        self.delete_meta(f"recheck_{batch}_from")

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
        return self._all(*self._query_past_due_notes(grant_id))

    def _query_past_due_notes(self, grant_id: int) -> tuple[str, tuple]:
        return (f"""SELECT n.id, n.note_no, n.maturity, s.dpd, s.class FROM loan_notes n JOIN {self.state} s ON s.note_id = n.id
                    WHERE n.grant_id = ? AND s.dpd > 0 ORDER BY s.dpd DESC, n.id""", (grant_id,))

    def note_state(self, note_id: int) -> sqlite3.Row | None:
        return self._one("SELECT * FROM note_state WHERE note_id=?", (note_id,))

    def note_state_mismatches(self, through: str, grant_ids: list[int] | None = None) -> list[sqlite3.Row]:
        """Day-end state rows (of ``self.state``, optionally only these lines' notes) whose claims differ
        from the journal through ``through``: principal, interest due, and penalty less what is still
        accrued (issue 11: accrued interest and penalty are proven by :meth:`replayed_state_mismatches`)."""
        return self._all(
            f"""WITH j AS ({_note_claims(grant_ids)})
               SELECT s.note_id, n.note_no, s.principal, s.interest_due, s.penalty - s.penalty_accrued AS penalty_claim,
                      j.p, j.i, j.q
               FROM {self.state} s JOIN loan_notes n ON n.id = s.note_id LEFT JOIN j ON j.note_id = s.note_id
               WHERE (s.principal != COALESCE(j.p, 0) OR s.interest_due != COALESCE(j.i, 0)
                  OR s.penalty - s.penalty_accrued != COALESCE(j.q, 0)) {_of_grants("s.grant_id", grant_ids)}""",
            (through,),
        )

    STATE_COLUMNS = ("principal", "accrued", "interest_due", "penalty", "penalty_accrued", "accrual_num", "accrual_posted",
                     "penalty_num", "penalty_posted", "past_due_since", "dpd", "class")

    def replayed_state_mismatches(self) -> list[sqlite3.Row]:
        """Notes whose kept day-end state differs from the replayed one (``temp.replay_state``): the note and the
        first column that differs, with both values."""
        cases = " ".join(f"WHEN s.{c} IS NOT r.{c} THEN '{c}'" for c in self.STATE_COLUMNS)
        kept = " ".join(f"WHEN s.{c} IS NOT r.{c} THEN CAST(s.{c} AS TEXT)" for c in self.STATE_COLUMNS)
        replayed = " ".join(f"WHEN s.{c} IS NOT r.{c} THEN CAST(r.{c} AS TEXT)" for c in self.STATE_COLUMNS)
        return self._all(
            f"""SELECT n.note_no, k.note_id, CASE {cases} END AS field, CASE {kept} END AS kept,
                       CASE {replayed} END AS replayed
                FROM (SELECT note_id FROM note_state UNION SELECT note_id FROM temp.replay_state) k
                LEFT JOIN note_state s ON s.note_id = k.note_id LEFT JOIN temp.replay_state r ON r.note_id = k.note_id
                JOIN loan_notes n ON n.id = k.note_id
                WHERE s.note_id IS NULL OR r.note_id IS NULL OR CASE {cases} END IS NOT NULL
                ORDER BY n.id"""
        )

    def accrued_pool_mismatches(self, through: str) -> list[sqlite3.Row]:
        """Per product: the notes' accrued interest and penalty (day-end state) beside the general ledger's
        accrued accounts through ``through``, where they differ (issue 11). A line on the old per-note
        account counts for its note's product."""
        return self._all(
            """WITH gl AS (SELECT CASE WHEN l.account LIKE '1132.penalty.accrued.%' THEN 'penalty' ELSE 'interest' END AS kind,
                                  CASE WHEN l.account = '1132.accrued' THEN g.product
                                       ELSE substr(l.account, length(CASE WHEN l.account LIKE '1132.penalty.accrued.%'
                                                                          THEN '1132.penalty.accrued.' ELSE '1132.accrued.' END) + 1)
                                  END AS product,
                                  SUM(l.debit - l.credit) AS amount
                           FROM journal_lines l JOIN txns t ON t.id = l.txn_id LEFT JOIN grants g ON g.id = l.grant_id
                           WHERE t.business_date <= :t AND (l.account = '1132.accrued' OR l.account LIKE '1132.accrued.%'
                                                             OR l.account LIKE '1132.penalty.accrued.%')
                           GROUP BY 1, 2),
                    st AS (SELECT 'interest' AS kind, product, SUM(accrued) AS amount FROM note_state GROUP BY product
                           UNION ALL
                           SELECT 'penalty', product, SUM(penalty_accrued) FROM note_state GROUP BY product),
                    keys AS (SELECT kind, product FROM gl UNION SELECT kind, product FROM st)
               SELECT keys.kind, keys.product, COALESCE(st.amount, 0) AS notes, COALESCE(gl.amount, 0) AS ledger
               FROM keys LEFT JOIN st USING (kind, product) LEFT JOIN gl USING (kind, product)
               WHERE COALESCE(st.amount, 0) != COALESCE(gl.amount, 0) ORDER BY keys.kind, keys.product""",
            {"t": through},
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
