"""A seeded corpus and question workload whose right answers are known.

``Corpus.generate(seed, tenants, ...)`` makes documents with metadata (tenant, type, date) that
each state a few facts about an entity with a made-up, distinctive name ("the Vorlak-217
gateway"). A ``Question`` asks about one fact and carries the id of the document that states
it, so retrieval correctness can be scored. Questions reuse the fact's own words (entity name
and attribute), because the provider's embeddings are lexical: a question shares words with its
source and little with the rest.

``QueryMix`` draws the request stream: a tenant by weight, then a question by Zipf popularity
(rank r drawn with probability proportional to 1/r^s), sometimes paraphrased or negated.
Everything comes from ``random.Random("<seed>:<purpose>")``, which is the same in every process
(string seeds do not depend on PYTHONHASHSEED), so Locust workers and later runs agree.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Corpus", "Document", "Fact", "QueryMix", "Question", "zipf_cdf"]

DOC_TYPES = ("policy", "runbook", "faq", "release-note", "contract")
_SYLLABLES = ("vor", "lak", "zen", "tri", "mok", "dal", "quen", "bra", "sil", "tor", "nix", "pel", "grav",
              "ost", "kel", "myr", "thal", "rune", "cor", "vex", "lum", "yar", "dro", "fen")
_THINGS = ("gateway", "cluster", "service", "pipeline", "ledger", "portal", "agent", "scheduler", "vault", "router")
# attribute -> value generator pieces; attribute words appear verbatim in the fact and the question
_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "retention period": ("30 days", "90 days", "one year", "seven years", "180 days"),
    "support tier": ("bronze", "silver", "gold", "platinum"),
    "owner team": ("payments", "identity", "search", "billing", "platform", "growth"),
    "data region": ("frankfurt", "dublin", "oregon", "singapore", "sydney", "virginia"),
    "rate limit": ("100 requests per minute", "500 requests per minute", "20 requests per second"),
    "backup window": ("midnight to 2am", "3am to 5am", "noon to 1pm", "sunday night"),
    "encryption standard": ("aes-256", "chacha20", "rsa-4096", "tls 1.3"),
    "escalation contact": ("the on-call lead", "the duty manager", "the security desk", "the vendor hotline"),
    "renewal date": ("january 15", "march 1", "june 30", "october 12", "december 31"),
    "error budget": ("0.1 percent", "0.5 percent", "1 percent", "2 percent"),
    "deploy cadence": ("daily", "weekly", "twice a week", "monthly"),
    "storage quota": ("50 gigabytes", "1 terabyte", "200 gigabytes", "5 terabytes"),
}
# filler shared by every document: it carries no answer, so it must not decide retrieval
_FILLER = ("this", "document", "describes", "how", "the", "team", "operates", "and", "what", "customers",
           "can", "expect", "during", "normal", "operation", "changes", "are", "reviewed", "before", "release",
           "please", "read", "all", "sections", "carefully", "questions", "go", "to", "your", "account", "manager")
_PLAIN = ("What is the {attr} of the {entity}?",)
_PARAPHRASES = (
    "Which {attr} does the {entity} have?",
    "Tell me the {entity} {attr}.",
    "For the {entity}, what {attr} applies?",
    "I need the {attr} for the {entity}, what is it?",
)
_NEGATED = (
    "Which {attr} does the {entity} not have?",
    "Is the {attr} of the {entity} not {value}?",
)


@dataclass(frozen=True)
class Fact:
    entity: str
    attribute: str
    value: str

    def sentence(self) -> str:
        return f"The {self.attribute} of the {self.entity} is {self.value}."


@dataclass(frozen=True)
class Document:
    doc_id: str
    tenant: str
    type: str
    date: str  # ISO date
    title: str
    text: str
    facts: tuple[Fact, ...] = field(repr=False)

    @property
    def metadata(self) -> dict[str, str]:
        # the tenant travels as the request's own field (the apps reserve it in metadata)
        return {"type": self.type, "date": self.date, "title": self.title}

    def body(self) -> dict[str, object]:
        """The ``POST /v1/documents`` body."""
        return {"tenant": self.tenant, "doc_id": self.doc_id, "text": self.text, "metadata": self.metadata}


@dataclass(frozen=True)
class Question:
    qid: str  # the base question's id; paraphrases and negations share it
    tenant: str
    text: str
    source_doc_id: str
    variant: str  # plain | paraphrase | negated

    def body(self, top_k: int = 4, stream: bool = False) -> dict[str, object]:
        """The ``POST /v1/query`` body."""
        return {"tenant": self.tenant, "question": self.text, "top_k": top_k, "stream": stream}


def _entity(rng: random.Random, used: set[str]) -> str:
    while True:
        name = "".join(rng.choice(_SYLLABLES) for _ in range(2)).capitalize()
        entity = f"{name}-{rng.randrange(100, 1000)} {rng.choice(_THINGS)}"
        if entity not in used:
            used.add(entity)
            return entity


def _document(rng: random.Random, tenant: str, doc_id: str, words: int, used: set[str]) -> Document:
    entity = _entity(rng, used)
    attrs = rng.sample(sorted(_ATTRIBUTES), k=4)
    facts = tuple(Fact(entity, a, rng.choice(_ATTRIBUTES[a])) for a in attrs)
    doc_type = rng.choice(DOC_TYPES)
    date = (dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(0, 3 * 365))).isoformat()
    title = f"{doc_type.replace('-', ' ').title()}: the {entity}"
    sentences = [f"{title}."]
    for fact in facts:
        sentences.append(fact.sentence())
        filler_n = max(0, (words - 12 * len(facts)) // len(facts))
        if filler_n:
            filler = " ".join(rng.choice(_FILLER) for _ in range(filler_n))
            sentences.append(filler.capitalize() + ".")
    return Document(doc_id, tenant, doc_type, date, title, " ".join(sentences), facts)


def _twin(doc: Document, index: int) -> Document:
    """``doc`` with its first fact's value shifted by ``index`` places: tenant 0 keeps the original."""
    if index == 0:
        return doc
    first = doc.facts[0]
    values = _ATTRIBUTES[first.attribute]
    other = Fact(first.entity, first.attribute, values[(values.index(first.value) + index) % len(values)])
    text = doc.text.replace(first.sentence(), other.sentence(), 1)
    return Document(doc.doc_id, doc.tenant, doc.type, doc.date, doc.title, text, (other, *doc.facts[1:]))


class Corpus:
    """The documents of every tenant, plus fresh ones for ingest traffic, all from the seed."""

    def __init__(self, seed: int, tenants: Sequence[str], documents: list[Document], words_per_document: int,
                 twins: bool = False) -> None:
        self.seed = seed
        self.twins = twins
        self.tenants = list(tenants)
        self.documents = documents
        self.words_per_document = words_per_document
        self._by_id = {d.doc_id: d for d in documents}

    @classmethod
    def generate(
        cls, seed: int, tenants: Sequence[str], documents_per_tenant: int, words_per_document: int = 120,
        twins: bool = False,
    ) -> Corpus:
        """``twins``: the adversarial tenant-isolation corpus. Every tenant gets the same documents
        (same entities, facts, filler; ids differ only by the tenant prefix) except that one fact
        of each document has another value per tenant, so the tenants' questions are identical
        and only the tenant filter and the caches' tenant keys keep the answers apart."""
        docs: list[Document] = []
        used: set[str] = set()
        for t, tenant in enumerate(tenants):
            rng = random.Random(f"{seed}:corpus:{tenants[0] if twins else tenant}")
            twin_used: set[str] = set()
            for i in range(documents_per_tenant):
                doc = _document(rng, tenant, f"{tenant}-doc-{i:04d}", words_per_document,
                                twin_used if twins else used)
                docs.append(_twin(doc, t) if twins else doc)
        return cls(seed, tenants, docs, words_per_document, twins=twins)

    def document(self, doc_id: str) -> Document:
        return self._by_id[doc_id]

    def documents_for(self, tenant: str) -> list[Document]:
        return [d for d in self.documents if d.tenant == tenant]

    def new_document(self, tenant: str, index: int, stream: str = "ingest") -> Document:
        """The ``index``-th document of an ingest stream: the same for the same arguments."""
        rng = random.Random(f"{self.seed}:{stream}:{tenant}:{index}")
        # new entities are named apart from the corpus by the stream's own generator
        return _document(rng, tenant, f"{tenant}-{stream}-{index:05d}", self.words_per_document, set())

    def questions(self, n: int) -> dict[str, list[Question]]:
        """``n`` distinct base questions in all, split evenly over the tenants, in popularity order.

        Question ``k`` of a tenant asks about fact ``k // docs`` of document ``k % docs``, so the
        popular questions cover many documents; past four facts per document the same facts
        come back with another wording (still distinct questions).
        """
        out: dict[str, list[Question]] = {}
        per_tenant = [n // len(self.tenants) + (1 if i < n % len(self.tenants) else 0) for i in range(len(self.tenants))]
        for tenant, count in zip(self.tenants, per_tenant, strict=True):
            docs = self.documents_for(tenant)
            # twins ask the very same questions in the same order (ids differ by tenant)
            rng = random.Random(f"{self.seed}:questions:{self.tenants[0] if self.twins else tenant}")
            order = list(range(len(docs)))
            rng.shuffle(order)
            qs = []
            for k in range(count):
                doc = docs[order[k % len(docs)]]
                round_ = k // len(docs)
                fact = doc.facts[round_ % len(doc.facts)]
                templates = (_PLAIN + _PARAPHRASES)
                template = templates[(round_ // len(doc.facts)) % len(templates)]
                text = template.format(attr=fact.attribute, entity=fact.entity, value=fact.value)
                qs.append(Question(f"{tenant}-q{k:05d}", tenant, text, doc.doc_id, "plain"))
            out[tenant] = qs
        return out


def zipf_cdf(n: int, s: float) -> list[float]:
    """Cumulative probabilities of ranks 1..n under Zipf(s); the last is exactly 1.0."""
    weights = [1.0 / (r ** s) for r in range(1, n + 1)]
    total = sum(weights)
    cdf = list(itertools.accumulate(w / total for w in weights))
    if cdf:
        cdf[-1] = 1.0
    return cdf


class QueryMix:
    """The seeded stream of questions: tenant by weight, question by Zipf rank, then a variant."""

    def __init__(
        self,
        corpus: Corpus,
        n_questions: int,
        *,
        zipf_s: float = 1.0,
        paraphrase_rate: float = 0.0,
        negation_rate: float = 0.0,
        tenant_weights: Mapping[str, float] | None = None,
    ) -> None:
        self.corpus = corpus
        self.pools = corpus.questions(n_questions)
        weights = dict(tenant_weights or {t: 1.0 for t in corpus.tenants})
        self.tenants = [t for t in corpus.tenants if weights.get(t, 0) > 0 and self.pools.get(t)]
        if not self.tenants:
            raise ValueError("no tenant has both a weight above 0 and questions")
        self._tenant_cdf = list(itertools.accumulate(weights[t] for t in self.tenants))
        self._rank_cdf = {t: zipf_cdf(len(self.pools[t]), zipf_s) for t in self.tenants}
        self.paraphrase_rate = paraphrase_rate
        self.negation_rate = negation_rate

    @property
    def distinct(self) -> int:
        return sum(len(p) for p in self.pools.values())

    def pick_tenant(self, rng: random.Random) -> str:
        x = rng.random() * self._tenant_cdf[-1]
        return self.tenants[min(bisect.bisect_right(self._tenant_cdf, x), len(self.tenants) - 1)]

    def next(self, rng: random.Random, tenant: str | None = None) -> Question:
        tenant = tenant or self.pick_tenant(rng)
        cdf = self._rank_cdf[tenant]
        rank = min(bisect.bisect_left(cdf, rng.random()), len(cdf) - 1)
        base = self.pools[tenant][rank]
        roll = rng.random()
        if roll < self.negation_rate:
            return self._variant(base, rng, _NEGATED, "negated")
        if roll < self.negation_rate + self.paraphrase_rate:
            return self._variant(base, rng, _PARAPHRASES, "paraphrase")
        return base

    def _variant(self, base: Question, rng: random.Random, templates: tuple[str, ...], variant: str) -> Question:
        doc = self.corpus.document(base.source_doc_id)
        fact = next((f for f in doc.facts if f.entity in base.text and f.attribute in base.text), doc.facts[0])
        text = rng.choice(templates).format(attr=fact.attribute, entity=fact.entity, value=fact.value)
        return Question(base.qid, base.tenant, text, base.source_doc_id, variant)
