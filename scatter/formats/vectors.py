"""Golden test vectors of every client-side format, made by the real code.

``python -m scatter.formats.vectors DIR`` writes them as JSON into ``DIR``
(``tests/testdata/formats``); ``python -m scatter.formats.vectors --possession FILE``
writes the possession-tree vectors the forge tests read too
(``tests/testdata/possession_vectors.json``). The tests check that the committed files equal a
fresh generation and cross-check them by independent routes (a hand-written
HKDF, raw AES-GCM, eth-account's signer recovery, Node's WebCrypto).
Everything random in the formats (content key, salt, nonce) is fixed here.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak

from scatter.formats import aead, aead_schema, erasure, keyderiv, metadata, sharelink
from scatter.formats.metadata_schema import FileMetadata, FileVersion
from scatter.formats.params import ErasureParams
from scatter.formats.pipeline import shard_cid

#: eth-account's documented example key; never holds funds.
PRIVATE_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
CONTENT_KEY = bytes(range(32))
SALT = bytes(range(0xA0, 0xB0))
SEGMENT_SIZE = 4096
PLAINTEXT = bytes((i * 7 + 3) % 251 for i in range(10000))
METADATA_NONCE = bytes(range(0xC0, 0xCC))
CREATED = 1_790_000_000


def aead_vector() -> dict[str, Any]:
    ct = aead.encrypt_bytes(CONTENT_KEY, PLAINTEXT, SEGMENT_SIZE, salt=SALT)
    empty = aead.encrypt_bytes(CONTENT_KEY, b"", SEGMENT_SIZE, salt=SALT)
    return {
        "format": "SCEA v1",
        "content_key": CONTENT_KEY.hex(),
        "salt": SALT.hex(),
        "segment_size": SEGMENT_SIZE,
        "header_size": aead_schema.HEADER_SIZE,
        "info_segment_key": aead_schema.INFO_SEGMENT_KEY.decode(),
        "info_key_check": aead_schema.INFO_KEY_CHECK.decode(),
        "plaintext": PLAINTEXT.hex(),
        "ciphertext": ct.hex(),
        "empty_ciphertext": empty.hex(),
    }


def shards_vector() -> dict[str, Any]:
    ct = bytes.fromhex(aead_vector()["ciphertext"])
    out: dict[str, Any] = {"format": "SCSH v1", "ciphertext": ct.hex(), "cases": []}
    for params in (ErasureParams(k=3, n=6, block_size=1024), ErasureParams.replication(3, block_size=4096)):
        shards = erasure.encode_bytes(params, ct)
        out["cases"].append(
            {
                "codec": int(params.codec),
                "k": params.k,
                "n": params.n,
                "block_size": params.block_size,
                "shards": [s.hex() for s in shards],
                "cids": [str(shard_cid(io.BytesIO(s))) for s in shards],
            }
        )
    return out


def metadata_key_vector() -> dict[str, Any]:
    account = Account.from_key(PRIVATE_KEY)
    signature = keyderiv.sign_key_request(account)
    return {
        "private_key": PRIVATE_KEY,
        "address": account.address,
        "typed_data": keyderiv.key_request_typed_data(),
        "eip712_digest": keyderiv.key_request_digest().hex(),
        "signature": signature.hex(),
        "hkdf_salt": keyderiv.HKDF_SALT.decode(),
        "hkdf_info": keyderiv.HKDF_INFO.decode(),
        "metadata_key": keyderiv.metadata_key_from_signature(signature).hex(),
    }


def sample_metadata() -> FileMetadata:
    case = shards_vector()["cases"][0]
    version = FileVersion(
        size=len(PLAINTEXT),
        sha256=__import__("hashlib").sha256(PLAINTEXT).digest(),
        content_key=CONTENT_KEY,
        erasure=ErasureParams(k=case["k"], n=case["n"], block_size=case["block_size"]),
        ciphertext_length=len(bytes.fromhex(shards_vector()["ciphertext"])),
        shards=tuple(case["cids"]),
        segment_size=SEGMENT_SIZE,
        bid_id=42,
        created=CREATED,
    )
    older = FileVersion(
        size=3,
        sha256=bytes(32),
        content_key=bytes([7]) * 32,
        erasure=ErasureParams.replication(3),
        ciphertext_length=3 + aead_schema.HEADER_SIZE + aead_schema.TAG_SIZE,
        shards=tuple(shards_vector()["cases"][1]["cids"]),
        segment_size=SEGMENT_SIZE,
        bid_id=None,
        created=CREATED - 86400,
    )
    return FileMetadata(name="report é.pdf", media_type="application/pdf", current=version, history=(older,))


def metadata_vector() -> dict[str, Any]:
    key = bytes.fromhex(metadata_key_vector()["metadata_key"])
    record = sample_metadata()
    return {
        "format": "SCMD v1",
        "metadata_key": key.hex(),
        "nonce": METADATA_NONCE.hex(),
        "cbor": record.to_cbor().hex(),
        "blob": metadata.encrypt_metadata(key, record, nonce=METADATA_NONCE).hex(),
    }


def sharelink_vector() -> dict[str, Any]:
    link = sharelink.ShareLink.for_file(sample_metadata())
    return {
        "format": "share link v1",
        "url": link.to_url(),
        "https_url": link.to_url("https://app.scatter.example/open"),
    }


def sharelink_v2_vector() -> dict[str, Any]:
    link = sharelink.ShareLink.for_file(
        sample_metadata(),
        chain_id=11155111,
        market="0x5FbDB2315678afecb367f032d93F642f64180aa3",
        hosts=("https://hoster-a.example:8443", "http://203.0.113.7:9010/base"),
    )
    return {
        "format": "share link v2",
        "url": link.to_url(),
        "https_url": link.to_url("https://app.scatter.example/open"),
    }


#: Shard sizes of the possession vectors: edges of one and two segments, odd tails, ~64 KiB.
POSSESSION_SIZES = (1, 127, 128, 129, 256, 384, 128 * 5 + 7, 4096 + 3, 65536 + 77)


def possession_data(size: int) -> bytes:
    """Deterministic bytes: sha256(b"scatter possession " || counter) blocks, cut to size."""
    blocks = (size + 31) // 32
    digest = __import__("hashlib").sha256
    return b"".join(digest(b"scatter possession " + i.to_bytes(8, "big")).digest() for i in range(blocks))[
        :size
    ]


def _slicer(data: bytes) -> Callable[[int, int], bytes]:
    return lambda offset, length: data[offset : offset + length]


def possession_vector() -> dict[str, Any]:
    """Roots, challenges and proofs by the plain-Python reference (not the wasm fast path)."""
    from scatter.formats import possession, possession_schema

    hasher = possession.ReferenceHasher()
    cases = []
    for size in POSSESSION_SIZES:
        data = possession_data(size)
        seed = keccak(b"scatter possession seed " + size.to_bytes(8, "big"))
        indices = possession.challenge_indices(seed, size)
        proof = possession.build_proof(_slicer(data), size, indices, hasher=hasher)
        cases.append(
            {
                "size": size,
                "segments": possession.segment_count(size),
                "depth": possession.depth(size),
                "cap_levels": possession.cap_levels(size),
                "data_hex": data.hex(),
                "root": "0x" + possession.reference_root(data).hex(),
                "seed": "0x" + seed.hex(),
                "indices": indices,
                "proof": "0x" + proof.hex(),
            }
        )
    return {
        "version": possession_schema.VERSION,
        "segment": possession_schema.SEGMENT,
        "node": possession_schema.NODE,
        "cap_levels": possession_schema.CAP_LEVELS,
        "cases": cases,
    }


def render_possession() -> str:
    return json.dumps(possession_vector(), indent=1) + "\n"


VECTORS = {
    "aead_v1.json": aead_vector,
    "shards_v1.json": shards_vector,
    "metadata_key_v1.json": metadata_key_vector,
    "metadata_v1.json": metadata_vector,
    "sharelink_v1.json": sharelink_vector,
    "sharelink_v2.json": sharelink_v2_vector,
}


def render(name: str) -> str:
    return json.dumps(VECTORS[name](), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--possession":
        Path(argv[1]).write_text(render_possession(), encoding="utf-8")
        return 0
    if len(argv) != 1:
        print("usage: python -m scatter.formats.vectors DIR | --possession FILE", file=sys.stderr)
        return 2
    target = Path(argv[0])
    target.mkdir(parents=True, exist_ok=True)
    for name in VECTORS:
        (target / name).write_text(render(name), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
