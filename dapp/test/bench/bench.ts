// The browser pipeline's throughput on generated data, against WebCrypto's sha256 of the same bytes
// in the same page (the yardstick). Driven by scatter/bench/dapp.py in headless Chromium.
import { toHex } from "../../src/formats/bytes";
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
  const t0 = performance.now();
  await crypto.subtle.digest("SHA-256", data);
  const sha = (performance.now() - t0) / 1000;
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
  const r = (x: number): number => Math.round(x * 100) / 100;
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

/** What a browser test checks: the worker sinks give exactly the bytes of the in-thread ones. */
async function checkWorkers(): Promise<{ same: boolean; used: number; workers: string[]; local: string[] }> {
  const data = generate(3 * MIB + 12345);
  const params = { k: 3, n: 5, blockSize: 256 * 1024, segmentSize: 64 * 1024, key: new Uint8Array(32).fill(7), salt: new Uint8Array(16).fill(9) };
  const summary = async (e: EncodedFile): Promise<string[]> =>
    Promise.all(e.shards.map(async (s) => `${s.index} ${s.cid} ${s.root} ${s.size} ${toHex(await carSha256(s.car))}`));
  const inWorkers = await encodeFile(new Blob([data]), { ...params, workers: 2 });
  const viaWorkers = await summary(inWorkers);
  const local = await summary(await encodeFile(new Blob([data]), { ...params, workers: 0 }));
  return { same: viaWorkers.join() === local.join(), used: inWorkers.workers, workers: viaWorkers, local };
}

Object.assign(globalThis, { runBench, checkWorkers });
