// The dapp bids only on the Market version it speaks (possession roots of format 2 need VERSION 3).
import { createClient, custom, encodeFunctionResult, type Address } from "viem";
import { describe, expect, it } from "vitest";
import { marketAbi } from "virtual:scatter-abi";
import type { ChainDeployment } from "./config";
import { MARKET_VERSION, MarketReader, MarketVersionError } from "./market";

const MARKET: Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

/** A reader whose chain answers every eth_call with VERSION = `version`; counts the calls. */
function readerAt(version: bigint): { reader: MarketReader; calls: () => number } {
  let calls = 0;
  const request = async ({ method }: { method: string }): Promise<unknown> => {
    if (method !== "eth_call") throw new Error(`unexpected ${method}`);
    calls++;
    return encodeFunctionResult({ abi: marketAbi, functionName: "VERSION", result: version });
  };
  const chain = { chainId: 31337, name: "dev", rpcUrl: null, market: MARKET, fileRegistry: MARKET, block: 1n, epochSeconds: 2, explorer: null } satisfies ChainDeployment;
  return { reader: new MarketReader(createClient({ transport: custom({ request }) }), chain), calls: () => calls };
}

describe("Market version", () => {
  it("is 3, the version whose bids take roots of format 2", () => {
    expect(MARKET_VERSION).toBe(3);
  });

  it("lets a bid go to a VERSION 3 Market, reading VERSION once", async () => {
    const { reader, calls } = readerAt(3n);
    await reader.checkVersion();
    await reader.checkVersion();
    expect(calls()).toBe(1);
  });

  it("refuses a Market of another version, naming both", async () => {
    const { reader } = readerAt(2n);
    const err = await reader.checkVersion().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(MarketVersionError);
    expect((err as Error).message).toContain(`The Market at ${MARKET} is version 2, and this dapp speaks version 3`);
  });
});
