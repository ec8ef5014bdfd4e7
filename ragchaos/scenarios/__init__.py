"""scenarios: scenario files, the Locust users and load shapes, and the scenario runner.

Without gevent (importable anywhere, used by tests and ``--dry-run``):
``units`` (durations, fractions), ``loads/`` (load kinds by ``kind``), ``faultsteps`` (the faults
part's step models), ``schema`` (``Scenario``: validate, describe, plan), ``loader`` (YAML with
line numbers), ``phases`` (phase labels from stage labels and recorded fault times),
``schedule`` (the open model's seeded arrivals and the dispatcher), ``requests`` (what each
request asks), ``targetfile`` (``--target``/``--targets``: services we did not write; the
targets themselves and their request templates are ``ragchaos.stack.targets``/``ragchaos.stack.templates``),
``context`` (what the users share; outcomes, correctness), ``collect``
(server-side snapshots), ``seed`` (loading the corpus), ``checks``, ``summary``, ``options``.

With gevent/Locust (imported only by the load commands): ``users``, ``shapes``, ``drive``
(in-process Locust), ``distributed`` and ``worker`` (``--workers N``), ``runner``, ``up``,
``locustfile``. ``cli`` registers ``ragchaos run|demo|list|validate|up``.
"""
