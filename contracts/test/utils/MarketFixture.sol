// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";

import {Market} from "../../Market.sol";
import {IMarket} from "../../interfaces/IMarket.sol";
import {IStakeRegistry} from "../../interfaces/IStakeRegistry.sol";
import {PossessionTree} from "./PossessionTree.sol";

/// @dev Deploys a Market with test parameters; helpers join nodes, post bids whose slots commit
///      to a possession tree (1 MiB shard: 8192 segments, depth 13), fill slots with valid
///      proofs, answer challenges and sign attestations with a fixed set of validator keys.
///      Committees: committeeSize 16 >= 4 equal stakes, so every bonded validator is in every
///      committee unless a test deploys a market with a smaller committee.
abstract contract MarketFixture is Test {
    using PossessionTree for PossessionTree.Tree;

    uint32 internal constant EPOCH = 3600;
    uint8 internal constant QUORUM = 2;
    uint16 internal constant COMMITTEE = 16;
    uint32 internal constant PERIOD = 24;
    uint32 internal constant RESERVE = 2;
    uint32 internal constant WINDOW = 2;
    uint32 internal constant MISSED = 4;
    uint16 internal constant AUDIT_BPS = 5000;
    uint32 internal constant AUDIT_EVERY = 10;
    uint8 internal constant MAX_FAULTS = 3;
    uint16 internal constant COLLATERAL_BPS = 5000;
    uint16 internal constant FEE_BPS = 500;
    uint16 internal constant SLASH_CLIENT_BPS = 5000;
    uint128 internal constant MIN_HOSTER = 1 ether;
    uint128 internal constant MIN_VALIDATOR = 1 ether;
    uint128 internal constant BOND = 0.01 ether;
    uint128 internal constant VSLASH = 0.5 ether;
    uint64 internal constant EXIT_DELAY = 1 days;
    uint64 internal constant BONDING = 1 days;

    uint96 internal constant PRICE = 1 gwei;
    uint256 internal constant SHARD_SEGMENTS = 8192;
    uint64 internal constant SHARD_SIZE = uint64(SHARD_SEGMENTS * 128);

    IStakeRegistry.Role internal constant HOSTER = IStakeRegistry.Role.Hoster;
    IStakeRegistry.Role internal constant VALIDATOR = IStakeRegistry.Role.Validator;

    Market internal market;
    PossessionTree.Tree internal tree;
    bytes32 internal root;
    uint64 internal shardSize = SHARD_SIZE;

    address internal client = makeAddr("client");
    address internal hoster = makeAddr("hoster");
    address internal hoster2 = makeAddr("hoster2");
    address internal hoster3 = makeAddr("hoster3");

    uint256[] internal validatorKeys;
    address[] internal validators;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        vm.roll(1000);
        market = new Market(defaultParams());
        PossessionTree.Tree memory t = PossessionTree.build("shard", SHARD_SEGMENTS, 6);
        root = t.root();
        _storeTree(t);
        for (uint256 i = 1; i <= 4; ++i) {
            (address v, uint256 k) = makeAddrAndKey(string.concat("validator", vm.toString(i)));
            validatorKeys.push(k);
            validators.push(v);
            _join(VALIDATOR, v, MIN_VALIDATOR);
        }
        _join(HOSTER, hoster, 10 ether);
        _join(HOSTER, hoster2, 10 ether);
        _join(HOSTER, hoster3, 10 ether);
        vm.deal(client, 1000 ether);
        _warp(BONDING); // validators bonded
    }

    function defaultParams() internal pure returns (IMarket.Params memory p) {
        p.epochSeconds = EPOCH;
        p.quorum = QUORUM;
        p.committeeSize = COMMITTEE;
        p.periodEpochs = PERIOD;
        p.reserveEpochs = RESERVE;
        p.proofWindowEpochs = WINDOW;
        p.missedQuorumEpochs = MISSED;
        p.auditBps = AUDIT_BPS;
        p.auditEveryBlocks = AUDIT_EVERY;
        p.maxFaults = MAX_FAULTS;
        p.collateralBps = COLLATERAL_BPS;
        p.validatorFeeBps = FEE_BPS;
        p.slashClientBps = SLASH_CLIENT_BPS;
        p.minHosterStake = MIN_HOSTER;
        p.minValidatorStake = MIN_VALIDATOR;
        p.proofBond = BOND;
        p.validatorSlash = VSLASH;
        p.exitDelay = EXIT_DELAY;
        p.validatorBondingSeconds = BONDING;
    }

    /*//////////////////////////////////////////////////////////////
                                HELPERS
    //////////////////////////////////////////////////////////////*/

    /// @dev Use `t` as the shard of the bids posted from now on.
    function _useTree(PossessionTree.Tree memory t) internal {
        root = PossessionTree.root(t);
        shardSize = uint64(t.n * 128);
        _storeTree(t);
    }

    function _storeTree(PossessionTree.Tree memory t) internal {
        tree.n = t.n;
        tree.d = t.d;
        tree.k = t.k;
        tree.salt = t.salt;
        delete tree.sub;
        for (uint256 l; l < t.sub.length; ++l) {
            tree.sub.push(t.sub[l]);
        }
        tree.zero = t.zero;
        tree.top = t.top;
    }

    function _join(IStakeRegistry.Role role, address account, uint256 stake) internal {
        vm.deal(account, account.balance + stake);
        vm.prank(account);
        market.join{value: stake}(role, "https://node.example", 1 << 40);
    }

    function _cid(uint256 i) internal pure returns (bytes memory) {
        // 36-byte CIDv1 (raw codec, sha2-256 multihash)
        return abi.encodePacked(hex"01551220", keccak256(abi.encode(i)));
    }

    function _cids(uint256 n) internal pure returns (bytes[] memory cids) {
        cids = new bytes[](n);
        for (uint256 i; i < n; ++i) {
            cids[i] = _cid(i);
        }
    }

    function _roots(uint256 n) internal view returns (bytes32[] memory roots) {
        roots = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            roots[i] = root;
        }
    }

    function _bid(uint8 slots, uint32 duration) internal returns (uint256) {
        return _bidAs(client, slots, PRICE, duration);
    }

    /// @dev A replicated bid: one CID, one root for every slot.
    function _bidAs(address who, uint8 slots, uint96 price, uint32 duration) internal returns (uint256) {
        uint256 value = uint256(price) * slots * duration;
        vm.deal(who, who.balance + value);
        vm.prank(who);
        return market.bid{value: value}(_cids(1), _roots(1), shardSize, slots, price, duration, new string[](0));
    }

    /// @dev Mine a block with a known hash and return it as a fill seed block.
    function _seedBlock() internal returns (uint256 seedBlock) {
        seedBlock = vm.getBlockNumber();
        vm.setBlockhash(seedBlock, keccak256(abi.encode("blockhash", seedBlock)));
        vm.roll(vm.getBlockNumber() + 1);
    }

    function _fillProof(address who, uint256 bidId, uint8 slot, uint256 seedBlock)
        internal
        view
        returns (bytes memory)
    {
        bytes32 seed = keccak256(abi.encode(blockhash(seedBlock), bidId, slot, who));
        return PossessionTree.proof(tree, seed);
    }

    function _fill(address who, uint256 bidId, uint8 slot) internal returns (uint256) {
        uint256 seedBlock = _seedBlock();
        bytes memory proof = _fillProof(who, bidId, slot, seedBlock);
        vm.prank(who);
        return market.fill(bidId, slot, seedBlock, type(uint128).max, proof);
    }

    /// @dev The proof answering the deal's open challenge.
    function _challengeProof(uint256 dealId) internal view returns (bytes memory) {
        (, bytes32 seed,,,) = market.challengeOf(dealId);
        return PossessionTree.proof(tree, seed);
    }

    function _seedOf(uint256 dealId) internal view returns (bytes32 seed) {
        (, seed,,,) = market.challengeOf(dealId);
    }

    function _prove(uint256 dealId) internal {
        IMarket.ProofItem[] memory items = new IMarket.ProofItem[](1);
        items[0] = IMarket.ProofItem(dealId, _seedOf(dealId), _challengeProof(dealId));
        market.proveMany(items);
    }

    function _warpEpochs(uint256 n) internal {
        vm.warp(vm.getBlockTimestamp() + n * EPOCH);
        vm.roll(vm.getBlockNumber() + n);
    }

    function _warp(uint256 secs) internal {
        vm.warp(vm.getBlockTimestamp() + secs);
        vm.roll(vm.getBlockNumber() + 1);
    }

    /// @dev Warp to the first second of epoch `e`.
    function _warpToEpoch(uint256 e) internal {
        vm.warp(uint256(market.params().genesis) + e * EPOCH);
        vm.roll(vm.getBlockNumber() + 1);
    }

    function _sign(uint256 key, uint256 dealId, uint32 from, uint32 to, bool ok, bytes32 evidence)
        internal
        view
        returns (IMarket.Signature memory sig)
    {
        bytes32 digest = market.attestationDigest(dealId, from, to, ok, evidence);
        (sig.v, sig.r, sig.s) = vm.sign(key, digest);
        sig.evidence = evidence;
    }

    /// @dev Signatures of the first `n` validators (by key index), sorted by signer address.
    function _sigs(uint256 dealId, uint32 from, uint32 to, bool ok, uint256 n)
        internal
        view
        returns (IMarket.Signature[] memory)
    {
        uint256[] memory keys = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            keys[i] = validatorKeys[i];
        }
        return _sigsWith(dealId, from, to, ok, keys);
    }

    function _sigsWith(uint256 dealId, uint32 from, uint32 to, bool ok, uint256[] memory keys)
        internal
        view
        returns (IMarket.Signature[] memory sigs)
    {
        keys = _sortKeys(keys);
        sigs = new IMarket.Signature[](keys.length);
        for (uint256 i; i < keys.length; ++i) {
            sigs[i] = _sign(keys[i], dealId, from, to, ok, keccak256(abi.encode("evidence", i)));
        }
    }

    function _settle(uint256 dealId, uint32 from, uint32 to) internal {
        market.settle(dealId, from, to, _sigs(dealId, from, to, true, QUORUM));
    }

    /// @dev A settleMany item for [from, to] with a quorum of `ok` signatures.
    function _item(uint256 dealId, uint32 from, uint32 to) internal view returns (IMarket.Settlement memory) {
        return IMarket.Settlement(dealId, from, to, _sigs(dealId, from, to, true, QUORUM));
    }

    function _sortKeys(uint256[] memory keys) internal pure returns (uint256[] memory) {
        for (uint256 i = 1; i < keys.length; ++i) {
            for (uint256 j = i; j > 0 && vm.addr(keys[j - 1]) > vm.addr(keys[j]); --j) {
                (keys[j - 1], keys[j]) = (keys[j], keys[j - 1]);
            }
        }
        return keys;
    }

    function _deal(uint256 dealId) internal view returns (IMarket.Deal memory) {
        return market.getDeal(dealId);
    }

    function _collateralOf(uint32 budget) internal pure returns (uint256) {
        return uint256(PRICE) * budget * COLLATERAL_BPS / 10_000;
    }

    /// @dev Escrow a bid must hold: open slots' budgets + live deals' unpaid budgets.
    function _bidEscrowFormula(uint256 bidId) internal view returns (uint256 sum) {
        IMarket.Bid memory b = market.getBid(bidId);
        for (uint8 s; s < b.slotCount; ++s) {
            uint32 bit = uint32(1) << s;
            if (b.closedSlots & bit != 0) continue;
            if (b.openSlots & bit != 0) {
                sum += uint256(b.pricePerEpoch) * market.slotEpochs(bidId, s);
                continue;
            }
            for (uint256 id = 1; id <= market.dealCount(); ++id) {
                IMarket.Deal memory d = market.getDeal(id);
                if (d.bidId == bidId && d.slot == s && d.status == IMarket.DealStatus.Active) {
                    sum += uint256(b.pricePerEpoch) * (d.endEpoch - d.startEpoch + 1 - d.paidEpochs);
                }
            }
        }
    }
}
