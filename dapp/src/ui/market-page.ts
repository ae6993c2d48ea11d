// Market, live: the epoch, open bids, deals by state, hosters (with /healthz), validators, recent
// settlements and faults. Refreshed whenever the Market emits an event (polled getLogs), and
// every epoch for the clock.
import type { Address } from "viem";
import { bits, DEAL_STATUS, Role, type Bid, type BidPosted, type Deal, type MarketEvent, type NodeInfo } from "../chain/market";
import type { Page } from "./app";
import { badge, bytes, eth, h, replace, seconds, shortAddress, table } from "./dom";
import { health } from "./health";

const BIDS_SHOWN = 50;
const DEALS_SHOWN = 100;
const EVENTS_SHOWN = 15;

export const marketPage: Page = (app, root) => {
  const summary = h("section", { "aria-labelledby": "m-summary" });
  const bidsBox = h("section", { "aria-labelledby": "m-bids" });
  const dealsBox = h("section", { "aria-labelledby": "m-deals" });
  const hostersBox = h("section", { "aria-labelledby": "m-hosters" });
  const validatorsBox = h("section", { "aria-labelledby": "m-validators" });
  const activityBox = h("section", { "aria-labelledby": "m-activity" });
  const status = h("p", { class: "muted", role: "status", "data-testid": "market-status" }, "Reading the market…");
  replace(root, h("h1", {}, "Market"), status, summary, bidsBox, dealsBox, hostersBox, validatorsBox, activityBox);

  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const recent: MarketEvent[] = [];
  const reader = app.reader;

  const refresh = async (): Promise<void> => {
    timer = null;
    try {
      const [params, epoch, counts, hosters, validators, posted] = await Promise.all([
        reader.params(),
        reader.currentEpoch(),
        reader.counts(),
        reader.nodes(Role.Hoster),
        reader.nodes(Role.Validator),
        reader.bidsPosted(),
      ]);
      const [bids, deals] = await Promise.all([reader.recentBids(BIDS_SHOWN, counts.bids), reader.recentDeals(DEALS_SHOWN, counts.deals)]);
      if (stopped) return;
      renderSummary(summary, epoch, params.epochSeconds, counts, hosters, validators);
      renderBids(bidsBox, bids, posted);
      renderDeals(dealsBox, deals, epoch);
      renderNodes(hostersBox, "m-hosters", "Hosters", hosters, true);
      renderNodes(validatorsBox, "m-validators", "Validators", validators, false);
      renderActivity(activityBox, recent);
      status.textContent = `Chain ${app.chain.name}, Market ${shortAddress(app.chain.market)}; updated at epoch ${epoch}.`;
    } catch (err) {
      status.textContent = `Could not read the market: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`;
    }
  };
  const soon = (ms = 300): void => {
    if (!stopped && timer === null) timer = setTimeout(() => void refresh(), ms);
  };

  void (async () => {
    const head = await reader.blockNumber().catch(() => app.chain.block);
    const from = head > 2000n ? head - 2000n : 0n;
    const past = await reader.events(from, head).catch(() => []);
    recent.push(...past.filter(interesting).reverse().slice(0, EVENTS_SHOWN));
    await refresh();
  })();
  const unwatch = reader.watch(
    (events) => {
      recent.unshift(...events.filter(interesting).reverse());
      recent.splice(EVENTS_SHOWN);
      soon();
    },
    () => soon(2_000),
  );
  const clock = setInterval(() => soon(0), Math.max(2_000, app.chain.epochSeconds * 1000));
  return () => {
    stopped = true;
    unwatch();
    clearInterval(clock);
    if (timer) clearTimeout(timer);
  };
};

const INTERESTING = new Set(["DealSettled", "ProofMissed", "DealFaulted", "SlotFilled", "BidPosted", "SlotReopened", "DealFinished", "ProofRequested", "SlotCancelled"]);
const interesting = (e: MarketEvent): boolean => INTERESTING.has(e.name);

function renderSummary(
  box: HTMLElement,
  epoch: number,
  epochSeconds: number,
  counts: { bids: bigint; deals: bigint },
  hosters: NodeInfo[],
  validators: NodeInfo[],
): void {
  const stat = (label: string, value: string, id: string): HTMLElement =>
    h("div", { class: "stat" }, h("dt", {}, label), h("dd", { "data-testid": id }, value));
  replace(
    box,
    h("h2", { id: "m-summary", class: "visually-hidden" }, "Summary"),
    h(
      "dl",
      { class: "stats" },
      stat("Epoch", `${epoch} (${seconds(epochSeconds)} each)`, "epoch"),
      stat("Bids", String(counts.bids), "bid-count"),
      stat("Deals", String(counts.deals), "deal-count"),
      stat("Hosters", String(hosters.filter((n) => n.status === "active").length), "hoster-count"),
      stat("Validators", String(validators.filter((n) => n.status === "active").length), "validator-count"),
      stat("Staked", eth([...hosters, ...validators].reduce((s, n) => s + n.stake, 0n), 2), "staked"),
    ),
  );
}

function renderBids(box: HTMLElement, bids: Bid[], posted: Map<bigint, BidPosted>): void {
  const open = bids.filter((b) => b.openSlots !== 0);
  replace(
    box,
    h("h2", { id: "m-bids" }, "Open bids"),
    table(
      "Open bids (newest first)",
      ["Bid", "Client", "Content", "Slots open", "Size", "Price / slot-epoch", "Epochs", "Escrow"],
      open.map((b) => {
        const p = posted.get(b.bidId);
        const reserved = bits(b.reservedSlots, b.slotCount).length;
        return [
          `#${b.bidId}`,
          h("span", { title: b.client }, shortAddress(b.client)),
          p ? h("code", { class: "cid", title: p.cids.join("\n") }, p.cids.length > 1 ? `${p.cids.length} shards` : (p.cids[0] ?? "")) : "…",
          `${bits(b.openSlots, b.slotCount).length}/${b.slotCount}${reserved ? ` (${reserved} reserved)` : ""}`,
          bytes(b.size),
          eth(b.pricePerEpoch),
          String(b.durationEpochs),
          eth(b.escrow),
        ];
      }),
      "no open bid.",
    ),
  );
}

function renderDeals(box: HTMLElement, deals: Deal[], epoch: number): void {
  const counts = new Map<string, number>();
  for (const d of deals) counts.set(d.status, (counts.get(d.status) ?? 0) + 1);
  replace(
    box,
    h("h2", { id: "m-deals" }, "Deals by state"),
    h(
      "p",
      { class: "chips", "data-testid": "deal-states" },
      ...DEAL_STATUS.filter((s) => s !== "none").map((s) => badge(`${s}: ${counts.get(s) ?? 0}`, s)),
      deals.length === DEALS_SHOWN ? h("small", {}, ` (newest ${DEALS_SHOWN})`) : null,
    ),
    table(
      "Deals (newest first)",
      ["Deal", "Bid / slot", "Hoster", "State", "Epochs", "Paid through", "Faults", "Collateral"],
      deals.map((d) => [
        `#${d.dealId}`,
        `#${d.bidId} / ${d.slot}`,
        h("span", { title: d.hoster }, shortAddress(d.hoster)),
        badge(d.status === "active" && d.endEpoch < epoch ? "ended" : d.status, d.status),
        `${d.startEpoch}–${d.endEpoch}`,
        d.paidThrough >= d.startEpoch ? String(d.paidThrough) : "—",
        String(d.faults),
        eth(d.collateral),
      ]),
      "no deal yet.",
    ),
  );
}

function renderNodes(box: HTMLElement, id: string, title: string, nodes: NodeInfo[], hosters: boolean): void {
  const rows = nodes
    .filter((n) => n.status !== "none")
    .map((n) => {
      const cell = h("span", { class: "health checking" }, "checking…");
      void health(n.endpoint).then((hl) => {
        cell.className = `health ${hl.state}`;
        cell.textContent = hl.detail;
      });
      return [
        h("span", { title: n.account }, shortAddress(n.account as Address)),
        h("code", { class: "endpoint" }, n.endpoint),
        cell,
        badge(n.status, n.status),
        eth(n.stake, 3),
        ...(hosters ? [eth(n.locked, 6), bytes(n.capacity)] : []),
      ];
    });
  replace(
    box,
    h("h2", { id }, title),
    table(title, ["Account", "Endpoint", "Health", "Status", "Stake", ...(hosters ? ["Locked", "Capacity"] : [])], rows, "none registered."),
  );
}

function describe(e: MarketEvent): string {
  const a = e.args as Record<string, bigint | number | string>;
  switch (e.name) {
    case "DealSettled":
      return `deal #${a.dealId} paid for epochs ${a.fromEpoch}–${a.toEpoch}: ${eth(BigInt(a.hosterAmount!))} to ${shortAddress(String(a.hoster))}, ${eth(BigInt(a.validatorFee!))} to validators`;
    case "ProofMissed":
      return `hoster ${shortAddress(String(a.hoster))} missed a proof for deal #${a.dealId} (fault ${a.faults}): ${eth(BigInt(a.slashed!))} slashed`;
    case "DealFaulted":
      return `deal #${a.dealId} faulted after ${a.faults} missed proofs; its slot reopens`;
    case "SlotFilled":
      return `bid #${a.bidId} slot ${a.slot} filled by ${shortAddress(String(a.hoster))}: deal #${a.dealId}, epochs ${a.startEpoch}–${a.endEpoch}`;
    case "BidPosted":
      return `bid #${a.bidId} posted by ${shortAddress(String(a.client))}: ${a.slotCount} slots`;
    case "SlotReopened":
      return `bid #${a.bidId} slot ${a.slot} reopened with ${a.epochsLeft} epochs`;
    case "DealFinished":
      return `deal #${a.dealId} finished; ${eth(BigInt(a.refund!))} back to the client`;
    case "ProofRequested":
      return `proof requested of deal #${a.dealId}, due by epoch ${a.dueEpoch}`;
    case "SlotCancelled":
      return `bid #${a.bidId} slot ${a.slot} cancelled; ${eth(BigInt(a.refund!))} refunded`;
    default:
      return e.name;
  }
}

function renderActivity(box: HTMLElement, events: MarketEvent[]): void {
  const kind = (e: MarketEvent): string => (e.name === "DealSettled" ? "settled" : e.name === "ProofMissed" || e.name === "DealFaulted" ? "fault" : "info");
  replace(
    box,
    h("h2", { id: "m-activity" }, "Recent settlements, faults and fills"),
    events.length === 0
      ? h("p", { class: "empty" }, "Nothing yet.")
      : h("ol", { class: "activity", "data-testid": "activity" }, ...events.map((e) => h("li", { class: kind(e) }, h("span", { class: "block" }, `block ${e.block}`), " ", describe(e)))),
  );
}
