/**
 * dapp/wasm/scatter.wasm: zfec's own fec.c (the Reed-Solomon the Python package runs) and the
 * possession tree of format 2 (merkle_simd.c: keccak in 2-lane SIMD, 20-byte nodes) and a streaming
 * SHA-256 (sha256.c), compiled by dapp/wasm/build.sh.
 * One instance per JS realm (page, worker, Node); calls are synchronous, so sharing it is safe.
 */
import type { Bytes } from "./bytes";

interface Exports {
  memory: WebAssembly.Memory;
  sc_alloc(size: number): number;
  zf_new(k: number, n: number): number;
  zf_encode(code: number, data: number, out: number, block: number): void;
  zf_decode(code: number, input: number, idx: number, out: number, block: number): void;
  keccak256(input: number, len: number, out: number): void;
  hash_leaves(input: number, n: number, out: number): void;
  hash_parents(input: number, n: number, out: number): void;
  subtree_root(input: number, height: number, scratch: number): void;
  sha256_init(ctx: number): void;
  sha256_update(ctx: number, input: number, len: number): void;
  sha256_final(ctx: number, out: number): void;
}

const WASM_URL = new URL("../../wasm/scatter.wasm", import.meta.url);

async function wasmBytes(): Promise<ArrayBuffer> {
  if (WASM_URL.protocol === "file:") {
    const fs = "node:fs/promises"; // a variable, so that bundlers leave it alone
    const { readFile } = (await import(/* @vite-ignore */ fs)) as typeof import("node:fs/promises");
    const data = await readFile(WASM_URL);
    return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  }
  const resp = await fetch(WASM_URL);
  if (!resp.ok) throw new Error(`cannot load ${WASM_URL.href}: HTTP ${resp.status}`);
  return resp.arrayBuffer();
}

/** A region of the wasm memory, allocated once and reused (the heap never frees). */
export class Region {
  constructor(
    private readonly mod: ScatterWasm,
    readonly ptr: number,
    readonly size: number,
  ) {}
  /** A view of the region; take a new one after any allocation (memory growth detaches views). */
  view(length = this.size): Bytes {
    return new Uint8Array(this.mod.exports.memory.buffer, this.ptr, length);
  }
}

export class ScatterWasm {
  private readonly codes = new Map<string, number>();
  private readonly regions = new Map<string, Region>();

  constructor(readonly exports: Exports) {}

  alloc(size: number): Region {
    const ptr = this.exports.sc_alloc(size);
    if (ptr === 0) throw new RangeError(`wasm memory exhausted allocating ${size} bytes`);
    return new Region(this, ptr, size);
  }

  /** A named scratch region of at least `size` bytes (grown, never shrunk). */
  scratch(name: string, size: number): Region {
    const have = this.regions.get(name);
    if (have !== undefined && have.size >= size) return have;
    const region = this.alloc(size);
    this.regions.set(name, region);
    return region;
  }

  zfecCode(k: number, n: number): number {
    const key = `${k}/${n}`;
    let code = this.codes.get(key);
    if (code === undefined) {
      code = this.exports.zf_new(k, n);
      if (code === 0) throw new Error(`zfec could not make a ${key} code`);
      this.codes.set(key, code);
    }
    return code;
  }
}

let instance: Promise<ScatterWasm> | null = null;

/** The shared instance (loaded on first use). */
export function loadWasm(): Promise<ScatterWasm> {
  instance ??= wasmBytes().then(async (bytes) => {
    const { instance: inst } = await WebAssembly.instantiate(bytes, {});
    return new ScatterWasm(inst.exports as unknown as Exports);
  });
  return instance;
}
