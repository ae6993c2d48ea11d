/**
 * Where each shard's bytes go during encodeFile: its UnixFS importer (CID), CAR builder and
 * possession root. `LocalSinks` runs them on the calling thread; `WorkerSinks` spreads the shards
 * over Web Workers (sink.worker.ts) so the hashing (SHA-256 of blocks, keccak of the tree) runs on
 * other cores while this thread encrypts and erasure-codes. Both give the same bytes. Given a
 * spool directory (spool.ts), a worker writes each CAR to OPFS; otherwise the CARs are Blobs.
 */
import { type Bytes, own } from "../formats/bytes";
import { CarBuilder, MemorySpool } from "../formats/car";
import { ScatterError } from "../formats/errors";
import { PossessionRoot, rootHex } from "../formats/possession";
import { UnixFSImporter } from "../formats/unixfs";
import type { EncodedShard } from "./encode";
import { OpfsSpool } from "./spool";

/** Everything that happens to one shard's bytes. */
export class ShardSink {
  private readonly importer = new UnixFSImporter();
  private readonly car: CarBuilder;
  private size = 0;
  private constructor(
    readonly index: number,
    private readonly possession: PossessionRoot,
    private readonly file: OpfsSpool | null,
  ) {
    this.car = new CarBuilder(file ?? new MemorySpool());
  }

  /** `dir`: the OPFS spool directory to write the CAR into, if this context can (else memory). */
  static async create(index: number, dir: string | null = null): Promise<ShardSink> {
    const file = dir === null ? null : await OpfsSpool.open(dir, index);
    return new ShardSink(index, await PossessionRoot.create(), file);
  }

  /** `piece` is not modified by the caller afterwards. */
  async write(piece: Bytes): Promise<void> {
    this.size += piece.length;
    this.possession.update(piece);
    for (const block of await this.importer.write(piece)) this.car.add(block);
  }

  async finish(): Promise<EncodedShard> {
    for (const block of await this.importer.finish()) this.car.add(block);
    const root = this.importer.root;
    return {
      index: this.index,
      cid: root.toString(),
      cidBytes: own(root.bytes),
      root: rootHex(this.possession.finish()),
      size: this.size,
      car: await this.car.finish(root),
      onDisk: this.file !== null,
    };
  }
}

export interface Sinks {
  /** Web Workers doing the hashing (0: this thread). */
  readonly workers: number;
  /** One stripe: piece i goes to shard i. */
  write(pieces: Bytes[]): Promise<void>;
  finish(): Promise<EncodedShard[]>;
  close(): void;
}

export class LocalSinks implements Sinks {
  readonly workers = 0;
  private constructor(private readonly sinks: ShardSink[]) {}
  static async create(n: number): Promise<LocalSinks> {
    return new LocalSinks(await Promise.all(Array.from({ length: n }, (_, i) => ShardSink.create(i))));
  }
  async write(pieces: Bytes[]): Promise<void> {
    await Promise.all(this.sinks.map((sink, i) => sink.write(pieces[i] as Bytes)));
  }
  finish(): Promise<EncodedShard[]> {
    return Promise.all(this.sinks.map((sink) => sink.finish()));
  }
  close(): void {}
}

/** Messages to and from sink.worker.ts. */
export type ToWorker =
  | { id: number; op: "init"; indexes: number[]; dir: string | null }
  | { id: number; op: "write"; pieces: [number, ArrayBuffer][] }
  | { id: number; op: "finish" };
export type FromWorker = { id: number; error?: string; shards?: EncodedShard[] };

/** A worker and its pending requests. */
class Channel {
  private next = 0;
  private readonly pending = new Map<number, { resolve: (m: FromWorker) => void; reject: (e: Error) => void }>();
  constructor(readonly worker: Worker) {
    worker.onmessage = (ev: MessageEvent<FromWorker>) => {
      const waiting = this.pending.get(ev.data.id);
      this.pending.delete(ev.data.id);
      if (ev.data.error !== undefined) waiting?.reject(new ScatterError(ev.data.error));
      else waiting?.resolve(ev.data);
    };
    worker.onerror = (ev: ErrorEvent) => {
      for (const w of this.pending.values()) w.reject(new ScatterError(`shard worker failed: ${ev.message}`));
      this.pending.clear();
    };
  }
  call(msg: Omit<ToWorker, "id"> & Partial<ToWorker>, transfer: Transferable[] = []): Promise<FromWorker> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }
}

/** Stripes in flight per worker before write() waits (bounds the memory queued). */
const DEPTH = 2;

export class WorkerSinks implements Sinks {
  private readonly inflight: Promise<FromWorker>[][];
  private constructor(
    private readonly channels: Channel[],
    private readonly n: number,
  ) {
    this.inflight = channels.map(() => []);
  }

  get workers(): number {
    return this.channels.length;
  }

  static async create(n: number, workers: number, dir: string | null): Promise<WorkerSinks> {
    const count = Math.max(1, Math.min(n, workers));
    const channels = Array.from(
      { length: count },
      () => new Channel(new Worker(new URL("./sink.worker.ts", import.meta.url), { type: "module" })),
    );
    const sinks = new WorkerSinks(channels, n);
    try {
      await Promise.all(channels.map((c, w) => c.call({ op: "init", indexes: sinks.indexesOf(w), dir })));
    } catch (e) {
      sinks.close();
      throw e;
    }
    return sinks;
  }

  private indexesOf(w: number): number[] {
    return Array.from({ length: this.n }, (_, i) => i).filter((i) => i % this.channels.length === w);
  }

  async write(pieces: Bytes[]): Promise<void> {
    await Promise.all(
      this.channels.map(async (channel, w) => {
        const queue = this.inflight[w] as Promise<FromWorker>[];
        if (queue.length >= DEPTH) await queue.shift();
        // A copy per piece, transferred: the pieces may share buffers (data blocks of one stripe).
        const mine = this.indexesOf(w).map((i): [number, ArrayBuffer] => [i, (pieces[i] as Bytes).slice().buffer]);
        queue.push(channel.call({ op: "write", pieces: mine }, mine.map(([, b]) => b)));
      }),
    );
  }

  async finish(): Promise<EncodedShard[]> {
    await Promise.all(this.inflight.flat());
    const answers = await Promise.all(this.channels.map((c) => c.call({ op: "finish" })));
    const shards = answers.flatMap((a) => a.shards ?? []).sort((a, b) => a.index - b.index);
    this.close();
    return shards;
  }

  close(): void {
    for (const c of this.channels) c.worker.terminate();
  }
}

/**
 * Workers when the platform has them and `workers` > 0 (falling back if they cannot start), else
 * this thread; `dir`: the workers' OPFS spool directory (this thread keeps its CARs in memory).
 */
export async function makeSinks(n: number, workers: number, dir: string | null = null): Promise<Sinks> {
  if (workers > 0 && typeof Worker !== "undefined") {
    try {
      return await WorkerSinks.create(n, workers, dir);
    } catch {
      // Workers refused (a content security policy, an old browser): hash on this thread instead.
    }
  }
  return LocalSinks.create(n);
}

/** A default worker count: one per core left after this thread, at most 4. */
export function defaultWorkers(): number {
  const cores = typeof navigator !== "undefined" ? (navigator.hardwareConcurrency ?? 1) : 1;
  return Math.max(0, Math.min(4, cores - 1));
}
