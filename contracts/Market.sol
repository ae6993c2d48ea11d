// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IMarket} from "./interfaces/IMarket.sol";
import {StakeRegistry} from "./StakeRegistry.sol";
import {SlotBits} from "./libraries/SlotBits.sol";

/// @title Scatter storage market
/// @notice Bids, deals, epoch settlement with EIP-712 validator attestations, faults,
///         refunds and the pull-payment ledger. This one contract holds all ETH:
///         `address(this).balance == Σ bid escrow + Σ node stakes + Σ balanceOf`.
/// @dev Escrow rule, per bid: escrow == Σ over slots not closed of
///      pricePerEpoch x (durationEpochs - slotOffset - paidEpochs of the slot's active deal, if any).
///      Only `withdraw` sends ETH; every other payment credits `balanceOf`.
contract Market is IMarket, StakeRegistry, EIP712, ReentrancyGuardTransient {
    /*//////////////////////////////////////////////////////////////
                               CONSTANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Version of the market's storage and attestation format.
    uint256 public constant VERSION = 1;
    /// @notice Most slots a bid may have (slots are bits of a uint32).
    uint256 public constant MAX_SLOTS = 32;
    /// @notice Most items a `settleMany` call may carry (bounds the loop's gas).
    uint256 public constant MAX_SETTLE_BATCH = 100;
    /// @notice EIP-712 type hash of an attestation.
    bytes32 public constant ATTESTATION_TYPEHASH =
        keccak256("Attestation(uint256 dealId,uint32 fromEpoch,uint32 toEpoch,bool ok,bytes32 evidence)");

    uint256 private constant _BPS = 10_000;

    /*//////////////////////////////////////////////////////////////
                               PARAMETERS
    //////////////////////////////////////////////////////////////*/

    uint64 private immutable _genesis;
    uint32 private immutable _epochSeconds;
    uint8 private immutable _quorum;
    uint32 private immutable _graceEpochs;
    uint16 private immutable _collateralBps;
    uint16 private immutable _validatorFeeBps;
    uint16 private immutable _slashClientBps;
    uint128 private immutable _minHosterStake;
    uint128 private immutable _minValidatorStake;
    uint64 private immutable _exitDelaySeconds;

    /*//////////////////////////////////////////////////////////////
                                STORAGE
    //////////////////////////////////////////////////////////////*/

    uint256 private _bidCount;
    uint256 private _dealCount;
    mapping(uint256 bidId => Bid) private _bids;
    mapping(uint256 dealId => Deal) private _deals;
    /// @dev Epochs of slot i's budget paid to faulted deals; written only when a slot reopens.
    mapping(uint256 bidId => uint32[MAX_SLOTS]) private _slotOffsets;
    mapping(uint256 bidId => mapping(address hoster => bool)) private _hosterInBid;
    /// @dev Pull-payment ledger: wei each account may withdraw.
    mapping(address account => uint256) private _balances;

    /*//////////////////////////////////////////////////////////////
                              CONSTRUCTOR
    //////////////////////////////////////////////////////////////*/

    /// @param p market parameters; `p.genesis` is ignored (epoch 0 starts at deployment)
    constructor(Params memory p) EIP712("Scatter Market", "1") {
        if (
            p.epochSeconds == 0 || p.quorum == 0 || p.graceEpochs == 0 || p.collateralBps > _BPS
                || p.validatorFeeBps > _BPS || p.slashClientBps > _BPS
        ) revert InvalidParams();
        _genesis = uint64(block.timestamp);
        _epochSeconds = p.epochSeconds;
        _quorum = p.quorum;
        _graceEpochs = p.graceEpochs;
        _collateralBps = p.collateralBps;
        _validatorFeeBps = p.validatorFeeBps;
        _slashClientBps = p.slashClientBps;
        _minHosterStake = p.minHosterStake;
        _minValidatorStake = p.minValidatorStake;
        _exitDelaySeconds = p.exitDelay;
    }

    /*//////////////////////////////////////////////////////////////
                                 BIDS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMarket
    function bid(
        bytes[] calldata cids,
        uint64 size,
        uint8 slotCount,
        uint96 pricePerEpoch,
        uint32 durationEpochs,
        string[] calldata origins
    ) external payable returns (uint256 bidId) {
        _checkBid(cids, size, slotCount, pricePerEpoch, durationEpochs);
        bidId = _storeBid(size, slotCount, pricePerEpoch, durationEpochs);
        emit BidPosted(bidId, msg.sender, size, slotCount, pricePerEpoch, durationEpochs, cids, origins);
    }

    /// @inheritdoc IMarket
    function cancel(uint256 bidId, uint8 slot) external {
        Bid storage b = _bidOf(bidId);
        _onlyClient(b);
        uint32 bit = SlotBits.bit(slot);
        if (b.openSlots & bit == 0) revert SlotNotOpen(bidId, slot);

        uint128 refund = uint128(b.pricePerEpoch) * (b.durationEpochs - _slotOffsets[bidId][slot]);
        b.openSlots &= ~bit;
        b.closedSlots |= bit;
        b.escrow -= refund;
        emit SlotCancelled(bidId, slot, refund);
        _credit(b.client, refund);
    }

    /// @inheritdoc IMarket
    function extend(uint256 bidId, uint32 extraEpochs) external payable {
        Bid storage b = _bidOf(bidId);
        _onlyClient(b);
        if (extraEpochs == 0) revert ZeroDuration();
        uint32 live = SlotBits.mask(b.slotCount) & ~b.closedSlots;
        if (live == 0) revert BidClosed(bidId);
        uint256 required = uint256(b.pricePerEpoch) * SlotBits.count(live) * extraEpochs;
        if (msg.value != required) revert WrongEscrow(msg.value, required);

        uint32 duration = b.durationEpochs + extraEpochs;
        b.durationEpochs = duration;
        b.escrow += uint128(msg.value);
        emit BidExtended(bidId, extraEpochs, duration, msg.value);
    }

    /*//////////////////////////////////////////////////////////////
                                 DEALS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMarket
    function accept(uint256 bidId, uint8 slot) external returns (uint256 dealId) {
        Bid storage b = _bidOf(bidId);
        uint32 open = b.openSlots;
        if (open == 0) revert NoOpenSlots(bidId);
        uint32 bit = SlotBits.bit(slot);
        if (open & bit == 0) revert SlotNotOpen(bidId, slot);
        if (msg.sender == b.client) revert ClientCannotHost(bidId);
        if (_hosterInBid[bidId][msg.sender]) revert HosterAlreadyInBid(bidId, msg.sender);

        uint32 offset = _slotOffsets[bidId][slot];
        uint256 budget = b.durationEpochs - offset;
        uint128 collateral = _lock(msg.sender, uint256(b.pricePerEpoch) * budget * _collateralBps / _BPS);
        _hosterInBid[bidId][msg.sender] = true;
        b.openSlots = open & ~bit;

        uint32 start = currentEpoch() + 1;
        dealId = ++_dealCount;
        _deals[dealId] = Deal({
            hoster: msg.sender,
            // forge-lint: disable-next-line(unsafe-typecast) -- ids are sequential, far below 2^64
            bidId: uint64(bidId),
            slot: slot,
            status: DealStatus.Active,
            startEpoch: start,
            paidThrough: start - 1,
            paidEpochs: 0,
            slotOffset: offset,
            collateral: collateral
        });
        emit SlotAccepted(bidId, dealId, msg.sender, slot, start, _clampEpoch(start + budget - 1), collateral);
    }

    /// @inheritdoc IMarket
    function settle(uint256 dealId, uint32 fromEpoch, uint32 toEpoch, Signature[] calldata sigs) external {
        _settle(dealId, fromEpoch, toEpoch, sigs, false);
    }

    /// @inheritdoc IMarket
    function settleMany(Settlement[] calldata settlements) external returns (uint256 settled) {
        uint256 count = settlements.length;
        if (count > MAX_SETTLE_BATCH) revert TooManySettlements(count, MAX_SETTLE_BATCH);
        for (uint256 i; i < count; ++i) {
            Settlement calldata s = settlements[i];
            if (_settle(s.dealId, s.fromEpoch, s.toEpoch, s.sigs, true)) {
                ++settled;
            } else {
                emit SettlementSkipped(s.dealId, s.fromEpoch, s.toEpoch);
            }
        }
    }

    /// @inheritdoc IMarket
    function faultFailed(uint256 dealId, uint32 fromEpoch, uint32 toEpoch, Signature[] calldata sigs) external {
        Deal memory d = _activeDeal(dealId);
        Bid storage b = _bids[d.bidId];
        _checkRange(d, b.durationEpochs, fromEpoch, toEpoch, false);
        address[] memory signers = _verifyQuorum(dealId, fromEpoch, toEpoch, false, sigs, d.hoster, b.client);
        _fault(dealId, d, b, false, signers);
    }

    /// @inheritdoc IMarket
    function faultMissed(uint256 dealId) external {
        Deal memory d = _activeDeal(dealId);
        Bid storage b = _bids[d.bidId];
        uint32 current = currentEpoch();
        // Faultable once the first unpaid epoch (paidThrough + 1) is more than grace epochs old,
        // and only while some epoch of the deal's budget is unpaid (a fully paid deal: never).
        uint256 faultableFrom = d.paidThrough < _endEpoch(d, b.durationEpochs)
            ? uint256(d.paidThrough) + _graceEpochs + 1
            : type(uint256).max;
        if (current < faultableFrom) revert GraceNotOver(current, faultableFrom);
        address[] memory reporters = new address[](1);
        reporters[0] = msg.sender;
        _fault(dealId, d, b, true, reporters);
    }

    /// @inheritdoc IMarket
    function finish(uint256 dealId) external {
        Deal memory d = _activeDeal(dealId);
        Bid storage b = _bids[d.bidId];
        uint32 duration = b.durationEpochs;
        uint256 finishableFrom = _endEpoch(d, duration) + _graceEpochs + 1;
        uint32 current = currentEpoch();
        if (current < finishableFrom) revert DealNotOver(current, finishableFrom);

        uint128 refund = uint128(b.pricePerEpoch) * (duration - d.slotOffset - d.paidEpochs);
        _deals[dealId].status = DealStatus.Finished;
        _unlock(d.hoster, d.collateral);
        b.closedSlots |= SlotBits.bit(d.slot);
        b.escrow -= refund;
        emit DealFinished(dealId, d.hoster, refund);
        _credit(b.client, refund);
    }

    /*//////////////////////////////////////////////////////////////
                               PAYMENTS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMarket
    function withdraw(address payable to) external nonReentrant {
        uint256 amount = _balances[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        if (to == address(0)) revert TransferFailed(to, amount);
        _balances[msg.sender] = 0;
        emit Withdrawn(msg.sender, to, amount);
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMarket
    function params() external view returns (Params memory) {
        return Params({
            genesis: _genesis,
            epochSeconds: _epochSeconds,
            quorum: _quorum,
            graceEpochs: _graceEpochs,
            collateralBps: _collateralBps,
            validatorFeeBps: _validatorFeeBps,
            slashClientBps: _slashClientBps,
            minHosterStake: _minHosterStake,
            minValidatorStake: _minValidatorStake,
            exitDelay: _exitDelaySeconds
        });
    }

    /// @inheritdoc IMarket
    function currentEpoch() public view returns (uint32) {
        return uint32((block.timestamp - _genesis) / _epochSeconds);
    }

    /// @inheritdoc IMarket
    function getBid(uint256 bidId) external view returns (Bid memory) {
        return _bids[bidId];
    }

    /// @inheritdoc IMarket
    function getDeal(uint256 dealId) external view returns (Deal memory) {
        return _deals[dealId];
    }

    /// @inheritdoc IMarket
    function dealEndEpoch(uint256 dealId) external view returns (uint32) {
        Deal memory d = _deals[dealId];
        if (d.status == DealStatus.None) revert UnknownDeal(dealId);
        return _clampEpoch(_endEpoch(d, _bids[d.bidId].durationEpochs));
    }

    /// @notice Epochs of slot `slot`'s budget already paid to earlier (faulted) deals of the slot.
    ///         A deal accepted on the slot now has a budget of durationEpochs - slotOffset epochs.
    function slotOffset(uint256 bidId, uint8 slot) external view returns (uint32) {
        return slot < MAX_SLOTS ? _slotOffsets[bidId][slot] : 0;
    }

    /// @inheritdoc IMarket
    function bidCount() external view returns (uint256) {
        return _bidCount;
    }

    /// @inheritdoc IMarket
    function dealCount() external view returns (uint256) {
        return _dealCount;
    }

    /// @inheritdoc IMarket
    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    /// @inheritdoc IMarket
    function hosterInBid(uint256 bidId, address hoster) external view returns (bool) {
        return _hosterInBid[bidId][hoster];
    }

    /// @inheritdoc IMarket
    function attestationDigest(uint256 dealId, uint32 fromEpoch, uint32 toEpoch, bool ok, bytes32 evidence)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(ATTESTATION_TYPEHASH, dealId, fromEpoch, toEpoch, ok, evidence)));
    }

    /*//////////////////////////////////////////////////////////////
                          STAKE REGISTRY HOOKS
    //////////////////////////////////////////////////////////////*/

    function _minStake(Role role) internal view override returns (uint256) {
        return role == Role.Hoster ? _minHosterStake : _minValidatorStake;
    }

    function _exitDelay() internal view override returns (uint64) {
        return _exitDelaySeconds;
    }

    function _credit(address account, uint256 amount) internal override {
        if (amount == 0) return;
        _balances[account] += amount;
        emit Credited(account, amount);
    }

    /*//////////////////////////////////////////////////////////////
                            PRIVATE HELPERS
    //////////////////////////////////////////////////////////////*/

    function _checkBid(bytes[] calldata cids, uint64 size, uint8 slotCount, uint96 pricePerEpoch, uint32 durationEpochs)
        private
        view
    {
        if (slotCount == 0 || slotCount > MAX_SLOTS) revert InvalidSlotCount(slotCount, MAX_SLOTS);
        if (cids.length != 1 && cids.length != slotCount) revert InvalidCidCount(cids.length, slotCount);
        for (uint256 i; i < cids.length; ++i) {
            if (cids[i].length == 0) revert EmptyCid(i);
        }
        if (size == 0) revert ZeroSize();
        if (pricePerEpoch == 0) revert ZeroPrice();
        if (durationEpochs == 0) revert ZeroDuration();
        uint256 required = uint256(pricePerEpoch) * slotCount * durationEpochs;
        if (msg.value != required) revert WrongEscrow(msg.value, required);
    }

    function _storeBid(uint64 size, uint8 slotCount, uint96 pricePerEpoch, uint32 durationEpochs)
        private
        returns (uint256 bidId)
    {
        bidId = ++_bidCount;
        _bids[bidId] = Bid({
            client: msg.sender,
            size: size,
            slotCount: slotCount,
            pricePerEpoch: pricePerEpoch,
            durationEpochs: durationEpochs,
            openSlots: SlotBits.mask(slotCount),
            closedSlots: 0,
            escrow: uint128(msg.value), // msg.value < 2^128 (ETH supply)
            postedBlock: uint64(block.number)
        });
    }

    /// @dev Slash a deal's collateral, pay client and reporters, reopen its slot.
    function _fault(uint256 dealId, Deal memory d, Bid storage b, bool missed, address[] memory reporters) private {
        uint128 slashed = d.collateral;
        uint256 share = (slashed - uint256(slashed) * _slashClientBps / _BPS) / reporters.length;
        uint256 toReporters = share * reporters.length;
        uint256 toClient = slashed - toReporters; // includes the split's dust

        _deals[dealId].status = DealStatus.Faulted;
        _slash(d.hoster, slashed);
        emit DealFaulted(dealId, d.hoster, missed, slashed, toClient, toReporters);

        // The slot keeps its unpaid budget and reopens for another hoster. A fault needs an
        // unpaid epoch within the deal (paidThrough < end), so at least one epoch remains.
        uint32 offset = d.slotOffset + d.paidEpochs;
        if (offset != d.slotOffset) _slotOffsets[d.bidId][d.slot] = offset;
        b.openSlots |= SlotBits.bit(d.slot);
        emit SlotReopened(d.bidId, d.slot, b.durationEpochs - offset);

        _credit(b.client, toClient);
        for (uint256 i; i < reporters.length; ++i) {
            _credit(reporters[i], share);
        }
    }

    /// @dev Settle [fromEpoch, toEpoch] of a deal. With `skipOvertaken`, return false without a
    ///      change instead of reverting when another transaction got there first: the deal is no
    ///      longer Active, or a well-formed range starts at an epoch already paid.
    function _settle(uint256 dealId, uint32 fromEpoch, uint32 toEpoch, Signature[] calldata sigs, bool skipOvertaken)
        private
        returns (bool)
    {
        Deal memory d = _knownDeal(dealId);
        if (skipOvertaken && _overtaken(d, fromEpoch, toEpoch)) return false;
        if (d.status != DealStatus.Active) revert DealNotActive(dealId);
        Bid storage b = _bids[d.bidId];
        _checkRange(d, b.durationEpochs, fromEpoch, toEpoch, true);
        address[] memory signers = _verifyQuorum(dealId, fromEpoch, toEpoch, true, sigs, d.hoster, b.client);
        _pay(dealId, d, b, fromEpoch, toEpoch, signers);
        return true;
    }

    /// @dev Check a quorum of signatures over Attestation(dealId, from, to, ok, evidence_i):
    ///      valid, signers strictly ascending, eligible validators, neither hoster nor client.
    function _verifyQuorum(
        uint256 dealId,
        uint32 fromEpoch,
        uint32 toEpoch,
        bool ok,
        Signature[] calldata sigs,
        address hoster,
        address client
    ) private view returns (address[] memory signers) {
        uint256 count = sigs.length;
        if (count < _quorum) revert NoQuorum(count, _quorum);
        signers = new address[](count);
        address last;
        for (uint256 i; i < count; ++i) {
            Signature calldata sig = sigs[i];
            bytes32 digest = attestationDigest(dealId, fromEpoch, toEpoch, ok, sig.evidence);
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, sig.v, sig.r, sig.s);
            if (err != ECDSA.RecoverError.NoError) revert InvalidSignature(i);
            if (signer <= last) revert SignersNotSorted(i);
            if (signer == hoster || signer == client) revert ConflictOfInterest(signer);
            if (!isEligibleValidator(signer)) revert IneligibleValidator(signer);
            signers[i] = signer;
            last = signer;
        }
    }

    /// @dev An attested range must be unpaid (fromEpoch > paidThrough; a settlement that skips
    ///      unpaid epochs only from the hoster), within the deal
    ///      (toEpoch <= end) and over: toEpoch < current epoch to settle; a failure of the
    ///      current epoch may already be reported (toEpoch <= current epoch).
    function _checkRange(Deal memory d, uint32 durationEpochs, uint32 fromEpoch, uint32 toEpoch, bool settling)
        private
        view
    {
        if (fromEpoch > toEpoch) revert InvalidEpochRange(fromEpoch, toEpoch);
        if (fromEpoch <= d.paidThrough) revert EpochAlreadyPaid(fromEpoch, d.paidThrough);
        // Skipped epochs can never be paid: only the hoster, who loses them, may skip.
        uint256 nextUnpaid = uint256(d.paidThrough) + 1;
        if (settling && fromEpoch != nextUnpaid && msg.sender != d.hoster) {
            revert OnlyHosterMaySkip(fromEpoch, nextUnpaid);
        }
        uint32 current = currentEpoch();
        if (settling ? toEpoch >= current : toEpoch > current) revert EpochNotOver(toEpoch, current);
        uint256 end = _endEpoch(d, durationEpochs);
        if (toEpoch > end) revert EpochAfterDealEnd(toEpoch, end);
    }

    /// @dev Pay epochs [fromEpoch, toEpoch] from the bid's escrow: the validator fee split
    ///      equally among the signers, the rest (with the split's dust) to the hoster.
    function _pay(
        uint256 dealId,
        Deal memory d,
        Bid storage b,
        uint32 fromEpoch,
        uint32 toEpoch,
        address[] memory signers
    ) private {
        uint32 epochs = toEpoch - fromEpoch + 1;
        uint128 amount = uint128(b.pricePerEpoch) * epochs;
        uint256 share = uint256(amount) * _validatorFeeBps / _BPS / signers.length;
        uint256 fee = share * signers.length;

        Deal storage ds = _deals[dealId];
        ds.paidThrough = toEpoch;
        ds.paidEpochs = d.paidEpochs + epochs;
        b.escrow -= amount; // amount <= the deal's unpaid budget, which the escrow holds
        emit DealSettled(dealId, d.hoster, fromEpoch, toEpoch, amount - fee, fee);

        _credit(d.hoster, amount - fee);
        for (uint256 i; i < signers.length; ++i) {
            _credit(signers[i], share);
        }
    }

    /// @dev A settlement another transaction overtook: the deal ended (faulted or finished), or
    ///      its range starts at or before paidThrough. An inverted range is the caller's error.
    function _overtaken(Deal memory d, uint32 fromEpoch, uint32 toEpoch) private pure returns (bool) {
        return d.status != DealStatus.Active || (fromEpoch <= toEpoch && fromEpoch <= d.paidThrough);
    }

    /// @dev Last payable epoch of a deal: its budget (durationEpochs - slotOffset) from startEpoch.
    function _endEpoch(Deal memory d, uint32 durationEpochs) private pure returns (uint256) {
        return uint256(d.startEpoch) + durationEpochs - d.slotOffset - 1;
    }

    function _clampEpoch(uint256 epoch) private pure returns (uint32) {
        // forge-lint: disable-next-line(unsafe-typecast) -- bounded by the comparison
        return epoch > type(uint32).max ? type(uint32).max : uint32(epoch);
    }

    function _bidOf(uint256 bidId) private view returns (Bid storage b) {
        b = _bids[bidId];
        if (b.client == address(0)) revert UnknownBid(bidId);
    }

    function _knownDeal(uint256 dealId) private view returns (Deal memory d) {
        d = _deals[dealId];
        if (d.status == DealStatus.None) revert UnknownDeal(dealId);
    }

    function _activeDeal(uint256 dealId) private view returns (Deal memory d) {
        d = _deals[dealId];
        if (d.status == DealStatus.None) revert UnknownDeal(dealId);
        if (d.status != DealStatus.Active) revert DealNotActive(dealId);
    }

    function _onlyClient(Bid storage b) private view {
        if (msg.sender != b.client) revert NotClient(msg.sender, b.client);
    }
}
