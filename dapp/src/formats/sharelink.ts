/**
 * Share links (scatter/formats/sharelink.py): one URL that lets anyone fetch and decrypt one file.
 *
 *   v2: scatter:file?v=2&chain=<id>&market=<0xMarket, EIP-55>&k=3&n=6&shards=<cid_0>,...,<cid_{n-1}>
 *         [&hosts=<pct(endpoint)>,...]#key=<base64url>[&name=..][&type=..][&size=..][&sha256=..]
 *   v1: the same without chain, market and hosts (still read; written when no chain is known)
 *   https://<app>/<path>?v=2&...#key=...            (same fields, opened by the dapp)
 *
 * The fragment (never sent to a server) holds the content key and the optional labels; `hosts`
 * are hints (shards are checked against their CIDs whoever serves them). Parsing is strict: known
 * fields only, each once, canonical numbers, n distinct CIDv1 in base32, a 32-byte key, and the
 * link must be exactly what formatting its fields gives back.
 */
import { CID } from "multiformats/cid";
import { getAddress } from "viem";
import { type Bytes, fromHex, toHex } from "./bytes";
import { FormatError, InvalidParametersError, UnsupportedVersionError } from "./errors";
import type { FileMetadata, FileVersion } from "./metadata";
import { MAX_SHARDS } from "./params";

export const LINK_VERSION = 2;
export const SCHEME_BASE = "scatter:file";
/** Most hoster hints in one link, and the longest hint. */
export const MAX_HOSTS = 16;
export const MAX_HOST_LENGTH = 200;

export interface ShareLink {
  k: number;
  n: number;
  shards: string[];
  contentKey: Bytes;
  name?: string | undefined;
  mediaType?: string | undefined;
  size?: number | undefined;
  sha256?: Bytes | undefined;
  /** v2: the chain of the Market. */
  chainId?: number | undefined;
  /** v2: the Market's address (EIP-55). */
  market?: string | undefined;
  /** v2: hints, endpoints of the hosters that held the shards. */
  hosts?: string[] | undefined;
  /** Default: 2 when chainId is given, else 1. */
  version?: number;
}

const QUERY_KEYS: Record<number, string[]> = { 1: ["k", "n", "shards", "v"], 2: ["chain", "k", "market", "n", "shards", "v"] };
const QUERY_OPTIONAL: Record<number, string[]> = { 1: [], 2: ["hosts"] };
const FRAGMENT_OPTIONAL = new Set(["name", "type", "size", "sha256"]);
const UINT = /^(0|[1-9][0-9]{0,17})$/;
const HEX64 = /^[0-9a-f]{64}$/;
const B64URL = /^[A-Za-z0-9_-]+$/;
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][\x20-\x7e]{0,250}$/;

function b64url(data: Uint8Array): string {
  let bin = "";
  for (const b of data) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function unb64url(text: string, what: string): Bytes {
  if (!B64URL.test(text)) throw new FormatError(`share link: ${what} is not base64url`);
  let bin: string;
  try {
    bin = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
  } catch {
    throw new FormatError(`share link: ${what} is not base64url`);
  }
  const raw = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  if (b64url(raw) !== text) throw new FormatError(`share link: ${what} is not in canonical base64url form`);
  return raw;
}

/** Python's urllib.parse.quote(text, safe=""): everything but A-Z a-z 0-9 _ . - ~ percent-encoded. */
const quote = (text: string): string =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function checkCid(text: string): void {
  let cid: CID;
  try {
    cid = CID.parse(text);
  } catch {
    throw new FormatError(`share link: '${text}' is not a CID`);
  }
  if (cid.version !== 1 || cid.toString() !== text) {
    throw new FormatError(`share link: shard CID '${text}' must be a CIDv1 in base32 (bafy.../bafk...)`);
  }
}

function checkBase(base: string): void {
  if (base === SCHEME_BASE) return;
  let url: URL | null = null;
  try {
    url = new URL(base);
  } catch {
    url = null;
  }
  if (url === null || url.protocol !== "https:" || !url.host || base.includes("?") || base.includes("#")) {
    throw new InvalidParametersError(`share link base must be '${SCHEME_BASE}' or an https URL, got '${base}'`);
  }
}

const versionOf = (link: ShareLink): number => link.version ?? (link.chainId === undefined ? 1 : LINK_VERSION);

/** Whether `host` can be a link's hint: an http(s) URL, printable, no query or fragment. */
export function validHost(host: string): boolean {
  if (host.length > MAX_HOST_LENGTH || /[\s\x00-\x1f\x7f]/.test(host)) return false;
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    return false;
  }
  return (url.protocol === "http:" || url.protocol === "https:") && !!url.host && !host.includes("?") && !host.includes("#");
}

function checkChain(chainId: number | undefined, market: string | undefined): void {
  if (chainId === undefined || !(Number.isSafeInteger(chainId) && chainId >= 1)) {
    throw new InvalidParametersError(`share link: chain id ${String(chainId)} is not a chain id`);
  }
  let checksummed = "";
  try {
    checksummed = market !== undefined && /^0x[0-9a-fA-F]{40}$/.test(market) ? getAddress(market) : "";
  } catch {
    checksummed = "";
  }
  if (checksummed !== market) throw new InvalidParametersError(`share link: market '${String(market)}' is not an EIP-55 checksummed address`);
}

function checkHosts(hosts: string[]): void {
  if (hosts.length > MAX_HOSTS) throw new InvalidParametersError(`share link: ${hosts.length} hosts (at most ${MAX_HOSTS})`);
  if (new Set(hosts).size !== hosts.length) throw new InvalidParametersError("share link: hosts must be distinct");
  for (const host of hosts) {
    if (!validHost(host)) throw new InvalidParametersError(`share link: host '${host}' is not an http(s) endpoint URL`);
  }
}

function checkLink(link: ShareLink): void {
  const { k, n } = link;
  const version = versionOf(link);
  const hosts = link.hosts ?? [];
  if (version !== 1 && version !== 2) throw new InvalidParametersError(`share link: unknown version ${version}`);
  if (version === 1 && (link.chainId !== undefined || link.market !== undefined || hosts.length > 0)) {
    throw new InvalidParametersError("share link: version 1 carries no chain, market or hosts");
  }
  if (version === 2) {
    checkChain(link.chainId, link.market);
    checkHosts(hosts);
  }
  if (!(Number.isInteger(k) && Number.isInteger(n) && 1 <= k && k <= n && n <= MAX_SHARDS)) {
    throw new InvalidParametersError(`share link: invalid k/n ${k}/${n}`);
  }
  if (link.shards.length !== n) throw new InvalidParametersError(`share link: ${link.shards.length} shard CIDs for n=${n}`);
  if (new Set(link.shards).size !== link.shards.length) throw new InvalidParametersError("share link: shard CIDs must be distinct");
  link.shards.forEach(checkCid);
  if (link.contentKey.length !== 32) throw new InvalidParametersError("share link: content key must be 32 bytes");
  if (link.sha256 !== undefined && link.sha256.length !== 32) throw new InvalidParametersError("share link: sha256 must be 32 bytes");
  if (link.size !== undefined && !(Number.isSafeInteger(link.size) && link.size >= 0)) {
    throw new InvalidParametersError("share link: size must be >= 0");
  }
  if (link.mediaType !== undefined && !MEDIA_TYPE.test(link.mediaType)) {
    throw new InvalidParametersError(`share link: invalid media type '${link.mediaType}'`);
  }
}

/** The link; `base` is "scatter:file" or an https URL of a dapp (no query, no fragment). */
export function formatShareLink(link: ShareLink, base = SCHEME_BASE): string {
  checkLink(link);
  checkBase(base);
  const version = versionOf(link);
  let query = `v=${version}`;
  if (version === 2) query += `&chain=${String(link.chainId)}&market=${String(link.market)}`;
  query += `&k=${link.k}&n=${link.n}&shards=${link.shards.join(",")}`;
  if (link.hosts !== undefined && link.hosts.length > 0) query += `&hosts=${link.hosts.map(quote).join(",")}`;
  const fragment = [`key=${b64url(link.contentKey)}`];
  if (link.name !== undefined) fragment.push(`name=${quote(link.name)}`);
  if (link.mediaType !== undefined) fragment.push(`type=${quote(link.mediaType)}`);
  if (link.size !== undefined) fragment.push(`size=${link.size}`);
  if (link.sha256 !== undefined) fragment.push(`sha256=${toHex(link.sha256)}`);
  return `${base}?${query}#${fragment.join("&")}`;
}

/** The link to one version (default: the current one) of a file; v2 when `where` names the chain and Market. */
export function shareLinkForFile(
  m: FileMetadata,
  version?: FileVersion,
  where: { chainId?: number; market?: string; hosts?: string[] } = {},
): ShareLink {
  const v = version ?? m.current;
  return {
    ...where,
    k: v.erasure.k,
    n: v.erasure.n,
    shards: [...v.shards],
    contentKey: v.contentKey,
    name: m.name,
    mediaType: m.mediaType || undefined,
    size: v.size,
    sha256: v.sha256,
  };
}

function pairs(text: string, where: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!text) return out;
  for (const item of text.split("&")) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new FormatError(`share link: malformed ${where} item '${item}' (expected name=value)`);
    const name = item.slice(0, eq);
    if (out.has(name)) throw new FormatError(`share link: ${where} field '${name}' appears twice`);
    out.set(name, item.slice(eq + 1));
  }
  return out;
}

function uint(text: string, what: string): number {
  if (!UINT.test(text)) throw new FormatError(`share link: ${what} must be a decimal number, got '${text}'`);
  return Number(text);
}

const split = (text: string, sep: string): [string, string] | null => {
  const at = text.indexOf(sep);
  return at < 0 ? null : [text.slice(0, at), text.slice(at + 1)];
};

/** Parse a share link strictly; throws FormatError naming the bad field. */
export function parseShareLink(url: string): ShareLink {
  if (/\s/.test(url)) throw new FormatError("share link: contains whitespace; copy the whole link without line breaks");
  const q1 = split(url, "?");
  if (q1 === null) throw new FormatError("share link: missing '?' and its fields; is the link complete?");
  const [base, rest] = q1;
  const f1 = split(rest, "#");
  if (f1 === null) throw new FormatError("share link: missing '#key=...': the key part of the link was cut off");
  const [queryText, fragmentText] = f1;
  try {
    checkBase(base);
  } catch (e) {
    throw new FormatError((e as Error).message);
  }
  const q = pairs(queryText, "query");
  const v = q.get("v");
  if (v !== undefined && v !== "1" && v !== "2") throw new UnsupportedVersionError("share link", uint(v, "v"), [1, 2]);
  const version = v === undefined ? LINK_VERSION : Number(v);
  const required = QUERY_KEYS[version] as string[];
  const allowed = [...required, ...(QUERY_OPTIONAL[version] as string[])];
  const qKeys = [...q.keys()].sort();
  if (!required.every((key) => q.has(key)) || !qKeys.every((key) => allowed.includes(key))) {
    const missing = required.filter((key) => !q.has(key));
    const extra = qKeys.filter((key) => !allowed.includes(key));
    throw new FormatError(`share link: query fields missing ${JSON.stringify(missing)} / unknown ${JSON.stringify(extra)}`);
  }
  const f = pairs(fragmentText, "fragment");
  const extra = [...f.keys()].filter((key) => key !== "key" && !FRAGMENT_OPTIONAL.has(key)).sort();
  if (!f.has("key") || extra.length > 0) {
    throw new FormatError(`share link: fragment fields missing ${JSON.stringify(f.has("key") ? [] : ["key"])} / unknown ${JSON.stringify(extra)}`);
  }
  const key = unb64url(f.get("key") as string, "key");
  if (key.length !== 32) throw new FormatError(`share link: key is ${key.length} bytes, expected 32; the link is damaged`);
  let sha: Bytes | undefined;
  const shaText = f.get("sha256");
  if (shaText !== undefined) {
    if (!HEX64.test(shaText)) throw new FormatError("share link: sha256 must be 64 lowercase hex digits");
    sha = fromHex(shaText);
  }
  let name: string | undefined;
  let mediaType: string | undefined;
  try {
    name = f.has("name") ? decodeURIComponent(f.get("name") as string) : undefined;
    mediaType = f.has("type") ? decodeURIComponent(f.get("type") as string) : undefined;
  } catch {
    throw new FormatError("share link: name or type is not valid percent-encoded UTF-8");
  }
  const sizeText = f.get("size");
  let hosts: string[] | undefined;
  try {
    hosts = q.has("hosts") ? (q.get("hosts") as string).split(",").map((h) => decodeURIComponent(h)) : undefined;
  } catch {
    throw new FormatError("share link: hosts are not valid percent-encoded UTF-8");
  }
  const link: ShareLink = {
    chainId: version === 2 ? uint(q.get("chain") as string, "chain") : undefined,
    market: version === 2 ? q.get("market") : undefined,
    hosts,
    k: uint(q.get("k") as string, "k"),
    n: uint(q.get("n") as string, "n"),
    shards: (q.get("shards") as string).split(","),
    contentKey: key,
    name,
    mediaType,
    size: sizeText === undefined ? undefined : uint(sizeText, "size"),
    sha256: sha,
    version,
  };
  try {
    checkLink(link);
  } catch (e) {
    throw e instanceof InvalidParametersError ? new FormatError(e.message) : e;
  }
  if (formatShareLink(link, base) !== url) throw new FormatError("share link: not in canonical form (field order or encoding differs)");
  return link;
}
