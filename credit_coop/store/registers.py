"""The audit registers and reports."""

from __future__ import annotations

import sqlite3
from typing import Iterator

from credit_coop.store.common import IS_CASH


class RegisterQueries:
    """Mixed into :class:`credit_coop.store.sqlite.Store` (``self.conn``, ``self._all`` … come from it)."""

    # -- exports (see core/export.py) -----------------------------------------
    REGISTER_SQL = {
        "borrowers": """SELECT b.id_number, b.name, (SELECT group_concat(kind, '|') FROM (SELECT kind FROM borrower_kinds k
                            WHERE k.id_number = b.id_number ORDER BY kind) kinds) AS kinds, b.village, b.settlement_account,
                            b.registered_on, b.registered_by
                        FROM borrowers b WHERE b.registered_on <= :t ORDER BY b.registered_on, b.id_number""",
        "grants": """SELECT g.grant_no, g.borrower_id AS id_number, b.name, g.product, g.status, g.applied_amount, g.applied_on,
                            g.applied_by, g.grade, g.posted_from, g.posted_to, g.village_reviewed_on, g.village_reviewed_by,
                            g.line_amount, g.term_months, g.surveyed_on, g.surveyed_by, g.reviewed_on, g.reviewed_by,
                            g.approved_on, g.approved_by, g.approval_tier, g.approval_exposure, g.rejected_on, g.rejected_by,
                            g.reject_reason, g.contract_no, g.card_no, g.department, g.branch
                     FROM grants g JOIN borrowers b ON b.id_number = g.borrower_id
                     WHERE g.applied_on <= :t AND COALESCE(g.closed_on, :f) >= :f AND COALESCE(g.rejected_on, :f) >= :f
                     ORDER BY g.id""",
        "lines": """SELECT g.card_no, g.contract_no, g.grant_no, g.borrower_id AS id_number, g.product, g.line_amount,
                           g.valid_from, g.valid_to, g.status, g.officer, g.department, g.branch,
                           COALESCE((SELECT SUM(l.debit - l.credit) FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                                     WHERE l.grant_id = g.id AND l.account LIKE '1303.%' AND t.business_date <= :t), 0) AS outstanding
                    FROM grants g WHERE g.approved_on <= :t AND COALESCE(g.closed_on, :f) >= :f ORDER BY g.id""",
        "loan_notes": """SELECT n.note_no, g.card_no, g.borrower_id AS id_number, g.product, n.amount, n.drawn_on, n.maturity,
                                n.annual_rate_percent, n.teller, n.fingerprint_ok, n.txn_id, g.department, g.branch,
                                EXISTS (SELECT 1 FROM txns r WHERE r.reverses = n.txn_id) AS reversed,
                                COALESCE((SELECT SUM(l.debit - l.credit) FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                                          WHERE l.note_id = n.id AND l.account LIKE '1303.%' AND t.business_date <= :t), 0) AS outstanding
                         FROM loan_notes n JOIN grants g ON g.id = n.grant_id
                         WHERE n.drawn_on BETWEEN :f AND :t ORDER BY n.id""",
        "repayments": f"""SELECT t.id AS txn_id, t.business_date, g.card_no, g.borrower_id AS id_number,
                                SUM(CASE WHEN {IS_CASH} THEN l.debit ELSE 0 END) AS amount,
                                SUM(CASE WHEN l.account = '1132.penalty' OR l.account LIKE '1132.penalty.accrued.%'
                                         THEN l.credit ELSE 0 END) AS penalty,
                                SUM(CASE WHEN l.account = '1132.due' THEN l.credit ELSE 0 END) AS interest_due,
                                SUM(CASE WHEN l.account = '1132.accrued' OR l.account LIKE '1132.accrued.%'
                                         THEN l.credit ELSE 0 END) AS interest_accrued,
                                SUM(CASE WHEN l.account LIKE '1303.%' THEN l.credit ELSE 0 END) AS principal,
                                SUM(CASE WHEN l.account = '2241.riskfund' THEN l.credit ELSE 0 END) AS recovery,
                                t.operator, EXISTS (SELECT 1 FROM txns r WHERE r.reverses = t.id) AS reversed, g.department, g.branch
                         FROM txns t JOIN journal_lines l ON l.txn_id = t.id JOIN grants g ON g.id = l.grant_id
                         WHERE t.kind = 'repayment' AND t.business_date BETWEEN :f AND :t
                         GROUP BY t.id, t.business_date, g.card_no, g.borrower_id, t.operator, g.department, g.branch
                         ORDER BY t.id""",
        "journal": """SELECT t.id AS txn_id, t.business_date, t.kind, t.operator, t.memo, t.reverses, l.id AS line_id, l.account,
                             l.debit, l.credit, n.note_no, g.card_no, l.officer
                      FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                      LEFT JOIN loan_notes n ON n.id = l.note_id LEFT JOIN grants g ON g.id = l.grant_id
                      WHERE t.business_date BETWEEN :f AND :t ORDER BY t.id, l.id""",
        # pay and refunds by the business date they were posted on, as the journal holds them (issue 17);
        # adjustments carried for earlier periods (补发 / 扣回) are rows of the run that carried them
        "pay": """SELECT * FROM (
                    SELECT p.month, p.officer, p.role, p.surveyed, p.reviewed, p.approved, p.grant_pay, p.interest_collected,
                           p.interest_pay, p.total, p.holdback, p.payable, r.txn_id, r.run_on, '' AS adjusts
                    FROM payroll_lines p JOIN payroll_runs r ON r.month = p.month WHERE r.run_on BETWEEN :f AND :t
                    UNION ALL
                    SELECT a.month, a.officer, COALESCE(o.role, ''), 0, 0, 0, 0, a.interest_collected, a.interest_pay_delta,
                           a.interest_pay_delta, a.holdback, a.payable, r.txn_id, r.run_on, a.for_month
                    FROM pay_adjustments a JOIN payroll_runs r ON r.month = a.month LEFT JOIN operators o ON o.name = a.officer
                    WHERE r.run_on BETWEEN :f AND :t) runs
                  ORDER BY run_on, month, officer, adjusts""",
        "risk_fund": """SELECT t.business_date, t.id AS txn_id, l.officer, t.kind, l.account, l.credit AS fund_in, l.debit AS fund_out,
                               n.note_no
                        FROM journal_lines l JOIN txns t ON t.id = l.txn_id LEFT JOIN loan_notes n ON n.id = l.note_id
                        WHERE l.account IN ('2241.riskfund', '1221.officer') AND t.business_date BETWEEN :f AND :t
                        ORDER BY t.id, l.id""",
        "year_end": """SELECT * FROM (
                         SELECT y.year, y.officer, y.holdbacks, y.clean, y.reason, y.refund, y.full_settlement, r.txn_id, r.run_on
                         FROM year_end_lines y JOIN year_end_runs r ON r.year = y.year WHERE r.run_on BETWEEN :f AND :t
                         UNION ALL
                         SELECT a.year, a.officer, 0, 1, 'adjustment for ' || a.for_year || ': ' || COALESCE(a.reason, ''),
                                a.refund_delta, 0, r.txn_id, r.run_on
                         FROM year_end_adjustments a JOIN year_end_runs r ON r.year = a.year WHERE r.run_on BETWEEN :f AND :t) runs
                       ORDER BY run_on, year, officer""",
        "compensation": """SELECT c.on_date, n.note_no, g.card_no, g.borrower_id AS id_number, c.officer, c.amount, c.from_fund,
                                  c.shortfall, c.txn_id, r.id AS reversed_by, g.department, g.branch
                           FROM compensations c JOIN loan_notes n ON n.id = c.note_id JOIN grants g ON g.id = n.grant_id
                           LEFT JOIN txns r ON r.reverses = c.txn_id
                           WHERE c.on_date BETWEEN :f AND :t ORDER BY c.on_date, c.id""",
    }

    def unit_controls(self, first: str, last: str, unit_kind: str) -> dict[str, dict[str, int]]:
        """Per department (or branch): the period's loan notes drawn, repayments taken and compensation paid,
        summed over the same rows the registers list (the audit workbook's per-unit control sheet)."""
        column = {"department": "department", "branch": "branch"}[unit_kind]
        out: dict[str, dict[str, int]] = {}
        for key, sql in (
            ("drawn", f"""SELECT g.{column}, SUM(n.amount) FROM loan_notes n JOIN grants g ON g.id = n.grant_id
                          WHERE n.drawn_on BETWEEN :f AND :t GROUP BY g.{column}"""),
            ("repaid", f"""SELECT g.{column}, SUM(l.debit) FROM txns t JOIN journal_lines l ON l.txn_id = t.id
                           JOIN grants g ON g.id = l.grant_id
                           WHERE t.kind = 'repayment' AND t.business_date BETWEEN :f AND :t
                             AND {IS_CASH} GROUP BY g.{column}"""),
            ("compensated", f"""SELECT g.{column}, SUM(c.amount) FROM compensations c JOIN loan_notes n ON n.id = c.note_id
                                JOIN grants g ON g.id = n.grant_id WHERE c.on_date BETWEEN :f AND :t GROUP BY g.{column}"""),
        ):
            for unit, fen in self._all(sql, {"f": first, "t": last}):
                out.setdefault(unit, {"drawn": 0, "repaid": 0, "compensated": 0})[key] = fen
        return out

    def register_rows(self, register: str, first: str, last: str) -> tuple[list[str], Iterator[tuple]]:
        """A register's column names and its rows for a period, streamed (deterministic order)."""
        cursor = self._stream(self.REGISTER_SQL[register], {"f": first, "t": last})
        return [d[0] for d in cursor.description], iter(cursor)

    def journal_sum(self, first: str, last: str, *, kinds: tuple[str, ...] | None = None, account: str | None = None,
                    side: str = "debit") -> int:
        """Σ debit (or credit) of journal lines in a period, optionally for some transaction kinds and one account
        with its sub-accounts (``1303``: every product's loans; ``1001``: every till)."""
        col = {"debit": "l.debit", "credit": "l.credit", "net": "l.debit - l.credit", "net-credit": "l.credit - l.debit"}[side]
        sql = f"""SELECT COALESCE(SUM({col}), 0) FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                  WHERE t.business_date BETWEEN ? AND ?"""
        params: list = [first, last]
        if account is not None:
            sql += " AND (l.account = ? OR l.account LIKE ? || '.%')"
            params += [account, account]
        if kinds:
            sql += f" AND t.kind IN ({', '.join('?' for _ in kinds)})"
            params += list(kinds)
        return self._scalar(sql, params)

    def journal_sum_of_txns(self, txn_ids: list[int], account: str, side: str = "debit") -> int:
        """Σ debit (or credit) of these transactions' lines on ``account`` and its sub-accounts."""
        if not txn_ids:
            return 0
        col = "debit" if side == "debit" else "credit"
        marks = ", ".join("?" for _ in txn_ids)
        return self._scalar(
            f"SELECT COALESCE(SUM({col}), 0) FROM journal_lines WHERE txn_id IN ({marks}) AND (account = ? OR account LIKE ? || '.%')",
            (*txn_ids, account, account)
        )

    def trial_balance_by_unit(self, as_of: str, unit_kind: str) -> list[sqlite3.Row]:
        """Per unit and account: debit and credit through ``as_of``. A line belongs to the unit of the grant it
        is posted on; a branch's cash (``1001.<branch>``) to that branch; the rest (income per product, pay,
        the funds, the head office's till) to the union itself, ``UNION``."""
        column = {"department": "department", "branch": "branch"}[unit_kind]
        cash = "WHEN l.account LIKE '1001.%' AND l.account != '1001.HO' THEN substr(l.account, 6)" if unit_kind == "branch" else ""
        return self._all(
            f"""SELECT CASE {cash} WHEN g.{column} IS NOT NULL THEN g.{column} ELSE 'UNION' END AS unit,
                       l.account, SUM(l.debit) AS debit, SUM(l.credit) AS credit
                FROM journal_lines l JOIN txns t ON t.id = l.txn_id LEFT JOIN grants g ON g.id = l.grant_id
                WHERE t.business_date <= ? GROUP BY unit, l.account ORDER BY unit, l.account""",
            (as_of,),
        )

    def trial_balance(self, as_of: str) -> list[sqlite3.Row]:
        return self._all(
            """SELECT l.account, SUM(l.debit) AS debit, SUM(l.credit) AS credit FROM journal_lines l JOIN txns t ON t.id = l.txn_id
               WHERE t.business_date <= ? GROUP BY l.account ORDER BY l.account""",
            (as_of,),
        )

    def all_txns(self) -> Iterator[sqlite3.Row]:
        return self._stream("SELECT * FROM txns ORDER BY business_date, id")

    def all_lines_by_txn(self) -> Iterator[sqlite3.Row]:
        return self._stream(
            """SELECT l.txn_id, l.account, l.debit, l.credit FROM journal_lines l JOIN txns t ON t.id = l.txn_id
               ORDER BY t.business_date, t.id, l.id"""
        )

    def accounts_first_used(self) -> list[sqlite3.Row]:
        return self._all(
            """SELECT l.account, MIN(t.business_date) AS first FROM journal_lines l JOIN txns t ON t.id = l.txn_id
               GROUP BY l.account ORDER BY l.account"""
        )

    # -- reports ----------------------------------------------------------------
    def officer_summary(self, loans_prefix: str, fund: str) -> list[sqlite3.Row]:
        """Per loan officer: grants surveyed, principal managed, interest collected, fund balance."""
        return self._all(
            """WITH people AS (SELECT name FROM operators WHERE role = 'officer'),
                    surveyed AS (SELECT surveyed_by AS name, COUNT(*) AS n FROM grants WHERE approved_on IS NOT NULL GROUP BY surveyed_by),
                    managed AS (SELECT COALESCE((SELECT o.officer FROM note_officers o WHERE o.note_id = n.id ORDER BY o.id DESC LIMIT 1),
                                                g.officer) AS name,
                                       (SELECT COALESCE(SUM(l.debit - l.credit), 0) FROM journal_lines l
                                         WHERE l.note_id = n.id AND l.account LIKE ? || '%') AS principal
                                FROM loan_notes n JOIN grants g ON g.id = n.grant_id),
                    collected AS (SELECT l.officer AS name, SUM(l.credit - l.debit) AS fen FROM journal_lines l JOIN txns t ON t.id = l.txn_id
                                  WHERE l.account LIKE '1132.%' AND l.officer IS NOT NULL AND t.kind IN ('repayment', 'reversal')
                                  GROUP BY l.officer),
                    funds AS (SELECT officer AS name, SUM(credit - debit) AS fen FROM journal_lines WHERE account = ? GROUP BY officer)
               SELECT p.name, COALESCE(s.n, 0) AS grants,
                      COALESCE((SELECT SUM(principal) FROM managed m WHERE m.name = p.name), 0) AS managed,
                      COALESCE(c.fen, 0) AS collected, COALESCE(f.fen, 0) AS fund
               FROM people p LEFT JOIN surveyed s ON s.name = p.name LEFT JOIN collected c ON c.name = p.name
               LEFT JOIN funds f ON f.name = p.name ORDER BY p.name""",
            (loans_prefix, fund),
        )

    def first_disbursements(self) -> list[sqlite3.Row]:
        """Every approved grant with its acceptance date and first (unreversed) drawdown date."""
        return self._all(
            """SELECT g.grant_no, g.product, g.borrower_id, g.applied_on, g.approved_on, g.officer, g.department, g.branch,
                      (SELECT MIN(n.drawn_on) FROM loan_notes n WHERE n.grant_id = g.id
                         AND NOT EXISTS (SELECT 1 FROM txns r WHERE r.reverses = n.txn_id)) AS first_drawn
               FROM grants g WHERE g.status IN ('approved', 'frozen', 'closed') ORDER BY g.id"""
        )
