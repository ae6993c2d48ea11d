/**
 * Streaming UnixFS file importer, byte-identical to Kubo's `ipfs add --cid-version=1`
 * (scatter/ipfs/unixfs.py): 256 KiB chunks as raw leaves, a balanced DAG of at most 174 links
 * per node, inner nodes UnixFS File dag-pb with filesize and blocksizes; a one-chunk file is its
 * leaf. Memory: one partial chunk plus one pending link list per tree level.
 */
import * as dagPB from "@ipld/dag-pb";
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import { type Bytes, concat, equal, own, sha256, uvarint } from "./bytes";
import { Chunker } from "./chunker";
import { FormatError } from "./errors";

export const CHUNK_SIZE = 262144;
export const MAX_LINKS = 174;
export const RAW = 0x55;
export const DAG_PB = 0x70;
const SHA2_256 = 0x12;

export interface Block {
  cid: CID;
  bytes: Bytes;
}

interface Link {
  cid: CID;
  tsize: number; // encoded bytes of the child's DAG
  filesize: number; // file bytes below the child
}

export const cidOf = async (code: number, bytes: Bytes): Promise<CID> =>
  CID.createV1(code, Digest.create(SHA2_256, await sha256(bytes)));

/** The UnixFS Data message of a File node, as Kubo writes it (type, filesize, blocksizes). */
function fileData(filesize: number, blocksizes: number[]): Bytes {
  return concat([Uint8Array.of(0x08, 0x02, 0x18), uvarint(filesize), ...blocksizes.flatMap((s) => [Uint8Array.of(0x20), uvarint(s)])]);
}

export class UnixFSImporter {
  private readonly chunker: Chunker;
  private readonly levels: Link[][] = [];
  private leaves = 0;
  private rootCid: CID | null = null;
  size = 0;

  constructor(
    chunkSize = CHUNK_SIZE,
    private readonly maxLinks = MAX_LINKS,
  ) {
    this.chunker = new Chunker(chunkSize);
  }

  /** Add file bytes (not modified by the caller afterwards); the blocks this completed (children before parents). */
  async write(data: Bytes): Promise<Block[]> {
    if (this.rootCid !== null) throw new FormatError("importer already finished");
    const chunks = this.chunker.push(data); // subarrays of data: the caller does not modify it
    const cids = await Promise.all(chunks.map((c) => cidOf(RAW, c)));
    const out: Block[] = [];
    for (const [i, bytes] of chunks.entries()) await this.leaf({ cid: cids[i] as CID, bytes }, out);
    return out;
  }

  /** Flush the last chunk and the pending inner nodes; the root is the last block. */
  async finish(): Promise<Block[]> {
    if (this.rootCid !== null) throw new FormatError("importer already finished");
    const out: Block[] = [];
    if (this.chunker.buffered > 0 || this.leaves === 0) {
      const bytes = this.chunker.rest();
      await this.leaf({ cid: await cidOf(RAW, bytes), bytes }, out);
    }
    if (this.leaves === 1 && this.levels.length === 1) {
      this.rootCid = (this.levels[0]?.[0] as Link).cid;
      return out;
    }
    for (let level = 0; level < this.levels.length; level++) {
      const link = await this.inner(this.levels[level] as Link[], out);
      this.levels[level] = [];
      if (level === this.levels.length - 1) {
        this.rootCid = link.cid;
        break;
      }
      await this.push(level + 1, link, out);
    }
    return out;
  }

  get root(): CID {
    if (this.rootCid === null) throw new FormatError("the root is known only after finish()");
    return this.rootCid;
  }

  private async leaf(block: Block, out: Block[]): Promise<void> {
    out.push(block);
    this.leaves++;
    this.size += block.bytes.length;
    await this.push(0, { cid: block.cid, tsize: block.bytes.length, filesize: block.bytes.length }, out);
  }

  private async push(level: number, link: Link, out: Block[]): Promise<void> {
    if (level === this.levels.length) this.levels.push([]);
    let pending = this.levels[level] as Link[];
    if (pending.length === this.maxLinks) {
      const full = await this.inner(pending, out);
      this.levels[level] = pending = [];
      await this.push(level + 1, full, out);
    }
    pending.push(link);
  }

  private async inner(links: Link[], out: Block[]): Promise<Link> {
    const filesize = links.reduce((a, l) => a + l.filesize, 0);
    const node = dagPB.createNode(
      fileData(filesize, links.map((l) => l.filesize)),
      links.map((l) => ({ Hash: l.cid, Name: "", Tsize: l.tsize })),
    );
    const bytes = own(dagPB.encode(node));
    const cid = await cidOf(DAG_PB, bytes);
    out.push({ cid, bytes });
    return { cid, tsize: bytes.length + links.reduce((a, l) => a + l.tsize, 0), filesize };
  }
}

/** Checks a block against its CID (sha2-256 only, as every CID here). */
export async function verifyBlock(cid: CID, bytes: Bytes): Promise<boolean> {
  return cid.multihash.code === SHA2_256 && equal(await sha256(bytes), own(cid.multihash.digest));
}

/**
 * The file bytes of a UnixFS DAG, walked depth-first from `root`; `get` returns a block's bytes,
 * each checked against its CID here (a mismatch throws FormatError naming the block).
 */
export async function* exportFile(root: CID, get: (cid: CID) => Promise<Bytes>): AsyncGenerator<Bytes> {
  const stack: CID[] = [root];
  while (stack.length > 0) {
    const cid = stack.pop() as CID;
    const bytes = await get(cid);
    if (!(await verifyBlock(cid, bytes))) throw new FormatError(`block ${cid.toString()} does not match its CID`);
    if (cid.code === RAW) {
      yield bytes;
      continue;
    }
    if (cid.code !== DAG_PB) throw new FormatError(`block ${cid.toString()}: codec ${cid.code} is not a UnixFS file`);
    const node = dagPB.decode(bytes);
    const data = node.Data === undefined ? null : unixfsFileData(node.Data);
    if (data !== null && data.length > 0) yield data;
    for (let i = node.Links.length - 1; i >= 0; i--) stack.push((node.Links[i] as dagPB.PBLink).Hash as CID);
  }
}

/** The `Data` bytes of a UnixFS File/Raw message (or null); other types are not shard files. */
function unixfsFileData(msg: Uint8Array): Bytes | null {
  let pos = 0;
  let type = -1;
  let data: Bytes | null = null;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = msg[pos++];
      if (b === undefined) throw new FormatError("UnixFS message truncated");
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  };
  while (pos < msg.length) {
    const key = varint();
    const wire = key & 7;
    if (wire === 0) {
      const v = varint();
      if (key >> 3 === 1) type = v;
    } else if (wire === 2) {
      const len = varint();
      if (key >> 3 === 2) data = own(msg.slice(pos, pos + len));
      pos += len;
    } else if (wire === 5) pos += 4;
    else if (wire === 1) pos += 8;
    else throw new FormatError(`UnixFS message: unknown wire type ${wire}`);
  }
  if (type !== 0 && type !== 2) throw new FormatError(`UnixFS node of type ${type} is not a file`);
  return data;
}
