"""accounts: TODO wing docstring."""
