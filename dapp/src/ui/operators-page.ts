// Operators: a hoster's or validator's registration, stake, deals, earnings, and the money
// actions (withdraw, top up, announce exit, exit). Any address can be looked at; actions need
// the connected wallet to be that address.
import { getAddress, isAddress, parseEther, type Address } from "viem";
import { marketAbi } from "virtual:scatter-abi";
import { Role, type Deal } from "../chain/market";
import type { App, Page } from "./app";
import { badge, bytes, eth, field, h, replace, shortAddress, table } from "./dom";

export const operatorsPage: Page = (app, root) => {
  const who = h("input", { name: "account", spellcheck: "false", autocomplete: "off", placeholder: "0x… (empty: your wallet)", "data-testid": "op-account" });
  const role = h("select", { name: "role", "data-testid": "op-role" }, h("option", { value: "0" }, "Hoster"), h("option", { value: "1" }, "Validator"));
  const show = h("button", { type: "submit", class: "primary" }, "Show");
  const out = h("div", { "aria-live": "polite", "data-testid": "op-view" });
  const form = h("form", { class: "card row" }, field("Account", who), field("Role", role), show);
  replace(root, h("h1", {}, "Operators"), form, out);

  let stopped = false;
  const render = async (): Promise<void> => {
    const typed = who.value.trim();
    const account = typed ? (isAddress(typed) ? getAddress(typed) : null) : app.wallet.state.account;
    if (!account) {
      replace(out, h("p", { class: "notice warn" }, typed ? `${typed} is not an address.` : "Connect your wallet, or type an operator's address."));
      return;
    }
    replace(out, h("p", { role: "status" }, "Reading…"));
    try {
      const view = await operatorView(app, account, Number(role.value) as Role, () => void render());
      if (!stopped) replace(out, view);
    } catch (err) {
      replace(out, h("p", { class: "notice error", role: "alert" }, err instanceof Error ? err.message.split("\n")[0] : String(err)));
    }
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void render();
  });
  const unsubscribe = app.wallet.subscribe(() => void render());
  return () => {
    stopped = true;
    unsubscribe();
  };
};

async function operatorView(app: App, account: Address, role: Role, again: () => void): Promise<HTMLElement> {
  const reader = app.reader;
  const [node, withdrawable, params, epoch] = await Promise.all([reader.node(role, account), reader.balanceOf(account), reader.params(), reader.currentEpoch()]);
  const mine = app.wallet.state.account?.toLowerCase() === account.toLowerCase() && app.wallet.onRightChain();
  const from = app.chain.block;
  let deals: Deal[] = [];
  let earned = 0n;
  let earnedLabel = "";
  if (role === Role.Hoster) {
    const [fills, settled] = await Promise.all([
      reader.events(from, "latest", "SlotFilled", { hoster: account }),
      reader.events(from, "latest", "DealSettled", { hoster: account }),
    ]);
    deals = await Promise.all(fills.map((e) => reader.deal((e.args as { dealId: bigint }).dealId)));
    deals.reverse();
    earned = settled.reduce((s, e) => s + BigInt((e.args as { hosterAmount: bigint }).hosterAmount), 0n);
    earnedLabel = `${settled.length} settlements`;
  } else {
    const credited = await reader.events(from, "latest", "Credited", { account });
    earned = credited.reduce((s, e) => s + BigInt((e.args as { amount: bigint }).amount), 0n);
    earnedLabel = `${credited.length} credits (fees, rewards, refunds)`;
  }

  const act = (label: string, functionName: string, args: readonly unknown[], value?: bigint) => async (): Promise<void> => {
    try {
      await app.txs.send({ label, address: app.chain.market, abi: marketAbi, functionName, args, ...(value !== undefined ? { value } : {}) });
    } catch {
      // the transaction list says why
    }
    again();
  };
  const topUpAmount = h("input", { name: "topup", inputmode: "decimal", placeholder: "ETH", "data-testid": "op-topup" });
  const actions = mine
    ? h(
        "div",
        { class: "card actions" },
        h("h2", {}, "Actions"),
        h("button", { type: "button", class: "primary", "data-testid": "op-withdraw", onclick: act(`Withdraw ${eth(withdrawable)}`, "withdraw", [account]) }, `Withdraw ${eth(withdrawable)}`),
        node.status === "active"
          ? h(
              "div",
              { class: "row" },
              field("Add stake", topUpAmount),
              h("button", {
                type: "button",
                onclick: () => {
                  let wei: bigint;
                  try {
                    wei = parseEther(topUpAmount.value.trim());
                  } catch {
                    topUpAmount.setCustomValidity("an amount of ETH");
                    topUpAmount.reportValidity();
                    return;
                  }
                  void act(`Top up ${eth(wei)}`, "topUp", [role], wei)();
                },
              }, "Top up"),
              h("button", { type: "button", class: "danger", onclick: act("Announce exit", "announceExit", [role]) }, "Announce exit"),
            )
          : null,
        node.status === "exiting"
          ? h("button", { type: "button", class: "danger", disabled: BigInt(Math.floor(Date.now() / 1000)) < node.exitAt, onclick: act("Exit", "exit", [role]) }, `Exit (from ${new Date(Number(node.exitAt) * 1000).toLocaleString()})`)
          : null,
      )
    : h("p", { class: "muted" }, "Connect this account's wallet to withdraw or change its stake.");

  const free = node.status === "active" ? node.stake - node.locked : 0n;
  const min = role === Role.Hoster ? params.minHosterStake : params.minValidatorStake;
  return h(
    "div",
    {},
    h(
      "div",
      { class: "card" },
      h("h2", {}, `${role === Role.Hoster ? "Hoster" : "Validator"} ${shortAddress(account)}`),
      h(
        "dl",
        { class: "pairs" },
        h("dt", {}, "Status"), h("dd", { "data-testid": "op-status" }, badge(node.status === "none" ? "not registered" : node.status, node.status)),
        h("dt", {}, "Endpoint"), h("dd", {}, h("code", {}, node.endpoint || "—")),
        h("dt", {}, "Stake"), h("dd", { "data-testid": "op-stake" }, `${eth(node.stake)} (minimum ${eth(min)})`),
        ...(role === Role.Hoster ? [h("dt", {}, "Locked as collateral"), h("dd", {}, eth(node.locked)), h("dt", {}, "Free stake"), h("dd", {}, eth(free)), h("dt", {}, "Capacity"), h("dd", {}, bytes(node.capacity))] : []),
        h("dt", {}, "Earned"), h("dd", { "data-testid": "op-earned" }, `${eth(earned)} (${earnedLabel})`),
        h("dt", {}, "Withdrawable now"), h("dd", { "data-testid": "op-withdrawable" }, eth(withdrawable)),
      ),
    ),
    actions,
    role === Role.Hoster
      ? table(
          "Deals of this hoster",
          ["Deal", "Bid / slot", "State", "Epochs", "Paid epochs", "Faults", "Collateral"],
          deals.map((d) => [`#${d.dealId}`, `#${d.bidId} / ${d.slot}`, badge(d.status === "active" && d.endEpoch < epoch ? "ended" : d.status, d.status), `${d.startEpoch}–${d.endEpoch}`, String(d.paidEpochs), String(d.faults), eth(d.collateral)]),
          "no deal yet.",
        )
      : null,
  );
}
