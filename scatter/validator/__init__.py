"""The validator daemon (Market VERSION 3): check the deals of its committees every epoch, sign
honest attestations, request proofs and report what the chain can verify.

Modules, one job each (top-down):

- :mod:`~scatter.validator.signer`    EIP-712 attestation signing with a precomputed domain (fast path)
- :mod:`~scatter.validator.ledger`    the durable signing ledger: one verdict per (deal, epoch), ever
- :mod:`~scatter.validator.committee` which deals this validator sits on, one chain read per period
- :mod:`~scatter.validator.guard`     what it never signs: outside its committee, while a challenge is
  open, at or before a missed proof
- :mod:`~scatter.validator.publish`   the HTTP publishing API hosters poll (+ ``/healthz``, ``/metrics``)
- :mod:`~scatter.validator.beacon`    chain time and the randomness of each epoch
- :mod:`~scatter.validator.challenge` randomness -> which leaves of a shard to fetch, and when
- :mod:`~scatter.validator.dagcache`  a shard's leaf list, walked within the slot's size budget
- :mod:`~scatter.validator.checker`   one check: fetch the challenged leaves within a deadline, verify
- :mod:`~scatter.validator.policy`    attempts -> verdict: fail only on evidence, slow is a retry
- :mod:`~scatter.validator.rounds`    one epoch's jobs and the crawler that runs them
- :mod:`~scatter.validator.limits`    bandwidth and CPU caps (Tahoe-LAFS crawler style)
- :mod:`~scatter.validator.reports`   requestProof (fail quorum + bond), reportMissedProof,
  requestProofForMissedQuorum, audits by lottery
- :mod:`~scatter.validator.daemon`    the loop: join, follow, schedule, sign, publish, report
- :mod:`~scatter.validator.config`    settings from flags, environment, ``.env`` and TOML
- :mod:`~scatter.validator.metrics`   Prometheus metrics
- :mod:`~scatter.validator.status`    what ``scatter validator status`` shows

Start it with ``scatter validator run``, :func:`~scatter.validator.daemon.run_validator`,
``await ValidatorDaemon(config).run()`` or :class:`~scatter.validator.daemon.ValidatorThread`
(docs/validator.md).
"""
