// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IStakeRegistry} from "./IStakeRegistry.sol";

/// @title Scatter storage market, version 2 (docs/trust.md)
/// @notice Clients post bids of n slots with escrow = price x slots x epochs and a possession
///         root per slot; a hoster (optionally after a reservation) fills a slot with a Merkle
///         proof of possession, locking collateral. Epochs are paid by a quorum of `ok`
///         attestations of a stake-weighted committee drawn by sortition. Proofs are optimistic:
///         requested by a `fail` quorum (bonded), after `missedQuorumEpochs` without pay, or by a
///         random audit; a missed proof is the only thing that slashes. All ETH leaves through
///         `withdraw` (pull payments).
/// @dev Epoch e covers [genesis + e*epochSeconds, genesis + (e+1)*epochSeconds). Each slot has an
///      epoch budget (`slotEpochs`); a deal filled on the slot runs for the whole budget, its
///      terms (end, price, collateral) fixed at fill unless its hoster signs `extendDeal`.
interface IMarket is IStakeRegistry {
    /*//////////////////////////////////////////////////////////////
                                 TYPES
    //////////////////////////////////////////////////////////////*/

    enum DealStatus {
        None,
        Active,
        Finished,
        Faulted
    }

    /// @notice Why a proof was requested (`ProofRequested.reason`).
    enum ProofReason {
        FailQuorum,
        MissedQuorum,
        Audit,
        Fault
    }

    /// @notice Deployment parameters (immutables); see docs/contracts.md for the defaults.
    struct Params {
        uint64 genesis; // unix time of epoch 0 (deployment time; ignored by the constructor)
        uint32 epochSeconds;
        uint8 quorum; // committee signatures needed to settle or to request a proof
        uint16 committeeSize; // expected committee members per deal and period
        uint32 periodEpochs; // committees rotate every periodEpochs epochs
        uint32 reserveEpochs; // how long a reservation holds a slot
        uint32 proofWindowEpochs; // w: epochs after the request epoch to answer a challenge
        uint32 missedQuorumEpochs; // g: epochs without pay or proof before anyone may request a proof
        uint16 auditBps; // probability (of 10 000) that an audit seed block draws a deal
        uint32 auditEveryBlocks; // audit seed blocks are multiples of this
        uint8 maxFaults; // m: missed proofs that end a deal
        uint16 collateralBps; // collateral = price x budget x collateralBps / 10_000
        uint16 validatorFeeBps; // share of each settlement paid to the signing validators
        uint16 slashClientBps; // share of a slash to the client; the rest to the reporter
        uint128 minHosterStake;
        uint128 minValidatorStake;
        uint128 proofBond; // msg.value of requestProof; paid to the hoster when the proof verifies
        uint128 validatorSlash; // stake a validator loses for equivocation or a false ok
        uint64 exitDelay; // seconds between announceExit and exit
        uint64 validatorBondingSeconds; // seconds after join before a validator is eligible
    }

    /// @dev Three storage slots.
    struct Bid {
        address client;
        uint64 size; // bytes per slot (the shard's exact size)
        uint8 slotCount;
        bool rootPerSlot; // true: slot i commits roots[i]; false: every slot commits roots[0]
        uint96 pricePerEpoch; // wei per slot per epoch
        uint32 durationEpochs; // initial budget of each slot (see slotEpochs for the current one)
        uint32 openSlots; // bit i set: slot i waits for a hoster (reserved or not)
        uint32 reservedSlots; // bit i set: slot i is reserved (a subset of openSlots)
        uint32 closedSlots; // bit i set: slot i cancelled or finished
        uint128 escrow; // wei not yet paid out or refunded
        uint64 postedBlock; // block of the BidPosted event (where its CIDs are)
    }

    /// @dev Three storage slots.
    struct Deal {
        address hoster;
        uint64 bidId;
        uint8 slot;
        DealStatus status;
        uint8 faults; // missed proofs so far
        uint8 rootIndex; // key of the bid's root this deal proves (0 or slot)
        uint32 startEpoch; // first payable epoch (the epoch after fill)
        uint32 endEpoch; // last payable epoch (fixed at fill; extendDeal only)
        uint32 paidThrough; // last settled epoch (startEpoch - 1 before any)
        uint32 paidEpochs; // epochs paid to this deal
        uint32 failedEpoch; // challenge epoch of the last missed proof; 0 = none
        uint64 seed; // committee seed: low 64 bits of keccak256(abi.encode(prevrandao, dealId))
        uint128 collateral; // hoster stake still locked for this deal
    }

    /// @notice A deal's challenge (two storage slots); see `challengeOf`.
    struct Challenge {
        uint64 seed; // low 64 bits of keccak256(abi.encode(prevrandao, dealId, count))
        uint32 epoch; // the challenge epoch (failedEpoch if missed)
        uint32 dueEpoch; // last epoch in which the proof is accepted
        uint32 lastProvenEpoch; // challenge epoch of the last verified proof; 0 = none
        uint32 count; // challenges issued so far (seed input)
        bool open;
        ProofReason reason;
        uint48 segments; // N of the deal's shard (copied at the first request)
        bytes32 root; // the deal's possession root (copied at the first request)
    }

    /// @notice One validator's signature over an Attestation.
    struct Signature {
        bytes32 evidence; // digest of what the validator checked (signed)
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// @notice One item of `settleMany`: the arguments of one `settle` call.
    struct Settlement {
        uint256 dealId;
        uint32 fromEpoch;
        uint32 toEpoch;
        Signature[] sigs;
    }

    /// @notice One item of `proveMany`.
    struct ProofItem {
        uint256 dealId;
        bytes32 seed; // challengeOf(dealId).seed when built: an item for another challenge is skipped
        bytes proof; // cap (2^C x 20 bytes) + 5 x (128-byte segment + (D - C) x 20-byte siblings)
    }

    /// @notice A reservation of an open slot.
    struct Reservation {
        address hoster;
        uint64 expiresAt; // unix time; the reservation holds while block.timestamp < expiresAt
    }

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    error InvalidSlotCount(uint256 slots, uint256 max);
    error InvalidCidCount(uint256 cids, uint256 slots);
    error InvalidRootCount(uint256 roots, uint256 cids);
    error InvalidRoot(uint256 index);
    error EmptyCid(uint256 index);
    error InvalidSize(uint256 size);
    error ZeroPrice();
    error ZeroDuration();
    error WrongEscrow(uint256 sent, uint256 required);
    error UnknownBid(uint256 bidId);
    error UnknownDeal(uint256 dealId);
    error NotClient(address caller, address client);
    error SlotNotOpen(uint256 bidId, uint256 slot);
    error SlotIsReserved(uint256 bidId, uint256 slot, address hoster, uint256 expiresAt);
    error NoReservation(uint256 bidId, uint256 slot);
    error ReservationNotExpired(uint256 nowTime, uint256 expiresAt);
    error SlotExhausted(uint256 bidId, uint256 slot);
    error HosterAlreadyInBid(uint256 bidId, address hoster);
    error ClientCannotHost(uint256 bidId);
    error CollateralTooHigh(uint256 collateral, uint256 maxCollateral);
    error InvalidSeedBlock(uint256 seedBlock, uint256 blockNumber);
    error InvalidProof(uint256 dealId);
    error DealNotActive(uint256 dealId);
    error InvalidEpochRange(uint256 fromEpoch, uint256 toEpoch);
    error EpochAlreadyPaid(uint256 epoch, uint256 paidThrough);
    error EpochFailed(uint256 epoch, uint256 failedEpoch);
    error OnlyHosterMaySkip(uint256 fromEpoch, uint256 nextUnpaid);
    error EpochNotOver(uint256 epoch, uint256 currentEpoch);
    error EpochOutsideDeal(uint256 epoch, uint256 startEpoch, uint256 endEpoch);
    error RangeCrossesPeriod(uint256 fromEpoch, uint256 toEpoch);
    error ChallengePending(uint256 dealId, uint256 challengeEpoch);
    error NoQuorum(uint256 have, uint256 need);
    error InvalidSignature(uint256 index);
    error SignersNotSorted(uint256 index);
    error NotInCommittee(address signer);
    error ChallengeOpen(uint256 dealId);
    error NoOpenChallenge(uint256 dealId);
    error ChallengeNotOverdue(uint256 currentEpoch, uint256 dueEpoch);
    error QuorumNotMissed(uint256 currentEpoch, uint256 requestableFrom);
    error NotAuditBlock(uint256 seedBlock);
    error AuditAlreadyDone(uint256 dealId, uint256 seedBlock);
    error NotDrawnForAudit(uint256 dealId, uint256 seedBlock);
    error NotSameSigner(address okSigner, address failSigner);
    error NotContradictory();
    error NotValidator(address account);
    error AlreadySlashed(uint256 dealId, address validator);
    error DealNotOver(uint256 currentEpoch, uint256 finishableFrom);
    error NothingToExtend(uint256 bidId);
    error InvalidHosterSignature();
    error NothingToWithdraw();
    error TransferFailed(address to, uint256 amount);
    error InvalidParams();
    error TooManySettlements(uint256 count, uint256 max);
    error TooManyProofs(uint256 count, uint256 max);

    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @dev `cids` and `roots` hold one entry (all slots replicate it) or one per slot.
    event BidPosted(
        uint256 indexed bidId,
        address indexed client,
        uint64 size,
        uint8 slotCount,
        uint96 pricePerEpoch,
        uint32 durationEpochs,
        bytes[] cids,
        bytes32[] roots,
        string[] origins
    );
    event SlotReserved(uint256 indexed bidId, address indexed hoster, uint8 slot, uint64 expiresAt);
    event ReservationReleased(uint256 indexed bidId, address indexed hoster, uint8 slot, uint256 fee);
    event SlotFilled(
        uint256 indexed bidId,
        uint256 indexed dealId,
        address indexed hoster,
        uint8 slot,
        uint32 startEpoch,
        uint32 endEpoch,
        uint128 collateral
    );
    event SlotCancelled(uint256 indexed bidId, uint8 slot, uint256 refund);
    event SlotReopened(uint256 indexed bidId, uint8 slot, uint32 epochsLeft);
    /// @dev `slots`: bitmap of the open, unreserved slots whose budget grew by `extraEpochs`.
    event BidExtended(uint256 indexed bidId, uint32 extraEpochs, uint32 slots, uint256 paid);
    event DealExtended(
        uint256 indexed dealId, uint32 extraEpochs, uint32 endEpoch, uint128 addedCollateral, uint256 paid
    );
    event DealSettled(
        uint256 indexed dealId,
        address indexed hoster,
        uint32 fromEpoch,
        uint32 toEpoch,
        uint256 hosterAmount,
        uint256 validatorFee
    );
    /// @dev A `settleMany` item left out because another transaction got there first.
    event SettlementSkipped(uint256 indexed dealId, uint32 fromEpoch, uint32 toEpoch);
    /// @dev `reason`: 0 fail quorum, 1 missed quorum, 2 audit, 3 re-issued after a missed proof.
    event ProofRequested(uint256 indexed dealId, uint8 reason, uint32 challengeEpoch, uint32 dueEpoch, bytes32 seed);
    event ProofAccepted(uint256 indexed dealId, uint32 challengeEpoch);
    /// @dev A `proveMany` item with no open challenge, or past its due epoch: nothing changed.
    event ProofSkipped(uint256 indexed dealId);
    event ProofMissed(
        uint256 indexed dealId,
        address indexed hoster,
        uint8 faults,
        uint256 slashed,
        uint256 toClient,
        uint256 toReporter
    );
    event DealFaulted(uint256 indexed dealId, address indexed hoster, uint8 faults);
    event DealFinished(uint256 indexed dealId, address indexed hoster, uint256 refund);
    /// @dev `reason`: 0 equivocation, 1 false ok.
    event ValidatorSlashed(
        address indexed validator, uint256 indexed dealId, uint8 reason, uint256 amount, address reporter
    );
    event Credited(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, address indexed to, uint256 amount);

    /*//////////////////////////////////////////////////////////////
                               OPERATIONS
    //////////////////////////////////////////////////////////////*/

    /// @notice Post a bid; msg.value must equal pricePerEpoch x slotCount x durationEpochs.
    /// @param cids one CID (binary) for all slots, or exactly slotCount CIDs (slot i stores cids[i])
    /// @param roots possession roots, as many as `cids` (bytes32 whose last 8 bytes are zero)
    /// @param size the shard's exact size in bytes (1 .. 2^48 x 128)
    /// @param origins optional multiaddrs/URLs where hosters may fetch public content
    function bid(
        bytes[] calldata cids,
        bytes32[] calldata roots,
        uint64 size,
        uint8 slotCount,
        uint96 pricePerEpoch,
        uint32 durationEpochs,
        string[] calldata origins
    ) external payable returns (uint256 bidId);

    /// @notice Hold open slot `slot` for `reserveEpochs` while the client pushes the content.
    ///         Nothing is locked; the caller needs the free stake the collateral would take
    ///         (<= maxCollateral) and no live slot in the bid.
    function reserve(uint256 bidId, uint8 slot, uint128 maxCollateral) external;

    /// @notice After a reservation expired (anyone): the slot is free again and the hoster is
    ///         credited one epoch of the slot's budget, at most once per (bid, hoster).
    function releaseReservation(uint256 bidId, uint8 slot) external;

    /// @notice Fill an open slot (unreserved, or reserved by the caller) with a proof of
    ///         possession answering the challenge of blockhash(seedBlock); locks the collateral
    ///         (<= maxCollateral). The deal starts at the next epoch and runs for the slot's budget.
    function fill(uint256 bidId, uint8 slot, uint256 seedBlock, uint128 maxCollateral, bytes calldata proof)
        external
        returns (uint256 dealId);

    /// @notice Pay epochs [fromEpoch, toEpoch] of a deal with a committee quorum of `ok` attestations.
    /// @dev The range lies in one period, after paidThrough and failedEpoch (only the hoster may
    ///      skip unpaid epochs), before the current epoch and within the deal, and before the
    ///      epoch of an open challenge; signers ascending, each in the deal's committee.
    function settle(uint256 dealId, uint32 fromEpoch, uint32 toEpoch, Signature[] calldata sigs) external;

    /// @notice Settle up to MAX_SETTLE_BATCH ranges; an item another transaction overtook (deal
    ///         no longer Active, fromEpoch already paid or failed, a challenge opened) is skipped
    ///         with SettlementSkipped. Any other failure reverts the whole call.
    /// @return settled the number of items settled (not skipped)
    function settleMany(Settlement[] calldata settlements) external returns (uint256 settled);

    /// @notice With msg.value = proofBond and a committee quorum of `fail` attestations for
    ///         [epoch, epoch], ask the deal's hoster for a possession proof.
    function requestProof(uint256 dealId, uint32 epoch, Signature[] calldata failSigs) external payable;

    /// @notice Free: ask for a proof once no epoch was paid or proven for more than missedQuorumEpochs.
    function requestProofForMissedQuorum(uint256 dealId) external;

    /// @notice Free: ask for a proof when the audit draw of `seedBlock` selects the deal.
    function audit(uint256 dealId, uint256 seedBlock) external;

    /// @notice Answer open challenges, up to MAX_PROOF_BATCH; a closed or overdue one is skipped
    ///         (ProofSkipped), an invalid proof reverts the call.
    function proveMany(ProofItem[] calldata items) external;

    /// @notice Once a challenge is overdue (anyone): slash collateral / (maxFaults - faults).
    function reportMissedProof(uint256 dealId) external;

    /// @notice Slash a validator that signed `ok` for [okFrom, okTo] and `fail` for an
    ///         overlapping [failFrom, failTo] of the same deal (once per validator and deal).
    function reportEquivocation(
        uint256 dealId,
        uint32 okFrom,
        uint32 okTo,
        Signature calldata okSig,
        uint32 failFrom,
        uint32 failTo,
        Signature calldata failSig
    ) external;

    /// @notice Slash a validator that signed `ok` for a range containing the deal's failedEpoch.
    function reportFalseOk(uint256 dealId, uint32 okFrom, uint32 okTo, Signature calldata okSig) external;

    /// @notice After the deal's end plus the proof window, with no challenge open: unlock the
    ///         collateral, refund the unpaid budget, close the slot.
    function finish(uint256 dealId) external;

    /// @notice Client: cancel an open slot (unreserved or with an expired reservation).
    function cancel(uint256 bidId, uint8 slot) external;

    /// @notice Client: add `extraEpochs` to every open, unreserved slot; msg.value must equal
    ///         pricePerEpoch x (such slots) x extraEpochs. Live deals do not change.
    function extend(uint256 bidId, uint32 extraEpochs) external payable;

    /// @notice Client: extend a live deal by `extraEpochs` with its hoster's EIP-712 signature
    ///         (65 bytes r,s,v) over ExtendDeal(dealId, extraEpochs, endEpoch); msg.value must equal
    ///         pricePerEpoch x extraEpochs. Locks the extra collateral.
    function extendDeal(uint256 dealId, uint32 extraEpochs, bytes calldata hosterSig) external payable;

    /// @notice Send the caller's whole withdrawable balance to `to`.
    function withdraw(address payable to) external;

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    function params() external view returns (Params memory);
    function currentEpoch() external view returns (uint32);
    function periodOf(uint32 epoch) external view returns (uint32);
    function getBid(uint256 bidId) external view returns (Bid memory);
    function getDeal(uint256 dealId) external view returns (Deal memory);
    /// @notice Possession root slot `slot` commits to.
    function slotRoot(uint256 bidId, uint8 slot) external view returns (bytes32);
    /// @notice Current epoch budget of a slot (what a deal filled now would run for).
    function slotEpochs(uint256 bidId, uint8 slot) external view returns (uint32);
    function reservationOf(uint256 bidId, uint8 slot) external view returns (Reservation memory);
    /// @notice The deal's challenge: open, seed, challenge epoch, due epoch and bond posted.
    function challengeOf(uint256 dealId)
        external
        view
        returns (bool open, bytes32 seed, uint32 requestedEpoch, uint32 dueEpoch, uint256 bond);
    function isCommitteeMember(uint256 dealId, uint32 epoch, address validator) external view returns (bool);
    /// @notice Segment indices a challenge with `seed` asks of a shard of `size` bytes.
    function challengeSegments(bytes32 seed, uint64 size) external pure returns (uint256[5] memory);
    function hosterLiveInBid(uint256 bidId, address hoster) external view returns (bool);
    function bidCount() external view returns (uint256);
    function dealCount() external view returns (uint256);
    function balanceOf(address account) external view returns (uint256);
    /// @notice Wei held as open proof bonds.
    function bondsHeld() external view returns (uint256);
    /// @notice EIP-712 digest a validator signs for an attestation.
    function attestationDigest(uint256 dealId, uint32 fromEpoch, uint32 toEpoch, bool ok, bytes32 evidence)
        external
        view
        returns (bytes32);
    /// @notice EIP-712 digest a hoster signs to extend its deal.
    function extendDealDigest(uint256 dealId, uint32 extraEpochs, uint32 endEpoch) external view returns (bytes32);
}
