"""The hoster daemon (``scatter hoster run``): reserve or fetch slots, check and fill them with a
possession proof, serve shards, answer challenges, get paid, heal.

Modules, one job each:

- :mod:`~scatter.hoster.config`     settings from flags, environment, ``.env`` and TOML; the bid filter
  (its break-even price: :mod:`scatter.chain.economics`, shared with the SDK's default price)
- :mod:`~scatter.hoster.queue`      whose turn it is to fetch and fill an open slot (rendezvous order)
- :mod:`~scatter.hoster.state`      the hoster's SQLite tables (its deals, operator requests, status facts)
- :mod:`~scatter.hoster.txjournal`  each transaction recorded before it is broadcast, reconciled after a crash
- :mod:`~scatter.hoster.content`    signed CAR uploads, verified fetches, healing a lost shard
- :mod:`~scatter.hoster.possess`    check a shard against its slot (size, possession root); proofs
- :mod:`~scatter.hoster.attest`     range attestations from validators, and which range a quorum can sign
- :mod:`~scatter.hoster.api`        the HTTP endpoint: gateway, upload, pin status, ``/healthz``, ``/metrics``
- :mod:`~scatter.hoster.metrics`    Prometheus metrics
- :mod:`~scatter.hoster.daemon`     :class:`Hoster` (the loop) and :class:`HosterThread`
- :mod:`~scatter.hoster.gc`         on disk only what live deals need: stray pins, GC, leftovers of a kill
- :mod:`~scatter.hoster.status`     ``scatter hoster status`` (with the store on disk beside what is pinned)
- :mod:`~scatter.hoster.failpoints` crash points for the kill -9 tests

See docs/hoster.md.
"""
