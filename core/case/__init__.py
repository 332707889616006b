"""case: TODO wing docstring."""
