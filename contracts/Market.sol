// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IMarket} from "./interfaces/IMarket.sol";
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
contract Market is IMarket, StakeRegistry, EIP712, ReentrancyGuardTransient {
    /*//////////////////////////////////////////////////////////////
                               CONSTANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Version of the market's storage, proof and attestation format.
    uint256 public constant VERSION = 2;
    /// @notice Most slots a bid may have (slots are bits of a uint32).
    uint256 public constant MAX_SLOTS = 32;
    /// @notice Most items a `settleMany` call may carry.
    uint256 public constant MAX_SETTLE_BATCH = 100;
    /// @notice Most items a `proveMany` call may carry.
    uint256 public constant MAX_PROOF_BATCH = 100;
    /// @notice How many recent blocks `fill` may take its challenge's blockhash from.
    uint256 public constant FILL_SEED_WINDOW = 128;
    /// @notice Largest shard: 2^48 segments of 128 bytes.
    uint256 public constant MAX_SIZE = (uint256(1) << 48) * PossessionProof.SEGMENT;
    /// @notice EIP-712 type hash of an attestation.
    bytes32 public constant ATTESTATION_TYPEHASH =
        keccak256("Attestation(uint256 dealId,uint32 fromEpoch,uint32 toEpoch,bool ok,bytes32 evidence)");
    /// @notice EIP-712 type hash of a hoster's consent to extend its deal.
    bytes32 public constant EXTEND_DEAL_TYPEHASH =
        keccak256("ExtendDeal(uint256 dealId,uint32 extraEpochs,uint32 endEpoch)");

    uint256 private constant _BPS = 10_000;
    /// @dev `_hosterFlags` bits: a reserved or live slot in the bid; the reservation fee paid.
    uint8 private constant _LIVE = 1;
    uint8 private constant _FEE_PAID = 2;
    /// @dev blockhash is available for the 256 most recent blocks.
    uint256 private constant _BLOCKHASH_WINDOW = 256;

    /*//////////////////////////////////////////////////////////////
                               PARAMETERS
    //////////////////////////////////////////////////////////////*/

    uint64 private immutable _genesis;
    uint32 private immutable _epochSeconds;
    uint8 private immutable _quorum;
    uint16 private immutable _committeeSize;
    uint32 private immutable _periodEpochs;
    uint32 private immutable _reserveEpochs;
    uint32 private immutable _proofWindowEpochs;
    uint32 private immutable _missedQuorumEpochs;
    uint16 private immutable _auditBps;
    uint32 private immutable _auditEveryBlocks;
    uint8 private immutable _maxFaults;
    uint16 private immutable _collateralBps;
    uint16 private immutable _validatorFeeBps;
    uint16 private immutable _slashClientBps;
    uint128 private immutable _minHosterStake;
    uint128 private immutable _minValidatorStake;
    uint128 private immutable _proofBond;
    uint128 private immutable _validatorSlash;
    uint64 private immutable _exitDelaySeconds;
    uint64 private immutable _validatorBondingSeconds;

    /*//////////////////////////////////////////////////////////////
                                STORAGE
    //////////////////////////////////////////////////////////////*/

    uint256 private _bidCount;
    uint256 private _dealCount;
    /// @dev Wei held as proof bonds of open fail-quorum challenges.
    uint256 private _bondsHeld;
    mapping(uint256 bidId => Bid) private _bids;
    /// @dev roots[0] for a replicated bid, roots[slot] when `rootPerSlot`.
    mapping(uint256 bidId => mapping(uint256 index => bytes32)) private _roots;
    /// @dev Epoch budget of each open slot (escrowed); a live slot's budget is its deal's.
    mapping(uint256 bidId => uint32[MAX_SLOTS]) private _slotEpochs;
    mapping(uint256 bidId => mapping(uint256 slot => Reservation)) private _reservations;
    mapping(uint256 bidId => mapping(address hoster => uint8)) private _hosterFlags;
    mapping(uint256 dealId => Deal) private _deals;
    mapping(uint256 dealId => Challenge) private _challenges;
    /// @dev Who posted the bond of a deal's open fail-quorum challenge.
    mapping(uint256 dealId => address) private _bondPosters;
    /// @dev Last audit seed block used for a deal.
    mapping(uint256 dealId => uint256) private _lastAuditBlock;
    mapping(uint256 dealId => mapping(address validator => bool)) private _validatorSlashed;
    /// @dev Pull-payment ledger: wei each account may withdraw.
    mapping(address account => uint256) private _balances;

    /*//////////////////////////////////////////////////////////////
                              CONSTRUCTOR
    //////////////////////////////////////////////////////////////*/

    /// @param p market parameters; `p.genesis` is ignored (epoch 0 starts at deployment)
    constructor(Params memory p) EIP712("Scatter Market", "2") {
        if (
            p.epochSeconds == 0 || p.quorum == 0 || p.committeeSize == 0 || p.periodEpochs == 0
                || p.proofWindowEpochs == 0 || p.missedQuorumEpochs == 0 || p.auditEveryBlocks == 0 || p.maxFaults == 0
                || p.auditBps > _BPS || p.collateralBps > _BPS || p.validatorFeeBps > _BPS || p.slashClientBps > _BPS
                || p.minValidatorStake == 0
        ) revert InvalidParams();
        _genesis = uint64(block.timestamp);
        _epochSeconds = p.epochSeconds;
        _quorum = p.quorum;
        _committeeSize = p.committeeSize;
        _periodEpochs = p.periodEpochs;
        _reserveEpochs = p.reserveEpochs;
        _proofWindowEpochs = p.proofWindowEpochs;
        _missedQuorumEpochs = p.missedQuorumEpochs;
        _auditBps = p.auditBps;
        _auditEveryBlocks = p.auditEveryBlocks;
        _maxFaults = p.maxFaults;
        _collateralBps = p.collateralBps;
        _validatorFeeBps = p.validatorFeeBps;
        _slashClientBps = p.slashClientBps;
        _minHosterStake = p.minHosterStake;
        _minValidatorStake = p.minValidatorStake;
        _proofBond = p.proofBond;
        _validatorSlash = p.validatorSlash;
        _exitDelaySeconds = p.exitDelay;
        _validatorBondingSeconds = p.validatorBondingSeconds;
    }

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

    /// @inheritdoc IMarket
    function cancel(uint256 bidId, uint8 slot) external {
        Bid storage b = _bidOf(bidId);
        _onlyClient(b);
        uint32 bit = SlotBits.bit(slot);
        if (b.openSlots & bit == 0) revert SlotNotOpen(bidId, slot);
        if (b.reservedSlots & bit != 0) _releaseExpired(bidId, b, slot, bit);

        uint32[MAX_SLOTS] storage budgets = _slotEpochs[bidId];
        uint128 refund = uint128(b.pricePerEpoch) * budgets[slot];
        budgets[slot] = 0;
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
        uint32 slots = b.openSlots & ~b.reservedSlots;
        if (slots == 0) revert NothingToExtend(bidId);
        uint256 required = uint256(b.pricePerEpoch) * SlotBits.count(slots) * extraEpochs;
        if (msg.value != required) revert WrongEscrow(msg.value, required);

        uint32[MAX_SLOTS] storage budgets = _slotEpochs[bidId];
        for (uint256 i; i < b.slotCount; ++i) {
            if (slots & SlotBits.bit(i) != 0) budgets[i] += extraEpochs;
        }
        b.escrow += uint128(msg.value);
        emit BidExtended(bidId, extraEpochs, slots, msg.value);
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
    function releaseReservation(uint256 bidId, uint8 slot) external {
        Bid storage b = _bidOf(bidId);
        uint32 bit = SlotBits.bit(slot);
        if (b.reservedSlots & bit == 0) revert NoReservation(bidId, slot);
        _releaseExpired(bidId, b, slot, bit);
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
        Deal memory d = _activeDeal(dealId);
        Challenge memory c = _challenges[dealId];
        uint256 last = d.paidThrough > c.lastProvenEpoch ? d.paidThrough : c.lastProvenEpoch;
        uint256 from = last + _missedQuorumEpochs + 1;
        uint32 current = currentEpoch();
        // Only while some epoch of the deal is neither paid nor proven.
        if (last >= d.endEpoch) from = type(uint256).max;
        if (current < from) revert QuorumNotMissed(current, from);
        _openChallenge(dealId, d, current, ProofReason.MissedQuorum);
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
            if (!_prove(item.dealId, item.proof, current)) emit ProofSkipped(item.dealId);
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
                          VALIDATOR SLASHING
    //////////////////////////////////////////////////////////////*/

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
        _knownDeal(dealId);
        if (okFrom > okTo || failFrom > failTo || okFrom > failTo || failFrom > okTo) revert NotContradictory();
        address okSigner = _signer(dealId, okFrom, okTo, true, okSig);
        address failSigner = _signer(dealId, failFrom, failTo, false, failSig);
        if (okSigner != failSigner) revert NotSameSigner(okSigner, failSigner);
        _slashValidatorFor(dealId, okSigner, 0);
    }

    /// @inheritdoc IMarket
    function reportFalseOk(uint256 dealId, uint32 okFrom, uint32 okTo, Signature calldata okSig) external {
        Deal memory d = _knownDeal(dealId);
        if (d.failedEpoch == 0 || okFrom > d.failedEpoch || okTo < d.failedEpoch) revert NotContradictory();
        _slashValidatorFor(dealId, _signer(dealId, okFrom, okTo, true, okSig), 1);
    }

    /*//////////////////////////////////////////////////////////////
                             END AND EXTEND
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMarket
    function finish(uint256 dealId) external {
        Deal memory d = _activeDeal(dealId);
        uint256 finishableFrom = uint256(d.endEpoch) + _proofWindowEpochs + 1;
        uint32 current = currentEpoch();
        if (current < finishableFrom) revert DealNotOver(current, finishableFrom);
        if (_challenges[dealId].open) revert ChallengeOpen(dealId);
        Bid storage b = _bids[d.bidId];

        uint128 refund = uint128(b.pricePerEpoch) * (d.endEpoch - d.startEpoch + 1 - d.paidEpochs);
        _deals[dealId].status = DealStatus.Finished;
        _hosterFlags[d.bidId][d.hoster] &= ~_LIVE;
        _unlock(d.hoster, d.collateral);
        b.closedSlots |= SlotBits.bit(d.slot);
        b.escrow -= refund;
        emit DealFinished(dealId, d.hoster, refund);
        _credit(b.client, refund);
    }

    /// @inheritdoc IMarket
    function extendDeal(uint256 dealId, uint32 extraEpochs, bytes calldata hosterSig) external payable {
        Deal memory d = _activeDeal(dealId);
        Bid storage b = _bids[d.bidId];
        _onlyClient(b);
        if (extraEpochs == 0) revert ZeroDuration();
        uint32 current = currentEpoch();
        if (current > d.endEpoch) revert EpochOutsideDeal(current, d.startEpoch, d.endEpoch);
        uint256 required = uint256(b.pricePerEpoch) * extraEpochs;
        if (msg.value != required) revert WrongEscrow(msg.value, required);
        (address signer, ECDSA.RecoverError err,) =
            ECDSA.tryRecover(extendDealDigest(dealId, extraEpochs, d.endEpoch), hosterSig);
        if (err != ECDSA.RecoverError.NoError || signer != d.hoster) revert InvalidHosterSignature();

        uint128 added = _lock(d.hoster, required * _collateralBps / _BPS);
        uint32 end = d.endEpoch + extraEpochs;
        Deal storage ds = _deals[dealId];
        ds.endEpoch = end;
        ds.collateral = d.collateral + added;
        b.escrow += uint128(msg.value);
        emit DealExtended(dealId, extraEpochs, end, added, msg.value);
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

    /// @inheritdoc IMarket
    function currentEpoch() public view returns (uint32) {
        return uint32((block.timestamp - _genesis) / _epochSeconds);
    }

    /// @inheritdoc IMarket
    function periodOf(uint32 epoch) public view returns (uint32) {
        return epoch / _periodEpochs;
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
    function slotRoot(uint256 bidId, uint8 slot) external view returns (bytes32) {
        Bid storage b = _bidOf(bidId);
        if (slot >= b.slotCount) revert SlotNotOpen(bidId, slot);
        return _roots[bidId][b.rootPerSlot ? slot : 0];
    }

    /// @inheritdoc IMarket
    function slotEpochs(uint256 bidId, uint8 slot) external view returns (uint32) {
        return slot < MAX_SLOTS ? _slotEpochs[bidId][slot] : 0;
    }

    /// @inheritdoc IMarket
    function reservationOf(uint256 bidId, uint8 slot) external view returns (Reservation memory) {
        return _reservations[bidId][slot];
    }

    /// @inheritdoc IMarket
    function challengeOf(uint256 dealId)
        external
        view
        returns (bool open, bytes32 seed, uint32 requestedEpoch, uint32 dueEpoch, uint256 bond)
    {
        Challenge memory c = _challenges[dealId];
        bond = c.open && c.reason == ProofReason.FailQuorum ? _proofBond : 0;
        return (c.open, bytes32(uint256(c.seed)), c.epoch, c.dueEpoch, bond);
    }

    /// @notice The whole challenge record of a deal (lastProvenEpoch, count, reason, segments).
    function challengeRecord(uint256 dealId) external view returns (Challenge memory) {
        return _challenges[dealId];
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
        return PossessionProof.indices(seed, PossessionProof.segmentCount(size));
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
        return _hashTypedDataV4(keccak256(abi.encode(ATTESTATION_TYPEHASH, dealId, fromEpoch, toEpoch, ok, evidence)));
    }

    /// @inheritdoc IMarket
    function extendDealDigest(uint256 dealId, uint32 extraEpochs, uint32 endEpoch) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(EXTEND_DEAL_TYPEHASH, dealId, extraEpochs, endEpoch)));
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

    function _bondingSeconds() internal view override returns (uint64) {
        return _validatorBondingSeconds;
    }

    function _credit(address account, uint256 amount) internal override {
        if (amount == 0) return;
        _balances[account] += amount;
        emit Credited(account, amount);
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

    /// @dev Release an expired reservation; the hoster gets one epoch of the slot's budget once per bid.
    function _releaseExpired(uint256 bidId, Bid storage b, uint8 slot, uint32 bit) private {
        Reservation memory r = _reservations[bidId][slot];
        // forge-lint: disable-next-line(block-timestamp) -- reservations last epochs; seconds do not matter
        if (block.timestamp < r.expiresAt) revert SlotIsReserved(bidId, slot, r.hoster, r.expiresAt);
        uint8 flags = _hosterFlags[bidId][r.hoster];
        uint32 budget = _slotEpochs[bidId][slot];
        uint256 fee;
        if (flags & _FEE_PAID == 0 && budget != 0) {
            fee = b.pricePerEpoch;
            _slotEpochs[bidId][slot] = budget - 1;
            b.escrow -= b.pricePerEpoch;
            flags |= _FEE_PAID;
        }
        _hosterFlags[bidId][r.hoster] = flags & ~_LIVE;
        b.reservedSlots &= ~bit;
        delete _reservations[bidId][slot];
        emit ReservationReleased(bidId, r.hoster, slot, fee);
        _credit(r.hoster, fee);
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

    /// @dev Issue a new challenge for `epoch`, due `proofWindowEpochs` after the current epoch.
    function _openChallenge(uint256 dealId, Deal memory d, uint32 epoch, ProofReason reason) private {
        Challenge storage cs = _challenges[dealId];
        Challenge memory c = cs;
        if (c.open) revert ChallengeOpen(dealId);
        uint32 due = currentEpoch() + _proofWindowEpochs;
        // forge-lint: disable-next-line(unsafe-typecast) -- the low 64 bits, by design
        uint64 seed = uint64(uint256(keccak256(abi.encode(block.prevrandao, dealId, c.count))));
        cs.seed = seed;
        cs.epoch = epoch;
        cs.dueEpoch = due;
        cs.count = c.count + 1;
        cs.open = true;
        cs.reason = reason;
        if (c.segments == 0) {
            // First challenge of the deal: copy what proofs check, so that they read nothing else.
            // forge-lint: disable-next-line(unsafe-typecast) -- size <= MAX_SIZE, so N < 2^48
            cs.segments = uint48(PossessionProof.segmentCount(_bids[d.bidId].size));
            cs.root = _roots[d.bidId][d.rootIndex];
        }
        emit ProofRequested(dealId, uint8(reason), epoch, due, bytes32(uint256(seed)));
    }

    /// @dev Answer a deal's open challenge; false (nothing changes) when none is open or it is
    ///      overdue. Reads only the challenge's two slots (and the deal's hoster for a bond).
    function _prove(uint256 dealId, bytes calldata proof, uint32 current) private returns (bool) {
        Challenge storage cs = _challenges[dealId];
        if (!cs.open || current > cs.dueEpoch) return false;
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

    function _signerAt(uint256 dealId, uint32 fromEpoch, uint32 toEpoch, bool ok, Signature calldata sig, uint256 i)
        private
        view
        returns (address signer)
    {
        bytes32 digest = attestationDigest(dealId, fromEpoch, toEpoch, ok, sig.evidence);
        ECDSA.RecoverError err;
        (signer, err,) = ECDSA.tryRecover(digest, sig.v, sig.r, sig.s);
        if (err != ECDSA.RecoverError.NoError) revert InvalidSignature(i);
    }

    function _signer(uint256 dealId, uint32 fromEpoch, uint32 toEpoch, bool ok, Signature calldata sig)
        private
        view
        returns (address)
    {
        return _signerAt(dealId, fromEpoch, toEpoch, ok, sig, 0);
    }

    /// @dev Slash `validator` once per deal; `reason` 0 equivocation, 1 false ok.
    function _slashValidatorFor(uint256 dealId, address validator, uint8 reason) private {
        if (_nodeStake(Role.Validator, validator) == 0) revert NotValidator(validator);
        if (_validatorSlashed[dealId][validator]) revert AlreadySlashed(dealId, validator);
        _validatorSlashed[dealId][validator] = true;
        uint256 amount = _slashValidator(validator, _validatorSlash);
        emit ValidatorSlashed(validator, dealId, reason, amount, msg.sender);
        _credit(msg.sender, amount);
    }

    /// @dev An attested range must start after paidThrough and failedEpoch (only the hoster may
    ///      skip unpaid epochs), be over, lie within the deal and before an open challenge's epoch.
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

    function _bidOf(uint256 bidId) private view returns (Bid storage b) {
        b = _bids[bidId];
        if (b.client == address(0)) revert UnknownBid(bidId);
    }

    function _knownDeal(uint256 dealId) private view returns (Deal memory d) {
        d = _deals[dealId];
        if (d.status == DealStatus.None) revert UnknownDeal(dealId);
    }

    function _activeDeal(uint256 dealId) private view returns (Deal memory d) {
        d = _knownDeal(dealId);
        if (d.status != DealStatus.Active) revert DealNotActive(dealId);
    }

    function _onlyClient(Bid storage b) private view {
        if (msg.sender != b.client) revert NotClient(msg.sender, b.client);
    }
}
