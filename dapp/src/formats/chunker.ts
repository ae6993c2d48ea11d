/**
 * Fixed-size chunks out of pieces of any size: the one accumulator of the streaming formats
 * (UnixFS leaves, possession-tree chunks, AEAD segments). Memory: one chunk.
 *
 * A chunk that lies whole inside a piece is returned as a subarray of that piece (no copy; the
 * caller must not modify the piece afterwards); a chunk assembled across pieces is a fresh array.
 * With `holdLast`, a full chunk is released only once a byte after it arrives, so `rest()` is the
 * true last chunk (what AEAD needs to mark the final segment); `rest()` may then be a full chunk.
 */
import type { Bytes } from "./bytes";

export class Chunker {
  private buf: Bytes;
  private fill = 0;

  constructor(
    readonly size: number,
    private readonly holdLast = false,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be a positive integer, not ${size}`);
    this.buf = new Uint8Array(size);
  }

  /** Bytes held and not yet returned. */
  get buffered(): number {
    return this.fill;
  }

  /** The bytes held so far (a view: valid until the next push). */
  peek(): Bytes {
    return this.buf.subarray(0, this.fill);
  }

  /** Add `data`; the full chunks it completes, in order. */
  push(data: Bytes): Bytes[] {
    const size = this.size;
    const out: Bytes[] = [];
    let pos = 0;
    while (pos < data.length) {
      if (this.fill === size) {
        out.push(this.take()); // held back until now (holdLast): a byte follows it
      }
      const whole = this.holdLast ? data.length - pos > size : data.length - pos >= size;
      if (this.fill === 0 && whole) {
        out.push(data.subarray(pos, pos + size));
        pos += size;
        continue;
      }
      const n = Math.min(size - this.fill, data.length - pos);
      this.buf.set(data.subarray(pos, pos + n), this.fill);
      this.fill += n;
      pos += n;
      if (this.fill === size && !this.holdLast) out.push(this.take());
    }
    return out;
  }

  /** What is held (a partial chunk; with holdLast possibly a full one), and start empty. */
  rest(): Bytes {
    const last = this.buf.slice(0, this.fill);
    this.fill = 0;
    return last;
  }

  private take(): Bytes {
    const chunk = this.buf;
    this.buf = new Uint8Array(this.size);
    this.fill = 0;
    return chunk;
  }
}
