"""The simulated OpenAI-compatible provider (``ragchaos provider serve``).

One module per concept: ``app`` (``create_app(config)``, the request pipeline), ``http`` (raw
ASGI plumbing), ``embeddings`` and ``chat`` (the two endpoints), ``vectors`` (deterministic
lexical embeddings), ``grounding`` (the answer from the prompt's context), ``text`` (words and
token counts), ``ratelimit`` (RPM/TPM token buckets), ``latency`` (the seeded latency model),
``faults`` (one class per fault kind), ``stats`` (``/_stats``), ``errors`` (OpenAI's error
shape), ``config`` (the pydantic config), ``server``/``cli``/``__main__`` (running it).
Nothing heavy is imported here, so ``ragchaos --help`` stays fast.
"""
