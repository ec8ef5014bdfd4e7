"""naive_app: see shared/DESIGN.md."""
