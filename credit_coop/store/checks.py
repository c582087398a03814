"""The queries `verify` recomputes the ledger with."""

from __future__ import annotations

import sqlite3
from typing import Iterable

from credit_coop.store.common import APPEND_ONLY


class CheckQueries:
    """Mixed into :class:`credit_coop.store.sqlite.Store` (``self.conn``, ``self._all`` … come from it)."""

    # -- verification queries ---------------------------------------------
    def unbalanced_txns(self) -> list[sqlite3.Row]:
        return self._all(
            """SELECT t.id, COALESCE(SUM(l.debit), 0) AS total_debit, COALESCE(SUM(l.credit), 0) AS total_credit,
                      COUNT(l.id) AS n
               FROM txns t LEFT JOIN journal_lines l ON l.txn_id = t.id
               GROUP BY t.id
               HAVING COALESCE(SUM(l.debit), 0) != COALESCE(SUM(l.credit), 0) OR COUNT(l.id) < 2 OR COALESCE(SUM(l.debit), 0) = 0"""
        )

    def orphan_lines(self) -> list[sqlite3.Row]:
        return self._all("SELECT l.* FROM journal_lines l LEFT JOIN txns t ON t.id = l.txn_id WHERE t.id IS NULL")

    def bad_sided_lines(self) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM journal_lines WHERE debit < 0 OR credit < 0 OR (debit = 0) = (credit = 0)")

    def note_disbursements(self, account_prefix: str) -> list[sqlite3.Row]:
        """Each note with its amount, what its draw transaction put on a loan account, and its balance."""
        return self._all(
            """SELECT n.id, n.note_no, n.amount, n.grant_id,
                  (SELECT COALESCE(SUM(l.debit - l.credit), 0) FROM journal_lines l
                    WHERE l.txn_id = n.txn_id AND l.note_id = n.id AND l.account LIKE ? || '%') AS disbursed,
                  (SELECT COALESCE(SUM(l.debit - l.credit), 0) FROM journal_lines l
                    WHERE l.note_id = n.id AND l.account LIKE ? || '%') AS outstanding
               FROM loan_notes n ORDER BY n.id""",
            (account_prefix, account_prefix),
        )

    def grant_outstanding_all(self, account_prefix: str) -> list[sqlite3.Row]:
        return self._all(
            """SELECT g.id, g.grant_no, g.product, g.line_amount, g.term_months, g.status,
                      g.surveyed_by, g.reviewed_by, g.approved_by, g.card_no, g.contract_no,
                      COALESCE(SUM(l.debit - l.credit), 0) AS outstanding
               FROM grants g LEFT JOIN journal_lines l ON l.grant_id = g.id AND l.account LIKE ? || '%'
               GROUP BY g.id ORDER BY g.id""",
            (account_prefix,),
        )

    def negative_sub_balances(self, accounts_prefixes: Iterable[str]) -> list[sqlite3.Row]:
        """(note, account) balances below zero for accounts that can never be negative (``1303.``: every
        sub-account; an account without a trailing dot: that account exactly)."""
        clauses = " OR ".join("account LIKE ? || '%'" if a.endswith(".") else "account = ?" for a in accounts_prefixes)
        return self._all(
            f"""SELECT note_id, account, SUM(debit - credit) AS balance FROM journal_lines
                WHERE note_id IS NOT NULL AND ({clauses}) GROUP BY note_id, account HAVING SUM(debit - credit) < 0""",
            tuple(accounts_prefixes),
        )

    def reversal_mismatches(self) -> list[sqlite3.Row]:
        """Reversals whose lines are not the exact mirror of the original's."""
        return self._all(
            """WITH o AS (SELECT r.id AS rid, l.account, l.grant_id, l.note_id, SUM(l.debit) AS d, SUM(l.credit) AS c
                          FROM txns r JOIN journal_lines l ON l.txn_id = r.reverses
                          GROUP BY r.id, l.account, l.grant_id, l.note_id),
                    m AS (SELECT r.id AS rid, l.account, l.grant_id, l.note_id, SUM(l.credit) AS d, SUM(l.debit) AS c
                          FROM txns r JOIN journal_lines l ON l.txn_id = r.id WHERE r.reverses IS NOT NULL
                          GROUP BY r.id, l.account, l.grant_id, l.note_id)
               SELECT rid FROM (SELECT * FROM o EXCEPT SELECT * FROM m) missing
               UNION
               SELECT rid FROM (SELECT * FROM m EXCEPT SELECT * FROM o) extra"""
        )

    def missing_guards(self) -> list[str]:
        """Append-only triggers that should exist and do not, or whose definition was replaced."""
        from credit_coop.store.schema import guard_definitions

        have = {r[0]: " ".join(r[1].split()) for r in self._all("SELECT name, sql FROM sqlite_master WHERE type='trigger'")}
        return [name if name not in have else f"{name} (its definition was replaced)"
                for name, sql in guard_definitions(APPEND_ONLY).items() if have.get(name) != " ".join(sql.split())]

    def product_totals(self, as_of: str, loans_prefix: str, scope: tuple[str, str] | None = None) -> list[sqlite3.Row]:
        """Per product: households granted, granted amount, cumulative drawn, outstanding (as of a date);
        ``scope``: only one department's or branch's grants, ``("department", "D1")``."""
        where, join = "", ""
        if scope:
            column = {"department": "department", "branch": "branch"}[scope[0]]
            where = f"AND {column} = :unit"
            join = f"JOIN grants gg ON gg.id = l.grant_id AND gg.{column} = :unit"
        return self._all(
            f"""WITH g AS (SELECT * FROM grants WHERE approved_on IS NOT NULL AND approved_on <= :d
                              AND status IN ('approved', 'frozen', 'closed') {where}),
                    drawn AS (SELECT g.product, SUM(n.amount) AS amount FROM loan_notes n JOIN g ON g.id = n.grant_id
                              WHERE n.drawn_on <= :d AND NOT EXISTS (SELECT 1 FROM txns r WHERE r.reverses = n.txn_id)
                              GROUP BY g.product),
                    bal AS (SELECT substr(l.account, length(:p) + 1) AS product, SUM(l.debit - l.credit) AS amount
                            FROM journal_lines l JOIN txns t ON t.id = l.txn_id {join}
                            WHERE l.account LIKE :p || '%' AND t.business_date <= :d GROUP BY l.account)
               SELECT g.product, COUNT(DISTINCT g.borrower_id) AS households, SUM(g.line_amount) AS granted,
                      COALESCE((SELECT amount FROM drawn WHERE drawn.product = g.product), 0) AS drawn,
                      COALESCE((SELECT amount FROM bal WHERE bal.product = g.product), 0) AS outstanding
               FROM g GROUP BY g.product ORDER BY g.product""",
            {"d": as_of, "p": loans_prefix, "unit": scope[1] if scope else None},
        )

    def account_balances(self) -> list[sqlite3.Row]:
        return self._all(
            "SELECT account, SUM(debit) AS debit, SUM(credit) AS credit FROM journal_lines GROUP BY account ORDER BY account"
        )
