// A few DOM helpers instead of a framework: build elements, format amounts and sizes.
import { formatEther, formatUnits } from "viem";

type Child = Node | string | number | bigint | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/** `h("button", { class: "primary", onclick: fn }, "Pin")`: attributes, `on*` listeners, children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, ...children);
}

/** An amount for people: ETH to `digits` decimals; below a micro-ETH in gwei, below a milli-gwei in wei. */
export function eth(wei: bigint, digits = 6): string {
  if (wei === 0n) return "0 ETH";
  const abs = wei < 0n ? -wei : wei;
  if (abs < 1_000_000n) return `${wei} wei`;
  if (abs < 1_000_000_000_000n) return `${formatUnits(wei, 9)} gwei`;
  const [whole, frac = ""] = formatEther(wei).split(".");
  const trimmed = frac.slice(0, digits).replace(/0+$/, "");
  return `${trimmed === "" && frac !== "" ? "~" : ""}${whole}${trimmed ? "." + trimmed : ""} ETH`;
}

export function shortAddress(a: string): string {
  return a.length > 12 ? `${a.slice(0, 6)}…${a.slice(-4)}` : a;
}

export function bytes(n: bigint | number): string {
  let v = Number(n);
  for (const unit of ["B", "KiB", "MiB", "GiB", "TiB"]) {
    if (v < 1024 || unit === "TiB") return unit === "B" ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${unit}`;
    v /= 1024;
  }
  return `${v}`;
}

export function seconds(s: number): string {
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

/** A table with a caption and column headers (keyboard and screen-reader friendly). */
export function table(caption: string, headers: string[], rows: Child[][], empty = "None yet."): HTMLElement {
  if (rows.length === 0) return h("p", { class: "empty" }, `${caption}: ${empty}`);
  return h(
    "div",
    { class: "table-wrap", tabindex: 0, role: "region", "aria-label": caption },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, ...headers.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c) => h("td", {}, c))))),
    ),
  );
}

/** A labelled form field. */
export function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) input.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("small", { id: hintId }, hint) : null);
}

export function badge(text: string, kind: string): HTMLElement {
  return h("span", { class: `badge ${kind}` }, text);
}
