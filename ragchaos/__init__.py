"""ragchaos: a chaos and load-testing harness for RAG services.

The package holds what every part shares: the CLI, ports and process supervision, the
per-stage HDR recorder and the mechanism metric names. Each part (provider, faults, the two
apps, scenarios, reports) lives in its own top-level package; see shared/DESIGN.md.
"""

__version__ = "0.1.0"
