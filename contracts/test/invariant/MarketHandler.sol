// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";

import {Market} from "../../Market.sol";
import {IMarket} from "../../interfaces/IMarket.sol";
import {IStakeRegistry} from "../../interfaces/IStakeRegistry.sol";
import {SlotBits} from "../../libraries/SlotBits.sol";

/// @notice Drives random sequences of market operations by a fixed cast of actors and keeps
///         ghost state the invariants compare against. Attestations are real EIP-712
///         signatures by a fixed set of validator keys.
contract MarketHandler is Test {
    IStakeRegistry.Role internal constant HOSTER = IStakeRegistry.Role.Hoster;
    IStakeRegistry.Role internal constant VALIDATOR = IStakeRegistry.Role.Validator;

    uint256 internal constant MAX_BIDS = 12;
    uint256 internal constant MAX_SLOTS = 4;
    uint256 internal constant MAX_DURATION = 12;

    Market public immutable market;
    uint32 internal immutable epochSeconds;
    uint32 internal immutable grace;
    uint8 internal immutable quorum;
    uint128 internal immutable minHoster;

    address[] public clients;
    address[] public hosters;
    address[] public validators;
    uint256[] internal validatorKeys;
    address public reporter = makeAddr("reporter");

    /*//////////////////////////////////////////////////////////////
                                 GHOSTS
    //////////////////////////////////////////////////////////////*/

    /// @dev Epochs of each deal for which the handler produced an `ok` quorum.
    mapping(uint256 dealId => uint256) public ghostOkQuorumEpochs;
    /// @dev Times each (deal, epoch) was paid.
    mapping(uint256 dealId => mapping(uint256 epoch => uint256)) public ghostPaidCount;
    mapping(uint256 dealId => uint256) public ghostPaidEpochs;
    bool public ghostDoublePaid;
    /// @dev Set if a deal became Faulted without a fault condition holding before the call.
    bool public ghostUnjustifiedSlash;
    /// @dev Set if a call without a valid quorum paid anything.
    bool public ghostPaidWithoutQuorum;
    mapping(address hoster => uint256) public ghostStakeIn;
    mapping(address hoster => uint256) public ghostSlashed;
    /// @dev Active deal of each (bid, slot), 0 if none.
    mapping(uint256 bidId => mapping(uint256 slot => uint256)) public ghostSlotDeal;

    mapping(bytes32 => uint256) public calls;

    constructor(Market market_, uint256[] memory keys) {
        market = market_;
        IMarket.Params memory p = market_.params();
        epochSeconds = p.epochSeconds;
        grace = p.graceEpochs;
        quorum = p.quorum;
        minHoster = p.minHosterStake;
        for (uint256 i; i < 3; ++i) {
            clients.push(makeAddr(string.concat("client", vm.toString(i))));
        }
        for (uint256 i; i < 4; ++i) {
            hosters.push(makeAddr(string.concat("hoster", vm.toString(i))));
        }
        for (uint256 i; i < keys.length; ++i) {
            validatorKeys.push(keys[i]);
            validators.push(vm.addr(keys[i]));
        }
    }

    /*//////////////////////////////////////////////////////////////
                              STAKE REGISTRY
    //////////////////////////////////////////////////////////////*/

    function joinHoster(uint256 seed, uint256 stake) external {
        address h = hosters[seed % hosters.length];
        if (market.node(HOSTER, h).status != IStakeRegistry.NodeStatus.None) return;
        stake = bound(stake, minHoster, 20 ether);
        vm.deal(h, stake);
        vm.prank(h);
        market.join{value: stake}(HOSTER, "https://h.example", 1 << 40);
        ghostStakeIn[h] = stake;
        ghostSlashed[h] = 0;
        calls["joinHoster"]++;
    }

    function topUpHoster(uint256 seed, uint256 amount) external {
        address h = hosters[seed % hosters.length];
        if (market.node(HOSTER, h).status == IStakeRegistry.NodeStatus.None) return;
        amount = bound(amount, 1, 5 ether);
        vm.deal(h, amount);
        vm.prank(h);
        market.topUp{value: amount}(HOSTER);
        ghostStakeIn[h] += amount;
        calls["topUp"]++;
    }

    function announceExitHoster(uint256 seed) external {
        if (seed % 4 != 0) return; // rarely: exits stop hosters from taking deals
        address h = hosters[(seed / 4) % hosters.length];
        if (market.node(HOSTER, h).status != IStakeRegistry.NodeStatus.Active) return;
        vm.prank(h);
        market.announceExit(HOSTER);
        calls["announceExit"]++;
    }

    function exitHoster(uint256 seed) external {
        address h = hosters[seed % hosters.length];
        IStakeRegistry.Node memory n = market.node(HOSTER, h);
        if (n.status != IStakeRegistry.NodeStatus.Exiting || n.locked != 0 || block.timestamp < n.exitAt) return;
        vm.prank(h);
        market.exit(HOSTER);
        ghostStakeIn[h] = 0;
        ghostSlashed[h] = 0;
        calls["exitHoster"]++;
    }

    /// @dev The last validator cycles through exit and re-join, so eligibility changes.
    function cycleValidator() external {
        address v = validators[validators.length - 1];
        IStakeRegistry.Node memory n = market.node(VALIDATOR, v);
        vm.startPrank(v);
        if (n.status == IStakeRegistry.NodeStatus.Active) {
            market.announceExit(VALIDATOR);
        } else if (n.status == IStakeRegistry.NodeStatus.Exiting) {
            if (block.timestamp >= n.exitAt) market.exit(VALIDATOR);
        } else {
            vm.deal(v, 1 ether);
            market.join{value: 1 ether}(VALIDATOR, "https://v.example", 0);
        }
        vm.stopPrank();
        calls["cycleValidator"]++;
    }

    /*//////////////////////////////////////////////////////////////
                                  BIDS
    //////////////////////////////////////////////////////////////*/

    function bid(uint256 seed, uint256 slots, uint256 price, uint256 duration) external {
        if (market.bidCount() >= MAX_BIDS) return;
        address c = clients[seed % clients.length];
        slots = bound(slots, 1, MAX_SLOTS);
        price = bound(price, 1, 1e15); // collateral stays well below stakes, so deals happen
        duration = bound(duration, 1, MAX_DURATION);
        uint256 value = price * slots * duration;
        bytes[] memory cids = new bytes[](1);
        cids[0] = abi.encodePacked(hex"01551220", keccak256(abi.encode(seed)));
        vm.deal(c, value);
        vm.prank(c);
        market.bid{value: value}(cids, 1024, uint8(slots), uint96(price), uint32(duration), new string[](0));
        calls["bid"]++;
    }

    function accept(uint256 bidSeed, uint256 slotSeed, uint256 hosterSeed) external {
        uint256 bidId = _someBid(bidSeed);
        if (bidId == 0) return;
        IMarket.Bid memory b = market.getBid(bidId);
        if (b.openSlots == 0) return;
        uint8 slot = _someSetBit(b.openSlots, slotSeed);
        uint256 collateral = uint256(b.pricePerEpoch) * (b.durationEpochs - market.slotOffset(bidId, slot))
            * market.params().collateralBps / 10_000;
        // the first hoster (from a random one) that may take the slot
        address h;
        for (uint256 i; i < hosters.length; ++i) {
            address candidate = hosters[(hosterSeed % hosters.length + i) % hosters.length];
            if (
                !market.hosterInBid(bidId, candidate) && candidate != b.client
                    && market.node(HOSTER, candidate).status == IStakeRegistry.NodeStatus.Active
                    && market.freeStake(HOSTER, candidate) >= collateral
            ) {
                h = candidate;
                break;
            }
        }
        if (h == address(0)) return;
        vm.prank(h);
        uint256 dealId = market.accept(bidId, slot);
        ghostSlotDeal[bidId][slot] = dealId;
        calls["accept"]++;
    }

    function cancel(uint256 bidSeed, uint256 slotSeed) external {
        uint256 bidId = _someBid(bidSeed);
        if (bidId == 0) return;
        IMarket.Bid memory b = market.getBid(bidId);
        if (b.openSlots == 0) return;
        uint8 slot = _someSetBit(b.openSlots, slotSeed);
        vm.prank(b.client);
        market.cancel(bidId, slot);
        calls["cancel"]++;
    }

    function extend(uint256 bidSeed, uint256 extra) external {
        uint256 bidId = _someBid(bidSeed);
        if (bidId == 0) return;
        IMarket.Bid memory b = market.getBid(bidId);
        uint32 live = SlotBits.mask(b.slotCount) & ~b.closedSlots;
        if (live == 0 || b.durationEpochs >= 3 * MAX_DURATION) return;
        extra = bound(extra, 1, 6);
        uint256 value = uint256(b.pricePerEpoch) * SlotBits.count(live) * extra;
        vm.deal(b.client, value);
        vm.prank(b.client);
        market.extend{value: value}(bidId, uint32(extra));
        calls["extend"]++;
    }

    /*//////////////////////////////////////////////////////////////
                                  DEALS
    //////////////////////////////////////////////////////////////*/

    /// @dev Settle the next unpaid range (sometimes skipping epochs) with an honest quorum.
    function settle(uint256 dealSeed, uint256 skip, uint256 len, uint256 signerSeed) external {
        (uint256 dealId, IMarket.Deal memory d) = _someActiveDeal(dealSeed);
        if (dealId == 0) return;
        uint256 current = market.currentEpoch();
        uint256 end = market.dealEndEpoch(dealId);
        uint256 last = current == 0 ? 0 : current - 1;
        if (end < last) last = end;
        uint256 from = uint256(d.paidThrough) + 1 + bound(skip, 0, 1);
        if (from > last) return;
        uint256 to = from + bound(len, 0, last - from);
        IMarket.Signature[] memory sigs = _quorumSigs(dealId, uint32(from), uint32(to), true, signerSeed);
        if (sigs.length < quorum) return;
        // Only the hoster may skip unpaid epochs; anyone may settle the next unpaid range.
        if (from != uint256(d.paidThrough) + 1) vm.prank(d.hoster);
        market.settle(dealId, uint32(from), uint32(to), sigs);
        _recordPaid(dealId, from, to);
        calls["settle"]++;
    }

    /// @dev Settle the next unpaid range of up to four deals in one settleMany, anyone calling.
    ///      Items of deals no longer active, and sometimes a deal's last paid epoch (as if another
    ///      transaction had settled first), must be skipped; the rest must settle.
    function settleMany(uint256 dealSeed, uint256 count, uint256 len, uint256 signerSeed) external {
        uint256 deals = market.dealCount();
        if (deals == 0) return;
        count = bound(count, 1, deals < 4 ? deals : 4);
        IMarket.Settlement[] memory items = new IMarket.Settlement[](count);
        bool[] memory settles = new bool[](count);
        uint256 n;
        uint256 expected;
        for (uint256 i; i < count; ++i) {
            (bool usable, bool settling, IMarket.Settlement memory item) = _batchItem(dealSeed, i, len, signerSeed);
            if (!usable) continue;
            items[n] = item;
            settles[n++] = settling;
            if (settling) ++expected;
        }
        if (n == 0) return;
        assembly {
            mstore(items, n)
        }
        vm.prank(reporter); // a stranger: every settled item starts at the next unpaid epoch
        assertEq(market.settleMany(items), expected, "settleMany count");
        for (uint256 i; i < n; ++i) {
            if (settles[i]) _recordPaid(items[i].dealId, items[i].fromEpoch, items[i].toEpoch);
        }
        calls["settleMany"]++;
        calls["settleManySkipped"] += n - expected;
    }

    /// @dev Adversarial: replays, sub-quorum or forged attestations must never pay.
    function settleAdversarial(uint256 dealSeed, uint256 mode) external {
        (uint256 dealId, IMarket.Deal memory d) = _someActiveDeal(dealSeed);
        if (dealId == 0) return;
        uint32 from = d.paidThrough + 1;
        uint32 to = from;
        IMarket.Signature[] memory sigs;
        mode %= 4;
        if (mode == 0) {
            // a single signature
            sigs = new IMarket.Signature[](1);
            sigs[0] = _sign(validatorKeys[0], dealId, from, to, true);
        } else if (mode == 1) {
            // replay already-paid epochs
            if (d.paidEpochs == 0) return;
            from = d.paidThrough;
            to = from;
            sigs = _quorumSigs(dealId, from, to, true, 0);
        } else if (mode == 2) {
            // stranger keys
            uint256[] memory keys = new uint256[](quorum);
            for (uint256 i; i < keys.length; ++i) {
                keys[i] = uint256(keccak256(abi.encode("stranger", i)));
            }
            sigs = _signSorted(keys, dealId, from, to, true);
        } else {
            // signatures for another deal
            sigs = _quorumSigs(dealId + 1, from, to, true, 0);
        }
        uint256 paidBefore = market.getDeal(dealId).paidEpochs;
        try market.settle(dealId, from, to, sigs) {
            ghostPaidWithoutQuorum = true;
        } catch {}
        if (market.getDeal(dealId).paidEpochs != paidBefore) ghostPaidWithoutQuorum = true;
        calls["settleAdversarial"]++;
    }

    function faultMissed(uint256 dealSeed) external {
        (uint256 dealId, IMarket.Deal memory d) = _someActiveDeal(dealSeed);
        if (dealId == 0) return;
        bool condition =
            market.currentEpoch() > uint256(d.paidThrough) + grace && d.paidThrough < market.dealEndEpoch(dealId);
        vm.prank(reporter);
        try market.faultMissed(dealId) {
            if (!condition) ghostUnjustifiedSlash = true;
            _recordFault(dealId, d);
            calls["faultMissed"]++;
        } catch {
            calls["faultMissedReverted"]++;
        }
    }

    /// @dev The handler decides the hoster failed and signs a `fail` quorum for an unpaid range.
    function faultFailed(uint256 dealSeed, uint256 len, uint256 signerSeed) external {
        (uint256 dealId, IMarket.Deal memory d) = _someActiveDeal(dealSeed);
        if (dealId == 0) return;
        uint256 current = market.currentEpoch();
        uint256 end = market.dealEndEpoch(dealId);
        uint256 last = current < end ? current : end;
        uint256 from = uint256(d.paidThrough) + 1;
        if (from > last) return;
        uint256 to = from + bound(len, 0, last - from);
        IMarket.Signature[] memory sigs = _quorumSigs(dealId, uint32(from), uint32(to), false, signerSeed);
        if (sigs.length < quorum) return; // no fail quorum: no fault condition
        market.faultFailed(dealId, uint32(from), uint32(to), sigs);
        _recordFault(dealId, d);
        calls["faultFailed"]++;
    }

    function finish(uint256 dealSeed) external {
        (uint256 dealId, IMarket.Deal memory d) = _someActiveDeal(dealSeed);
        if (dealId == 0) return;
        if (market.currentEpoch() <= uint256(market.dealEndEpoch(dealId)) + grace) return;
        market.finish(dealId);
        ghostSlotDeal[d.bidId][d.slot] = 0;
        calls["finish"]++;
    }

    function withdraw(uint256 seed) external {
        address a = _someAccount(seed);
        if (market.balanceOf(a) == 0) return;
        vm.prank(a);
        market.withdraw(payable(a));
        calls["withdraw"]++;
    }

    function warp(uint256 epochs) external {
        epochs = bound(epochs, 1, 4);
        vm.warp(block.timestamp + epochs * epochSeconds);
        vm.roll(block.number + epochs);
        calls["warp"]++;
    }

    /*//////////////////////////////////////////////////////////////
                          CLEAN-UP (afterInvariant)
    //////////////////////////////////////////////////////////////*/

    /// @dev Warp past every deal's end + grace, finish every active deal, cancel every open slot.
    function recoverAll() external {
        vm.warp(block.timestamp + (4 * MAX_DURATION + grace + 30) * epochSeconds);
        for (uint256 id = 1; id <= market.dealCount(); ++id) {
            IMarket.Deal memory d = market.getDeal(id);
            if (d.status != IMarket.DealStatus.Active) continue;
            market.finish(id);
            ghostSlotDeal[d.bidId][d.slot] = 0;
        }
        for (uint256 bidId = 1; bidId <= market.bidCount(); ++bidId) {
            IMarket.Bid memory b = market.getBid(bidId);
            for (uint8 s; s < b.slotCount; ++s) {
                if (b.openSlots & SlotBits.bit(s) != 0) {
                    vm.prank(b.client);
                    market.cancel(bidId, s);
                }
            }
        }
    }

    /*//////////////////////////////////////////////////////////////
                                  VIEWS
    //////////////////////////////////////////////////////////////*/

    function accounts() public view returns (address[] memory all) {
        all = new address[](clients.length + hosters.length + validators.length + 1);
        uint256 k;
        for (uint256 i; i < clients.length; ++i) {
            all[k++] = clients[i];
        }
        for (uint256 i; i < hosters.length; ++i) {
            all[k++] = hosters[i];
        }
        for (uint256 i; i < validators.length; ++i) {
            all[k++] = validators[i];
        }
        all[k] = reporter;
    }

    function hosterCount() external view returns (uint256) {
        return hosters.length;
    }

    function validatorCount() external view returns (uint256) {
        return validators.length;
    }

    /// @dev Σ over slots not closed of price x (duration - slotOffset - paidEpochs of the active deal).
    function escrowFormula(uint256 bidId) external view returns (uint256 sum) {
        IMarket.Bid memory b = market.getBid(bidId);
        for (uint8 s; s < b.slotCount; ++s) {
            if (b.closedSlots & SlotBits.bit(s) != 0) continue;
            uint256 dealId = ghostSlotDeal[bidId][s];
            uint256 budget;
            if (dealId != 0) {
                IMarket.Deal memory d = market.getDeal(dealId);
                budget = b.durationEpochs - d.slotOffset - d.paidEpochs;
            } else {
                budget = b.durationEpochs - market.slotOffset(bidId, s);
            }
            sum += uint256(b.pricePerEpoch) * budget;
        }
    }

    /*//////////////////////////////////////////////////////////////
                                 HELPERS
    //////////////////////////////////////////////////////////////*/

    function _recordFault(uint256 dealId, IMarket.Deal memory d) private {
        ghostSlashed[d.hoster] += d.collateral;
        ghostSlotDeal[d.bidId][d.slot] = 0;
        assertEq(uint8(market.getDeal(dealId).status), uint8(IMarket.DealStatus.Faulted));
    }

    function _someBid(uint256 seed) private view returns (uint256) {
        uint256 count = market.bidCount();
        return count == 0 ? 0 : seed % count + 1;
    }

    function _someActiveDeal(uint256 seed) private view returns (uint256 dealId, IMarket.Deal memory d) {
        uint256 count = market.dealCount();
        if (count == 0) return (0, d);
        uint256 first = seed % count;
        for (uint256 i; i < count; ++i) {
            uint256 id = (first + i) % count + 1;
            d = market.getDeal(id);
            if (d.status == IMarket.DealStatus.Active) return (id, d);
        }
        return (0, d);
    }

    /// @dev Epochs [from, to] of a deal were paid, against a quorum the handler signed.
    function _recordPaid(uint256 dealId, uint256 from, uint256 to) private {
        ghostOkQuorumEpochs[dealId] += to - from + 1;
        for (uint256 e = from; e <= to; ++e) {
            if (ghostPaidCount[dealId][e]++ != 0) ghostDoublePaid = true;
        }
        ghostPaidEpochs[dealId] += to - from + 1;
    }

    /// @dev Item i of a settleMany batch, for the i-th deal from `dealSeed` (distinct deals): the
    ///      deal's last paid epoch if the deal is no longer active or (bit i of `signerSeed`) has
    ///      a paid epoch — an item that must be skipped — else its next unpaid range of up to
    ///      1 + (byte i of `len`) epochs with an honest quorum (not usable when no epoch is
    ///      settleable yet or too few validators are eligible).
    function _batchItem(uint256 dealSeed, uint256 i, uint256 len, uint256 signerSeed)
        private
        view
        returns (bool usable, bool settling, IMarket.Settlement memory item)
    {
        item.dealId = (dealSeed % market.dealCount() + i) % market.dealCount() + 1;
        IMarket.Deal memory d = market.getDeal(item.dealId);
        if (d.status != IMarket.DealStatus.Active || ((signerSeed >> i) & 1 == 1 && d.paidEpochs != 0)) {
            (item.fromEpoch, item.toEpoch) = (d.paidThrough, d.paidThrough);
            usable = true;
        } else {
            (settling, item.fromEpoch, item.toEpoch) = _nextUnpaid(item.dealId, d.paidThrough, len >> (8 * i));
        }
        item.sigs = _quorumSigs(item.dealId, item.fromEpoch, item.toEpoch, true, (signerSeed >> 4) + i);
        if (settling) {
            settling = item.sigs.length >= quorum;
            usable = settling;
        }
    }

    /// @dev [paidThrough + 1, + (len % 256) epochs] within the deal and the epochs over;
    ///      `any` false when no epoch of the deal is settleable yet.
    function _nextUnpaid(uint256 dealId, uint32 paidThrough, uint256 len)
        private
        view
        returns (bool any, uint32 from, uint32 to)
    {
        uint256 current = market.currentEpoch();
        uint256 last = current == 0 ? 0 : current - 1;
        uint256 end = market.dealEndEpoch(dealId);
        if (end < last) last = end;
        if (uint256(paidThrough) + 1 > last) return (false, 0, 0);
        from = paidThrough + 1;
        to = uint32(from + (len & 0xff) % (last - from + 1));
        any = true;
    }

    function _someSetBit(uint32 bits, uint256 seed) private pure returns (uint8) {
        uint256 n = SlotBits.count(bits);
        uint256 k = seed % n;
        for (uint8 i; i < 32; ++i) {
            if (bits & SlotBits.bit(i) != 0) {
                if (k == 0) return i;
                --k;
            }
        }
        revert("unreachable");
    }

    function _someAccount(uint256 seed) private view returns (address) {
        address[] memory all = accounts();
        return all[seed % all.length];
    }

    /// @dev Signatures of eligible validators (a random subset of size >= quorum when possible), sorted.
    function _quorumSigs(uint256 dealId, uint32 from, uint32 to, bool ok, uint256 seed)
        private
        view
        returns (IMarket.Signature[] memory)
    {
        uint256[] memory keys = new uint256[](validatorKeys.length);
        uint256 n;
        uint256 want = quorum + seed % (validatorKeys.length - quorum + 1);
        for (uint256 i; i < validatorKeys.length && n < want; ++i) {
            uint256 k = validatorKeys[(seed % validatorKeys.length + i) % validatorKeys.length];
            if (market.isEligibleValidator(vm.addr(k))) keys[n++] = k;
        }
        assembly {
            mstore(keys, n)
        }
        return _signSorted(keys, dealId, from, to, ok);
    }

    function _signSorted(uint256[] memory keys, uint256 dealId, uint32 from, uint32 to, bool ok)
        private
        view
        returns (IMarket.Signature[] memory sigs)
    {
        for (uint256 i = 1; i < keys.length; ++i) {
            for (uint256 j = i; j > 0 && vm.addr(keys[j - 1]) > vm.addr(keys[j]); --j) {
                (keys[j - 1], keys[j]) = (keys[j], keys[j - 1]);
            }
        }
        sigs = new IMarket.Signature[](keys.length);
        for (uint256 i; i < keys.length; ++i) {
            sigs[i] = _sign(keys[i], dealId, from, to, ok);
        }
    }

    function _sign(uint256 key, uint256 dealId, uint32 from, uint32 to, bool ok)
        private
        view
        returns (IMarket.Signature memory sig)
    {
        bytes32 evidence = keccak256(abi.encode(dealId, from, to, ok));
        (sig.v, sig.r, sig.s) = vm.sign(key, market.attestationDigest(dealId, from, to, ok, evidence));
        sig.evidence = evidence;
    }
}
