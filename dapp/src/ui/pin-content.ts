// The content of a public CID, read once from an origin the user typed (a Trustless Gateway),
// every block checked against its CID, and its possession commitment: exact size and root
// (docs/trust.md "Possession tree", built by ../formats/possession; scatter/sdk/pin.py in Python).
import { CarBlockIterator } from "@ipld/car";
import * as dagPb from "@ipld/dag-pb";
import { UnixFS } from "ipfs-unixfs";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { bytesToHex, type Hex } from "viem";
import { own } from "../formats/bytes";
import { PossessionRoot, rootHex } from "../formats/possession";

const RAW = 0x55;
const DAG_PB = 0x70;

export class ContentError extends Error {}

export interface Possession {
  size: bigint;
  root: Hex;
  cidBytes: Uint8Array;
  blocks: number;
}

async function verified(cid: CID, bytes: Uint8Array): Promise<void> {
  if (cid.multihash.code !== sha256.code) throw new ContentError(`block ${cid} uses a hash this page does not check`);
  const digest = await sha256.digest(bytes);
  if (bytesToHex(digest.bytes) !== bytesToHex(cid.multihash.bytes)) throw new ContentError(`the origin sent a wrong block for ${cid}`);
}

/**
 * Read `cid` from `origin` as a CAR (`/ipfs/{cid}?format=car`), check every block, walk the
 * UnixFS file in order and return its exact size and possession root. `onProgress` gets bytes read.
 */
export async function possessionOf(cidText: string, origin: string, onProgress?: (bytes: number) => void): Promise<Possession> {
  let root: CID;
  try {
    root = CID.parse(cidText.trim());
  } catch {
    throw new ContentError(`${cidText} is not a CID`);
  }
  let url: URL;
  try {
    url = new URL(`ipfs/${root.toString()}?format=car&dag-scope=all`, origin.endsWith("/") ? origin : origin + "/");
  } catch {
    throw new ContentError(`${origin} is not a URL`);
  }
  let response: Response;
  try {
    response = await fetch(url, { headers: { Accept: "application/vnd.ipld.car" }, credentials: "omit", referrerPolicy: "no-referrer" });
  } catch {
    throw new ContentError(`${url.origin} did not answer, or does not allow this page to read it (CORS)`);
  }
  if (!response.ok || !response.body) throw new ContentError(`${url.origin} answered ${response.status} for ${root}`);
  const blocks = new Map<string, Uint8Array>();
  let read = 0;
  const reader = response.body.getReader();
  const chunks = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        read += value.length;
        onProgress?.(read);
        yield value;
      }
    },
  };
  for await (const block of await CarBlockIterator.fromIterable(chunks)) {
    const cid = CID.asCID(block.cid) ?? CID.decode(block.cid.bytes);
    await verified(cid, block.bytes);
    blocks.set(cid.toString(), block.bytes);
  }
  const tree = await PossessionRoot.create(); // the formats' streaming tree (wasm keccak)
  const walk = (cid: CID): void => {
    const bytes = blocks.get(cid.toString());
    if (!bytes) throw new ContentError(`the origin's CAR lacks block ${cid}`);
    if (cid.code === RAW) {
      tree.update(own(bytes));
      return;
    }
    if (cid.code !== DAG_PB) throw new ContentError(`block ${cid} is not UnixFS`);
    const pb = dagPb.decode(bytes);
    if (!pb.Data) throw new ContentError(`block ${cid} has no UnixFS data`);
    const fs = UnixFS.unmarshal(pb.Data);
    if (fs.type !== "file" && fs.type !== "raw") throw new ContentError(`${root} is a ${fs.type}, not a file: pin a file's CID`);
    if (fs.data && fs.data.length > 0) tree.update(own(fs.data));
    for (const link of pb.Links) walk(CID.asCID(link.Hash) ?? CID.decode(link.Hash.bytes));
  };
  walk(root);
  if (tree.size === 0) throw new ContentError(`${root} is empty: nothing to pin`);
  return { size: BigInt(tree.size), root: rootHex(tree.finish()), cidBytes: root.bytes, blocks: blocks.size };
}
