"""What each request of a run is: a query (tenant, question, known source) or an ingest (a document).

``RequestSource`` draws the next request from the workload mix with its own seeded generator;
``plan_arrivals`` builds the open model's whole request list up front (schedule + payloads +
ingest bursts), so every app, every worker and every rerun with the same seed sees exactly the
same requests in the same order.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any

from ragchaos.scenarios.corpus import Corpus, Document, QueryMix, Question
from ragchaos.scenarios.loads import ArrivalLoad
from ragchaos.scenarios.schedule import Arrival, arrival_times
from ragchaos.scenarios.schema import Scenario
from ragchaos.scenarios.tenantkeys import tenant_headers

__all__ = ["POISON_BLOB", "RequestSource", "RequestSpec", "Workbench", "is_poison", "plan_arrivals"]


@dataclass(frozen=True)
class RequestSpec:
    kind: str  # query | ingest
    tenant: str
    question: Question | None = None
    document: Document | None = None

    def values(self, target: str, top_k: int, stream: bool = False) -> dict[str, object]:
        """What a request template's placeholders stand for (``ragchaos.stack.templates``)."""
        if self.question is not None:
            return {"question": self.question.text, "tenant": self.tenant, "top_k": top_k, "stream": stream,
                    "target": target}
        assert self.document is not None
        d = self.document
        return {"tenant": d.tenant, "doc_id": d.doc_id, "text": d.text, "title": d.title,
                "metadata": dict(d.metadata), "target": target}

    def render(self, target: str, template: Any, top_k: int, stream: bool = False) -> tuple[str, str, Any, dict[str, str]]:
        """(method, path, JSON body, headers) of this request for one target's template; the
        tenant's API key rides along when one is configured (a template's own headers win)."""
        method, path, body, headers = template.render(self.values(target, top_k, stream))
        return method, path, body, {**tenant_headers(self.tenant), **headers}


class Workbench:
    """The corpus and query mix of a scenario, built once per process (deterministic)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        spec = scenario.corpus
        self.corpus = Corpus.generate(scenario.seed, spec.tenant_names, spec.documents_per_tenant,
                                      spec.words_per_document, twins=spec.twins)
        w = scenario.workload
        self.weights = scenario.tenant_weights()
        self.mix = QueryMix(self.corpus, w.questions, zipf_s=w.zipf_s, paraphrase_rate=w.paraphrase_rate,
                            negation_rate=w.negation_rate, tenant_weights=self.weights)


class RequestSource:
    """An endless seeded stream of requests following the workload mix."""

    def __init__(self, bench: Workbench, stream: str) -> None:
        self.bench = bench
        self.stream = stream
        self.rng = random.Random(f"{bench.scenario.seed}:requests:{stream}")
        self._ingested: dict[str, int] = {}

    def next(self) -> RequestSpec:
        w = self.bench.scenario.workload
        if self.rng.random() < w.query_ratio:
            q = self.bench.mix.next(self.rng)
            return RequestSpec("query", q.tenant, question=q)
        return self.ingest(self.bench.mix.pick_tenant(self.rng))

    def ingest(self, tenant: str, *, poison: bool = False) -> RequestSpec:
        n = self._ingested.get(tenant, 0)
        self._ingested[tenant] = n + 1
        doc = self.bench.corpus.new_document(tenant, n, stream=self.stream)
        if poison:  # a pasted blob: one chunk over the embedding model's 8,192-token input limit
            doc = dataclasses.replace(doc, text=f"{doc.text} {POISON_BLOB}")
        return RequestSpec("ingest", tenant, document=doc)


POISON_BLOB = "QUJD" * 10_000  # 40,000 characters without a space: ~10,000 tokens in one chunk


def is_poison(i: int, share: float) -> bool:
    """Whether the ``i``-th document of a burst is poison: ``share`` of them, evenly spread."""
    return int((i + 1) * share) > int(i * share)


def plan_arrivals(bench: Workbench) -> list[Arrival]:
    """Every request of an open-model run, in intended-send order (pure for a given seed)."""
    scenario = bench.scenario
    if not isinstance(scenario.load, ArrivalLoad):
        raise TypeError(f"plan_arrivals: scenario {scenario.name!r} has a closed-model load (users), no arrivals")
    times = arrival_times(scenario.load, scenario.rng("arrivals"))
    source = RequestSource(bench, "open")
    timed: list[tuple[float, RequestSpec]] = [(t, source.next()) for t in times]
    burst_source = RequestSource(bench, "burst")
    for burst in scenario.workload.ingest_bursts:
        for i in range(burst.documents):
            t = burst.at + burst.over * (i + 0.5) / burst.documents
            tenant = burst.tenant or bench.mix.pick_tenant(burst_source.rng)
            timed.append((t, burst_source.ingest(tenant, poison=is_poison(i, burst.poison_share))))
    timed.sort(key=lambda item: item[0])
    return [Arrival(t, i, spec) for i, (t, spec) in enumerate(timed)]
