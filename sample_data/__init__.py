"""Sample data for the demo ledger (installed as ``credit_coop.sample_data``).

The CSV files are made by ``generate.py`` (seeded, deterministic):
``python sample_data/generate.py`` rewrites them byte for byte.
"""
