"""exchange: TODO wing docstring."""
