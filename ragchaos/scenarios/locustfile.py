"""The scenarios as a plain locustfile, for people who know Locust.

    RAGCHAOS_NAIVE_URL=http://127.0.0.1:8001 RAGCHAOS_REFERENCE_URL=http://127.0.0.1:8002 \\
        locust -f ragchaos/scenarios/locustfile.py
    RAGCHAOS_SCENARIO=cache-repeat locust -f ragchaos/scenarios/locustfile.py --host http://127.0.0.1:8001

One user class per app (``--host`` alone: one class named ``target``), sending the scenario's
workload mix (corpus questions, Zipf popularity, paraphrases, ingest) in Locust's closed model.
A scenario whose load is ``kind: users`` also brings its stages as the load shape. Percentiles
in Locust's UI are Locust's own (rounded); ``ragchaos run`` records exact HDR histograms, runs
the open model and the fault timeline, and seeds the corpus first (here: seed it yourself, or
run ``ragchaos up``).
"""

from __future__ import annotations

import os

from ragchaos.scenarios.context import RunContext
from ragchaos.scenarios.loader import load_scenario
from ragchaos.scenarios.loads import UserLoad
from ragchaos.scenarios.requests import Workbench
from ragchaos.scenarios.shapes import stages_shape
from ragchaos.scenarios.users import closed_user_class

_scenario = load_scenario(os.environ.get("RAGCHAOS_SCENARIO", "smoke"))
_apps = {app: os.environ[f"RAGCHAOS_{app.upper()}_URL"] for app in ("naive", "reference")
         if os.environ.get(f"RAGCHAOS_{app.upper()}_URL")} or {"target": ""}
_ctx = RunContext(Workbench(_scenario), _apps)
_think = _scenario.load.think_time if isinstance(_scenario.load, UserLoad) else 0.5

for _app, _url in _apps.items():
    _cls = closed_user_class(_app, _url or None, _ctx, _think)
    _cls.__module__ = __name__
    globals()[_cls.__name__] = _cls
del _cls  # Locust collects every User class in this module's namespace, once each

if isinstance(_scenario.load, UserLoad):
    ScenarioShape = stages_shape(_scenario.load, len(_apps))
