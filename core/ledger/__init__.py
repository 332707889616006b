"""ledger: TODO wing docstring."""
