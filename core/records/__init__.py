"""records: TODO wing docstring."""
