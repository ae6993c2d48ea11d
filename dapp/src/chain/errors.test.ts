// Every custom error of the shipped ABIs has words, and revert data decodes to them.
import { encodeErrorResult } from "viem";
import { describe, expect, it } from "vitest";
import { fileRegistryAbi, marketAbi } from "virtual:scatter-abi";
import { decodeRevertData, ERROR_WORDS, explain, revertInWords } from "./errors";

describe("errors in words", () => {
  it("has a sentence for every custom error of Market, StakeRegistry and FileRegistry", () => {
    const names = [...marketAbi, ...fileRegistryAbi].filter((i) => i.type === "error").map((e) => (e as { name: string }).name);
    expect(names.length).toBeGreaterThan(60);
    expect(names.filter((n) => !(n in ERROR_WORDS))).toEqual([]);
  });

  it("decodes revert data to the error's words with its arguments", () => {
    const data = encodeErrorResult({ abi: marketAbi, errorName: "WrongEscrow", args: [1n, 2000000000000000000n] });
    const decoded = decodeRevertData(data);
    expect(decoded?.name).toBe("WrongEscrow");
    expect(revertInWords(decoded!.name, decoded!.args)).toBe("The bid must pay exactly price × slots × epochs: 2 ETH, not 0.000000000000000001 ETH.");
    const none = encodeErrorResult({ abi: marketAbi, errorName: "NothingToWithdraw" });
    expect(revertInWords(decodeRevertData(none)!.name, [])).toBe("There is nothing to withdraw: the balance is zero.");
  });

  it("names an unknown error instead of failing", () => {
    expect(decodeRevertData("0xdeadbeef")).toBeNull();
    expect(revertInWords("Mystery", [1n])).toBe("The contract refused: Mystery(1).");
  });

  it("explains wallet refusals plainly", () => {
    expect(explain({ code: 4001, message: "User rejected" })).toBe("You rejected the request in your wallet; nothing was sent.");
    expect(explain({ code: -32002 })).toBe("Your wallet already has a request waiting: open it to answer.");
  });
});
