"""The hash chain over transactions and the record chain over audit rows, grant events and operators."""

from __future__ import annotations

import json
import sqlite3

from credit_coop.store.common import as_hashed_text, AUDIT_FIELDS, chain_hash, GENESIS, GRANT_EVENT_FIELDS, ledger_head, LINE_COLUMNS, OPERATOR_FIELDS, record_hash, record_payload, TXN_COLUMNS


class ChainRecords:
    """Mixed into :class:`credit_coop.store.sqlite.Store` (``self.conn``, ``self._all`` … come from it)."""

    # -- hash chain -------------------------------------------------------------
    def txn_line_problems(self, txn_id: int) -> str | None:
        """Why a transaction's lines would not stand as posted (unbalanced, a line with two or no sides), or None."""
        row = self._one(
            """SELECT COUNT(*) AS n, COALESCE(SUM(debit), 0) AS d, COALESCE(SUM(credit), 0) AS c,
                      SUM(CASE WHEN debit < 0 OR credit < 0 OR (debit = 0 AND credit = 0) OR (debit != 0 AND credit != 0) THEN 1 ELSE 0 END) AS bad
               FROM journal_lines WHERE txn_id = ?""",
            (txn_id,),
        )
        if row["n"] < 2 or row["d"] != row["c"] or row["d"] <= 0 or row["bad"]:
            return f"{row['n']} lines, debit {row['d']}, credit {row['c']}, {row['bad'] or 0} one-sided"
        return None

    def seal(self, txn_id: int) -> str:
        """Append the chain link of a transaction whose lines are all written (same transaction)."""
        prev = self._scalar("SELECT hash FROM txn_chain ORDER BY txn_id DESC LIMIT 1") or GENESIS
        txn = self._one(f"SELECT {TXN_COLUMNS} FROM txns WHERE id = ?", (txn_id,))
        lines = self.conn.execute(f"SELECT {LINE_COLUMNS} FROM journal_lines WHERE txn_id = ? ORDER BY id", (txn_id,))
        digest = chain_hash(prev, txn, lines)
        self.conn.execute("INSERT INTO txn_chain(txn_id, prev_hash, hash) VALUES (?, ?, ?)", (txn_id, prev, digest))
        return digest

    def chain_head(self) -> tuple[int, str] | None:
        """The last transaction's id and chain hash (None for an empty journal)."""
        row = self._one("SELECT txn_id, hash FROM txn_chain ORDER BY txn_id DESC LIMIT 1")
        return (row["txn_id"], row["hash"]) if row else None

    def chain_link(self, txn_id: int) -> str | None:
        return self._scalar("SELECT hash FROM txn_chain WHERE txn_id = ?", (txn_id,))

    def txns_after(self, txn_id: int) -> dict:
        """How many transactions come after ``txn_id``, by kind, and the money they moved."""
        rows = self._all(
            """SELECT t.kind, COUNT(DISTINCT t.id) AS n, COALESCE(SUM(l.debit), 0) AS amount
               FROM txns t LEFT JOIN journal_lines l ON l.txn_id = t.id WHERE t.id > ? GROUP BY t.kind ORDER BY t.kind""",
            (txn_id,),
        )
        return {r["kind"]: {"count": r["n"], "amount_fen": r["amount"]} for r in rows}

    def audit_count(self) -> int:
        return self._scalar("SELECT COUNT(*) FROM audit_log")

    def first_broken_link(self) -> tuple[int, str] | None:
        """Walk the chain in order (streaming); the first transaction whose link does not recompute or is missing."""
        import hashlib

        # rows come back already written as chain_hash writes them (SQLite formats, Python only hashes)
        txns = self._stream(
            f"""SELECT t.id, {as_hashed_text(TXN_COLUMNS, "t")}, c.prev_hash, c.hash
                FROM txns t LEFT JOIN txn_chain c ON c.txn_id = t.id ORDER BY t.id"""
        )
        lines = self._stream(f"SELECT txn_id, {as_hashed_text(LINE_COLUMNS)} FROM journal_lines ORDER BY txn_id, id")
        pending = next(lines, None)
        prev = GENESIS
        for txn_id, text, link_prev, link in txns:
            h = hashlib.sha256(prev.encode())
            h.update((text + "\n").encode())
            while pending is not None and pending[0] <= txn_id:
                if pending[0] == txn_id:
                    h.update((pending[1] + "\n").encode())
                pending = next(lines, None)
            if link is None:
                return txn_id, "has no link in the hash chain"
            if link_prev != prev or h.hexdigest() != link:
                return txn_id, "does not match its hash-chain link (edited outside the program)"
            prev = link
        orphan = self._scalar("SELECT MIN(txn_id) FROM txn_chain WHERE txn_id NOT IN (SELECT id FROM txns)")
        if orphan is not None:
            return orphan, "is in the hash chain but its transaction is gone"
        return None

    # -- record chain -----------------------------------------------------------
    def chain_record(self, kind: str, ref: int | None, payload: str) -> None:
        """Append a link to the record chain (same transaction as the change it records)."""
        prev = self._scalar("SELECT hash FROM record_chain ORDER BY seq DESC LIMIT 1") or GENESIS
        self.conn.execute("INSERT INTO record_chain(kind, ref, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?)",
                          (kind, ref, payload, prev, record_hash(prev, kind, ref, payload)))

    def chain_operator(self, name: str) -> None:
        self.chain_record("operator", None, record_payload(self.get_operator(name), OPERATOR_FIELDS))

    def record_head(self) -> tuple[int, str] | None:
        row = self._one("SELECT seq, hash FROM record_chain ORDER BY seq DESC LIMIT 1")
        return (row["seq"], row["hash"]) if row else None

    def record_link(self, seq: int) -> str | None:
        return self._scalar("SELECT hash FROM record_chain WHERE seq = ?", (seq,))

    def head(self) -> str:
        return ledger_head(self.chain_head(), self.record_head())

    def head_at(self, txn_id: int, seq: int) -> str | None:
        """The anchor this ledger had at transaction ``txn_id`` and record ``seq`` (None if either is gone)."""
        th = GENESIS if txn_id == 0 else self.chain_link(txn_id)
        rh = GENESIS if seq == 0 else self.record_link(seq)
        if th is None or rh is None:
            return None
        return ledger_head((txn_id, th), (seq, rh))

    def first_broken_record(self) -> tuple[int, str] | None:
        """Walk the record chain; the first link that does not recompute, or a recorded row that changed,
        went missing or was never recorded; an operator whose row differs from their last record."""
        audit = {r["id"]: record_payload(r, AUDIT_FIELDS) for r in self._all("SELECT * FROM audit_log")}
        events = {r["id"]: record_payload(r, GRANT_EVENT_FIELDS) for r in self._all("SELECT * FROM grant_events")}
        rows = {"audit": audit, "grant_event": events}
        seen: dict[str, set] = {"audit": set(), "grant_event": set()}
        last_operator: dict[str, str] = {}
        prev = GENESIS
        for r in self._stream("SELECT seq, kind, ref, payload, prev_hash, hash FROM record_chain ORDER BY seq"):
            if r["prev_hash"] != prev or record_hash(prev, r["kind"], r["ref"], r["payload"]) != r["hash"]:
                return r["seq"], "does not match its chain link (edited outside the program)"
            prev = r["hash"]
            if r["kind"] in rows:
                if rows[r["kind"]].get(r["ref"]) != r["payload"]:
                    what = "is gone" if r["ref"] not in rows[r["kind"]] else "was changed"
                    return r["seq"], f"records {r['kind'].replace('_', ' ')} {r['ref']}, which {what}"
                seen[r["kind"]].add(r["ref"])
            elif r["kind"] == "operator":
                last_operator[json.loads(r["payload"])["name"]] = r["payload"]
        for kind, table in rows.items():
            unrecorded = sorted(set(table) - seen[kind])
            if unrecorded:
                return 0, f"{kind.replace('_', ' ')} {unrecorded[0]} is not in the record chain (inserted outside the program)"
        for op in self._all("SELECT * FROM operators ORDER BY name"):
            if last_operator.get(op["name"]) != record_payload(op, OPERATOR_FIELDS):
                return 0, f"operator {op['name']} differs from their last recorded change (role, active, ID number or passphrase)"
        return None

    def grant_line_mismatches(self) -> list[sqlite3.Row]:
        """Approved lines whose amount, card or status the grant's own recorded events do not bear out."""
        return self._all(
            """SELECT * FROM (
                 SELECT g.grant_no, g.line_amount, g.card_no, g.status,
                        (SELECT CAST(json_extract(e.detail, '$.line_fen') AS INTEGER) FROM grant_events e
                          WHERE e.grant_id = g.id AND e.action = 'survey' ORDER BY e.id DESC LIMIT 1) AS surveyed_line,
                        (SELECT json_extract(e.detail, '$.card_no') FROM grant_events e
                          WHERE e.grant_id = g.id AND e.action = 'approve' ORDER BY e.id DESC LIMIT 1) AS approved_card
                 FROM grants g WHERE g.status IN ('approved', 'frozen', 'closed')) approved
               WHERE surveyed_line IS NOT line_amount OR approved_card IS NOT card_no"""
        )

    def audit_entries(self, first: str | None = None, operator: str | None = None) -> list[sqlite3.Row]:
        sql, params = "SELECT * FROM audit_log WHERE 1=1", []
        if first:
            sql += " AND at >= ?"
            params.append(first)
        if operator:
            sql += " AND operator = ?"
            params.append(operator)
        return self._all(sql + " ORDER BY id", params)
