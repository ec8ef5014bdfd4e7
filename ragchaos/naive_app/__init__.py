"""naive_app: the RAG service the way most demos build it (see app.py)."""
