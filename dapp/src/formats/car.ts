/**
 * CAR v1 of one shard (scatter/ipfs/car.py): header {roots: [cid], version: 1} in DAG-CBOR, then
 * varint(len(cid) + len(block)) | cid | block for each distinct block, in the importer's order
 * (children before parents, root last). The root is known only at the end, so the body goes to a
 * spool (a Blob in memory, or a file: pipeline/spool.ts) and the header is put in front of it at finish.
 */
import { CarIndexer } from "@ipld/car/indexer";
import { CarBlockIterator } from "@ipld/car/iterator";
import type { CID } from "multiformats/cid";
import { type Bytes, concat, own, uvarint, utf8 } from "./bytes";
import { FormatError } from "./errors";
import type { Block } from "./unixfs";

/** The CAR v1 header naming one root. */
export function carHeader(root: CID): Bytes {
  const cid = own(root.bytes);
  const tagged = concat([Uint8Array.of(0x00), cid]); // DAG-CBOR link: tag 42, identity multibase prefix
  const cbor = concat([
    Uint8Array.of(0xa2, 0x65),
    utf8("roots"),
    Uint8Array.of(0x81, 0xd8, 0x2a, 0x58, tagged.length),
    tagged,
    Uint8Array.of(0x67),
    utf8("version"),
    Uint8Array.of(0x01),
  ]);
  return concat([uvarint(cbor.length), cbor]);
}

/** Where a CAR's body goes, 8 MiB of parts at a time; `close` gives it back as a Blob. */
export interface CarSpool {
  append(parts: Bytes[]): void;
  close(): Promise<Blob>;
}

/** The body as a Blob (Chromium keeps Blobs in memory up to a share of RAM). */
export class MemorySpool implements CarSpool {
  private body: Blob = new Blob([]);
  append(parts: Bytes[]): void {
    this.body = new Blob([this.body, ...parts]);
  }
  close(): Promise<Blob> {
    return Promise.resolve(this.body);
  }
}

/** Parts are handed to the spool every this many bytes. */
const FOLD = 8 << 20;

export class CarBuilder {
  private parts: Bytes[] = [];
  private partBytes = 0;
  private readonly seen = new Set<string>();
  size = 0;

  constructor(private readonly spool: CarSpool = new MemorySpool()) {}

  add(block: Block): void {
    const key = block.cid.toString();
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const cid = own(block.cid.bytes);
    this.push(concat([uvarint(cid.length + block.bytes.length), cid]));
    this.push(block.bytes);
  }

  private push(part: Bytes): void {
    this.parts.push(part);
    this.partBytes += part.length;
    this.size += part.length;
    if (this.partBytes >= FOLD) this.fold();
  }

  private fold(): void {
    if (this.parts.length) this.spool.append(this.parts);
    this.parts = [];
    this.partBytes = 0;
  }

  async finish(root: CID): Promise<Blob> {
    this.fold();
    const header = carHeader(root);
    this.size += header.length;
    return new Blob([header, await this.spool.close()]);
  }
}

async function* blobChunks(blob: Blob, size = 1 << 20): AsyncGenerator<Uint8Array> {
  for (let pos = 0; pos < blob.size; pos += size) yield new Uint8Array(await blob.slice(pos, pos + size).arrayBuffer());
}

/** The single root of a CAR and a getter of its blocks by CID (one indexing pass, blocks read on demand). */
export async function openCarBlob(blob: Blob): Promise<{ root: CID; get: (cid: CID) => Promise<Bytes> }> {
  const indexer = await CarIndexer.fromIterable(blobChunks(blob));
  const roots = await indexer.getRoots();
  if (roots.length !== 1) throw new FormatError(`a shard CAR has exactly one root, this one has ${roots.length}`);
  const where = new Map<string, [number, number]>();
  for await (const entry of indexer) {
    const key = entry.cid.toString();
    if (!where.has(key)) where.set(key, [entry.blockOffset, entry.blockLength]);
  }
  const get = async (cid: CID): Promise<Bytes> => {
    const at = where.get(cid.toString());
    if (at === undefined) throw new FormatError(`block ${cid.toString()} is not in this CAR; the CAR is incomplete`);
    return new Uint8Array(await blob.slice(at[0], at[0] + at[1]).arrayBuffer());
  };
  return { root: roots[0] as CID, get };
}

/**
 * A CAR stream sent depth-first with duplicates (a trustless gateway's `order=dfs; dups=y`):
 * blocks are handed out in arrival order, and must be exactly those the exporter asks for.
 */
export async function openCarStream(stream: AsyncIterable<Uint8Array>): Promise<{ get: (cid: CID) => Promise<Bytes> }> {
  const blocks = (await CarBlockIterator.fromIterable(stream))[Symbol.asyncIterator]();
  const get = async (cid: CID): Promise<Bytes> => {
    const next = await blocks.next();
    if (next.done === true) throw new FormatError(`the CAR ended before block ${cid.toString()}`);
    const sent = next.value.cid.toString();
    if (sent !== cid.toString()) throw new FormatError(`the CAR sent ${sent} where ${cid.toString()} comes next`);
    return own(next.value.bytes);
  };
  return { get };
}
