"""deadlines: TODO wing docstring."""
