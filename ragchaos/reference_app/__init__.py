"""The reference app: the same RAG job as the naive app, built the way the post-mortems say it
should have been. One module per mechanism (docs/apps.md has the checklist)."""
