"""reports: measurement, analysis, reports and the gate (docs/architecture.md).

- ``results``: the pydantic schema of results.json (``RunResult``, schema_version 1)
- ``recorder``: the client-side recorder the runner's load users call (no locust import)
- ``analysis``: figures per app and phase; ``counters``: Prometheus sample keys
- ``mechanisms/``: one module per mechanism verdict, registered by name
- ``gate``: threshold grammar, mechanism checks, baseline regression (noise-aware)
- ``sections/`` (pure RunResult -> Section), ``render/`` (Markdown, HTML), ``plots``, ``hlog``,
  ``junit``, ``compare``; ``build.write_reports`` writes a run folder's reports
- ``cli``: ``ragchaos report | compare | gate | baseline``
"""
