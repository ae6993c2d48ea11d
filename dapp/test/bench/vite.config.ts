// Builds the benchmark page alone (python -m scatter.bench.dapp sets SCATTER_BENCH_OUT).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  logLevel: "warn",
  build: {
    outDir: process.env.SCATTER_BENCH_OUT ?? "/tmp/scatter-dapp-bench",
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0,
  },
});
