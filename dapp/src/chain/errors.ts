// Errors in words: a revert decoded from the contracts' custom errors (the shipped ABIs), a wallet
// refusal, a network failure. Every message is one sentence that says what happened and what to do.
import { BaseError, ContractFunctionRevertedError, decodeErrorResult, formatEther, type Hex } from "viem";
import { fileRegistryAbi, marketAbi } from "virtual:scatter-abi";

type Args = readonly unknown[];
const n = (v: unknown): string => String(v);
const eth = (v: unknown): string => `${formatEther(BigInt(v as bigint))} ETH`;
const short = (v: unknown): string => {
  const s = String(v);
  return s.length > 12 ? `${s.slice(0, 6)}…${s.slice(-4)}` : s;
};
const when = (v: unknown): string => new Date(Number(v) * 1000).toLocaleString();

/** Each custom error of Market, StakeRegistry and FileRegistry, in words. */
export const ERROR_WORDS: Record<string, (a: Args) => string> = {
  // bids
  InvalidSlotCount: (a) => `A bid has 1 to ${n(a[1])} slots, not ${n(a[0])}.`,
  InvalidCidCount: (a) => `The bid names ${n(a[0])} CIDs for ${n(a[1])} slots: give one CID, or one per slot.`,
  InvalidRootCount: (a) => `The bid has ${n(a[0])} possession roots for ${n(a[1])} CIDs.`,
  InvalidRoot: (a) => `Possession root #${n(a[0])} of the bid is not of format 2 (a 20-byte node, then 12 zero bytes).`,
  EmptyCid: (a) => `CID ${n(a[0])} of the bid is empty.`,
  InvalidSize: (a) => `${n(a[0])} bytes is not a valid content size.`,
  ZeroPrice: () => "The price must be above zero.",
  ZeroDuration: () => "The duration must be at least one epoch.",
  WrongEscrow: (a) => `The bid must pay exactly price × slots × epochs: ${eth(a[1])}, not ${eth(a[0])}.`,
  UnknownBid: (a) => `There is no bid ${n(a[0])}.`,
  UnknownDeal: (a) => `There is no deal ${n(a[0])}.`,
  NotClient: (a) => `Only the bid's client (${short(a[1])}) may do this, not ${short(a[0])}.`,
  SlotNotOpen: (a) => `Slot ${n(a[1])} of bid ${n(a[0])} is no longer open: it was taken, cancelled or finished.`,
  SlotIsReserved: (a) =>
    `Slot ${n(a[1])} of bid ${n(a[0])} is reserved by hoster ${short(a[2])} until ${when(a[3])}; try again after that.`,
  NoReservation: (a) => `Slot ${n(a[1])} of bid ${n(a[0])} has no reservation to release.`,
  ReservationNotExpired: (a) => `The reservation holds until ${when(a[1])}.`,
  SlotExhausted: (a) => `Slot ${n(a[1])} of bid ${n(a[0])} has no epochs of budget left.`,
  HosterAlreadyInBid: (a) => `Hoster ${short(a[1])} already holds a slot of bid ${n(a[0])}.`,
  ClientCannotHost: (a) => `The client of bid ${n(a[0])} cannot host it.`,
  CollateralTooHigh: (a) => `The slot would lock ${eth(a[0])} of collateral, more than the ${eth(a[1])} allowed.`,
  NothingToExtend: (a) => `Bid ${n(a[0])} has no open, unreserved slot to extend; filled deals keep their end.`,
  // deals, settlement, proofs
  InvalidSeedBlock: (a) => `Block ${n(a[0])} cannot seed a proof at block ${n(a[1])}.`,
  InvalidProof: (a) => `The proof for deal ${n(a[0])} does not match its possession root.`,
  DealNotActive: (a) => `Deal ${n(a[0])} is not active.`,
  InvalidEpochRange: (a) => `Epochs ${n(a[0])}–${n(a[1])} are not a valid range.`,
  EpochAlreadyPaid: (a) => `Epoch ${n(a[0])} is already paid (through ${n(a[1])}).`,
  EpochFailed: (a) => `Epoch ${n(a[0])} is at or before the failed epoch ${n(a[1])}.`,
  OnlyHosterMaySkip: (a) => `Only the hoster may skip unpaid epochs (${n(a[0])} is after ${n(a[1])}).`,
  EpochNotOver: (a) => `Epoch ${n(a[0])} is not over yet (now ${n(a[1])}).`,
  EpochOutsideDeal: (a) => `Epoch ${n(a[0])} is outside the deal (${n(a[1])}–${n(a[2])}).`,
  RangeCrossesPeriod: () => "Settle each committee period separately.",
  ChallengePending: (a) => `Deal ${n(a[0])} has a challenge open since epoch ${n(a[1])}.`,
  NoQuorum: (a) => `${n(a[0])} signatures, ${n(a[1])} needed.`,
  InvalidSignature: (a) => `Signature ${n(a[0])} is invalid.`,
  SignersNotSorted: (a) => `Signers must be in ascending order (at ${n(a[0])}).`,
  NotInCommittee: (a) => `${short(a[0])} is not in the deal's committee.`,
  ChallengeOpen: (a) => `Deal ${n(a[0])} already has a challenge open.`,
  NoOpenChallenge: (a) => `Deal ${n(a[0])} has no open challenge.`,
  ChallengeNotOverdue: (a) => `The hoster may still answer until the end of epoch ${n(a[1])}.`,
  QuorumNotMissed: (a) => `A proof may be requested from epoch ${n(a[1])} (now ${n(a[0])}).`,
  NotAuditBlock: (a) => `Block ${n(a[0])} is not an audit block.`,
  AuditAlreadyDone: (a) => `Deal ${n(a[0])} was already audited for block ${n(a[1])}.`,
  NotDrawnForAudit: (a) => `Deal ${n(a[0])} was not drawn by block ${n(a[1])}.`,
  NotSameSigner: () => "The two signatures are from different validators.",
  NotContradictory: () => "The two attestations do not contradict each other.",
  NotValidator: (a) => `${short(a[0])} is not a validator.`,
  AlreadySlashed: (a) => `Validator ${short(a[1])} was already slashed for deal ${n(a[0])}.`,
  DealNotOver: (a) => `The deal can be finished from epoch ${n(a[1])} (now ${n(a[0])}).`,
  InvalidHosterSignature: () => "The hoster's signature does not match.",
  NothingToWithdraw: () => "There is nothing to withdraw: the balance is zero.",
  TransferFailed: (a) => `Sending ${eth(a[1])} to ${short(a[0])} failed.`,
  InvalidParams: () => "The deployment parameters are invalid.",
  TooManySettlements: (a) => `At most ${n(a[1])} settlements per call, not ${n(a[0])}.`,
  TooManyProofs: (a) => `At most ${n(a[1])} proofs per call, not ${n(a[0])}.`,
  ReentrancyGuardReentrantCall: () => "Reentrant call refused.",
  InvalidShortString: () => "The contract's EIP-712 name is malformed.",
  StringTooLong: (a) => `The string "${n(a[0])}" is too long.`,
  // stake registry
  AlreadyRegistered: (a) => `${short(a[0])} is already registered in this role.`,
  NotRegistered: (a) => `${short(a[0])} is not registered in this role: join first.`,
  NotActive: (a) => `${short(a[0])} is not active in this role.`,
  InsufficientStake: (a) => `The stake is ${eth(a[0])}; ${eth(a[1])} is needed. Top up, or take a smaller deal.`,
  InvalidEndpoint: () => "The endpoint must be a non-empty URL.",
  ExitNotAnnounced: () => "Announce the exit first; the stake can be taken back after the exit delay.",
  ExitDelayNotOver: (a) => `The exit delay runs until ${when(a[1])}.`,
  StakeLocked: (a) => `${eth(a[0])} of stake is still locked as collateral of live deals.`,
  ZeroValue: () => "Send some ETH.",
  // file registry
  EmptyMetadata: () => "The metadata record is empty.",
  MetadataTooLarge: (a) => `The metadata record is ${n(a[0])} bytes; at most ${n(a[1])}.`,
  UnknownFile: (a) => `There is no file ${n(a[0])}.`,
  NotOwner: (a) => `Only the file's owner (${short(a[2])}) may change file ${n(a[0])}.`,
  InvalidRecipient: (a) => `${short(a[0])} cannot receive the file.`,
};

/** The custom error's name and arguments in revert data, or null. */
export function decodeRevertData(data: Hex): { name: string; args: Args } | null {
  for (const abi of [marketAbi, fileRegistryAbi]) {
    try {
      const decoded = decodeErrorResult({ abi, data });
      return { name: decoded.errorName, args: (decoded.args ?? []) as Args };
    } catch {
      // not this ABI's
    }
  }
  return null;
}

export function revertInWords(name: string, args: Args): string {
  const words = ERROR_WORDS[name];
  return words ? words(args) : `The contract refused: ${name}(${args.map(n).join(", ")}).`;
}

const REJECTED = 4001;
const UNAUTHORIZED = 4100;
const PENDING = -32002;

function rpcCode(err: unknown): number | undefined {
  let cur: unknown = err;
  for (let depth = 0; depth < 6 && cur !== null && typeof cur === "object"; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "number") return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** One sentence for any error of a wallet request, a simulation or a transaction. */
export function explain(err: unknown): string {
  if (err instanceof BaseError) {
    const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
    if (reverted instanceof ContractFunctionRevertedError) {
      if (reverted.data?.errorName) return revertInWords(reverted.data.errorName, reverted.data.args ?? []);
      if (reverted.raw) {
        const decoded = decodeRevertData(reverted.raw);
        if (decoded) return revertInWords(decoded.name, decoded.args);
      }
      if (reverted.reason) return `The contract refused: ${reverted.reason}.`;
      return "The contract refused the transaction without a reason.";
    }
  }
  const code = rpcCode(err);
  if (code === REJECTED) return "You rejected the request in your wallet; nothing was sent.";
  if (code === UNAUTHORIZED) return "Your wallet is locked or has not connected this site: unlock it and connect.";
  if (code === PENDING) return "Your wallet already has a request waiting: open it to answer.";
  const message = err instanceof BaseError ? err.shortMessage : err instanceof Error ? err.message : String(err);
  if (/insufficient funds/i.test(message)) return "The account does not have enough ETH for this transaction and its gas.";
  if (/fetch|network|HTTP request failed/i.test(message)) return `The chain did not answer: ${message.split("\n")[0]}`;
  return message.split("\n")[0] ?? "Unknown error.";
}

export function isUserRejection(err: unknown): boolean {
  return rpcCode(err) === REJECTED;
}
