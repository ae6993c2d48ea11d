// A node's health from its public endpoint's /healthz, asked from the browser (cached a while).
export type Health = { state: "ok" | "down" | "unhealthy" | "opaque" | "checking"; detail: string };

const TTL_MS = 15_000;
const cache = new Map<string, { at: number; health: Promise<Health> }>();

async function ask(endpoint: string): Promise<Health> {
  let url: URL;
  try {
    url = new URL("healthz", endpoint.endsWith("/") ? endpoint : endpoint + "/");
  } catch {
    return { state: "down", detail: "the endpoint is not a URL" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return { state: "down", detail: "not an http(s) endpoint" };
  const signal = AbortSignal.timeout(4_000);
  try {
    const r = await fetch(url, { signal, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" });
    return r.ok ? { state: "ok", detail: `healthy (${r.status})` } : { state: "unhealthy", detail: `answers ${r.status}` };
  } catch {
    // The browser hides the answer of an endpoint that sends no CORS header: ask again opaquely
    // to tell "up but private" from "down".
    try {
      await fetch(url, { mode: "no-cors", signal: AbortSignal.timeout(4_000), cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" });
      return { state: "opaque", detail: "answers (status hidden: no CORS header)" };
    } catch {
      return { state: "down", detail: "does not answer" };
    }
  }
}

export function health(endpoint: string): Promise<Health> {
  const hit = cache.get(endpoint);
  if (hit && Date.now() - hit.at < TTL_MS) return hit.health;
  const health = ask(endpoint);
  cache.set(endpoint, { at: Date.now(), health });
  return health;
}
