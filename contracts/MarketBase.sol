// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IMarket} from "./interfaces/IMarket.sol";
import {StakeRegistry} from "./StakeRegistry.sol";
import {PossessionProof} from "./libraries/PossessionProof.sol";

/// @title Shared state and helpers of the Scatter market (Market and MarketExtension)
/// @notice Every state variable of the market is declared here (or in StakeRegistry and OZ EIP712,
///         inherited here), and nowhere else: Market and MarketExtension both inherit this
///         contract first and declare no state of their own, so their storage layouts are
///         identical and MarketExtension's code, run by DELEGATECALL from Market, reads and
///         writes the Market's storage (MarketLayout.t.sol checks it). Immutables (the
///         parameters) are set by both constructors from the same Params in the same block.
/// @dev Split for EIP-170 (24,576 bytes of runtime code per contract); see docs/contracts.md.
abstract contract MarketBase is StakeRegistry, EIP712, ReentrancyGuardTransient {
    /*//////////////////////////////////////////////////////////////
                               CONSTANTS
    //////////////////////////////////////////////////////////////*/

    /// @dev Most slots a bid may have (Market.MAX_SLOTS).
    uint256 internal constant _MAX_SLOTS = 32;
    /// @dev EIP-712 type hashes (Market.ATTESTATION_TYPEHASH, Market.EXTEND_DEAL_TYPEHASH).
    bytes32 internal constant _ATTESTATION_TYPEHASH =
        keccak256("Attestation(uint256 dealId,uint32 fromEpoch,uint32 toEpoch,bool ok,bytes32 evidence)");
    bytes32 internal constant _EXTEND_DEAL_TYPEHASH =
        keccak256("ExtendDeal(uint256 dealId,uint32 extraEpochs,uint32 endEpoch)");

    uint256 internal constant _BPS = 10_000;
    /// @dev `_hosterFlags` bits: a reserved or live slot in the bid; the reservation fee paid.
    uint8 internal constant _LIVE = 1;
    uint8 internal constant _FEE_PAID = 2;
    /// @dev blockhash is available for the 256 most recent blocks.
    uint256 internal constant _BLOCKHASH_WINDOW = 256;

    /*//////////////////////////////////////////////////////////////
                               PARAMETERS
    //////////////////////////////////////////////////////////////*/

    uint64 internal immutable _genesis;
    uint32 internal immutable _epochSeconds;
    uint8 internal immutable _quorum;
    uint16 internal immutable _committeeSize;
    uint32 internal immutable _periodEpochs;
    uint32 internal immutable _reserveEpochs;
    uint32 internal immutable _proofWindowEpochs;
    uint32 internal immutable _missedQuorumEpochs;
    uint16 internal immutable _auditBps;
    uint32 internal immutable _auditEveryBlocks;
    uint8 internal immutable _maxFaults;
    uint16 internal immutable _collateralBps;
    uint16 internal immutable _validatorFeeBps;
    uint16 internal immutable _slashClientBps;
    uint128 internal immutable _minHosterStake;
    uint128 internal immutable _minValidatorStake;
    uint128 internal immutable _proofBond;
    uint128 internal immutable _validatorSlash;
    uint64 internal immutable _exitDelaySeconds;
    uint64 internal immutable _validatorBondingSeconds;

    /*//////////////////////////////////////////////////////////////
                                STORAGE
    //////////////////////////////////////////////////////////////*/

    uint256 internal _bidCount;
    uint256 internal _dealCount;
    /// @dev Wei held as proof bonds of open fail-quorum challenges.
    uint256 internal _bondsHeld;
    mapping(uint256 bidId => IMarket.Bid) internal _bids;
    /// @dev roots[0] for a replicated bid, roots[slot] when `rootPerSlot`.
    mapping(uint256 bidId => mapping(uint256 index => bytes32)) internal _roots;
    /// @dev Epoch budget of each open slot (escrowed); a live slot's budget is its deal's.
    mapping(uint256 bidId => uint32[_MAX_SLOTS]) internal _slotEpochs;
    mapping(uint256 bidId => mapping(uint256 slot => IMarket.Reservation)) internal _reservations;
    mapping(uint256 bidId => mapping(address hoster => uint8)) internal _hosterFlags;
    mapping(uint256 dealId => IMarket.Deal) internal _deals;
    mapping(uint256 dealId => IMarket.Challenge) internal _challenges;
    /// @dev Who posted the bond of a deal's open fail-quorum challenge.
    mapping(uint256 dealId => address) internal _bondPosters;
    /// @dev Last audit seed block used for a deal.
    mapping(uint256 dealId => uint256) internal _lastAuditBlock;
    mapping(uint256 dealId => mapping(address validator => bool)) internal _validatorSlashed;
    /// @dev Pull-payment ledger: wei each account may withdraw.
    mapping(address account => uint256) internal _balances;

    /*//////////////////////////////////////////////////////////////
                              CONSTRUCTOR
    //////////////////////////////////////////////////////////////*/

    /// @param p market parameters (Market validates them); `p.genesis` is ignored (epoch 0 starts
    ///        at deployment)
    constructor(IMarket.Params memory p) EIP712("Scatter Market", "2") {
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
        emit IMarket.Credited(account, amount);
    }

    /*//////////////////////////////////////////////////////////////
                            SHARED HELPERS
    //////////////////////////////////////////////////////////////*/

    function _currentEpoch() internal view returns (uint32) {
        return uint32((block.timestamp - _genesis) / _epochSeconds);
    }

    function _attestationDigest(uint256 dealId, uint32 fromEpoch, uint32 toEpoch, bool ok, bytes32 evidence)
        internal
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(_ATTESTATION_TYPEHASH, dealId, fromEpoch, toEpoch, ok, evidence)));
    }

    function _extendDealDigest(uint256 dealId, uint32 extraEpochs, uint32 endEpoch) internal view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(_EXTEND_DEAL_TYPEHASH, dealId, extraEpochs, endEpoch)));
    }

    /// @dev Release an expired reservation; the hoster gets one epoch of the slot's budget once per bid.
    function _releaseExpired(uint256 bidId, IMarket.Bid storage b, uint8 slot, uint32 bit) internal {
        IMarket.Reservation memory r = _reservations[bidId][slot];
        // forge-lint: disable-next-line(block-timestamp) -- reservations last epochs; seconds do not matter
        if (block.timestamp < r.expiresAt) revert IMarket.SlotIsReserved(bidId, slot, r.hoster, r.expiresAt);
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
        emit IMarket.ReservationReleased(bidId, r.hoster, slot, fee);
        _credit(r.hoster, fee);
    }

    function _signerAt(
        uint256 dealId,
        uint32 fromEpoch,
        uint32 toEpoch,
        bool ok,
        IMarket.Signature calldata sig,
        uint256 i
    ) internal view returns (address signer) {
        bytes32 digest = _attestationDigest(dealId, fromEpoch, toEpoch, ok, sig.evidence);
        ECDSA.RecoverError err;
        (signer, err,) = ECDSA.tryRecover(digest, sig.v, sig.r, sig.s);
        if (err != ECDSA.RecoverError.NoError) revert IMarket.InvalidSignature(i);
    }

    function _bidOf(uint256 bidId) internal view returns (IMarket.Bid storage b) {
        b = _bids[bidId];
        if (b.client == address(0)) revert IMarket.UnknownBid(bidId);
    }

    function _knownDeal(uint256 dealId) internal view returns (IMarket.Deal memory d) {
        d = _deals[dealId];
        if (d.status == IMarket.DealStatus.None) revert IMarket.UnknownDeal(dealId);
    }

    function _activeDeal(uint256 dealId) internal view returns (IMarket.Deal memory d) {
        d = _knownDeal(dealId);
        if (d.status != IMarket.DealStatus.Active) revert IMarket.DealNotActive(dealId);
    }

    function _onlyClient(IMarket.Bid storage b) internal view {
        if (msg.sender != b.client) revert IMarket.NotClient(msg.sender, b.client);
    }

    /// @dev Issue a new challenge for `epoch`, due `proofWindowEpochs` after the current epoch.
    function _openChallenge(uint256 dealId, IMarket.Deal memory d, uint32 epoch, IMarket.ProofReason reason) internal {
        IMarket.Challenge storage cs = _challenges[dealId];
        IMarket.Challenge memory c = cs;
        if (c.open) revert IMarket.ChallengeOpen(dealId);
        uint32 due = _currentEpoch() + _proofWindowEpochs;
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
        emit IMarket.ProofRequested(dealId, uint8(reason), epoch, due, bytes32(uint256(seed)));
    }
}
