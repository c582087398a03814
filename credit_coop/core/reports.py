"""Reports: pure functions returning rows (rendering is the CLI's job)."""

from __future__ import annotations

from datetime import date

from credit_coop.core import accounts
from credit_coop.core.ledger import Ledger

# SPEC §8: the source's table (from March 2025), in 万元.
SOURCE_TABLE = {
    "hnd": {"households": 921, "granted_wan": 9322, "drawn_wan": 9150},
    "sdt": {"households": 404, "granted_wan": 6581, "drawn_wan": 6140},
    "pos": {"households": 20, "granted_wan": 350, "drawn_wan": 280},
    "gxd": {"households": 624, "granted_wan": 12715, "drawn_wan": 11670},
}


def product_report(ledger: Ledger, as_of: date | None = None) -> list[dict]:
    """Per product: households granted, granted, drawn (cumulative) and outstanding, in fen,
    with the source's figures beside them (SPEC §8 shape)."""
    as_of = as_of or date.today()
    rows = {r["product"]: r for r in ledger.store.product_totals(as_of.isoformat(), accounts.LOANS + ".")}
    out = []
    for code, prod in ledger.policy.products.items():
        r = rows.get(code)
        src = SOURCE_TABLE.get(code)
        out.append(
            {
                "product": code,
                "name": prod["name"],
                "households": r["households"] if r else 0,
                "granted_fen": r["granted"] if r else 0,
                "drawn_fen": r["drawn"] if r else 0,
                "outstanding_fen": r["outstanding"] if r else 0,
                "source_households": src["households"] if src else None,
                "source_granted_fen": src["granted_wan"] * 1_000_000 if src else None,
                "source_drawn_fen": src["drawn_wan"] * 1_000_000 if src else None,
            }
        )
    return out
