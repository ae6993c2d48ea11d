"""The :class:`BlockStore` over Kubo's RPC API (production hosters run Kubo beside the daemon).

Kubo's RPC is POST-only (``POST /api/v0/block/get?arg=CID``); errors come back as
HTTP 500 with ``{"Message": ..., "Code": 0, "Type": "error"}``. Every call that
could make Kubo reach the network passes ``offline=true``, but Kubo pins through
its online DAG service whatever the flag says (``pin/add``, and ``dag/import``
with ``pin-roots``): asked to pin an incomplete DAG, it fetches the missing,
client-chosen blocks from the network or hangs. So the store never lets Kubo pin
what it does not hold: a CAR is imported with ``pin-roots=false`` while the
store notes its blocks and their links, and a root is pinned (``pin/add``, within
``pin_timeout``) only once every block of its DAG is known to be held locally,
the same rule as the embedded store's. Blocks read back are verified against
their CIDs; CARs are verified block by block on their way in and on their way
out: Kubo reports an error in the middle of a stream only in an
``X-Stream-Error`` HTTP trailer (which httpx does not surface), so a
``dag/export`` is read as a CAR and must hold the whole DAG, or it failed.

The RPC API must stay on a private interface: never expose it (the gateway is
the public face).
"""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import httpx
from multiformats import CID

from scatter.chunkio import ChunkReader
from scatter.ipfs.abc import BlockStore, GcResult, StoreStat
from scatter.ipfs.block import Block, verify_block
from scatter.ipfs.car import encode_header, read_car
from scatter.ipfs.cid import SUPPORTED_CODECS, cid_bytes, cid_str, parse_cid
from scatter.ipfs.dag import links_of, missing_blocks
from scatter.ipfs.errors import BlockNotFoundError, CarFormatError, KuboError
from scatter.ipfs.varint import uvarint

__all__ = ["KuboBlockStore", "KuboIdentity", "KuboVersion"]

_NOT_FOUND_HINTS = ("not found", "could not find", "not pinned", "no link named")
_STREAM_ERROR = "X-Stream-Error"
_READ_SIZE = 1 << 20


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
    """Kubo as a block store, through ``api_url`` (e.g. ``http://127.0.0.1:5001``).

    ``pin_timeout``: seconds a ``pin/add`` of a DAG already checked to be held may take.
    """

    def __init__(
        self, api_url: str = "http://127.0.0.1:5001", *, timeout: float = 120.0, pin_timeout: float = 60.0
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.pin_timeout = pin_timeout
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

    def _json(
        self, path: str, params: dict[str, Any] | None = None, cid: CID | None = None, **kw: Any
    ) -> Any:
        resp = self._post(path, params or {}, cid, **kw)
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
        children: dict[bytes, list[CID]] = {}  # each block sent -> its links

        def body() -> Iterator[bytes]:
            yield encode_header(roots)
            for block in blocks:
                key = cid_bytes(block.cid)
                children[key] = links_of(block.cid, block.data)
                yield uvarint(len(key) + len(block.data)) + key + block.data

        # never pin-roots=true: Kubo would fetch whatever the CAR lacks from the network
        params = {"pin-roots": "false", "offline": "true", "stats": "false"}
        self._client_post_stream("dag/import", params, body(), secrets.token_hex(16))
        if pin:
            for root in roots:
                gap = self._first_gap(root, children)
                if gap is not None:
                    raise BlockNotFoundError(
                        f"the CAR's DAG {cid_str(root)} lacks block {cid_str(gap)}, which Kubo does not "
                        "hold either; imported unpinned, nothing fetched",
                        cid=gap,
                    )
                self._pin_held(root)
        return roots

    def _first_gap(self, root: CID, children: dict[bytes, list[CID]]) -> CID | None:
        """A block of ``root``'s DAG held neither in ``children`` (a CAR just sent) nor by Kubo."""
        seen: set[bytes] = set()
        stack = [root]
        while stack:
            cid = stack.pop()
            key = cid_bytes(cid)
            if key in seen:
                continue
            seen.add(key)
            links = children.get(key)
            if links is not None:
                stack.extend(links)
                continue
            gaps = missing_blocks(cid, self, limit=1)  # outside the CAR: walk what Kubo holds, offline
            if gaps:
                return gaps[0]
        return None

    def export_car(self, root: CID, out: BinaryIO) -> int:
        params = {"arg": cid_str(root), "offline": "true", "progress": "false"}
        wanted = {cid_bytes(root)}  # linked to, not received yet
        got: set[bytes] = set()
        n = 0
        try:
            with self._client.stream("POST", "dag/export", params=params) as resp:
                self._raise_for(resp, "dag/export", root)
                if resp.headers.get(_STREAM_ERROR):
                    raise KuboError(
                        f"Kubo dag/export of {cid_str(root)} failed: {resp.headers[_STREAM_ERROR]}"
                    )
                _roots, blocks = read_car(
                    io.BufferedReader(ChunkReader(resp.iter_bytes(_READ_SIZE)), _READ_SIZE)
                )
                header = encode_header([root])
                out.write(header)
                n += len(header)
                for block in blocks:
                    key = cid_bytes(block.cid)
                    wanted.discard(key)
                    got.add(key)
                    wanted.update(k for k in map(cid_bytes, links_of(block.cid, block.data)) if k not in got)
                    section = uvarint(len(key) + len(block.data)) + key
                    out.write(section)
                    out.write(block.data)
                    n += len(section) + len(block.data)
        except httpx.HTTPError as exc:
            raise KuboError(f"dag/export from Kubo at {self.api_url} failed: {exc!r}") from None
        except CarFormatError as exc:
            raise KuboError(
                f"Kubo dag/export of {cid_str(root)} broke off ({_STREAM_ERROR}?): {exc}"
            ) from None
        if wanted:
            raise KuboError(
                f"Kubo dag/export of {cid_str(root)} ended {len(wanted)} block(s) short "
                f"(an error in its {_STREAM_ERROR} trailer); the CAR written is incomplete"
            )
        return n

    def pin(self, cid: CID) -> None:
        gaps = missing_blocks(cid, self, limit=1)  # Kubo would fetch a gap from the network: refuse first
        if gaps:
            raise BlockNotFoundError(
                f"cannot pin {cid_str(gaps[0])}: the DAG of {cid_str(cid)} is not all held by Kubo "
                "(nothing fetched)",
                cid=gaps[0],
            )
        self._pin_held(cid)

    def _pin_held(self, cid: CID) -> None:
        """``pin/add`` a DAG already known to be held locally, within ``pin_timeout``."""
        params = {"arg": cid_str(cid), "recursive": "true", "offline": "true"}
        try:
            out = self._json("pin/add", params, cid, timeout=self.pin_timeout)
        except KuboError as exc:
            raise KuboError(f"{exc} (pin/add within {self.pin_timeout:g} s)") from None
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
