"""jurisdiction: TODO wing docstring."""
