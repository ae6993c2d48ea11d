"""The :class:`BlockStore` over Kubo's RPC API (production hosters run Kubo beside the daemon).

Kubo's RPC is POST-only (``POST /api/v0/block/get?arg=CID``); errors come back as
HTTP 500 with ``{"Message": ..., "Code": 0, "Type": "error"}``. Every call that
could make Kubo reach the network passes ``offline=true``: the store serves and
pins only what it holds, like the embedded store (and Kubo's ``dag import`` of an
incomplete CAR then fails fast instead of hanging). Blocks read back are
verified against their CIDs; CARs are verified block by block on their way in.

The RPC API must stay on a private interface: never expose it (the gateway is
the public face).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import httpx
from multiformats import CID

from scatter.ipfs.abc import BlockStore, GcResult, StoreStat
from scatter.ipfs.block import Block, verify_block
from scatter.ipfs.car import encode_header, read_car
from scatter.ipfs.cid import SUPPORTED_CODECS, cid_bytes, cid_str, parse_cid
from scatter.ipfs.errors import BlockNotFoundError, KuboError
from scatter.ipfs.varint import uvarint

__all__ = ["KuboBlockStore", "KuboIdentity", "KuboVersion"]

_NOT_FOUND_HINTS = ("not found", "could not find", "not pinned", "no link named")


@dataclass(frozen=True, slots=True)
class KuboVersion:
    version: str
    commit: str
    repo: str
    system: str
    golang: str


@dataclass(frozen=True, slots=True)
class KuboIdentity:
    peer_id: str
    agent_version: str
    addresses: tuple[str, ...]


class KuboBlockStore(BlockStore):
    """Kubo as a block store, through ``api_url`` (e.g. ``http://127.0.0.1:5001``)."""

    def __init__(self, api_url: str = "http://127.0.0.1:5001", *, timeout: float = 120.0) -> None:
        self.api_url = api_url.rstrip("/")
        self._client = httpx.Client(base_url=f"{self.api_url}/api/v0", timeout=timeout)

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------ transport

    def _raise_for(self, resp: httpx.Response, what: str, cid: CID | None = None) -> None:
        if resp.status_code == 200:
            return
        try:
            message = str(json.loads(resp.read()).get("Message", "")) or resp.reason_phrase
        except (ValueError, AttributeError):
            message = resp.text[:300] if resp.is_closed else resp.reason_phrase
        if any(h in message.lower() for h in _NOT_FOUND_HINTS):
            raise BlockNotFoundError(f"Kubo: {message}", cid=cid)
        raise KuboError(f"Kubo {what} failed ({resp.status_code}): {message}")

    def _post(self, path: str, params: dict[str, Any], cid: CID | None = None, **kw: Any) -> httpx.Response:
        try:
            resp = self._client.post(path, params=params, **kw)
        except httpx.HTTPError as exc:
            raise KuboError(
                f"cannot reach Kubo's RPC API at {self.api_url} ({exc!r}); is `ipfs daemon` running?"
            ) from None
        self._raise_for(resp, path, cid)
        return resp

    def _json(self, path: str, params: dict[str, Any] | None = None, cid: CID | None = None) -> Any:
        resp = self._post(path, params or {}, cid)
        try:
            return resp.json()
        except ValueError:
            raise KuboError(f"Kubo {path} answered something that is not JSON") from None

    def _multipart(self, parts: Iterator[bytes], boundary: str) -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="data"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        yield from parts
        yield f"\r\n--{boundary}--\r\n".encode()

    # ------------------------------------------------------------ BlockSource

    def get(self, cid: CID) -> bytes:
        resp = self._post("block/get", {"arg": cid_str(cid), "offline": "true"}, cid)
        data = resp.content
        verify_block(cid, data)
        return data

    def has(self, cid: CID) -> bool:
        try:
            self._post("block/stat", {"arg": cid_str(cid), "offline": "true"}, cid)
        except BlockNotFoundError:
            return False
        return True

    # ------------------------------------------------------------ BlockStore

    def put(self, block: Block) -> None:
        verify_block(block.cid, block.data)
        boundary = secrets.token_hex(16)
        params = {
            "cid-codec": SUPPORTED_CODECS[block.cid.codec.code],
            "mhtype": block.cid.hashfun.name,
            "pin": "false",
        }
        out = self._client_post_stream("block/put", params, iter([block.data]), boundary)
        key = parse_cid(str(out.get("Key", "")))
        if bytes(key.digest) != bytes(block.cid.digest):
            raise KuboError(f"Kubo stored {key} for block {cid_str(block.cid)}; expected the same multihash")

    def _client_post_stream(
        self, path: str, params: dict[str, Any], parts: Iterator[bytes], boundary: str
    ) -> Any:
        resp = self._post(
            path,
            params,
            content=self._multipart(parts, boundary),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        lines = [json.loads(line) for line in resp.text.splitlines() if line.strip()]
        return lines[0] if len(lines) == 1 else lines

    def import_car(self, stream: BinaryIO, *, pin: bool = True) -> list[CID]:
        roots, blocks = read_car(stream)  # verified here before Kubo sees a byte

        def body() -> Iterator[bytes]:
            yield encode_header(roots)
            for block in blocks:
                key = cid_bytes(block.cid)
                yield uvarint(len(key) + len(block.data)) + key + block.data

        params = {"pin-roots": "true" if pin else "false", "offline": "true", "stats": "false"}
        out = self._client_post_stream("dag/import", params, body(), secrets.token_hex(16))
        for line in out if isinstance(out, list) else [out]:
            root = line.get("Root") if isinstance(line, dict) else None
            if root and root.get("PinErrorMsg"):
                raise BlockNotFoundError(
                    f"Kubo imported the CAR but could not pin {root['Cid']['/']}: {root['PinErrorMsg']}"
                )
        return roots

    def export_car(self, root: CID, out: BinaryIO) -> int:
        params = {"arg": cid_str(root), "offline": "true", "progress": "false"}
        n = 0
        try:
            with self._client.stream("POST", "dag/export", params=params) as resp:
                self._raise_for(resp, "dag/export", root)
                for piece in resp.iter_bytes():
                    out.write(piece)
                    n += len(piece)
        except httpx.HTTPError as exc:
            raise KuboError(f"dag/export from Kubo at {self.api_url} failed: {exc!r}") from None
        return n

    def pin(self, cid: CID) -> None:
        out = self._json("pin/add", {"arg": cid_str(cid), "recursive": "true", "offline": "true"}, cid)
        pinned = {str(parse_cid(p)) for p in out.get("Pins", [])}
        if str(parse_cid(cid)) not in pinned:
            raise KuboError(f"Kubo did not confirm the pin of {cid_str(cid)}: {out}")

    def unpin(self, cid: CID) -> None:
        self._json("pin/rm", {"arg": cid_str(cid), "recursive": "true"}, cid)

    def pins(self) -> list[CID]:
        out = self._json("pin/ls", {"type": "recursive"})
        return [parse_cid(k) for k in sorted(out.get("Keys", {}))]

    def gc(self) -> GcResult:
        before = self.stat()
        resp = self._post("repo/gc", {"quiet": "false"})
        removed = 0
        for line in resp.text.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            if item.get("Error"):
                raise KuboError(f"Kubo repo/gc: {item['Error']}")
            if item.get("Key"):
                removed += 1
        after = self.stat()
        return GcResult(removed, max(before.size_bytes - after.size_bytes, 0))

    def stat(self) -> StoreStat:
        out = self._json("repo/stat", {"size-only": "false"})
        return StoreStat(int(out.get("NumObjects", 0)), int(out.get("RepoSize", 0)))

    # ------------------------------------------------------------ node info

    def version(self) -> KuboVersion:
        out = self._json("version")
        return KuboVersion(
            str(out.get("Version", "")),
            str(out.get("Commit", "")),
            str(out.get("Repo", "")),
            str(out.get("System", "")),
            str(out.get("Golang", "")),
        )

    def identity(self) -> KuboIdentity:
        out = self._json("id")
        return KuboIdentity(
            str(out.get("ID", "")), str(out.get("AgentVersion", "")), tuple(out.get("Addresses") or ())
        )
