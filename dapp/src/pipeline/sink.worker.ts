/// <reference lib="webworker" />
// A shard-sink worker (see sinks.ts): owns some shards' importers, CAR builders and possession roots.
import type { EncodedShard } from "./encode";
import { type FromWorker, ShardSink, type ToWorker } from "./sinks";

const scope = self as unknown as DedicatedWorkerGlobalScope;
let sinks = new Map<number, ShardSink>();
let chain: Promise<void> = Promise.resolve();

async function handle(msg: ToWorker): Promise<FromWorker> {
  if (msg.op === "init") {
    sinks = new Map(await Promise.all(msg.indexes.map(async (i): Promise<[number, ShardSink]> => [i, await ShardSink.create(i, msg.dir)])));
    return { id: msg.id };
  }
  if (msg.op === "write") {
    await Promise.all(msg.pieces.map(([index, buffer]) => sinks.get(index)?.write(new Uint8Array(buffer))));
    return { id: msg.id };
  }
  const shards: EncodedShard[] = [];
  for (const sink of sinks.values()) shards.push(await sink.finish());
  return { id: msg.id, shards };
}

scope.onmessage = (ev: MessageEvent<ToWorker>) => {
  // One message at a time, in order (a write must not overtake the one before it).
  chain = chain.then(async () => {
    let answer: FromWorker;
    try {
      answer = await handle(ev.data);
    } catch (e) {
      answer = { id: ev.data.id, error: e instanceof Error ? e.message : String(e) };
    }
    scope.postMessage(answer);
  });
};
