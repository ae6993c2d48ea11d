/**
 * Streaming SHA-256 in scatter.wasm (dapp/wasm/sha256.c): the plaintext digest of a file and the
 * sha256 of a CAR, which WebCrypto's one-shot `digest` cannot compute piece by piece. About 1.7x
 * the JavaScript one (@noble/hashes) in V8.
 */
import type { Bytes } from "./bytes";
import { InvalidParametersError } from "./errors";
import { loadWasm, type Region, type ScatterWasm } from "./wasm";

const CTX_SIZE = 112;
/** Input is copied into wasm memory this much at a time. */
const PIECE = 1 << 20;
/** Contexts of finished digests, reused: the wasm heap never frees. */
const spare: Region[] = [];

export class Sha256 {
  private ctx: Region | null;

  private constructor(
    private readonly wasm: ScatterWasm,
    ctx: Region,
  ) {
    this.ctx = ctx;
    wasm.exports.sha256_init(ctx.ptr);
  }

  static async create(): Promise<Sha256> {
    const wasm = await loadWasm();
    return new Sha256(wasm, spare.pop() ?? wasm.alloc(CTX_SIZE));
  }

  update(data: Uint8Array): this {
    const ctx = this.live();
    const input = this.wasm.scratch("sha256-in", PIECE);
    for (let pos = 0; pos < data.length; pos += PIECE) {
      const piece = data.subarray(pos, pos + PIECE);
      input.view(piece.length).set(piece);
      this.wasm.exports.sha256_update(ctx.ptr, input.ptr, piece.length);
    }
    return this;
  }

  /** The 32-byte digest; the hasher cannot be used after it. */
  digest(): Bytes {
    const ctx = this.live();
    const out = this.wasm.scratch("sha256-out", 32);
    this.wasm.exports.sha256_final(ctx.ptr, out.ptr);
    const result = out.view(32).slice();
    this.ctx = null;
    spare.push(ctx);
    return result;
  }

  private live(): Region {
    if (this.ctx === null) throw new InvalidParametersError("sha256: digest() was already called");
    return this.ctx;
  }
}
