// The browser pipeline's throughput on generated data, against WebCrypto's sha256 of the same bytes
// in the same page (the yardstick). Driven by scatter/bench/dapp.py in headless Chromium.
import { Encryptor } from "../../src/formats/aead";
import { toHex } from "../../src/formats/bytes";
import { CarBuilder } from "../../src/formats/car";
import { ShardEncoder } from "../../src/formats/erasure";
import { erasureParams, Codec } from "../../src/formats/params";
import { PossessionRoot } from "../../src/formats/possession";
import { Sha256 } from "../../src/formats/sha256";
import { UnixFSImporter } from "../../src/formats/unixfs";
import { carSha256, decodeFile, encodeFile, type EncodedFile } from "../../src/pipeline";

const MIB = 1 << 20;

/** Incompressible bytes, fast (xorshift32; crypto.getRandomValues takes 64 KiB per call). */
function generate(size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  const words = new Uint32Array(out.buffer, 0, Math.floor(size / 4));
  let x = 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return out;
}

/** The yardstick: WebCrypto's sha256 of `data`, best of 3 (the machine is shared; a slow run is noise). */
async function sha256Seconds(data: Uint8Array<ArrayBuffer>): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await crypto.subtle.digest("SHA-256", data);
    best = Math.min(best, (performance.now() - t) / 1000);
  }
  return best;
}

interface Result {
  mib: number;
  k: number;
  n: number;
  workers: number;
  sha256_mib_s: number;
  encode_mib_s: number;
  encode_over_sha256: number;
  encode_one_thread_mib_s: number;
  encode_one_thread_over_sha256: number;
  decode_parity_mib_s: number;
  decode_over_sha256: number;
  heap_mib_after_encode: number | null;
}

async function runBench(mib: number, k = 3, n = 6, workers = Math.max(1, Math.min(4, navigator.hardwareConcurrency - 1))): Promise<Result> {
  const data = generate(mib * MIB);
  const blob = new Blob([data]);
  const sha = await sha256Seconds(data);
  const tl = performance.now();
  await encodeFile(blob, { k, n, workers: 0 });
  const local = (performance.now() - tl) / 1000;
  const t1 = performance.now();
  const enc = await encodeFile(blob, { k, n, workers });
  const encode = (performance.now() - t1) / 1000;
  const memory = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory;
  const parity = enc.shards.slice(n - k).map((s) => ({ cid: s.cid, car: s.car }));
  const t2 = performance.now();
  const out = await decodeFile(parity, enc.contentKey, { sha256: enc.sha256 });
  const decode = (performance.now() - t2) / 1000;
  if (out.size !== data.length) throw new Error(`decoded ${out.size} bytes, expected ${data.length}`);
  await enc.cars?.remove();
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    mib,
    k,
    n,
    workers,
    sha256_mib_s: r(mib / sha),
    encode_mib_s: r(mib / encode),
    encode_over_sha256: r(sha / encode),
    encode_one_thread_mib_s: r(mib / local),
    encode_one_thread_over_sha256: r(sha / local),
    decode_parity_mib_s: r(mib / decode),
    decode_over_sha256: r(sha / decode),
    heap_mib_after_encode: memory ? r(memory.usedJSHeapSize / MIB) : null,
  };
}

/**
 * Where encode's time goes: each stage alone over `mib` MiB, as a ratio to WebCrypto's sha256 of
 * the same bytes (1 = as fast as sha256). Per MiB of a k/n file, encode runs: sha256 (wasm) and
 * AES-GCM over 1 MiB, zfec producing (n-k)/k MiB, and per shard byte (n/k MiB) the UnixFS CIDs
 * (WebCrypto sha256), the CAR copy and the possession tree (keccak in wasm).
 */
async function runBreakdown(mib: number, k = 3, n = 6): Promise<Record<string, number>> {
  const data = generate(mib * MIB);
  const time = async (fn: () => Promise<unknown> | unknown): Promise<number> => {
    const t = performance.now();
    await fn();
    return (performance.now() - t) / 1000;
  };
  const pieces = (size: number): Uint8Array<ArrayBuffer>[] => Array.from({ length: Math.ceil(data.length / size) }, (_, i) => data.subarray(i * size, (i + 1) * size));
  const sha = await sha256Seconds(data);
  const stages: Record<string, () => Promise<unknown> | unknown> = {
    plaintext_sha256: async () => (await Sha256.create()).update(data).digest(),
    aes_gcm: async () => {
      const enc = await Encryptor.create(new Uint8Array(32).fill(1));
      for (const p of pieces(4 * MIB)) await enc.update(p);
      await enc.finalize();
    },
    zfec: async () => {
      const enc = await ShardEncoder.create(erasureParams({ k, n, codec: Codec.ZFEC }), data.length);
      for (const p of pieces(1 * MIB)) await enc.update(p);
      await enc.finalize();
    },
    unixfs_cids: async () => {
      const imp = new UnixFSImporter();
      for (const p of pieces(256 * 1024)) await imp.write(p);
      await imp.finish();
    },
    unixfs_and_car: async () => {
      const imp = new UnixFSImporter();
      const car = new CarBuilder();
      for (const p of pieces(256 * 1024)) for (const b of await imp.write(p)) car.add(b);
      for (const b of await imp.finish()) car.add(b);
      await car.finish(imp.root);
    },
    possession_keccak: async () => {
      const tree = await PossessionRoot.create();
      for (const p of pieces(256 * 1024)) tree.update(p);
      tree.finish();
    },
  };
  const out: Record<string, number> = { mib, sha256_mib_s: Math.round(mib / sha) };
  for (const [name, fn] of Object.entries(stages)) out[name] = Math.round((sha / (await time(fn))) * 1000) / 1000;
  return out;
}

/** What a browser test checks: the worker sinks give exactly the bytes of the in-thread ones. */
async function checkWorkers(): Promise<{ same: boolean; used: number; workers: string[]; local: string[] }> {
  const data = generate(3 * MIB + 12345);
  const params = { k: 3, n: 5, blockSize: 256 * 1024, segmentSize: 64 * 1024, key: new Uint8Array(32).fill(7), salt: new Uint8Array(16).fill(9) };
  const summary = async (e: EncodedFile): Promise<string[]> =>
    Promise.all(e.shards.map(async (s) => `${s.index} ${s.cid} ${s.root} ${s.size} ${toHex(await carSha256(s.car))}`));
  const inWorkers = await encodeFile(new Blob([data]), { ...params, workers: 2 });
  const viaWorkers = await summary(inWorkers);
  await inWorkers.cars?.remove();
  const local = await summary(await encodeFile(new Blob([data]), { ...params, workers: 0 }));
  return { same: viaWorkers.join() === local.join(), used: inWorkers.workers, workers: viaWorkers, local };
}

/** The memory bench (scatter/bench/dapp.py --memory): a source Blob kept alive, then its encode kept alive. */
const kept: { source?: Blob; enc?: EncodedFile } = {};
function makeSource(mib: number): number {
  kept.source = new Blob([generate(mib * MIB)]);
  return kept.source.size;
}
async function encodeKept(k: number, n: number, spool: boolean): Promise<{ encode_mib_s: number; workers: number; on_disk: number; heap_mib: number | null }> {
  const source = kept.source as Blob;
  const t = performance.now();
  kept.enc = await encodeFile(source, { k, n, spool, workers: Math.max(1, Math.min(4, navigator.hardwareConcurrency - 1)) });
  const seconds = (performance.now() - t) / 1000;
  const memory = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory;
  return {
    encode_mib_s: Math.round((source.size / MIB / seconds) * 10) / 10,
    workers: kept.enc.workers,
    on_disk: kept.enc.shards.filter((s) => s.onDisk).length,
    heap_mib: memory ? Math.round(memory.usedJSHeapSize / MIB) : null,
  };
}
/** The kept encode's CARs (to push them, as the Store page does). */
const keptCars = (): Blob[] => kept.enc?.shards.map((s) => s.car) ?? [];
async function dropKept(): Promise<void> {
  await kept.enc?.cars?.remove();
  delete kept.enc;
}

Object.assign(globalThis, { runBench, runBreakdown, checkWorkers, makeSource, encodeKept, keptCars, dropKept });
