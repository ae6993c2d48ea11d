// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";

import {Market} from "../../Market.sol";
import {IMarket} from "../../interfaces/IMarket.sol";
import {IStakeRegistry} from "../../interfaces/IStakeRegistry.sol";
import {PossessionTree} from "../utils/PossessionTree.sol";

/// @notice Drives random market operations by a cast that includes the attackers of
///         docs/trust.md: an honest hoster (answers every challenge at once), a hoster that
///         deleted its data (never proves), a hoster running its own validators, Sybil
///         validators (fresh addresses), a client that withholds data (reserved slots expire),
///         a client that corrupts data (its root matches nothing served), and a client that
///         extends. Ghost state records what the invariants compare against.
contract MarketHandler is Test {
    using PossessionTree for PossessionTree.Tree;

    uint256 internal constant HONEST = 0; // hoster indices
    uint256 internal constant DELETER = 1;
    uint256 internal constant COLLUDER = 2; // runs its own validators
    uint256 internal constant HOSTERS = 3;
    uint256 internal constant CLIENTS = 3; // 0 honest/extending, 1 withholding, 2 corrupting
    uint256 internal constant SEGMENTS = 64;
    uint256 internal constant EPOCH = 3600;

    Market public immutable market;
    PossessionTree.Tree internal tree;
    bytes32 public root;
    bytes32 public bogusRoot;

    address[] public hosters;
    uint256[] internal hosterKeys;
    address[] public clients;
    uint256[] public honestKeys; // independent validators
    uint256[] public colluderKeys; // validators run by hoster COLLUDER
    uint256[] public sybilKeys; // fresh validators, joined during the run
    address public reporter = makeAddr("reporter");

    // ghosts
    mapping(uint256 dealId => mapping(uint256 epoch => bool)) public ghostPaid;
    mapping(uint256 dealId => uint256) public ghostPaidCount;
    mapping(uint256 dealId => uint32[]) internal _ghostFailed;
    mapping(uint256 dealId => uint32) public ghostEnd; // end fixed at fill (or extendDeal)
    mapping(uint256 dealId => uint128) public ghostCollateralCap; // collateral never above
    mapping(address hoster => uint256) public ghostStakeIn; // joined + topped up
    mapping(address hoster => uint256) public ghostSlashed; // via reportMissedProof only
    uint256 public forcedEth;
    bool public doublePaid;
    bool public paidByNonMember;
    bool public honestProofFailed;
    mapping(bytes32 name => uint256) public calls;

    constructor(Market m, uint256[] memory honest) {
        market = m;
        honestKeys = honest;
        PossessionTree.Tree memory t = PossessionTree.build("invariant shard", SEGMENTS, 6);
        root = t.root();
        bogusRoot = PossessionTree.build("what the client never serves", SEGMENTS, 6).root();
        tree.n = t.n;
        tree.d = t.d;
        tree.k = t.k;
        tree.salt = t.salt;
        for (uint256 l; l < t.sub.length; ++l) {
            tree.sub.push(t.sub[l]);
        }
        tree.zero = t.zero;
        tree.top = t.top;
        for (uint256 i; i < HOSTERS; ++i) {
            (address h, uint256 k) = makeAddrAndKey(string.concat("inv hoster ", vm.toString(i)));
            hosters.push(h);
            hosterKeys.push(k);
        }
        for (uint256 i; i < CLIENTS; ++i) {
            clients.push(makeAddr(string.concat("inv client ", vm.toString(i))));
        }
        for (uint256 i; i < 4; ++i) {
            colluderKeys.push(uint256(keccak256(abi.encode("colluder validator", i))));
        }
    }

    /// @dev Set-up only (not a fuzz target): stake the hosters and the colluder's validators.
    function bootstrap() external {
        for (uint256 i; i < HOSTERS; ++i) {
            _joinHoster(hosters[i], 10 ether);
        }
        for (uint256 i; i < colluderKeys.length; ++i) {
            _joinValidator(vm.addr(colluderKeys[i]));
        }
    }

    /*//////////////////////////////////////////////////////////////
                                ACTIONS
    //////////////////////////////////////////////////////////////*/

    function bid(uint256 clientSeed, uint8 slots, uint32 duration, uint96 price) external {
        uint256 c = clientSeed % CLIENTS;
        slots = uint8(bound(slots, 1, 4));
        duration = uint32(bound(duration, 1, 40));
        price = uint96(bound(price, 1, 1e12));
        uint256 value = uint256(price) * slots * duration;
        address who = clients[c];
        vm.deal(who, who.balance + value);
        bytes32[] memory roots = new bytes32[](1);
        roots[0] = c == 2 ? bogusRoot : root;
        bytes[] memory cids = new bytes[](1);
        cids[0] = abi.encodePacked("cid", c);
        vm.prank(who);
        market.bid{value: value}(cids, roots, uint64(SEGMENTS * 128), slots, price, duration, new string[](0));
        ++calls["bid"];
    }

    function reserve(uint256 hosterSeed, uint256 bidSeed, uint8 slot) external {
        (uint256 bidId, bool ok) = _someBid(bidSeed);
        if (!ok) return;
        vm.prank(hosters[hosterSeed % HOSTERS]);
        try market.reserve(bidId, slot % 4, type(uint128).max) {
            ++calls["reserve"];
        } catch {}
    }

    function releaseReservation(uint256 bidSeed, uint8 slot) external {
        (uint256 bidId, bool ok) = _someBid(bidSeed);
        if (!ok) return;
        try market.releaseReservation(bidId, slot % 4) {
            ++calls["release"];
        } catch {}
    }

    /// @dev Every hoster fills with a proof of the data it received; the withholding client's
    ///      reservations simply expire, the corrupting client's root matches nothing.
    function fill(uint256 hosterSeed, uint256 bidSeed) external {
        (uint256 bidId, bool ok) = _someBid(bidSeed);
        if (!ok) return;
        IMarket.Bid memory b = market.getBid(bidId);
        if (b.client == clients[1]) return; // never delivered
        uint8 slot;
        while (slot < b.slotCount && b.openSlots & (uint32(1) << slot) == 0) ++slot;
        if (slot == b.slotCount) return;
        address h = hosters[hosterSeed % HOSTERS];
        for (uint256 i; i < HOSTERS && market.hosterLiveInBid(bidId, h); ++i) {
            h = hosters[(hosterSeed + i) % HOSTERS];
        }
        uint256 seedBlock = vm.getBlockNumber();
        vm.setBlockhash(seedBlock, keccak256(abi.encode("inv blockhash", seedBlock)));
        vm.roll(vm.getBlockNumber() + 1);
        bytes memory proof = _tree().proof(keccak256(abi.encode(blockhash(seedBlock), bidId, slot, h)));
        vm.prank(h);
        try market.fill(bidId, slot, seedBlock, type(uint128).max, proof) returns (uint256 dealId) {
            IMarket.Deal memory d = market.getDeal(dealId);
            ghostEnd[dealId] = d.endEpoch;
            ghostCollateralCap[dealId] = d.collateral;
            ++calls["fill"];
        } catch {}
    }

    /// @dev Settle with committee members among the independent validators, or (for the
    ///      colluder's deals, or when `adversarial`) with the colluder's or Sybil validators.
    function settle(uint256 dealSeed, uint8 epochs, uint8 signerSet) external {
        (uint256 dealId, bool ok) = _someDeal(dealSeed);
        if (!ok) return;
        IMarket.Deal memory d = market.getDeal(dealId);
        uint32 from = (d.paidThrough > d.failedEpoch ? d.paidThrough : d.failedEpoch) + 1;
        uint32 to = from + uint32(bound(epochs, 0, 5));
        uint32 period = market.params().periodEpochs;
        uint32 last = (from / period + 1) * period - 1; // the period's last epoch
        if (to > last) to = last;
        if (to > d.endEpoch) to = d.endEpoch;
        if (to >= market.currentEpoch()) to = market.currentEpoch() - 1;
        if (to < from) return;
        uint256[] memory keys = _signers(dealId, from, signerSet % 3);
        if (keys.length < 2) return;
        bool allMembers = true;
        for (uint256 i; i < keys.length; ++i) {
            allMembers = allMembers && market.isCommitteeMember(dealId, from, vm.addr(keys[i]));
        }
        IMarket.Signature[] memory sigs = _sign(dealId, from, to, true, keys);
        try market.settle(dealId, from, to, sigs) {
            if (!allMembers) paidByNonMember = true;
            for (uint32 e = from; e <= to; ++e) {
                if (ghostPaid[dealId][e]) doublePaid = true;
                ghostPaid[dealId][e] = true;
            }
            ghostPaidCount[dealId] += to - from + 1;
            ++calls["settle"];
        } catch {}
    }

    /// @dev A `fail` quorum (of whichever signer set) posts a bond and asks for a proof.
    function requestProof(uint256 dealSeed, uint8 back, uint8 signerSet) external {
        (uint256 dealId, bool ok) = _someDeal(dealSeed);
        if (!ok) return;
        uint32 current = market.currentEpoch();
        uint32 epoch = current - uint32(bound(back, 0, 3));
        uint256[] memory keys = _signers(dealId, epoch, signerSet % 3);
        if (keys.length < 2) return;
        IMarket.Signature[] memory sigs = _sign(dealId, epoch, epoch, false, keys);
        uint256 bond = market.params().proofBond;
        vm.deal(reporter, reporter.balance + bond);
        vm.prank(reporter);
        try market.requestProof{value: bond}(dealId, epoch, sigs) {
            ++calls["requestProof"];
            _honestAnswers(dealId);
        } catch {}
    }

    function requestProofForMissedQuorum(uint256 dealSeed) external {
        (uint256 dealId, bool ok) = _someDeal(dealSeed);
        if (!ok) return;
        try market.requestProofForMissedQuorum(dealId) {
            ++calls["missedQuorum"];
            _honestAnswers(dealId);
        } catch {}
    }

    function audit(uint256 dealSeed, uint256 hashSeed) external {
        (uint256 dealId, bool ok) = _someDeal(dealSeed);
        if (!ok) return;
        uint256 every = market.params().auditEveryBlocks;
        vm.roll(vm.getBlockNumber() + every);
        uint256 seedBlock = (vm.getBlockNumber() - 1) / every * every;
        vm.setBlockhash(seedBlock, keccak256(abi.encode("inv audit", hashSeed)));
        try market.audit(dealId, seedBlock) {
            ++calls["audit"];
            _honestAnswers(dealId);
        } catch {}
    }

    /// @dev The colluder proves too (it holds the data); the deleter cannot.
    function prove(uint256 dealSeed) external {
        (uint256 dealId, bool ok) = _someDeal(dealSeed);
        if (!ok) return;
        if (market.getDeal(dealId).hoster == hosters[DELETER]) return;
        _proveNow(dealId);
    }

    function reportMissedProof(uint256 dealSeed) external {
        (uint256 dealId, bool ok) = _someDeal(dealSeed);
        if (!ok) return;
        IMarket.Deal memory d = market.getDeal(dealId);
        (,, uint32 epoch,,) = market.challengeOf(dealId);
        uint256 before = market.node(IStakeRegistry.Role.Hoster, d.hoster).stake;
        vm.prank(reporter);
        try market.reportMissedProof(dealId) {
            ghostSlashed[d.hoster] += before - market.node(IStakeRegistry.Role.Hoster, d.hoster).stake;
            _ghostFailed[dealId].push(epoch);
            ++calls["reportMissedProof"];
            _honestAnswers(dealId);
        } catch {}
    }

    function finish(uint256 dealSeed) external {
        (uint256 dealId, bool ok) = _someDeal(dealSeed);
        if (!ok) return;
        try market.finish(dealId) {
            ++calls["finish"];
        } catch {}
    }

    function cancel(uint256 bidSeed, uint8 slot) external {
        (uint256 bidId, bool ok) = _someBid(bidSeed);
        if (!ok) return;
        vm.prank(market.getBid(bidId).client);
        try market.cancel(bidId, slot % 4) {
            ++calls["cancel"];
        } catch {}
    }

    /// @dev The extending client adds epochs to its open slots (never to live deals).
    function extend(uint256 bidSeed, uint32 extra) external {
        (uint256 bidId, bool ok) = _someBid(bidSeed);
        if (!ok) return;
        IMarket.Bid memory b = market.getBid(bidId);
        extra = uint32(bound(extra, 1, 20));
        uint32 slots = b.openSlots & ~b.reservedSlots;
        uint256 n;
        for (uint256 i; i < 4; ++i) {
            if (slots & (uint32(1) << uint32(i)) != 0) ++n;
        }
        uint256 value = uint256(b.pricePerEpoch) * n * extra;
        vm.deal(b.client, b.client.balance + value);
        vm.prank(b.client);
        try market.extend{value: value}(bidId, extra) {
            ++calls["extend"];
        } catch {}
    }

    /// @dev A live deal extended with its hoster's signature (the only way terms change).
    function extendDeal(uint256 dealSeed, uint32 extra) external {
        (uint256 dealId, bool ok) = _someDeal(dealSeed);
        if (!ok) return;
        IMarket.Deal memory d = market.getDeal(dealId);
        if (d.status != IMarket.DealStatus.Active) return;
        IMarket.Bid memory b = market.getBid(d.bidId);
        extra = uint32(bound(extra, 1, 10));
        uint256 key;
        for (uint256 i; i < HOSTERS; ++i) {
            if (hosters[i] == d.hoster) key = hosterKeys[i];
        }
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, market.extendDealDigest(dealId, extra, d.endEpoch));
        uint256 value = uint256(b.pricePerEpoch) * extra;
        vm.deal(b.client, b.client.balance + value);
        vm.prank(b.client);
        try market.extendDeal{value: value}(dealId, extra, abi.encodePacked(r, s, v)) {
            IMarket.Deal memory e = market.getDeal(dealId);
            ghostEnd[dealId] = e.endEpoch;
            ghostCollateralCap[dealId] = e.collateral;
            ++calls["extendDeal"];
        } catch {}
    }

    /// @dev A fresh Sybil validator joins (unbonded at first).
    function joinSybil(uint256 salt) external {
        if (sybilKeys.length >= 6) return;
        uint256 key = uint256(keccak256(abi.encode("sybil", salt, sybilKeys.length)));
        sybilKeys.push(key);
        _joinValidator(vm.addr(key));
        ++calls["joinSybil"];
    }

    function withdraw(uint256 who) external {
        address[] memory all = accounts();
        address a = all[who % all.length];
        if (market.balanceOf(a) == 0) return;
        vm.prank(a);
        market.withdraw(payable(a));
        ++calls["withdraw"];
    }

    function forceEth(uint96 amount) external {
        amount = uint96(bound(amount, 1, 1 ether));
        vm.deal(address(market), address(market).balance + amount);
        forcedEth += amount;
    }

    function warp(uint8 epochs) external {
        uint256 n = bound(epochs, 1, 6);
        vm.warp(vm.getBlockTimestamp() + n * EPOCH);
        vm.roll(vm.getBlockNumber() + n);
        ++calls["warp"];
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    function accounts() public view returns (address[] memory all) {
        uint256 n = HOSTERS + CLIENTS + honestKeys.length + colluderKeys.length + sybilKeys.length + 1;
        all = new address[](n);
        uint256 k;
        for (uint256 i; i < HOSTERS; ++i) {
            all[k++] = hosters[i];
        }
        for (uint256 i; i < CLIENTS; ++i) {
            all[k++] = clients[i];
        }
        for (uint256 i; i < honestKeys.length; ++i) {
            all[k++] = vm.addr(honestKeys[i]);
        }
        for (uint256 i; i < colluderKeys.length; ++i) {
            all[k++] = vm.addr(colluderKeys[i]);
        }
        for (uint256 i; i < sybilKeys.length; ++i) {
            all[k++] = vm.addr(sybilKeys[i]);
        }
        all[k] = reporter;
    }

    function hosterCount() external pure returns (uint256) {
        return HOSTERS;
    }

    function ghostFailed(uint256 dealId) external view returns (uint32[] memory) {
        return _ghostFailed[dealId];
    }

    /*//////////////////////////////////////////////////////////////
                                HELPERS
    //////////////////////////////////////////////////////////////*/

    function _tree() internal view returns (PossessionTree.Tree memory) {
        return tree;
    }

    function _joinHoster(address h, uint256 stake) internal {
        vm.deal(h, h.balance + stake);
        vm.prank(h);
        market.join{value: stake}(IStakeRegistry.Role.Hoster, "https://h.example", 1 << 40);
        ghostStakeIn[h] += stake;
    }

    function _joinValidator(address v) internal {
        uint256 stake = market.params().minValidatorStake;
        vm.deal(v, v.balance + stake);
        vm.prank(v);
        market.join{value: stake}(IStakeRegistry.Role.Validator, "https://v.example", 0);
    }

    /// @dev The honest hoster answers every challenge at once.
    function _honestAnswers(uint256 dealId) internal {
        if (market.getDeal(dealId).hoster != hosters[HONEST]) return;
        (bool open,,,,) = market.challengeOf(dealId);
        if (!open) return;
        if (!_proveNow(dealId)) honestProofFailed = true;
    }

    function _proveNow(uint256 dealId) internal returns (bool) {
        (, bytes32 seed,,,) = market.challengeOf(dealId);
        IMarket.ProofItem[] memory items = new IMarket.ProofItem[](1);
        items[0] = IMarket.ProofItem(dealId, seed, _tree().proof(seed));
        try market.proveMany(items) {
            ++calls["prove"];
            (bool open,,,,) = market.challengeOf(dealId);
            return !open;
        } catch {
            return false;
        }
    }

    /// @dev 0: independent committee members; 1: the colluder's validators; 2: Sybils (any).
    function _signers(uint256 dealId, uint32 epoch, uint256 set) internal view returns (uint256[] memory keys) {
        uint256[] storage pool = set == 0 ? honestKeys : set == 1 ? colluderKeys : sybilKeys;
        uint256[] memory picked = new uint256[](pool.length);
        uint256 n;
        for (uint256 i; i < pool.length; ++i) {
            if (set != 0 || market.isCommitteeMember(dealId, epoch, vm.addr(pool[i]))) picked[n++] = pool[i];
        }
        if (n > 2) n = 2;
        keys = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            keys[i] = picked[i];
        }
        if (n == 2 && vm.addr(keys[0]) > vm.addr(keys[1])) (keys[0], keys[1]) = (keys[1], keys[0]);
    }

    function _sign(uint256 dealId, uint32 from, uint32 to, bool ok, uint256[] memory keys)
        internal
        view
        returns (IMarket.Signature[] memory sigs)
    {
        sigs = new IMarket.Signature[](keys.length);
        for (uint256 i; i < keys.length; ++i) {
            bytes32 evidence = keccak256(abi.encode(i));
            (sigs[i].v, sigs[i].r, sigs[i].s) =
                vm.sign(keys[i], market.attestationDigest(dealId, from, to, ok, evidence));
            sigs[i].evidence = evidence;
        }
    }

    function _someBid(uint256 seed) internal view returns (uint256, bool) {
        uint256 count = market.bidCount();
        if (count == 0) return (0, false);
        return (seed % count + 1, true);
    }

    function _someDeal(uint256 seed) internal view returns (uint256, bool) {
        uint256 count = market.dealCount();
        if (count == 0) return (0, false);
        return (seed % count + 1, true);
    }
}
