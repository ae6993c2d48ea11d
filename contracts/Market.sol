// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IMarket} from "./interfaces/IMarket.sol";
import {IStakeRegistry} from "./interfaces/IStakeRegistry.sol";
import {MarketBase} from "./MarketBase.sol";
import {MarketExtension} from "./MarketExtension.sol";
import {StakeRegistry} from "./StakeRegistry.sol";
import {SlotBits} from "./libraries/SlotBits.sol";
import {PossessionProof} from "./libraries/PossessionProof.sol";

/// @title Scatter storage market, version 2
/// @notice Bids with possession roots, reservations, fills proven by Merkle possession proofs,
///         committee-attested settlement, optimistic proof challenges, objective slashing,
///         refunds and the pull-payment ledger (docs/trust.md). This one contract holds all ETH:
///         `address(this).balance == Σ bid escrow + Σ node stakes + bondsHeld + Σ balanceOf`
///         (plus ETH forced in, which is never stuck accounting-wise: it is simply surplus).
/// @dev Escrow rule, per bid: escrow == Σ over slots not closed of pricePerEpoch x
///      (open slot: slotEpochs; live slot: the deal's budget - its paidEpochs).
///      Only `withdraw` sends ETH; every other payment credits `balanceOf`.
///      Size (EIP-170): the rarely-called operations (cancel, extend, releaseReservation,
///      requestProofForMissedQuorum, reportEquivocation, reportFalseOk, finish, extendDeal, the
///      StakeRegistry operations) and the large views are implemented in `MarketExtension`, which
///      the constructor deploys; here they are stubs that DELEGATECALL it. State, parameters and
///      shared helpers live in `MarketBase`, inherited by both (docs/contracts.md).
contract Market is IMarket, MarketBase {
    /*//////////////////////////////////////////////////////////////
                               CONSTANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Version of the market's storage, proof and attestation format.
    uint256 public constant VERSION = 3;
    /// @notice Most slots a bid may have (slots are bits of a uint32).
    uint256 public constant MAX_SLOTS = _MAX_SLOTS;
    /// @notice Most items a `settleMany` call may carry.
    uint256 public constant MAX_SETTLE_BATCH = 100;
    /// @notice Most items a `proveMany` call may carry.
    uint256 public constant MAX_PROOF_BATCH = 100;
    /// @notice How many recent blocks `fill` may take its challenge's blockhash from.
    uint256 public constant FILL_SEED_WINDOW = 128;
    /// @notice Largest shard: 2^48 segments of 128 bytes.
    uint256 public constant MAX_SIZE = (uint256(1) << 48) * PossessionProof.SEGMENT;
    /// @notice EIP-712 type hash of an attestation.
    bytes32 public constant ATTESTATION_TYPEHASH = _ATTESTATION_TYPEHASH;
    /// @notice EIP-712 type hash of a hoster's consent to extend its deal.
    bytes32 public constant EXTEND_DEAL_TYPEHASH = _EXTEND_DEAL_TYPEHASH;

    /// @notice OZ ShortStrings' error, which the forwarded `eip712Domain` may bubble up; declared
    ///         here so that the ABI keeps it now that this contract's own code cannot raise it.
    error InvalidShortString();

    /// @dev The MarketExtension this market forwards its rarely-called operations to.
    address private immutable _extension;

    /// @param p market parameters; `p.genesis` is ignored (epoch 0 starts at deployment)
    constructor(Params memory p) MarketBase(p) {
        if (
            p.epochSeconds == 0 || p.quorum == 0 || p.committeeSize == 0 || p.periodEpochs == 0
                || p.proofWindowEpochs == 0 || p.missedQuorumEpochs == 0 || p.auditEveryBlocks == 0 || p.maxFaults == 0
                || p.auditBps > _BPS || p.collateralBps > _BPS || p.validatorFeeBps > _BPS || p.slashClientBps > _BPS
                || p.minValidatorStake == 0
        ) revert InvalidParams();
        // Same Params, same block: the extension's immutables (and genesis) equal ours.
        _extension = address(new MarketExtension(p));
    }

    /*//////////////////////////////////////////////////////////////
                  FORWARDERS (implemented in MarketExtension)
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMarket
    function cancel(uint256 bidId, uint8 slot) external {
        (bidId, slot);
        _forward();
    }

    /// @inheritdoc IMarket
    function extend(uint256 bidId, uint32 extraEpochs) external payable {
        (bidId, extraEpochs);
        _forward();
    }

    /// @inheritdoc IMarket
    function releaseReservation(uint256 bidId, uint8 slot) external {
        (bidId, slot);
        _forward();
    }

    /// @inheritdoc IMarket
    function reportEquivocation(
        uint256 dealId,
        uint32 okFrom,
        uint32 okTo,
        Signature calldata okSig,
        uint32 failFrom,
        uint32 failTo,
        Signature calldata failSig
    ) external {
        (dealId, okFrom, okTo, okSig, failFrom, failTo, failSig);
        _forward();
    }

    /// @inheritdoc IMarket
    function reportFalseOk(uint256 dealId, uint32 okFrom, uint32 okTo, Signature calldata okSig) external {
        (dealId, okFrom, okTo, okSig);
        _forward();
    }

    /// @inheritdoc IMarket
    function finish(uint256 dealId) external {
        dealId;
        _forward();
    }

    /// @inheritdoc IMarket
    function extendDeal(uint256 dealId, uint32 extraEpochs, bytes calldata hosterSig) external payable {
        (dealId, extraEpochs, hosterSig);
        _forward();
    }

    /// @notice Register the caller in `role` (see IStakeRegistry.join).
    function join(Role role, string calldata endpoint, uint64 capacity)
        external
        payable
        override(IStakeRegistry, StakeRegistry)
    {
        (role, endpoint, capacity);
        _forward();
    }

    /// @notice Update the caller's endpoint and capacity (see IStakeRegistry.updateNode).
    function updateNode(Role role, string calldata endpoint, uint64 capacity)
        external
        override(IStakeRegistry, StakeRegistry)
    {
        (role, endpoint, capacity);
        _forward();
    }

    /// @notice Add msg.value to the caller's stake (see IStakeRegistry.topUp).
    function topUp(Role role) external payable override(IStakeRegistry, StakeRegistry) {
        role;
        _forward();
    }

    /// @notice Start the caller's exit delay (see IStakeRegistry.announceExit).
    function announceExit(Role role) external override(IStakeRegistry, StakeRegistry) {
        role;
        _forward();
    }

    /// @notice Credit the caller's stake after the exit delay (see IStakeRegistry.exit).
    function exit(Role role) external override(IStakeRegistry, StakeRegistry) {
        role;
        _forward();
    }

    /// @dev Standard proxy forwarding: copy the whole calldata (selector included), DELEGATECALL
    ///      the extension with all gas, then return or revert with exactly its returndata. The
    ///      extension runs on this contract's storage with the same msg.sender and msg.value.
    ///      Never returns to Solidity code, so it may overwrite memory from offset 0.
    function _forward() private {
        address extension = _extension;
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), extension, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    /// @notice See IStakeRegistry.node.
    function node(Role role, address account)
        external
        view
        override(IStakeRegistry, StakeRegistry)
        returns (Node memory)
    {
        (role, account);
        _forwardView();
        revert(); // unreachable: the forwarder returns or reverts
    }

    /// @notice See IStakeRegistry.nodeCount.
    function nodeCount(Role role) external view override(IStakeRegistry, StakeRegistry) returns (uint256) {
        role;
        _forwardView();
        revert(); // unreachable: the forwarder returns or reverts
    }

    /// @notice See IStakeRegistry.nodesPage.
    function nodesPage(Role role, uint256 offset, uint256 limit)
        external
        view
        override(IStakeRegistry, StakeRegistry)
        returns (address[] memory page)
    {
        (role, offset, limit, page);
        _forwardView();
    }

    /// @dev `_forward` for view functions. Solidity forbids DELEGATECALL in a view function, so
    ///      the (non-view) forwarder is called through a function pointer cast to view. Sound:
    ///      the extension's view functions only read, and under STATICCALL they cannot write.
    function _forwardView() private view {
        function() internal forward = _forward;
        function() internal view asView;
        assembly {
            asView := forward
        }
        asView();
    }

    /// @inheritdoc EIP712
    /// @dev Forwarded too: the extension's copy answers with address(this) = this market.
    function eip712Domain()
        public
        view
        override
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        )
    {
        (fields, name, version, chainId, verifyingContract, salt, extensions);
        _forwardView();
    }

    /// @dev `_forwardView` for the pure `challengeSegments` (the extension's copy reads no state).
    function _forwardPure() private pure {
        function() internal view forward = _forwardView;
        function() internal pure asPure;
        assembly {
            asPure := forward
        }
        asPure();
    }

    /// @dev Unreachable: the operations that call it are forwarded (overridden above); only
    ///      MarketExtension's code runs them.
    function _onlyViaMarket() internal view override {}

    /*//////////////////////////////////////////////////////////////
                                 BIDS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMarket
    function bid(
        bytes[] calldata cids,
        bytes32[] calldata roots,
        uint64 size,
        uint8 slotCount,
        uint96 pricePerEpoch,
        uint32 durationEpochs,
        string[] calldata origins
    ) external payable returns (uint256 bidId) {
        _checkBid(cids, roots, size, slotCount, pricePerEpoch, durationEpochs);
        bidId = _storeBid(roots, size, slotCount, pricePerEpoch, durationEpochs);
        _emitBidPosted(bidId, cids, roots, origins);
    }

    /*//////////////////////////////////////////////////////////////
                          RESERVATIONS AND FILLS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMarket
    function reserve(uint256 bidId, uint8 slot, uint128 maxCollateral) external {
        Bid storage b = _bidOf(bidId);
        uint32 bit = _claimable(bidId, b, slot);
        if (b.reservedSlots & bit != 0) revert SlotIsReserved(bidId, slot, msg.sender, 0); // own reservation
        uint256 collateral = _collateral(b.pricePerEpoch, _slotEpochs[bidId][slot], maxCollateral);
        if (!_isActive(Role.Hoster, msg.sender)) revert NotActive(msg.sender, Role.Hoster);
        uint256 free = freeStake(Role.Hoster, msg.sender);
        if (free < collateral) revert InsufficientStake(free, collateral);

        // forge-lint: disable-next-line(unsafe-typecast) -- a reservation lasts days, not 2^64 s
        uint64 expiresAt = uint64(block.timestamp + uint256(_reserveEpochs) * _epochSeconds);
        _reservations[bidId][slot] = Reservation({hoster: msg.sender, expiresAt: expiresAt});
        b.reservedSlots |= bit;
        _hosterFlags[bidId][msg.sender] |= _LIVE;
        emit SlotReserved(bidId, msg.sender, slot, expiresAt);
    }

    /// @inheritdoc IMarket
    function fill(uint256 bidId, uint8 slot, uint256 seedBlock, uint128 maxCollateral, bytes calldata proof)
        external
        returns (uint256 dealId)
    {
        Bid storage b = _bidOf(bidId);
        uint32 bit = _claimable(bidId, b, slot);
        _checkFillProof(bidId, b, slot, seedBlock, proof);
        dealId = _openDeal(bidId, b, slot, bit, maxCollateral);
    }

    /*//////////////////////////////////////////////////////////////
                               SETTLEMENT
    //////////////////////////////////////////////////////////////*/

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

    /*//////////////////////////////////////////////////////////////
                               CHALLENGES
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMarket
    function requestProof(uint256 dealId, uint32 epoch, Signature[] calldata failSigs) external payable {
        Deal memory d = _activeDeal(dealId);
        if (msg.value != _proofBond) revert WrongEscrow(msg.value, _proofBond);
        if (epoch < d.startEpoch || epoch > d.endEpoch) revert EpochOutsideDeal(epoch, d.startEpoch, d.endEpoch);
        if (epoch <= d.paidThrough) revert EpochAlreadyPaid(epoch, d.paidThrough);
        if (epoch <= d.failedEpoch) revert EpochFailed(epoch, d.failedEpoch);
        uint32 current = currentEpoch();
        if (epoch > current) revert EpochNotOver(epoch, current);
        _verifyQuorum(dealId, d, epoch, epoch, false, failSigs);

        if (msg.value != 0) {
            _bondPosters[dealId] = msg.sender;
            _bondsHeld += msg.value;
        }
        _openChallenge(dealId, d, epoch, ProofReason.FailQuorum);
    }

    /// @inheritdoc IMarket
    function requestProofForMissedQuorum(uint256 dealId) external {
        dealId;
        _forward();
    }

    /// @inheritdoc IMarket
    function audit(uint256 dealId, uint256 seedBlock) external {
        Deal memory d = _activeDeal(dealId);
        if (seedBlock % _auditEveryBlocks != 0) revert NotAuditBlock(seedBlock);
        if (seedBlock >= block.number || block.number - seedBlock > _BLOCKHASH_WINDOW) {
            revert InvalidSeedBlock(seedBlock, block.number);
        }
        if (seedBlock <= _lastAuditBlock[dealId]) revert AuditAlreadyDone(dealId, seedBlock);
        uint32 current = currentEpoch();
        if (current < d.startEpoch || current > d.endEpoch) revert EpochOutsideDeal(current, d.startEpoch, d.endEpoch);
        if (uint256(keccak256(abi.encode(blockhash(seedBlock), dealId))) % _BPS >= _auditBps) {
            revert NotDrawnForAudit(dealId, seedBlock);
        }
        _lastAuditBlock[dealId] = seedBlock;
        _openChallenge(dealId, d, current, ProofReason.Audit);
    }

    /// @inheritdoc IMarket
    function proveMany(ProofItem[] calldata items) external {
        uint256 count = items.length;
        if (count > MAX_PROOF_BATCH) revert TooManyProofs(count, MAX_PROOF_BATCH);
        uint32 current = currentEpoch();
        for (uint256 i; i < count; ++i) {
            ProofItem calldata item = items[i];
            if (!_prove(item.dealId, item.seed, item.proof, current)) emit ProofSkipped(item.dealId);
        }
    }

    /// @inheritdoc IMarket
    function reportMissedProof(uint256 dealId) external {
        Deal memory d = _knownDeal(dealId);
        Challenge memory c = _challenges[dealId];
        if (!c.open) revert NoOpenChallenge(dealId);
        uint32 current = currentEpoch();
        if (current <= c.dueEpoch) revert ChallengeNotOverdue(current, c.dueEpoch);
        Bid storage b = _bids[d.bidId];

        uint8 faults = d.faults + 1;
        uint128 slashed = faults >= _maxFaults ? d.collateral : d.collateral / (_maxFaults - d.faults);
        uint256 toClient = uint256(slashed) * _slashClientBps / _BPS;
        uint256 toReporter = slashed - toClient;

        Deal storage ds = _deals[dealId];
        ds.faults = faults;
        ds.failedEpoch = c.epoch;
        ds.collateral = d.collateral - slashed;
        _challenges[dealId].open = false;
        _slash(d.hoster, slashed);
        emit ProofMissed(dealId, d.hoster, faults, slashed, toClient, toReporter);
        address poster = c.reason == ProofReason.FailQuorum ? _takeBond(dealId) : address(0);

        if (faults >= _maxFaults) {
            _endFaulted(dealId, d, b, faults);
        } else {
            _openChallenge(dealId, d, current, ProofReason.Fault);
        }
        _credit(b.client, toClient);
        _credit(msg.sender, toReporter);
        if (poster != address(0)) _credit(poster, _proofBond);
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
    function params() external view returns (Params memory p) {
        p;
        _forwardView();
    }

    /// @inheritdoc IMarket
    function currentEpoch() public view returns (uint32) {
        return _currentEpoch();
    }

    /// @inheritdoc IMarket
    function periodOf(uint32 epoch) public view returns (uint32) {
        return epoch / _periodEpochs;
    }

    /// @inheritdoc IMarket
    function getBid(uint256 bidId) external view returns (Bid memory) {
        bidId;
        _forwardView();
        revert(); // unreachable: the forwarder returns or reverts
    }

    /// @inheritdoc IMarket
    function getDeal(uint256 dealId) external view returns (Deal memory) {
        dealId;
        _forwardView();
        revert(); // unreachable: the forwarder returns or reverts
    }

    /// @inheritdoc IMarket
    function slotRoot(uint256 bidId, uint8 slot) external view returns (bytes32) {
        (bidId, slot);
        _forwardView();
        revert(); // unreachable: the forwarder returns or reverts
    }

    /// @inheritdoc IMarket
    function slotEpochs(uint256 bidId, uint8 slot) external view returns (uint32) {
        return slot < MAX_SLOTS ? _slotEpochs[bidId][slot] : 0;
    }

    /// @inheritdoc IMarket
    function reservationOf(uint256 bidId, uint8 slot) external view returns (Reservation memory) {
        (bidId, slot);
        _forwardView();
        revert(); // unreachable: the forwarder returns or reverts
    }

    /// @inheritdoc IMarket
    function challengeOf(uint256 dealId)
        external
        view
        returns (bool open, bytes32 seed, uint32 requestedEpoch, uint32 dueEpoch, uint256 bond)
    {
        (dealId, open, seed, requestedEpoch, dueEpoch, bond);
        _forwardView();
    }

    /// @notice The whole challenge record of a deal (lastProvenEpoch, count, reason, segments).
    function challengeRecord(uint256 dealId) external view returns (Challenge memory) {
        dealId;
        _forwardView();
        revert(); // unreachable: the forwarder returns or reverts
    }

    /// @inheritdoc IMarket
    function isCommitteeMember(uint256 dealId, uint32 epoch, address validator) public view returns (bool) {
        Deal storage d = _deals[dealId];
        if (validator == d.hoster || validator == _bids[d.bidId].client) return false;
        if (!isEligibleValidator(validator)) return false;
        return _drawn(d.seed, periodOf(epoch), validator);
    }

    /// @inheritdoc IMarket
    function challengeSegments(bytes32 seed, uint64 size) external pure returns (uint256[5] memory) {
        (seed, size);
        _forwardPure();
        revert(); // unreachable: the forwarder returns or reverts
    }

    /// @inheritdoc IMarket
    function hosterLiveInBid(uint256 bidId, address hoster) external view returns (bool) {
        return _hosterFlags[bidId][hoster] & _LIVE != 0;
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
    function bondsHeld() external view returns (uint256) {
        return _bondsHeld;
    }

    /// @inheritdoc IMarket
    function attestationDigest(uint256 dealId, uint32 fromEpoch, uint32 toEpoch, bool ok, bytes32 evidence)
        public
        view
        returns (bytes32)
    {
        return _attestationDigest(dealId, fromEpoch, toEpoch, ok, evidence);
    }

    /// @inheritdoc IMarket
    function extendDealDigest(uint256 dealId, uint32 extraEpochs, uint32 endEpoch) public view returns (bytes32) {
        return _extendDealDigest(dealId, extraEpochs, endEpoch);
    }

    /*//////////////////////////////////////////////////////////////
                            PRIVATE HELPERS
    //////////////////////////////////////////////////////////////*/

    function _checkBid(
        bytes[] calldata cids,
        bytes32[] calldata roots,
        uint64 size,
        uint8 slotCount,
        uint96 pricePerEpoch,
        uint32 durationEpochs
    ) private view {
        if (slotCount == 0 || slotCount > MAX_SLOTS) revert InvalidSlotCount(slotCount, MAX_SLOTS);
        if (cids.length != 1 && cids.length != slotCount) revert InvalidCidCount(cids.length, slotCount);
        if (roots.length != cids.length) revert InvalidRootCount(roots.length, cids.length);
        for (uint256 i; i < cids.length; ++i) {
            if (cids[i].length == 0) revert EmptyCid(i);
            if (!PossessionProof.isRoot(roots[i])) revert InvalidRoot(i);
        }
        if (size == 0 || size > MAX_SIZE) revert InvalidSize(size);
        if (pricePerEpoch == 0) revert ZeroPrice();
        if (durationEpochs == 0) revert ZeroDuration();
        uint256 required = uint256(pricePerEpoch) * slotCount * durationEpochs;
        if (msg.value != required) revert WrongEscrow(msg.value, required);
    }

    function _storeBid(
        bytes32[] calldata roots,
        uint64 size,
        uint8 slotCount,
        uint96 pricePerEpoch,
        uint32 durationEpochs
    ) private returns (uint256 bidId) {
        bidId = ++_bidCount;
        _bids[bidId] = Bid({
            client: msg.sender,
            size: size,
            slotCount: slotCount,
            rootPerSlot: roots.length > 1,
            pricePerEpoch: pricePerEpoch,
            durationEpochs: durationEpochs,
            openSlots: SlotBits.mask(slotCount),
            reservedSlots: 0,
            closedSlots: 0,
            escrow: uint128(msg.value), // msg.value < 2^128 (ETH supply)
            postedBlock: uint64(block.number)
        });
        for (uint256 i; i < roots.length; ++i) {
            _roots[bidId][i] = roots[i];
        }
        uint32[MAX_SLOTS] storage budgets = _slotEpochs[bidId];
        for (uint256 i; i < slotCount; ++i) {
            budgets[i] = durationEpochs;
        }
    }

    /// @dev Emitted apart from `bid` (stack depth): the terms are read back from storage.
    function _emitBidPosted(uint256 bidId, bytes[] calldata cids, bytes32[] calldata roots, string[] calldata origins)
        private
    {
        Bid storage b = _bids[bidId];
        emit BidPosted(bidId, msg.sender, b.size, b.slotCount, b.pricePerEpoch, b.durationEpochs, cids, roots, origins);
    }

    /// @dev Checks common to reserve and fill: the slot is open, its reservation (if any) is the
    ///      caller's or expired (then released first), the caller is not the client and has no
    ///      other live slot in the bid. Returns the slot's bit.
    function _claimable(uint256 bidId, Bid storage b, uint8 slot) private returns (uint32 bit) {
        bit = SlotBits.bit(slot);
        if (b.openSlots & bit == 0) revert SlotNotOpen(bidId, slot);
        if (msg.sender == b.client) revert ClientCannotHost(bidId);
        if (b.reservedSlots & bit != 0) {
            if (_reservations[bidId][slot].hoster == msg.sender) return bit; // filling its own
            _releaseExpired(bidId, b, slot, bit);
        }
        if (_hosterFlags[bidId][msg.sender] & _LIVE != 0) revert HosterAlreadyInBid(bidId, msg.sender);
    }

    /// @dev Collateral of a deal of `budget` epochs at `price`; reverts above `maxCollateral`.
    function _collateral(uint96 price, uint32 budget, uint128 maxCollateral) private view returns (uint256 amount) {
        amount = uint256(price) * budget * _collateralBps / _BPS;
        if (amount > maxCollateral) revert CollateralTooHigh(amount, maxCollateral);
    }

    /// @dev The fill proof must answer the challenge of a recent block's hash for this hoster.
    function _checkFillProof(uint256 bidId, Bid storage b, uint8 slot, uint256 seedBlock, bytes calldata proof)
        private
        view
    {
        if (seedBlock >= block.number || block.number - seedBlock > FILL_SEED_WINDOW) {
            revert InvalidSeedBlock(seedBlock, block.number);
        }
        bytes32 seed = keccak256(abi.encode(blockhash(seedBlock), bidId, slot, msg.sender));
        bytes32 root = _roots[bidId][b.rootPerSlot ? slot : 0];
        if (!PossessionProof.verify(proof, root, seed, PossessionProof.segmentCount(b.size))) revert InvalidProof(0);
    }

    /// @dev Lock the collateral and record the deal of a fill; the slot stops being open.
    function _openDeal(uint256 bidId, Bid storage b, uint8 slot, uint32 bit, uint128 maxCollateral)
        private
        returns (uint256 dealId)
    {
        uint32 budget = _slotEpochs[bidId][slot];
        if (budget == 0) revert SlotExhausted(bidId, slot);
        uint128 collateral = _lock(msg.sender, _collateral(b.pricePerEpoch, budget, maxCollateral));
        b.openSlots &= ~bit;
        b.reservedSlots &= ~bit; // the caller's own reservation, if any, becomes the deal
        _hosterFlags[bidId][msg.sender] |= _LIVE;

        dealId = ++_dealCount;
        Deal memory d;
        d.hoster = msg.sender;
        // forge-lint: disable-next-line(unsafe-typecast) -- ids are sequential, far below 2^64
        d.bidId = uint64(bidId);
        d.slot = slot;
        d.status = DealStatus.Active;
        d.rootIndex = b.rootPerSlot ? slot : 0;
        d.startEpoch = currentEpoch() + 1;
        d.endEpoch = d.startEpoch + budget - 1;
        d.paidThrough = d.startEpoch - 1;
        // forge-lint: disable-next-line(unsafe-typecast) -- the low 64 bits, by design
        d.seed = uint64(uint256(keccak256(abi.encode(block.prevrandao, dealId))));
        d.collateral = collateral;
        _deals[dealId] = d;
        emit SlotFilled(bidId, dealId, msg.sender, slot, d.startEpoch, d.endEpoch, collateral);
    }

    /// @dev Answer a deal's open challenge; false (nothing changes) when none is open or it is
    ///      overdue. Reads only the challenge's two slots (and the deal's hoster for a bond).
    function _prove(uint256 dealId, bytes32 seed, bytes calldata proof, uint32 current) private returns (bool) {
        Challenge storage cs = _challenges[dealId];
        // closed, overdue, or built for an earlier challenge of the deal (stale): skipped, not a revert
        if (!cs.open || current > cs.dueEpoch || bytes32(uint256(cs.seed)) != seed) return false;
        if (!PossessionProof.verify(proof, cs.root, bytes32(uint256(cs.seed)), cs.segments)) {
            revert InvalidProof(dealId);
        }
        uint32 epoch = cs.epoch;
        cs.open = false;
        if (epoch > cs.lastProvenEpoch) cs.lastProvenEpoch = epoch;
        emit ProofAccepted(dealId, epoch);
        if (cs.reason == ProofReason.FailQuorum) _payBond(dealId, _deals[dealId].hoster);
        return true;
    }

    /// @dev A verified fail-quorum challenge: its bond goes to the hoster.
    function _payBond(uint256 dealId, address hoster) private {
        _takeBond(dealId);
        _credit(hoster, _proofBond);
    }

    /// @dev Remove a deal's bond from the held total; returns who posted it.
    function _takeBond(uint256 dealId) private returns (address poster) {
        poster = _bondPosters[dealId];
        delete _bondPosters[dealId];
        _bondsHeld -= _proofBond;
    }

    /// @dev The deal reached maxFaults: it ends and its slot reopens with the unpaid budget.
    function _endFaulted(uint256 dealId, Deal memory d, Bid storage b, uint8 faults) private {
        uint32 left = d.endEpoch - d.startEpoch + 1 - d.paidEpochs;
        _deals[dealId].status = DealStatus.Faulted; // its collateral was all slashed
        _hosterFlags[d.bidId][d.hoster] &= ~_LIVE;
        _slotEpochs[d.bidId][d.slot] = left;
        b.openSlots |= SlotBits.bit(d.slot);
        emit DealFaulted(dealId, d.hoster, faults);
        emit SlotReopened(d.bidId, d.slot, left);
    }

    /// @dev Settle [fromEpoch, toEpoch] of a deal. With `skipOvertaken`, return false without a
    ///      change instead of reverting when another transaction got there first.
    function _settle(uint256 dealId, uint32 fromEpoch, uint32 toEpoch, Signature[] calldata sigs, bool skipOvertaken)
        private
        returns (bool)
    {
        Deal memory d = _dealTerms(dealId);
        if (d.status == DealStatus.None) revert UnknownDeal(dealId);
        if (skipOvertaken && _overtaken(dealId, d, fromEpoch, toEpoch)) return false;
        if (d.status != DealStatus.Active) revert DealNotActive(dealId);
        _checkRange(dealId, d, fromEpoch, toEpoch);
        address[] memory signers = _verifyQuorum(dealId, d, fromEpoch, toEpoch, true, sigs);
        _pay(dealId, d, fromEpoch, toEpoch, signers);
        return true;
    }

    /// @dev A quorum of signatures over Attestation(dealId, from, to, ok, evidence_i): valid,
    ///      signers strictly ascending, each in the deal's committee for the range's period.
    function _verifyQuorum(
        uint256 dealId,
        Deal memory d,
        uint32 fromEpoch,
        uint32 toEpoch,
        bool ok,
        Signature[] calldata sigs
    ) private view returns (address[] memory signers) {
        uint256 count = sigs.length;
        if (count < _quorum) revert NoQuorum(count, _quorum);
        uint32 period = periodOf(fromEpoch);
        if (periodOf(toEpoch) != period) revert RangeCrossesPeriod(fromEpoch, toEpoch);
        address client = _bids[d.bidId].client;
        signers = new address[](count);
        address last;
        for (uint256 i; i < count; ++i) {
            address signer = _signerAt(dealId, fromEpoch, toEpoch, ok, sigs[i], i);
            if (signer <= last) revert SignersNotSorted(i);
            if (
                signer == d.hoster || signer == client || !isEligibleValidator(signer)
                    || !_drawn(d.seed, period, signer)
            ) {
                revert NotInCommittee(signer);
            }
            signers[i] = signer;
            last = signer;
        }
    }

    /// @dev Sortition: `validator` is in the committee of a deal with `seed` for `period`.
    function _drawn(uint64 seed, uint32 period, address validator) private view returns (bool) {
        uint256 total = totalValidatorStake();
        uint256 weight = uint256(_committeeSize) * _stakeOf(validator);
        if (weight >= total) return true;
        return uint256(keccak256(abi.encode(uint256(seed), period, validator))) % total < weight;
    }

    function _stakeOf(address validator) private view returns (uint256) {
        return _nodeStake(Role.Validator, validator);
    }

    function _checkRange(uint256 dealId, Deal memory d, uint32 fromEpoch, uint32 toEpoch) private view {
        if (fromEpoch > toEpoch) revert InvalidEpochRange(fromEpoch, toEpoch);
        if (fromEpoch <= d.paidThrough) revert EpochAlreadyPaid(fromEpoch, d.paidThrough);
        if (fromEpoch <= d.failedEpoch) revert EpochFailed(fromEpoch, d.failedEpoch);
        uint256 nextUnpaid = uint256(d.paidThrough > d.failedEpoch ? d.paidThrough : d.failedEpoch) + 1;
        if (fromEpoch != nextUnpaid && msg.sender != d.hoster) revert OnlyHosterMaySkip(fromEpoch, nextUnpaid);
        uint32 current = currentEpoch();
        if (toEpoch >= current) revert EpochNotOver(toEpoch, current);
        if (toEpoch > d.endEpoch) revert EpochOutsideDeal(toEpoch, d.startEpoch, d.endEpoch);
        Challenge storage c = _challenges[dealId];
        if (c.open && toEpoch >= c.epoch) revert ChallengePending(dealId, c.epoch);
    }

    /// @dev Pay epochs [fromEpoch, toEpoch] from the bid's escrow: the validator fee split
    ///      equally among the signers, the rest (with the split's dust) to the hoster.
    function _pay(uint256 dealId, Deal memory d, uint32 fromEpoch, uint32 toEpoch, address[] memory signers) private {
        Bid storage b = _bids[d.bidId];
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

    /// @dev A settlement another transaction overtook: the deal ended, its range starts at or
    ///      before paidThrough or failedEpoch, or a challenge opened at or before its end.
    function _overtaken(uint256 dealId, Deal memory d, uint32 fromEpoch, uint32 toEpoch) private view returns (bool) {
        if (d.status != DealStatus.Active) return true;
        if (fromEpoch > toEpoch) return false; // the caller's error
        if (fromEpoch <= d.paidThrough || fromEpoch <= d.failedEpoch) return true;
        Challenge storage c = _challenges[dealId];
        return c.open && toEpoch >= c.epoch;
    }

    /// @dev A deal's first two slots (all but `collateral`): what settlement needs.
    function _dealTerms(uint256 dealId) private view returns (Deal memory d) {
        Deal storage ds = _deals[dealId];
        (d.hoster, d.bidId, d.status) = (ds.hoster, ds.bidId, ds.status);
        (d.startEpoch, d.endEpoch, d.paidThrough) = (ds.startEpoch, ds.endEpoch, ds.paidThrough);
        (d.paidEpochs, d.failedEpoch, d.seed) = (ds.paidEpochs, ds.failedEpoch, ds.seed);
    }
}
