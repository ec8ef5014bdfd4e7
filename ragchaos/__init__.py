"""ragchaos: a chaos and load-testing harness for RAG services.

One package, in layers that only point down (docs/architecture.md; tests/test_layers.py
checks it):

- ``core``, ``measure``: ports and processes, the CLI error; HDR histograms, stages, metrics
- ``kit``: what both apps share so they answer alike, and the FastAPI shell they start from
- ``provider``, ``faults``: the simulated OpenAI-compatible provider; the fault proxy and timeline
- ``naive_app``, ``reference_app``: the two apps under test
- ``reports``, ``stack``: results, verdicts and reports; starting the system under test
- ``scenarios``: scenario files, the load, the runner
- ``cli``: the ``ragchaos`` command
"""

__version__ = "0.1.0"
