"""The validator daemon: check every deal every epoch, sign honest attestations, report faults.

Modules, one job each (top-down):

- :mod:`~scatter.validator.signer`    EIP-712 attestation signing with a precomputed domain (fast path)
- :mod:`~scatter.validator.ledger`    the durable signing ledger: one verdict per (deal, epoch), ever
- :mod:`~scatter.validator.publish`   the HTTP publishing API hosters poll (+ ``/healthz``, ``/metrics``)
- :mod:`~scatter.validator.beacon`    chain time and the randomness of each epoch
- :mod:`~scatter.validator.challenge` randomness -> which leaves of a shard to fetch, and when
- :mod:`~scatter.validator.dagcache`  a shard's leaf list, from inner nodes verified against the root CID
- :mod:`~scatter.validator.checker`   one check: fetch the challenged leaves within a deadline, verify
- :mod:`~scatter.validator.limits`    bandwidth and CPU caps (Tahoe-LAFS crawler style)
- :mod:`~scatter.validator.faults`    gather fail quorums, ``faultFailed`` / ``faultMissed``
- :mod:`~scatter.validator.daemon`    the loop: join, follow, schedule, sign, publish, report
- :mod:`~scatter.validator.config`    settings from flags, environment, ``.env`` and TOML
- :mod:`~scatter.validator.metrics`   Prometheus metrics
- :mod:`~scatter.validator.status`    what ``scatter validator status`` shows

Start it with ``scatter validator run``, :func:`~scatter.validator.daemon.run_validator`,
``await ValidatorDaemon(config).run()`` or :class:`~scatter.validator.daemon.ValidatorThread`
(docs/validator.md).
"""
