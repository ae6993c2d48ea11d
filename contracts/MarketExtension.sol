// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {IMarket} from "./interfaces/IMarket.sol";
import {MarketBase} from "./MarketBase.sol";
import {SlotBits} from "./libraries/SlotBits.sol";
import {PossessionProof} from "./libraries/PossessionProof.sol";

/// @title Rarely-called operations of the Scatter market
/// @notice Not a market of its own: `Market` deploys one MarketExtension in its constructor and
///         forwards these calls to it with DELEGATECALL, so this code runs on the Market's storage,
///         balance, address and msg.sender/msg.value. It exists because the whole market does not
///         fit the EIP-170 limit of 24,576 bytes of runtime code (docs/contracts.md). The
///         functions are the Market's: see IMarket and IStakeRegistry for their documentation.
/// @dev Declares no state variable (only immutables): the storage layout is MarketBase's, the
///      same as the Market's. Calls that do not come through a Market (address(this) is this
///      contract) revert with `OnlyViaMarket`. EIP-712 digests computed here bind to the Market:
///      OZ EIP712 rebuilds the domain separator when address(this) is not the deploying address.
contract MarketExtension is MarketBase {
    /// @notice A MarketExtension function was called directly instead of through its Market.
    error OnlyViaMarket();

    /// @dev This contract's own address; under DELEGATECALL address(this) is the Market's.
    address private immutable _self;

    /// @param p the Market's parameters (the same immutables; `p.genesis` is ignored)
    constructor(IMarket.Params memory p) MarketBase(p) {
        _self = address(this);
    }

    /// @dev See IMarket; reached only through the Market's forwarder.
    function cancel(uint256 bidId, uint8 slot) external {
        _onlyViaMarket();
        IMarket.Bid storage b = _bidOf(bidId);
        _onlyClient(b);
        uint32 bit = SlotBits.bit(slot);
        if (b.openSlots & bit == 0) revert IMarket.SlotNotOpen(bidId, slot);
        if (b.reservedSlots & bit != 0) _releaseExpired(bidId, b, slot, bit);

        uint32[_MAX_SLOTS] storage budgets = _slotEpochs[bidId];
        uint128 refund = uint128(b.pricePerEpoch) * budgets[slot];
        budgets[slot] = 0;
        b.openSlots &= ~bit;
        b.closedSlots |= bit;
        b.escrow -= refund;
        emit IMarket.SlotCancelled(bidId, slot, refund);
        _credit(b.client, refund);
    }

    /// @dev See IMarket; reached only through the Market's forwarder.
    function extend(uint256 bidId, uint32 extraEpochs) external payable {
        _onlyViaMarket();
        IMarket.Bid storage b = _bidOf(bidId);
        _onlyClient(b);
        if (extraEpochs == 0) revert IMarket.ZeroDuration();
        uint32 slots = b.openSlots & ~b.reservedSlots;
        if (slots == 0) revert IMarket.NothingToExtend(bidId);
        uint256 required = uint256(b.pricePerEpoch) * SlotBits.count(slots) * extraEpochs;
        if (msg.value != required) revert IMarket.WrongEscrow(msg.value, required);

        uint32[_MAX_SLOTS] storage budgets = _slotEpochs[bidId];
        for (uint256 i; i < b.slotCount; ++i) {
            if (slots & SlotBits.bit(i) != 0) budgets[i] += extraEpochs;
        }
        b.escrow += uint128(msg.value);
        emit IMarket.BidExtended(bidId, extraEpochs, slots, msg.value);
    }

    /// @dev See IMarket; reached only through the Market's forwarder.
    function releaseReservation(uint256 bidId, uint8 slot) external {
        _onlyViaMarket();
        IMarket.Bid storage b = _bidOf(bidId);
        uint32 bit = SlotBits.bit(slot);
        if (b.reservedSlots & bit == 0) revert IMarket.NoReservation(bidId, slot);
        _releaseExpired(bidId, b, slot, bit);
    }

    /// @dev See IMarket; reached only through the Market's forwarder.
    function reportEquivocation(
        uint256 dealId,
        uint32 okFrom,
        uint32 okTo,
        IMarket.Signature calldata okSig,
        uint32 failFrom,
        uint32 failTo,
        IMarket.Signature calldata failSig
    ) external {
        _onlyViaMarket();
        _knownDeal(dealId);
        if (okFrom > okTo || failFrom > failTo || okFrom > failTo || failFrom > okTo) {
            revert IMarket.NotContradictory();
        }
        address okSigner = _signer(dealId, okFrom, okTo, true, okSig);
        address failSigner = _signer(dealId, failFrom, failTo, false, failSig);
        if (okSigner != failSigner) revert IMarket.NotSameSigner(okSigner, failSigner);
        _slashValidatorFor(dealId, okSigner, 0);
    }

    /// @dev See IMarket; reached only through the Market's forwarder.
    function reportFalseOk(uint256 dealId, uint32 okFrom, uint32 okTo, IMarket.Signature calldata okSig) external {
        _onlyViaMarket();
        IMarket.Deal memory d = _knownDeal(dealId);
        if (d.failedEpoch == 0 || okFrom > d.failedEpoch || okTo < d.failedEpoch) revert IMarket.NotContradictory();
        _slashValidatorFor(dealId, _signer(dealId, okFrom, okTo, true, okSig), 1);
    }

    /// @dev See IMarket; reached only through the Market's forwarder.
    function finish(uint256 dealId) external {
        _onlyViaMarket();
        IMarket.Deal memory d = _activeDeal(dealId);
        uint256 finishableFrom = uint256(d.endEpoch) + _proofWindowEpochs + 1;
        uint32 current = _currentEpoch();
        if (current < finishableFrom) revert IMarket.DealNotOver(current, finishableFrom);
        if (_challenges[dealId].open) revert IMarket.ChallengeOpen(dealId);
        IMarket.Bid storage b = _bids[d.bidId];

        uint128 refund = uint128(b.pricePerEpoch) * (d.endEpoch - d.startEpoch + 1 - d.paidEpochs);
        _deals[dealId].status = IMarket.DealStatus.Finished;
        _hosterFlags[d.bidId][d.hoster] &= ~_LIVE;
        _unlock(d.hoster, d.collateral);
        b.closedSlots |= SlotBits.bit(d.slot);
        b.escrow -= refund;
        emit IMarket.DealFinished(dealId, d.hoster, refund);
        _credit(b.client, refund);
    }

    /// @dev See IMarket; reached only through the Market's forwarder.
    function extendDeal(uint256 dealId, uint32 extraEpochs, bytes calldata hosterSig) external payable {
        _onlyViaMarket();
        IMarket.Deal memory d = _activeDeal(dealId);
        IMarket.Bid storage b = _bids[d.bidId];
        _onlyClient(b);
        if (extraEpochs == 0) revert IMarket.ZeroDuration();
        uint32 current = _currentEpoch();
        if (current > d.endEpoch) revert IMarket.EpochOutsideDeal(current, d.startEpoch, d.endEpoch);
        uint256 required = uint256(b.pricePerEpoch) * extraEpochs;
        if (msg.value != required) revert IMarket.WrongEscrow(msg.value, required);
        (address signer, ECDSA.RecoverError err,) =
            ECDSA.tryRecover(_extendDealDigest(dealId, extraEpochs, d.endEpoch), hosterSig);
        if (err != ECDSA.RecoverError.NoError || signer != d.hoster) revert IMarket.InvalidHosterSignature();

        uint128 added = _lock(d.hoster, required * _collateralBps / _BPS);
        uint32 end = d.endEpoch + extraEpochs;
        IMarket.Deal storage ds = _deals[dealId];
        ds.endEpoch = end;
        ds.collateral = d.collateral + added;
        b.escrow += uint128(msg.value);
        emit IMarket.DealExtended(dealId, extraEpochs, end, added, msg.value);
    }

    /// @dev See IMarket; reached only through the Market's forwarder.
    function requestProofForMissedQuorum(uint256 dealId) external {
        _onlyViaMarket();
        IMarket.Deal memory d = _activeDeal(dealId);
        IMarket.Challenge memory c = _challenges[dealId];
        uint256 last = d.paidThrough > c.lastProvenEpoch ? d.paidThrough : c.lastProvenEpoch;
        uint256 from = last + _missedQuorumEpochs + 1;
        uint32 current = _currentEpoch();
        // Only while some epoch of the deal is neither paid nor proven.
        if (last >= d.endEpoch) from = type(uint256).max;
        if (current < from) revert IMarket.QuorumNotMissed(current, from);
        _openChallenge(dealId, d, current, IMarket.ProofReason.MissedQuorum);
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @dev See IMarket; reached only through the Market's forwarder.
    function params() external view returns (IMarket.Params memory p) {
        p.genesis = _genesis;
        p.epochSeconds = _epochSeconds;
        p.quorum = _quorum;
        p.committeeSize = _committeeSize;
        p.periodEpochs = _periodEpochs;
        p.reserveEpochs = _reserveEpochs;
        p.proofWindowEpochs = _proofWindowEpochs;
        p.missedQuorumEpochs = _missedQuorumEpochs;
        p.auditBps = _auditBps;
        p.auditEveryBlocks = _auditEveryBlocks;
        p.maxFaults = _maxFaults;
        p.collateralBps = _collateralBps;
        p.validatorFeeBps = _validatorFeeBps;
        p.slashClientBps = _slashClientBps;
        p.minHosterStake = _minHosterStake;
        p.minValidatorStake = _minValidatorStake;
        p.proofBond = _proofBond;
        p.validatorSlash = _validatorSlash;
        p.exitDelay = _exitDelaySeconds;
        p.validatorBondingSeconds = _validatorBondingSeconds;
    }

    /// @dev See IMarket; reached only through the Market's forwarder.
    function getBid(uint256 bidId) external view returns (IMarket.Bid memory) {
        return _bids[bidId];
    }

    /// @dev See IMarket; reached only through the Market's forwarder.
    function getDeal(uint256 dealId) external view returns (IMarket.Deal memory) {
        return _deals[dealId];
    }

    /// @dev See IMarket; reached only through the Market's forwarder.
    function slotRoot(uint256 bidId, uint8 slot) external view returns (bytes32) {
        IMarket.Bid storage b = _bidOf(bidId);
        if (slot >= b.slotCount) revert IMarket.SlotNotOpen(bidId, slot);
        return _roots[bidId][b.rootPerSlot ? slot : 0];
    }

    /// @dev See IMarket; reached only through the Market's forwarder.
    function reservationOf(uint256 bidId, uint8 slot) external view returns (IMarket.Reservation memory) {
        return _reservations[bidId][slot];
    }

    /// @dev See IMarket; reached only through the Market's forwarder.
    function challengeOf(uint256 dealId)
        external
        view
        returns (bool open, bytes32 seed, uint32 requestedEpoch, uint32 dueEpoch, uint256 bond)
    {
        IMarket.Challenge memory c = _challenges[dealId];
        bond = c.open && c.reason == IMarket.ProofReason.FailQuorum ? _proofBond : 0;
        return (c.open, bytes32(uint256(c.seed)), c.epoch, c.dueEpoch, bond);
    }

    /// @dev See IMarket; reached only through the Market's forwarder.
    function challengeRecord(uint256 dealId) external view returns (IMarket.Challenge memory) {
        return _challenges[dealId];
    }

    /// @dev See IMarket; reached only through the Market's forwarder.
    function challengeSegments(bytes32 seed, uint64 size) external pure returns (uint256[5] memory) {
        return PossessionProof.indices(seed, PossessionProof.segmentCount(size));
    }

    /*//////////////////////////////////////////////////////////////
                            PRIVATE HELPERS
    //////////////////////////////////////////////////////////////*/

    /// @dev The StakeRegistry operations (join, updateNode, topUp, announceExit, exit) and the
    ///      functions above call this first.
    function _onlyViaMarket() internal view override {
        if (address(this) == _self) revert OnlyViaMarket();
    }

    function _signer(uint256 dealId, uint32 fromEpoch, uint32 toEpoch, bool ok, IMarket.Signature calldata sig)
        private
        view
        returns (address)
    {
        return _signerAt(dealId, fromEpoch, toEpoch, ok, sig, 0);
    }

    /// @dev Slash `validator` once per deal; `reason` 0 equivocation, 1 false ok.
    function _slashValidatorFor(uint256 dealId, address validator, uint8 reason) private {
        if (_nodeStake(Role.Validator, validator) == 0) revert IMarket.NotValidator(validator);
        if (_validatorSlashed[dealId][validator]) revert IMarket.AlreadySlashed(dealId, validator);
        _validatorSlashed[dealId][validator] = true;
        uint256 amount = _slashValidator(validator, _validatorSlash);
        emit IMarket.ValidatorSlashed(validator, dealId, reason, amount, msg.sender);
        _credit(msg.sender, amount);
    }

    /// @dev An attested range must start after paidThrough and failedEpoch (only the hoster may
}
