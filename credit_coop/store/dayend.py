"""The day-end, set-based over every note (the rules come from core/dayend.py)."""

from __future__ import annotations

import sqlite3

from credit_coop.store.common import _note_components, _now, _of_grants


class DayEndQueries:
    """Mixed into :class:`credit_coop.store.sqlite.Store` (``self.conn``, ``self._all`` … come from it)."""

    # -- day-end (see core/dayend.py for the rules) ---------------------
    # The day-end works on ``self.state``: the ``note_state`` table, or during a
    # back-dated correction a temporary copy for the corrected line's notes.
    state = "note_state"

    def closed_through(self) -> str | None:
        return self.get_meta("closed_through")

    def first_closed_day(self) -> str | None:
        return self._scalar("SELECT MIN(business_date) FROM day_closes")

    def earliest_business_date(self) -> str | None:
        return self._scalar("SELECT MIN(business_date) FROM txns")

    def notes_without_state(self, through: str, grant_ids: list[int] | None = None) -> list[sqlite3.Row]:
        return self._all(
            f"""SELECT n.id, n.grant_id, n.maturity, n.annual_rate_percent, g.product
               FROM loan_notes n JOIN grants g ON g.id = n.grant_id
               LEFT JOIN {self.state} s ON s.note_id = n.id
               WHERE s.note_id IS NULL AND n.drawn_on <= ? {_of_grants("n.grant_id", grant_ids)}""",
            (through,),
        )

    def insert_note_states(self, rows: list[tuple]) -> None:
        """rows: (note_id, grant_id, product, maturity, rate_ppb, penalty_ppb[, principal, accrued, interest_due,
        penalty, past_due_since, dpd, class, penalty_accrued])."""
        cols = ["note_id", "grant_id", "product", "maturity", "rate_ppb", "penalty_ppb", "principal", "accrued",
                "interest_due", "penalty", "past_due_since", "dpd", "class", "penalty_accrued"]
        for width in {len(r) for r in rows}:
            self.conn.executemany(
                f"INSERT INTO {self.state}({', '.join(cols[:width])}) VALUES ({', '.join('?' * width)})",
                [r for r in rows if len(r) == width],
            )

    def dayend_apply_postings(self, day: str, grant_ids: list[int] | None = None) -> None:
        """Move the day's counter postings (draws, repayments, reversals) into the day-end state.

        The day-end's own postings (and compensations, which end a note's state
        directly) are left out, so a replay of a closed day sees what the day-end saw.
        """
        self.conn.execute(
            f"""WITH d AS ({_note_components("=", counter_only=True, grant_ids=grant_ids)})
               UPDATE {self.state} SET principal = principal + d.p, accrued = accrued + d.a,
                                     interest_due = interest_due + d.i, penalty = penalty + d.q,
                                     penalty_accrued = penalty_accrued + d.qa
               FROM d WHERE {self.state}.note_id = d.note_id""",
            (day,),
        )

    # The rules come from core/dayend.py as SQL expressions over a state row (``regular``, ``pen``,
    # ``which``, ``overdue``); the store only applies them to every note at once.
    @staticmethod
    def _accrual_deltas(regular: str, pen: str) -> tuple[str, str]:
        """Today's interest and penalty of a note: the change in its rounded running total for the period."""
        return (f"((2 * (accrual_num + {regular}) + :den) / (2 * :den) - accrual_posted)",
                f"((2 * (penalty_num + {pen}) + :den) / (2 * :den) - penalty_posted)")

    def dayend_accruals(self, day: str, den: int, regular: str, pen: str) -> tuple[int, dict[str, tuple[int, int]]]:
        """Today's accruals, nothing written: the notes whose interest or penalty moves, and
        {product: (interest, penalty)} summed."""
        a, p = self._accrual_deltas(regular, pen)
        rows = self._all(
            f"""SELECT product, SUM({a}), SUM({p}), SUM(CASE WHEN {a} != 0 OR {p} != 0 THEN 1 ELSE 0 END)
                FROM {self.state} WHERE principal > 0 OR interest_due > 0 GROUP BY product ORDER BY product""",
            {"day": day, "den": den},
        )
        return sum(r[3] for r in rows), {r[0]: (r[1], r[2]) for r in rows if r[1] or r[2]}

    def dayend_post_accruals(self, txn_id: int | None, pooled: dict[str, tuple[int, int]], day: str, den: int,
                             regular: str, pen: str, accrued_acc: str, penalty_acc: str, income_acc: str,
                             penalty_income_acc: str) -> None:
        """Today's accruals into each note's state (one pass), and into the journal summed per product
        (issue 11): receivable ``accrued_acc.<product>`` / ``penalty_acc.<product>`` against the product's
        income. With no ``txn_id`` (a replay of closed days) only the state moves."""
        c = self.conn
        if txn_id is not None:
            rows = []
            for product, (interest, penalty) in pooled.items():
                if interest:
                    rows += [(txn_id, f"{accrued_acc}.{product}", interest, 0), (txn_id, f"{income_acc}.{product}", 0, interest)]
                if penalty:
                    rows += [(txn_id, f"{penalty_acc}.{product}", penalty, 0), (txn_id, f"{penalty_income_acc}.{product}", 0, penalty)]
            c.executemany("INSERT INTO journal_lines(txn_id, account, debit, credit) VALUES (?, ?, ?, ?)", rows)
        a, p = self._accrual_deltas(regular, pen)
        # every right-hand side reads the row as it was before this statement
        c.execute(
            f"""UPDATE {self.state} SET
                  accrued = accrued + {a}, accrual_posted = accrual_posted + {a}, accrual_num = accrual_num + {regular},
                  penalty = penalty + {p}, penalty_accrued = penalty_accrued + {p}, penalty_posted = penalty_posted + {p},
                  penalty_num = penalty_num + {pen}
                WHERE principal > 0 OR interest_due > 0""",
            {"day": day, "den": den},
        )

    def dayend_settle(self, txn_id: int | None, day: str, settlement_day: bool, which: str, accrued_acc: str,
                      due_acc: str, penalty_acc: str, penalty_due_acc: str,
                      penalty_which: str | None = None) -> dict[str, tuple[int, int]]:
        """For the notes ``which`` selects (all on a settlement day, else those maturing): accrued interest
        becomes interest due and accrued penalty becomes a claim (for the notes ``penalty_which`` selects,
        by default the same): a line per note on its own account, out of the product's accrued account in
        one line per product (issue 11). A new rounding period starts for them (penalty too, on a
        settlement day). Returns {product: (interest, penalty)} moved."""
        penalty_which = penalty_which or which
        c = self.conn
        st = self.state
        moved = {r[0]: (r[1], r[2]) for r in c.execute(
            f"""SELECT product, SUM(CASE WHEN accrued > 0 AND ({which}) THEN accrued ELSE 0 END),
                       SUM(CASE WHEN penalty_accrued > 0 AND ({penalty_which}) THEN penalty_accrued ELSE 0 END)
                FROM {st} WHERE (accrued > 0 AND ({which})) OR (penalty_accrued > 0 AND ({penalty_which}))
                GROUP BY product ORDER BY product""", {"day": day})}
        if txn_id is not None and moved:
            c.execute(
                f"""INSERT INTO journal_lines(txn_id, account, debit, credit, grant_id, note_id)
                    SELECT :txn, :due, accrued, 0, grant_id, note_id FROM {st} WHERE accrued > 0 AND ({which})
                    UNION ALL
                    SELECT :txn, :pdue, penalty_accrued, 0, grant_id, note_id FROM {st} WHERE penalty_accrued > 0 AND ({penalty_which})""",
                {"txn": txn_id, "due": due_acc, "pdue": penalty_due_acc, "day": day},
            )
            rows = []
            for product, (interest, penalty) in moved.items():
                if interest:
                    rows.append((txn_id, f"{accrued_acc}.{product}", 0, interest))
                if penalty:
                    rows.append((txn_id, f"{penalty_acc}.{product}", 0, penalty))
            c.executemany("INSERT INTO journal_lines(txn_id, account, debit, credit) VALUES (?, ?, ?, ?)", rows)
        c.execute(f"UPDATE {st} SET interest_due = interest_due + accrued, accrued = 0 WHERE accrued != 0 AND ({which})",
                  {"day": day})
        c.execute(f"UPDATE {st} SET penalty_accrued = 0 WHERE penalty_accrued != 0 AND ({penalty_which})", {"day": day})
        # a new rounding period starts after each settlement (and after maturity for the note)
        c.execute(
            f"""UPDATE {st} SET accrual_num = 0, accrual_posted = 0
                                   {", penalty_num = 0, penalty_posted = 0" if settlement_day else ""}
                WHERE ({which}) AND (accrual_num != 0 OR accrual_posted != 0 OR penalty_num != 0 OR penalty_posted != 0)""",
            {"day": day},
        )
        return moved

    def has_old_accrued(self, accrued_acc: str, grant_ids: list[int] | None = None) -> bool:
        """Whether any note still holds accrued interest on the old per-note account (ledgers before issue 11)."""
        return bool(self._scalar(
            f"""SELECT EXISTS (SELECT l.note_id FROM journal_lines l WHERE l.account = ? AND l.note_id IS NOT NULL
                 {_of_grants("l.grant_id", grant_ids)} GROUP BY l.note_id HAVING SUM(l.debit - l.credit) != 0)""",
            (accrued_acc,),
        ))

    def dayend_reclass_accrued(self, txn_id: int | None, accrued_acc: str, grant_ids: list[int] | None = None) -> None:
        """A ledger upgraded to compact books, on its first compact day: each note's accrued interest
        still on the old per-note account moves to its product's account (one pair of lines per note)."""
        if txn_id is None:
            return
        self.conn.execute(
            f"""WITH old AS (SELECT l.note_id, l.grant_id, SUM(l.debit - l.credit) AS bal FROM journal_lines l
                             WHERE l.account = :acc AND l.note_id IS NOT NULL {_of_grants("l.grant_id", grant_ids)}
                             GROUP BY l.note_id, l.grant_id HAVING SUM(l.debit - l.credit) != 0)
                INSERT INTO journal_lines(txn_id, account, debit, credit, grant_id, note_id)
                SELECT :txn, :acc || '.' || g.product, CASE WHEN bal > 0 THEN bal ELSE 0 END, CASE WHEN bal < 0 THEN -bal ELSE 0 END,
                       old.grant_id, old.note_id
                  FROM old JOIN grants g ON g.id = old.grant_id
                UNION ALL
                SELECT :txn, :acc, CASE WHEN bal < 0 THEN -bal ELSE 0 END, CASE WHEN bal > 0 THEN bal ELSE 0 END, old.grant_id, old.note_id
                  FROM old""",
            {"txn": txn_id, "acc": accrued_acc},
        )

    def dayend_classify(self, day: str, pds: str, dpd: str, class_case: str, *, record: bool = True,
                        restate: bool = False) -> None:
        """Past-due date (``pds``), days past due (``dpd``) and class at the end of ``day`` (the rules'
        SQL comes from core/dayend.py); record every change (``restate``: record every note's class,
        changed or not; ``record=False``: record nothing)."""
        st = self.state
        cls = class_case.replace("{dpd}", dpd)
        current = class_case.replace("{dpd}", "0")  # the class of a note not past due
        c = self.conn
        # a note not past due, and current already, stays as it is: not rewritten (a server rewrites every
        # row an UPDATE touches, changed or not)
        c.execute(
            f"""UPDATE {st} SET
                  changed = CASE WHEN ({cls}) != class OR {pds} IS NOT past_due_since THEN 1 ELSE 0 END,
                  past_due_since = {pds}, dpd = {dpd}, class = {cls}
                WHERE (principal + accrued + interest_due + penalty > 0 OR past_due_since IS NOT NULL OR dpd != 0)
                  AND NOT ({pds} IS NULL AND past_due_since IS NULL AND dpd = 0 AND class = {current})""",
            {"day": day},
        )
        if record:
            c.execute(
                f"""INSERT INTO note_classes(note_id, on_date, class, past_due_since, dpd)
                   SELECT note_id, ?, class, past_due_since, dpd FROM {st} WHERE changed != 0 OR ? = 1 ORDER BY note_id""",
                (day, int(restate)),
            )
        c.execute(f"UPDATE {st} SET changed = 0 WHERE changed != 0")

    def count_active_notes(self) -> int:
        return self._scalar(f"SELECT COUNT(*) FROM {self.state} WHERE principal + accrued + interest_due + penalty > 0")

    def insert_day_close(self, day: str, operator: str, notes: int, txn_id: int | None) -> None:
        self._insert("day_closes", {"business_date": day, "closed_at": _now(), "operator": operator, "notes": notes, "txn_id": txn_id})
        self.set_meta("closed_through", day)

    def dayend_has_settlements(self, day: str, which: str, penalty_which: str | None = None) -> bool:
        """Whether any note's accrued interest or penalty becomes a claim today (before today's accrual:
        a day with none accrues nothing new)."""
        return bool(self._scalar(
            f"""SELECT EXISTS (SELECT 1 FROM {self.state}
                 WHERE (accrued > 0 AND ({which})) OR (penalty_accrued > 0 AND ({penalty_which or which})))""",
            {"day": day},
        ))
