"""The rules of the ledger. Never imports typer or rich: usable as a library."""
