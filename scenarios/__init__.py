"""scenarios: see shared/DESIGN.md."""
