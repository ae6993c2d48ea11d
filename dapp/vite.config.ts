// The dapp is a set of static files: relative URLs (`base: "./"`) so that any static host,
// a sub-path or an IPFS gateway (/ipfs/<cid>/) serves it; the output goes inside the Python
// package (scatter/web/dapp) so `pip install scatter` ships it without Node.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));
const outDir = process.env.SCATTER_DAPP_OUT ?? here("../scatter/web/dapp");
const ARTIFACTS = { marketAbi: "Market", fileRegistryAbi: "FileRegistry" } as const;
/** Market functions the dapp calls (every error and event is kept: reverts and logs decode in full). */
const MARKET_FUNCTIONS = new Set([
  "VERSION", "params", "currentEpoch", "bidCount", "dealCount", "balanceOf", "getBid", "getDeal", "node",
  "nodeCount", "nodesPage", "freeStake", "slotEpochs", "slotRoot", "reservationOf", "hosterLiveInBid",
  "bid", "cancel", "extend", "finish", "withdraw", "topUp", "announceExit", "exit", "releaseReservation",
]);

type AbiItem = { type: string; name?: string };
const keep = (contract: string, item: AbiItem): boolean =>
  contract !== "Market" || item.type !== "function" || MARKET_FUNCTIONS.has(item.name ?? "");

/** `virtual:scatter-abi`: the ABIs of the shipped artifacts (scatter/chain/artifacts), without bytecode. */
function scatterAbi(): Plugin {
  const id = "virtual:scatter-abi";
  return {
    name: "scatter-abi",
    resolveId: (source) => (source === id ? "\0" + id : null),
    load(resolved) {
      if (resolved !== "\0" + id) return null;
      return Object.entries(ARTIFACTS)
        .map(([name, contract]) => {
          const path = here(`../scatter/chain/artifacts/${contract}.json`);
          this.addWatchFile(path);
          const { abi } = JSON.parse(readFileSync(path, "utf8")) as { abi: AbiItem[] };
          return `export const ${name} = ${JSON.stringify(abi.filter((item) => keep(contract, item)))};`;
        })
        .join("\n");
    },
  };
}

export default defineConfig({
  base: "./",
  plugins: [scatterAbi()],
  build: {
    outDir,
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
  server: { host: "127.0.0.1" },
});
