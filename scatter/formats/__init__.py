"""Client-side file formats: what makes a stored file private and durable.

The flow of a file, top-down, one module per step (each format versioned in its
own ``*_schema`` module, Tahoe-LAFS style):

* :mod:`~scatter.formats.aead` (+ :mod:`aead_schema`, ``SCEA`` v1) — streaming
  AES-256-GCM in segments under a fresh per-file content key;
* :mod:`~scatter.formats.erasure` (+ :mod:`shard_schema`, ``SCSH`` v1) — k-of-n
  Reed-Solomon (zfec) or replication, deterministic, so shards can be healed;
* :mod:`~scatter.formats.pipeline` — encrypt -> erasure-code -> UnixFS CIDs and
  CARs in one pass over the input; decode; heal; (:mod:`carshard` reads CARs);
* :mod:`~scatter.formats.possession` (+ :mod:`possession_schema`, tree v2) — each
  shard's possession root (the bid's commitment), proofs and their check; the
  keccak runs in C (``_merkle/``: native SIMD if built, else ``merkle.wasm``);
* :mod:`~scatter.formats.metadata` (+ :mod:`metadata_schema`, ``SCMD`` v1, CBOR
  record v1) — the encrypted per-file record stored on chain;
* :mod:`~scatter.formats.keyderiv` — the metadata key from a deterministic
  EIP-712 signature (``eth_signTypedData_v4``) and HKDF;
* :mod:`~scatter.formats.sharelink` — share links v2 (reads v1);
* :mod:`~scatter.formats.params` — erasure and segment parameters (configuration);
* :mod:`~scatter.formats.errors` — what can go wrong, by name;
* :mod:`~scatter.formats.vectors` — golden vectors (``tests/testdata/formats``).

The byte layouts and the key derivation are specified in ``docs/formats.md``.
Submodules are imported explicitly (``from scatter.formats import aead``) so that
importing this package stays cheap.
"""

from __future__ import annotations

__all__ = [
    "aead",
    "aead_schema",
    "carshard",
    "erasure",
    "errors",
    "keyderiv",
    "manifest_schema",
    "metadata",
    "metadata_schema",
    "params",
    "pipeline",
    "possession",
    "possession_schema",
    "shard_schema",
    "sharelink",
    "vectors",
]
