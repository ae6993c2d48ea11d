// The dapp is a set of static files: relative URLs (`base: "./"`) so that any static host,
// a sub-path or an IPFS gateway (/ipfs/<cid>/) serves it; the output goes inside the Python
// package (scatter/web/dapp) so `pip install scatter` ships it without Node.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
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

/** The files scatter.wasm is built from (dapp/wasm/build.sh), as paths from the repository's root. */
function wasmSources(): string[] {
  const files = readdirSync(here("wasm"), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name !== "scatter.wasm")
    .map((entry) => relative(here(".."), join(entry.parentPath, entry.name)));
  return [...files, "scatter/formats/_merkle/keccak_rc.h"].sort();
}

/**
 * The licences of what the build ships, beside it: Vite's `licenses.md` lists the npm packages
 * bundled; `licenses/` adds what npm does not know of: scatter.wasm links zfec's C (GNU GPL v2+
 * or TGPPL v1+, at the user's option), so the whole source it is built from, zfec's licence
 * texts included, travels with every copy (`licenses/scatter-wasm-src/`, where
 * `sh dapp/wasm/build.sh` rebuilds it byte for byte with the same clang).
 */
function wasmLicences(): Plugin {
  const notice = [
    "# scatter.wasm",
    "",
    "`assets/scatter-*.wasm` links zfec 1.6.0.0's `fec.c` and `fec.h`, unmodified (derived from",
    "Luigi Rizzo's BSD-licensed fec, whose notice is in fec.c), licensed under the GNU General",
    "Public License version 2 or later or the Transitive Grace Period Public Licence version 1.0",
    "or later, at your option: their texts are `scatter-wasm-src/dapp/wasm/zfec/COPYING.GPL` and",
    "`scatter-wasm-src/dapp/wasm/zfec/COPYING.TGPPL.rst`. `scatter-wasm-src/` is the complete",
    "source of scatter.wasm: `sh scatter-wasm-src/dapp/wasm/build.sh` builds it (Debian's clang",
    "and lld). The rest of Scatter is MIT-licensed.",
    "",
  ].join("\n");
  return {
    name: "scatter-wasm-licences",
    apply: "build",
    generateBundle() {
      this.emitFile({ type: "asset", fileName: "licenses/scatter-wasm.md", source: notice });
      for (const path of wasmSources()) {
        this.addWatchFile(here(`../${path}`));
        this.emitFile({ type: "asset", fileName: `licenses/scatter-wasm-src/${path}`, source: readFileSync(here(`../${path}`)) });
      }
    },
  };
}

export default defineConfig({
  base: "./",
  plugins: [scatterAbi(), wasmLicences()],
  build: {
    outDir,
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    license: { fileName: "licenses.md" },
  },
  server: { host: "127.0.0.1" },
});
