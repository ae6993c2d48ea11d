// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IStakeRegistry} from "./IStakeRegistry.sol";

/// @title Scatter storage market
/// @notice Clients post bids of n slots with escrow = price x slots x epochs;
///         hosters accept slots (one per bid per hoster) locking collateral;
///         a quorum of validators' EIP-712 attestations settles epochs of a deal;
///         missing or failed attestations fault the deal, slash its collateral
///         and reopen the slot with its unspent escrow. All ETH leaves through
///         `withdraw` (pull payments).
/// @dev Epoch e covers [genesis + e*epochSeconds, genesis + (e+1)*epochSeconds).
///      Each slot has a budget of `bid.durationEpochs` paid epochs; a deal on a
///      slot may be paid for at most (durationEpochs - slotOffset) epochs, where
///      slotOffset counts epochs paid to earlier (faulted) deals of that slot.
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

    struct Params {
        uint64 genesis; // unix time of epoch 0 (deployment time)
        uint32 epochSeconds;
        uint8 quorum; // distinct eligible validator signatures needed
        uint32 graceEpochs; // epochs a deal may go without an `ok` quorum before it can be faulted
        uint16 collateralBps; // collateral = price x dealEpochs x collateralBps / 10_000
        uint16 validatorFeeBps; // share of each settlement paid to the signing validators
        uint16 slashClientBps; // share of slashed collateral to the client; the rest to the reporters
        uint128 minHosterStake;
        uint128 minValidatorStake;
        uint64 exitDelay; // seconds between announceExit and exit
    }

    struct Bid {
        address client;
        uint64 size; // bytes per slot
        uint8 slotCount;
        uint96 pricePerEpoch; // wei per slot per epoch
        uint32 durationEpochs; // paid epochs per slot (grows with `extend`)
        uint32 openSlots; // bit i set: slot i waits for a hoster
        uint32 closedSlots; // bit i set: slot i cancelled or finished
        uint128 escrow; // wei not yet paid out or refunded
        uint64 postedBlock; // block of the BidPosted event (where its CIDs are)
    }

    struct Deal {
        address hoster;
        uint64 bidId;
        uint8 slot;
        DealStatus status;
        uint32 startEpoch; // first payable epoch (the epoch after acceptance)
        uint32 paidThrough; // last settled epoch (startEpoch - 1 before any)
        uint32 paidEpochs; // epochs paid to this deal
        uint32 slotOffset; // epochs of the slot's budget paid to earlier deals
        uint128 collateral; // hoster stake locked for this deal
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

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    error InvalidSlotCount(uint256 slots, uint256 max);
    error InvalidCidCount(uint256 cids, uint256 slots);
    error EmptyCid(uint256 index);
    error ZeroSize();
    error ZeroPrice();
    error ZeroDuration();
    error WrongEscrow(uint256 sent, uint256 required);
    error UnknownBid(uint256 bidId);
    error UnknownDeal(uint256 dealId);
    error NotClient(address caller, address client);
    error SlotNotOpen(uint256 bidId, uint256 slot);
    error HosterAlreadyInBid(uint256 bidId, address hoster);
    error ClientCannotHost(uint256 bidId);
    error DealNotActive(uint256 dealId);
    error InvalidEpochRange(uint256 fromEpoch, uint256 toEpoch);
    error EpochAlreadyPaid(uint256 epoch, uint256 paidThrough);
    error OnlyHosterMaySkip(uint256 fromEpoch, uint256 nextUnpaid);
    error EpochNotOver(uint256 epoch, uint256 currentEpoch);
    error EpochAfterDealEnd(uint256 epoch, uint256 endEpoch);
    error NoQuorum(uint256 have, uint256 need);
    error InvalidSignature(uint256 index);
    error SignersNotSorted(uint256 index);
    error IneligibleValidator(address signer);
    error ConflictOfInterest(address signer);
    error GraceNotOver(uint256 currentEpoch, uint256 faultableFrom);
    error DealNotOver(uint256 currentEpoch, uint256 finishableFrom);
    error NoOpenSlots(uint256 bidId);
    error BidClosed(uint256 bidId);
    error NothingToWithdraw();
    error TransferFailed(address to, uint256 amount);
    error InvalidParams();
    error TooManySettlements(uint256 count, uint256 max);

    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @dev `cids` holds one CID (all slots replicate it) or one per slot.
    event BidPosted(
        uint256 indexed bidId,
        address indexed client,
        uint64 size,
        uint8 slotCount,
        uint96 pricePerEpoch,
        uint32 durationEpochs,
        bytes[] cids,
        string[] origins
    );
    event SlotAccepted(
        uint256 indexed bidId, uint256 indexed dealId, address indexed hoster, uint8 slot, uint32 startEpoch, uint32 endEpoch, uint128 collateral
    );
    event SlotCancelled(uint256 indexed bidId, uint8 slot, uint256 refund);
    event SlotReopened(uint256 indexed bidId, uint8 slot, uint32 epochsLeft);
    event BidExtended(uint256 indexed bidId, uint32 extraEpochs, uint32 durationEpochs, uint256 paid);
    event DealSettled(
        uint256 indexed dealId, address indexed hoster, uint32 fromEpoch, uint32 toEpoch, uint256 hosterAmount, uint256 validatorFee
    );
    /// @dev A `settleMany` item left out because another transaction got there first.
    event SettlementSkipped(uint256 indexed dealId, uint32 fromEpoch, uint32 toEpoch);
    event DealFaulted(uint256 indexed dealId, address indexed hoster, bool missedQuorum, uint256 slashed, uint256 toClient, uint256 toReporters);
    event DealFinished(uint256 indexed dealId, address indexed hoster, uint256 refund);
    event Credited(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, address indexed to, uint256 amount);

    /*//////////////////////////////////////////////////////////////
                               OPERATIONS
    //////////////////////////////////////////////////////////////*/

    /// @notice Post a bid; msg.value must equal pricePerEpoch x slotCount x durationEpochs.
    /// @param cids one CID (binary) for all slots, or exactly slotCount CIDs (slot i stores cids[i])
    /// @param origins optional multiaddrs/URLs where hosters may fetch public content
    function bid(
        bytes[] calldata cids,
        uint64 size,
        uint8 slotCount,
        uint96 pricePerEpoch,
        uint32 durationEpochs,
        string[] calldata origins
    ) external payable returns (uint256 bidId);

    /// @notice Take open slot `slot` of `bidId` as an active hoster with enough free stake.
    function accept(uint256 bidId, uint8 slot) external returns (uint256 dealId);

    /// @notice Pay epochs [fromEpoch, toEpoch] of a deal with a quorum of `ok` attestations.
    /// @dev fromEpoch > paidThrough (only the deal's hoster may skip unpaid epochs: anyone else must
    ///      start at paidThrough + 1); toEpoch < currentEpoch and <= the deal's end;
    ///      signers strictly ascending, each an eligible validator other than the deal's hoster and client.
    function settle(uint256 dealId, uint32 fromEpoch, uint32 toEpoch, Signature[] calldata sigs) external;

    /// @notice Settle up to MAX_SETTLE_BATCH ranges in one call, each exactly as `settle` would,
    ///         except that an item another transaction overtook is skipped (SettlementSkipped,
    ///         nothing changes for it): its deal is no longer Active, or its fromEpoch is already
    ///         paid. Any other failure of any item reverts the whole call with `settle`'s error.
    /// @dev Items run in order, so later items see earlier ones (a repeated item is skipped).
    ///      An unknown deal reverts (UnknownDeal); an empty array settles nothing.
    /// @return settled the number of items settled (not skipped)
    function settleMany(Settlement[] calldata settlements) external returns (uint256 settled);

    /// @notice Fault a deal with a quorum of `fail` attestations for an unpaid epoch range.
    ///         The signers share the reporters' part of the slashed collateral.
    function faultFailed(uint256 dealId, uint32 fromEpoch, uint32 toEpoch, Signature[] calldata sigs) external;

    /// @notice Fault a deal that went more than graceEpochs without a settled `ok` quorum.
    ///         The caller gets the reporters' part of the slashed collateral.
    function faultMissed(uint256 dealId) external;

    /// @notice After a deal's last epoch plus the grace period: unlock its collateral and
    ///         refund its unpaid budget to the client.
    function finish(uint256 dealId) external;

    /// @notice Client: cancel an open slot; its unspent escrow is credited back.
    function cancel(uint256 bidId, uint8 slot) external;

    /// @notice Client: add `extraEpochs` to every slot not closed; msg.value must equal
    ///         pricePerEpoch x (slots not closed) x extraEpochs.
    function extend(uint256 bidId, uint32 extraEpochs) external payable;

    /// @notice Send the caller's whole withdrawable balance to `to`.
    function withdraw(address payable to) external;

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    function params() external view returns (Params memory);
    function currentEpoch() external view returns (uint32);
    function getBid(uint256 bidId) external view returns (Bid memory);
    function getDeal(uint256 dealId) external view returns (Deal memory);
    /// @notice Last epoch the deal may be paid for.
    function dealEndEpoch(uint256 dealId) external view returns (uint32);
    function bidCount() external view returns (uint256);
    function dealCount() external view returns (uint256);
    function balanceOf(address account) external view returns (uint256);
    function hosterInBid(uint256 bidId, address hoster) external view returns (bool);
    /// @notice EIP-712 digest a validator signs for an attestation.
    function attestationDigest(uint256 dealId, uint32 fromEpoch, uint32 toEpoch, bool ok, bytes32 evidence)
        external
        view
        returns (bytes32);
}
