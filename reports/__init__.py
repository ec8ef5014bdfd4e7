"""reports: see shared/DESIGN.md."""
