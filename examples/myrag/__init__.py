"""myrag: a small RAG service written the way a user's would be (FastAPI, the openai SDK, OTel)."""
