"""What the reference app's replicas share through Redis when ``REDIS_URL`` is set.

One module per store, each the Redis implementation of a store protocol (reference_app/stores.py)
that an in-process part of the app holds by composition:

| store | module | replaces |
|---|---|---|
| key namespace, the client | namespace.py | – |
| response and embedding caches, tenant corpus versions | caches.py | stores.NoCacheStore, stores.LocalVersionStore |
| semantic cache (vectors as packed float32 per partition) | semantic_cache.py | semantic_cache.NoSemanticStore |
| ingest jobs on Redis Streams, job state in hashes | stream_queue.py | ingest_local.LocalJobQueue (SQLite) |
| per-tenant quotas (Lua token bucket, server time) | quotas.py | quotas.MemoryQuotaStore |
| provider pacing budget (Lua, server time) | pacing.py | pacing.LocalPaceStore (the Pacer's own buckets) |
| circuit breaker state (Lua, callers' wall clocks), only with ``RAGCHAOS_BREAKER_SCOPE=fleet`` | breaker.py | breaker_store.LocalBreakerState |
| choosing the backend from the settings | backend.py | – |

Kept per replica on purpose: the breaker (unless ``RAGCHAOS_BREAKER_SCOPE=fleet``), the bulkhead,
the retrieval cache's local copy and connection health (docs/scale-out.md, "Why the circuit
breaker stays per replica").
"""
