"""Migration scripts, one per schema change, applied in order by `caratflow init`."""
