"""provider: see shared/DESIGN.md."""
