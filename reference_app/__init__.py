"""reference_app: see shared/DESIGN.md."""
