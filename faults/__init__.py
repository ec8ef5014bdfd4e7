"""faults: see shared/DESIGN.md."""
