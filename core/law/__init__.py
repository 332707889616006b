"""law: TODO wing docstring."""
