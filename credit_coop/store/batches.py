"""Performance pay, the officers' risk funds and the year-end."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

from credit_coop.store.common import _now, _RECOVERED, _RECOVERED_TO_DEBT, LIVE_COMPENSATIONS


class BatchQueries:
    """Mixed into :class:`credit_coop.store.sqlite.Store` (``self.conn``, ``self._all`` … come from it)."""

    # -- performance pay, risk fund, year-end (see core/pay.py, core/riskfund.py) --
    def grant_roles_in(self, first: str, last: str) -> list[sqlite3.Row]:
        """Per person: grants surveyed, reviewed and approved (approved between two dates)."""
        return self._all(
            """SELECT person, SUM(s) AS surveyed, SUM(r) AS reviewed, SUM(a) AS approved FROM (
                 SELECT surveyed_by AS person, 1 AS s, 0 AS r, 0 AS a FROM grants WHERE approved_on BETWEEN :f AND :l AND approved_by IS NOT NULL
                 UNION ALL SELECT reviewed_by, 0, 1, 0 FROM grants WHERE approved_on BETWEEN :f AND :l AND approved_by IS NOT NULL
                 UNION ALL SELECT approved_by, 0, 0, 1 FROM grants WHERE approved_on BETWEEN :f AND :l AND approved_by IS NOT NULL)
               GROUP BY person""",
            {"f": first, "l": last},
        )

    def interest_collected_in(self, first: str, last: str, prefix: str) -> dict[str, int]:
        """Per managing officer: interest (and penalty) collected by repayments between two dates, net of reversals."""
        rows = self._all(
            """SELECT l.officer, SUM(l.credit - l.debit) FROM journal_lines l JOIN txns t ON t.id = l.txn_id
               WHERE t.business_date BETWEEN ? AND ? AND l.officer IS NOT NULL AND l.account LIKE ? || '%'
                 AND (t.kind = 'repayment' OR (t.kind = 'reversal' AND (SELECT kind FROM txns o WHERE o.id = t.reverses) = 'repayment'))
               GROUP BY l.officer""",
            (first, last, prefix),
        )
        return {r[0]: r[1] for r in rows}

    # Batches that run once per period and keep a line per person: (runs table, lines table, period column)
    BATCHES = {"payroll": ("payroll_runs", "payroll_lines", "month"), "year-end": ("year_end_runs", "year_end_lines", "year")}

    def batch_run(self, batch: str, period: str) -> sqlite3.Row | None:
        runs, _, key = self.BATCHES[batch]
        return self._one(f"SELECT * FROM {runs} WHERE {key}=?", (period,))

    def batch_lines(self, batch: str, period: str) -> list[sqlite3.Row]:
        _, lines, key = self.BATCHES[batch]
        return self._all(f"SELECT * FROM {lines} WHERE {key}=? ORDER BY officer", (period,))

    def insert_batch(self, batch: str, period: str, run_on: str, operator: str, txn_id: int | None, lines: list[dict]) -> None:
        runs, table, key = self.BATCHES[batch]
        self._insert(runs, {key: period, "run_on": run_on, "operator": operator, "txn_id": txn_id, "run_at": _now()})
        for line in lines:
            self._insert(table, {key: period, **line})

    def officer_balance(self, officer: str, account: str, sign: int = -1, through: str | None = None) -> int:
        """Balance of an officer's sub-account (credit-positive with sign=-1)."""
        sql = """SELECT COALESCE(SUM(l.debit - l.credit), 0) FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                 WHERE l.officer = ? AND l.account = ?"""
        params = [officer, account]
        if through:
            sql += " AND t.business_date <= ?"
            params.append(through)
        return sign * self._scalar(sql, params)

    def officer_movements(self, officer: str, accounts_: list[str]) -> list[sqlite3.Row]:
        marks = ", ".join("?" for _ in accounts_)
        return self._all(
            f"""SELECT t.id AS txn_id, t.business_date, t.kind, t.memo, l.account, l.debit, l.credit, l.note_id
                FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                WHERE l.officer = ? AND l.account IN ({marks}) ORDER BY t.business_date, t.id, l.id""",
            (officer, *accounts_),
        )

    def compensation_candidates(self, day: str, grace_days: int) -> list[sqlite3.Row]:
        """Notes unpaid ``grace_days`` after maturity, not yet compensated, with their issuing officer."""
        return self._all(
            f"""SELECT s.note_id, s.grant_id, s.product, s.principal, s.accrued, s.interest_due, s.penalty, s.penalty_accrued,
                      n.amount, n.note_no, g.surveyed_by AS officer
               FROM {self.state} s JOIN loan_notes n ON n.id = s.note_id JOIN grants g ON g.id = s.grant_id
               LEFT JOIN {LIVE_COMPENSATIONS} c ON c.note_id = s.note_id
               WHERE s.principal > 0 AND s.maturity <= ? AND c.note_id IS NULL
               ORDER BY s.note_id""",
            ((date.fromisoformat(day) - timedelta(days=int(grace_days))).isoformat(),),
        )

    def insert_compensation(self, row: dict) -> None:
        self._insert("compensations", row)

    _CLEARED = """principal = 0, accrued = 0, interest_due = 0, penalty = 0, penalty_accrued = 0, accrual_num = 0,
                  accrual_posted = 0, penalty_num = 0, penalty_posted = 0"""

    def clear_note_state(self, note_id: int) -> None:
        self.conn.execute(f"UPDATE {self.state} SET {self._CLEARED} WHERE note_id = ?", (note_id,))

    def clear_compensated_state(self, day: str) -> None:
        """Replaying a day before a correction: notes compensated that day leave the day-end as they did then."""
        self.conn.execute(
            f"""UPDATE {self.state} SET {self._CLEARED}
                WHERE note_id IN (SELECT note_id FROM {LIVE_COMPENSATIONS} c WHERE c.on_date = ?)""",
            (day,),
        )

    def compensations_for_grant(self, grant_id: int, fund_account: str, debt_account: str) -> list[sqlite3.Row]:
        """Compensated notes on a line with what the borrower has paid back since (recoveries), and
        how much of that went to the officer's debt."""
        return self._all(*self._query_compensations_for_grant(grant_id, fund_account, debt_account))

    @staticmethod
    def _query_compensations_for_grant(grant_id: int, fund_account: str, debt_account: str) -> tuple[str, tuple]:
        return (
            f"""SELECT c.*, n.note_no,
                      {_RECOVERED} AS recovered, {_RECOVERED_TO_DEBT} AS recovered_to_debt
               FROM {LIVE_COMPENSATIONS} c CROSS JOIN loan_notes n ON n.id = c.note_id WHERE n.grant_id = ? ORDER BY c.id""",
            (fund_account, debt_account, debt_account, grant_id),  # CROSS JOIN: from the few cases, not the line's notes
        )

    def compensation_cases(self, fund_account: str, debt_account: str) -> list[sqlite3.Row]:
        return self._all(
            f"""SELECT c.*, n.note_no, g.card_no, g.product,
                      {_RECOVERED} AS recovered, {_RECOVERED_TO_DEBT} AS recovered_to_debt
               FROM {LIVE_COMPENSATIONS} c JOIN loan_notes n ON n.id = c.note_id JOIN grants g ON g.id = n.grant_id
               ORDER BY c.on_date, c.id""",
            (fund_account, debt_account, debt_account),
        )

    def officers_with(self, accounts_: list[str]) -> list[str]:
        marks = ", ".join("?" for _ in accounts_)
        return [r[0] for r in self._all(
            f"SELECT DISTINCT officer FROM journal_lines WHERE officer IS NOT NULL AND account IN ({marks}) ORDER BY officer",
            accounts_,
        )]

    def holdbacks_in(self, first: str, last: str) -> dict[str, int]:
        """Per officer: what the payroll runs of these months withheld (adjustments they carried included)."""
        rows = self._all(
            """SELECT officer, SUM(h) FROM (SELECT officer, holdback AS h FROM payroll_lines WHERE month BETWEEN ? AND ?
                                            UNION ALL SELECT officer, holdback FROM pay_adjustments WHERE month BETWEEN ? AND ?) held
               GROUP BY officer""", (first, last, first, last)
        )
        return {r[0]: r[1] for r in rows}

    def officers_with_npl_in(self, first: str, last: str, npl_classes: list[str]) -> dict[str, str]:
        """Issuing officers any of whose notes entered a non-performing class between two dates."""
        marks = ", ".join("?" for _ in npl_classes)
        rows = self._all(
            f"""SELECT g.surveyed_by, MIN(n.note_no) FROM note_classes c JOIN loan_notes n ON n.id = c.note_id
                JOIN grants g ON g.id = n.grant_id
                WHERE c.on_date BETWEEN ? AND ? AND c.class IN ({marks})
                  -- a record restated by a back-dated correction no longer counts
                  AND NOT EXISTS (SELECT 1 FROM note_classes r WHERE r.note_id = c.note_id AND r.id > c.id
                                  AND r.on_date <= c.on_date)
                GROUP BY g.surveyed_by""",
            (first, last, *npl_classes),
        )
        return {r[0]: r[1] for r in rows}

    def officers_compensating_in(self, first: str, last: str) -> dict[str, str]:
        rows = self._all(
            f"""SELECT c.officer, MIN(n.note_no) FROM {LIVE_COMPENSATIONS} c JOIN loan_notes n ON n.id = c.note_id
               WHERE c.on_date BETWEEN ? AND ? GROUP BY c.officer""",
            (first, last),
        )
        return {r[0]: r[1] for r in rows}


    def transfer(self, officer: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM officer_transfers WHERE officer=?", (officer,))

    def insert_transfer(self, officer: str, on: str, by: str) -> None:
        self._insert("officer_transfers", {"officer": officer, "on_date": on, "by_operator": by})

    def settlement(self, officer: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM fund_settlements WHERE officer=?", (officer,))

    def insert_settlement(self, officer: str, on: str, amount: int, txn_id: int | None) -> None:
        self._insert("fund_settlements", {"officer": officer, "on_date": on, "amount": amount, "txn_id": txn_id})

    def unrecovered_issued(self, officer: str, loans_prefix: str, fund_account: str, debt_account: str) -> int:
        """Loan notes the officer issued that still carry principal, or compensations not yet recovered."""
        live = self._scalar(
            """SELECT COUNT(*) FROM (SELECT l.note_id FROM journal_lines l JOIN loan_notes n ON n.id = l.note_id
                                     JOIN grants g ON g.id = n.grant_id
                                     WHERE g.surveyed_by = ? AND l.account LIKE ? || '%'
                                     GROUP BY l.note_id HAVING SUM(l.debit - l.credit) > 0) live""",
            (officer, loans_prefix),
        )
        open_cases = self._scalar(
            f"""SELECT COUNT(*) FROM {LIVE_COMPENSATIONS} c WHERE c.officer = ? AND c.amount > {_RECOVERED}""",
            (officer, fund_account, debt_account),
        )
        return live + open_cases

    def payroll_mismatches(self, payable: str, fund: str) -> list[sqlite3.Row]:
        """Payroll runs whose journal lines differ from the recorded per-officer lines and adjustments."""
        return self._all(
            """SELECT r.month FROM payroll_runs r
               WHERE COALESCE((SELECT SUM(holdback) FROM payroll_lines p WHERE p.month = r.month), 0)
                   + COALESCE((SELECT SUM(holdback) FROM pay_adjustments a WHERE a.month = r.month), 0) !=
                     COALESCE((SELECT SUM(credit - debit) FROM journal_lines WHERE txn_id = r.txn_id AND account = ?), 0)
                  OR COALESCE((SELECT SUM(payable) FROM payroll_lines p WHERE p.month = r.month), 0)
                   + COALESCE((SELECT SUM(payable) FROM pay_adjustments a WHERE a.month = r.month), 0) !=
                     COALESCE((SELECT SUM(credit - debit) FROM journal_lines WHERE txn_id = r.txn_id AND account = ?), 0)""",
            (fund, payable),
        )

    def compensation_mismatches(self, fund: str, debt: str) -> list[sqlite3.Row]:
        """Compensation records whose amounts differ from their transaction's lines."""
        return self._all(
            """SELECT c.id, c.note_id FROM compensations c
               WHERE c.from_fund != COALESCE((SELECT SUM(debit) FROM journal_lines WHERE txn_id = c.txn_id AND account = ?), 0)
                  OR c.shortfall != COALESCE((SELECT SUM(debit) FROM journal_lines WHERE txn_id = c.txn_id AND account = ?), 0)
                  OR c.amount != COALESCE((SELECT SUM(credit) FROM journal_lines WHERE txn_id = c.txn_id), 0)""",
            (fund, debt),
        )

    def year_end_mismatches(self, fund: str) -> list[sqlite3.Row]:
        return self._all(
            """SELECT r.year FROM year_end_runs r
               WHERE COALESCE((SELECT SUM(refund) FROM year_end_lines y WHERE y.year = r.year), 0)
                   + COALESCE((SELECT SUM(refund_delta) FROM year_end_adjustments a WHERE a.year = r.year), 0) !=
                     COALESCE((SELECT SUM(debit - credit) FROM journal_lines WHERE txn_id = r.txn_id AND account = ?), 0)""",
            (fund,),
        )

    def postings_before_drawdown(self) -> list[sqlite3.Row]:
        """Journal lines on a loan note dated before the note was drawn."""
        return self._all(
            """SELECT DISTINCT t.id AS txn_id, t.kind, t.business_date, n.note_no, n.drawn_on
               FROM loan_notes n JOIN journal_lines l ON l.note_id = n.id JOIN txns t ON t.id = l.txn_id
               WHERE t.business_date < n.drawn_on ORDER BY t.id LIMIT 100"""
        )

    def negative_officer_balances(self, fund: str, debt: str) -> list[sqlite3.Row]:
        return self._all(
            """SELECT officer, account, SUM(debit - credit) AS balance FROM journal_lines
               WHERE officer IS NOT NULL AND account IN (?, ?) GROUP BY officer, account
               HAVING (account = ? AND SUM(debit - credit) > 0) OR (account = ? AND SUM(debit - credit) < 0)""",
            (fund, debt, fund, debt),
        )
