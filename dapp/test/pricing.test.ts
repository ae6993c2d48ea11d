// The dapp's break-even and default price against the Python model, case by case
// (tests/testdata/pricing_vectors.json; regenerate: python -m scatter.sdk.pricing_vectors FILE).
import { describe, expect, it } from "vitest";
import * as economics from "../src/chain/economics";
import { BidPrice, breakEvenSlotPrice, DEFAULT_PRICE_PER_GIB_EPOCH, defaultSlotPrice, formatG3, gweiText, MARGIN } from "../src/chain/pricing";
import { vector } from "./vectors";

interface Case {
  params: string;
  size: string;
  duration: number;
  gas_price: string;
  block_seconds: number;
  gas: { settlements: string; proofs: string; total: string };
  break_even_wei_per_gib_epoch: string;
  break_even_slot: string;
  default_slot: string;
  warning: { price: string; message: string } | null;
}
interface Vectors {
  version: number;
  constants: Record<string, number | string>;
  params: Record<string, Record<string, string>>;
  gas_texts: { gas_price: string; text: string }[];
  cases: Case[];
}

const v = vector<Vectors>("pricing_vectors.json");
const paramsOf = (name: string): economics.EconomicsParams => {
  const p = v.params[name]!;
  return {
    epochSeconds: Number(p.epoch_seconds),
    missedQuorumEpochs: Number(p.missed_quorum_epochs),
    auditBps: Number(p.audit_bps),
    auditEveryBlocks: Number(p.audit_every_blocks),
    validatorFeeBps: Number(p.validator_fee_bps),
  };
};

describe("pricing vectors", () => {
  it("are version 1 and cover both presets, every block time and gas price", () => {
    expect(v.version).toBe(1);
    expect(new Set(v.cases.map((c) => c.params))).toEqual(new Set(["devnet", "testnet", "tie"]));
    expect(new Set(v.cases.filter((c) => c.params !== "tie").map((c) => c.block_seconds))).toEqual(new Set([1, 2.5, 12]));
    expect(new Set(v.cases.map((c) => c.gas_price))).toEqual(new Set(["0", "1", "1000000000", "300000000000"]));
  });

  it("hold the constants the TypeScript model uses (change them with scatter/chain/economics.py)", () => {
    const c = v.constants;
    expect({
      TX_BASE: economics.TX_BASE, RESERVE: economics.RESERVE, FILL: economics.FILL, SETTLE_ITEM: economics.SETTLE_ITEM,
      SETTLE_FIXED: economics.SETTLE_FIXED, PROVE_ALONE: economics.PROVE_ALONE,
    }).toEqual({
      TX_BASE: BigInt(c.TX_BASE!), RESERVE: BigInt(c.RESERVE!), FILL: BigInt(c.FILL!), SETTLE_ITEM: BigInt(c.SETTLE_ITEM!),
      SETTLE_FIXED: BigInt(c.SETTLE_FIXED!), PROVE_ALONE: BigInt(c.PROVE_ALONE!),
    });
    expect([economics.BLOCK_SECONDS, economics.DEFAULT_BATCH, economics.DEFAULT_SETTLE_EVERY]).toEqual([c.BLOCK_SECONDS, c.DEFAULT_BATCH, c.DEFAULT_SETTLE_EVERY]);
    expect([MARGIN, DEFAULT_PRICE_PER_GIB_EPOCH]).toEqual([BigInt(c.MARGIN!), BigInt(c.DEFAULT_PRICE_PER_GIB_EPOCH!)]);
  });

  it("every case: the gas, the break-even per GiB-epoch and per slot-epoch, the default, the warning", () => {
    const wrong: string[] = [];
    for (const c of v.cases) {
      const params = paramsOf(c.params);
      const args = { size: BigInt(c.size), duration: c.duration, gasPrice: BigInt(c.gas_price), blockSeconds: c.block_seconds };
      const gas = economics.slotGas(params, { duration: c.duration, settleEvery: economics.DEFAULT_SETTLE_EVERY, blockSeconds: c.block_seconds });
      const perGib = economics.breakEvenPrice(params, { ...args, settleEvery: economics.DEFAULT_SETTLE_EVERY });
      const floor = breakEvenSlotPrice(params, args);
      const got = {
        gas: { settlements: String(gas.settlements), proofs: String(gas.proofs), total: String(gas.total) },
        perGib: String(perGib),
        floor: String(floor),
        dflt: String(defaultSlotPrice(params, args)),
        warning: c.warning && new BidPrice(BigInt(c.warning.price), floor, args.gasPrice, false).belowBreakEvenMessage(),
      };
      const want = { gas: { settlements: c.gas.settlements, proofs: c.gas.proofs, total: c.gas.total }, perGib: c.break_even_wei_per_gib_epoch, floor: c.break_even_slot, dflt: c.default_slot, warning: c.warning && c.warning.message };
      if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${JSON.stringify(c)}\n  got ${JSON.stringify(got)}`);
    }
    expect(wrong).toEqual([]);
  });

  it("the audit term rounds halves to even, as Python's round()", () => {
    const ties = v.cases.filter((c) => c.params === "tie");
    expect(ties.map((c) => BigInt(c.gas.proofs) % 2n)).toEqual([0n, 0n]);
    expect([0.5, 1.5, 2.5, 3.5, 2.4999999999999996, 1e300].map((x) => economics.roundHalfEven(x))).toEqual([0n, 2n, 2n, 4n, 2n, BigInt(1e300)]);
  });

  it("writes the gas price as Python's f\"{gas / GWEI:.3g}\"", () => {
    expect(v.gas_texts.map((t) => gweiText(BigInt(t.gas_price)))).toEqual(v.gas_texts.map((t) => t.text));
    expect([100, 0.0001, 123.4, 0.5].map(formatG3)).toEqual(["100", "0.0001", "123", "0.5"]);
  });
});
