"""credit-coop: a microcredit ledger for county rural credit cooperatives.

The library lives in :mod:`credit_coop.core` (rules) and :mod:`credit_coop.store`
(SQL); :mod:`credit_coop.cli` is a thin command-line shell over them.
"""

__version__ = "0.1.0"
