// Which chain and contracts the dapp talks to. `scatter web` / `scatter dev` serve a
// `deployment.json` next to the page; a static host passes the same through URL parameters
// (?chain=11155111&market=0x…&registry=0x…&rpc=https://…&block=N&epoch=3600). Nothing else is fetched.
import { getAddress, isAddress, type Address } from "viem";

export const DEPLOYMENT_VERSION = 1;
export const SEPOLIA = 11155111;
export const DEV_CHAIN = 31337;

export interface ChainDeployment {
  chainId: number;
  name: string;
  /** A public RPC URL the page may read through; null: read through the wallet. */
  rpcUrl: string | null;
  market: Address;
  fileRegistry: Address;
  /** Block of the deployment: logs are read from here on. */
  block: bigint;
  epochSeconds: number;
  explorer: string | null;
}

export interface DappConfig {
  /** The chain the page was served for (the one to offer switching to first). */
  defaultChain: number;
  chains: Map<number, ChainDeployment>;
  /** Where the config came from, for the About box. */
  source: string;
}

export class ConfigError extends Error {}

const NAMES: Record<number, string> = { [DEV_CHAIN]: "Scatter dev network", [SEPOLIA]: "Sepolia" };

export function chainName(chainId: number): string {
  return NAMES[chainId] ?? `chain ${chainId}`;
}

function address(value: unknown, what: string): Address {
  if (typeof value !== "string" || !isAddress(value, { strict: false })) {
    throw new ConfigError(`${what} is not an address: ${String(value)}`);
  }
  return getAddress(value);
}

function httpUrl(value: unknown): string | null {
  if (typeof value !== "string" || value === "") return null;
  const url = new URL(value);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConfigError(`not an http(s) URL: ${value}`);
  return url.toString().replace(/\/$/, "");
}

export function parseChain(chainId: number, raw: Record<string, unknown>): ChainDeployment {
  return {
    chainId,
    name: typeof raw.name === "string" ? raw.name : chainName(chainId),
    rpcUrl: httpUrl(raw.rpcUrl),
    market: address(raw.market, "market"),
    fileRegistry: address(raw.fileRegistry, "fileRegistry"),
    block: BigInt(Number(raw.block ?? 0)),
    epochSeconds: Number(raw.epochSeconds ?? 0) || 1,
    explorer: typeof raw.explorer === "string" ? raw.explorer : null,
  };
}

/** The config of a `deployment.json` document (see scatter/web/dapp.py). */
export function parseDeploymentJson(doc: unknown, source: string): DappConfig {
  const data = doc as { version?: number; default?: number; chains?: Record<string, Record<string, unknown>> };
  if (data.version !== DEPLOYMENT_VERSION || typeof data.chains !== "object" || data.chains === null) {
    throw new ConfigError(`${source}: not a deployment.json of version ${DEPLOYMENT_VERSION}`);
  }
  const chains = new Map<number, ChainDeployment>();
  for (const [id, raw] of Object.entries(data.chains)) chains.set(Number(id), parseChain(Number(id), raw));
  const first = chains.keys().next();
  const defaultChain = Number(data.default ?? (first.done ? DEV_CHAIN : first.value));
  return { defaultChain, chains, source };
}

/** A config from URL parameters, or null when the page has none. */
export function configFromParams(params: URLSearchParams): DappConfig | null {
  const market = params.get("market");
  if (market === null) return null;
  const chainId = Number(params.get("chain") ?? DEV_CHAIN);
  const chain = parseChain(chainId, {
    market,
    fileRegistry: params.get("registry") ?? params.get("fileRegistry"),
    rpcUrl: params.get("rpc"),
    block: params.get("block") ?? 0,
    epochSeconds: params.get("epoch") ?? 0,
  });
  return { defaultChain: chainId, chains: new Map([[chainId, chain]]), source: "the page's URL" };
}

export async function loadConfig(location: Location = window.location): Promise<DappConfig> {
  const fromParams = configFromParams(new URLSearchParams(location.search));
  if (fromParams !== null) return fromParams;
  const url = new URL("deployment.json", location.href);
  let response: Response;
  try {
    response = await fetch(url, { cache: "no-store" });
  } catch {
    throw new ConfigError(`could not read ${url.pathname}: serve the dapp with \`scatter web\`, or pass ?market=…&registry=…&chain=…&rpc=…`);
  }
  if (!response.ok) {
    throw new ConfigError(
      `${url.pathname} answered ${response.status}: serve the dapp with \`scatter web\`, or pass ?market=…&registry=…&chain=…&rpc=…`,
    );
  }
  return parseDeploymentJson(await response.json(), url.pathname);
}
