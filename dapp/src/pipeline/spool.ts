/**
 * Where the shards' CARs wait for their pushes: files in the origin-private file system (OPFS),
 * written by the shard workers through sync access handles, so a store holds no more than a few
 * stripes in memory whatever the file's size (a `File` from OPFS is read from disk when fetch()
 * sends it). Each encode has its own directory `scatter-cars/<uuid>`, held by a Web Lock of the
 * same name while its CARs are in use: `removeLeftovers` (at the dapp's start) deletes the
 * directories no live page holds (a closed tab, a crash). Without OPFS (or Web Locks, or in Node)
 * the CARs are Blobs in memory (`MemorySpool`).
 */
import type { Bytes } from "../formats/bytes";
import type { CarSpool } from "../formats/car";
import { ScatterError } from "../formats/errors";

export const SPOOL_DIR = "scatter-cars";

const lockName = (dir: string): string => `${SPOOL_DIR}/${dir}`;

async function spoolRoot(create: boolean): Promise<FileSystemDirectoryHandle> {
  return (await navigator.storage.getDirectory()).getDirectoryHandle(SPOOL_DIR, { create });
}

/** One encode's directory of CARs, held (Web Lock) until `remove()`. */
export class CarDir {
  private removed = false;
  private constructor(
    readonly name: string,
    private readonly release: () => void,
  ) {}

  /** A new directory, or null where OPFS or Web Locks are missing (the CARs stay in memory). */
  static async open(): Promise<CarDir | null> {
    if (typeof navigator === "undefined" || !navigator.storage?.getDirectory || !navigator.locks) return null;
    try {
      const name = crypto.randomUUID();
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      await new Promise<void>((granted, refused) => {
        navigator.locks
          .request(lockName(name), () => {
            granted();
            return held;
          })
          .catch(refused);
      });
      await (await spoolRoot(true)).getDirectoryHandle(name, { create: true });
      return new CarDir(name, release);
    } catch {
      return null;
    }
  }

  /** Delete one shard's CAR (its push is done with). */
  async removeShard(index: number): Promise<void> {
    if (this.removed) return;
    try {
      await (await (await spoolRoot(false)).getDirectoryHandle(this.name)).removeEntry(shardFile(index));
    } catch {
      // already gone
    }
  }

  /** Delete every CAR of this encode and let go of the directory (idempotent). */
  async remove(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    try {
      await (await spoolRoot(false)).removeEntry(this.name, { recursive: true });
    } catch {
      // already gone
    } finally {
      this.release();
    }
  }
}

export const shardFile = (index: number): string => `shard-${index}.car`;

/** Delete the CAR directories no live page holds (left by a closed tab or a crash); their names. */
export async function removeLeftovers(): Promise<string[]> {
  if (typeof navigator === "undefined" || !navigator.storage?.getDirectory || !navigator.locks) return [];
  let root: FileSystemDirectoryHandle;
  try {
    root = await spoolRoot(false);
  } catch {
    return []; // never used here
  }
  const names: string[] = [];
  for await (const name of (root as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(name);
  const removed: string[] = [];
  for (const name of names) {
    await navigator.locks.request(lockName(name), { ifAvailable: true }, async (lock) => {
      if (lock === null) return; // a live encode or push of another tab
      try {
        await root.removeEntry(name, { recursive: true });
        removed.push(name);
      } catch {
        // another tab's sweep deleted it first
      }
    });
  }
  return removed;
}

/** A CAR body written to `scatter-cars/<dir>/shard-<i>.car` (a worker: sync access handles). */
export class OpfsSpool implements CarSpool {
  private at = 0;
  private constructor(
    private readonly file: FileSystemFileHandle,
    private readonly handle: FileSystemSyncAccessHandle,
  ) {}

  /** Null where this context cannot write OPFS synchronously (not a worker, an old browser). */
  static async open(dir: string, index: number): Promise<OpfsSpool | null> {
    if (typeof FileSystemFileHandle === "undefined" || !("createSyncAccessHandle" in FileSystemFileHandle.prototype)) return null;
    try {
      const file = await (await (await spoolRoot(false)).getDirectoryHandle(dir)).getFileHandle(shardFile(index), { create: true });
      const handle = await file.createSyncAccessHandle();
      handle.truncate(0);
      return new OpfsSpool(file, handle);
    } catch {
      return null;
    }
  }

  append(parts: Bytes[]): void {
    for (const part of parts) {
      for (let done = 0; done < part.length; ) {
        const wrote = this.handle.write(part.subarray(done), { at: this.at });
        if (wrote <= 0) throw new ScatterError("the browser's storage refused a shard's CAR (is the disk full?)");
        done += wrote;
        this.at += wrote;
      }
    }
  }

  async close(): Promise<Blob> {
    this.handle.flush();
    this.handle.close();
    return this.file.getFile();
  }
}
