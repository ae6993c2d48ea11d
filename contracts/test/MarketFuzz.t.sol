// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMarket} from "../interfaces/IMarket.sol";
import {IStakeRegistry} from "../interfaces/IStakeRegistry.sol";
import {Market} from "../Market.sol";
import {SlotBits} from "../libraries/SlotBits.sol";
import {MarketFixture} from "./utils/MarketFixture.sol";

/// @notice Property tests of the money paths: escrow, fee split, slashing split, epoch ranges.
contract MarketFuzzTest is MarketFixture {
    function testFuzz_bid_escrowIsPriceTimesSlotsTimesEpochs(uint8 slots, uint96 price, uint32 duration) public {
        slots = uint8(bound(slots, 1, 32));
        price = uint96(bound(price, 1, 1e15));
        duration = uint32(bound(duration, 1, 100_000));
        uint256 bidId = _bidAs(client, slots, price, duration);
        IMarket.Bid memory b = market.getBid(bidId);
        assertEq(b.escrow, uint256(price) * slots * duration);
        assertEq(SlotBits.count(b.openSlots), slots);
        assertEq(b.escrow, _bidEscrowFormula(bidId));
    }

    function testFuzz_bid_rejectsAnyOtherValue(uint96 price, uint32 duration, uint256 value) public {
        price = uint96(bound(price, 1, 1e18));
        duration = uint32(bound(duration, 1, 1000));
        uint256 required = uint256(price) * 3 * duration;
        value = bound(value, 0, required * 2);
        vm.assume(value != required);
        vm.deal(client, value);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.WrongEscrow.selector, value, required));
        market.bid{value: value}(_cids(3), 1, 3, price, duration, new string[](0));
    }

    /// @dev Settling any sub-range pays exactly price x epochs, split fee/hoster, from the escrow.
    function testFuzz_settle_splitsAmountExactly(uint96 price, uint32 duration, uint32 from, uint32 len, uint8 signers)
        public
    {
        price = uint96(bound(price, 1, 1e12));
        duration = uint32(bound(duration, 1, 500));
        signers = uint8(bound(signers, QUORUM, 4));
        uint256 bidId = _bidAs(client, 1, price, duration);
        uint256 dealId = _accept(hoster, bidId, 0);
        uint32 start = market.getDeal(dealId).startEpoch;
        from = uint32(bound(from, start, start + duration - 1));
        uint32 to = uint32(bound(len, from, start + duration - 1));
        _warpToEpoch(uint256(to) + 1);

        IMarket.Signature[] memory sigs = _sigs(dealId, from, to, true, signers);
        vm.prank(hoster); // a sub-range may skip epochs: the hoster's right
        market.settle(dealId, from, to, sigs);

        uint256 amount = uint256(price) * (to - from + 1);
        uint256 paidToValidators = _assertEqualShares(signers, amount * FEE_BPS / 10_000 / signers);
        assertEq(market.balanceOf(hoster) + paidToValidators, amount);
        assertLe(amount * FEE_BPS / 10_000 - paidToValidators, signers - 1); // dust < signers
        assertEq(market.getBid(bidId).escrow, uint256(price) * duration - amount);
        assertEq(market.getBid(bidId).escrow, _bidEscrowFormula(bidId));
    }

    function _assertEqualShares(uint256 signers, uint256 share) internal view returns (uint256 total) {
        address[] memory s = _sortedSigners(signers);
        for (uint256 i; i < signers; ++i) {
            assertEq(market.balanceOf(s[i]), share);
            total += share;
        }
    }

    /// @dev Every range outside (paidThrough, min(end, current-1)] is rejected.
    function testFuzz_settle_rejectsRangesOutsideTheUnpaidPast(uint32 from, uint32 to, uint32 nowEpoch) public {
        uint32 duration = 20;
        uint256 bidId = _bid(1, duration);
        uint256 dealId = _accept(hoster, bidId, 0);
        uint32 start = market.getDeal(dealId).startEpoch; // 1
        nowEpoch = uint32(bound(nowEpoch, start, start + 40));
        from = uint32(bound(from, 0, start + 45));
        to = uint32(bound(to, 0, start + 45));
        _warpToEpoch(nowEpoch);
        uint32 end = start + duration - 1;
        bool valid = from <= to && from >= start && to < nowEpoch && to <= end;
        IMarket.Signature[] memory sigs = _sigs(dealId, from, to, true, QUORUM);
        vm.startPrank(hoster); // ranges may skip epochs: the hoster's right
        if (!valid) vm.expectRevert();
        market.settle(dealId, from, to, sigs);
        if (valid) {
            assertEq(market.getDeal(dealId).paidThrough, to);
            // the same or any overlapping range can never be paid again
            vm.expectRevert(abi.encodeWithSelector(IMarket.EpochAlreadyPaid.selector, from, to));
            market.settle(dealId, from, to, sigs);
        }
        vm.stopPrank();
    }

    /// @dev A batch of random ranges over a few deals (one maybe faulted, later items overlapping
    ///      earlier ones) ends in the same state as settling its items one by one, leaving out
    ///      those whose deal is no longer active or whose first epoch is already paid.
    function testFuzz_settleMany_equalsSequentialSettles(uint256 seed, uint8 deals, uint8 count, bool fault) public {
        uint32 duration = 12;
        deals = uint8(bound(deals, 1, 4));
        count = uint8(bound(count, 1, 8));
        uint256[] memory ids = new uint256[](deals);
        for (uint256 k; k < deals; ++k) {
            ids[k] = _accept(hoster, _bid(1, duration), 0);
        }
        uint32 start = market.getDeal(ids[0]).startEpoch;
        _warpToEpoch(uint256(start) + duration); // every epoch of every deal is over
        if (fault) market.faultFailed(ids[0], start, start, _sigs(ids[0], start, start, false, QUORUM));
        IMarket.Settlement[] memory items = new IMarket.Settlement[](count);
        for (uint256 i; i < count; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            uint32 from = start + uint32(r % duration);
            uint32 to = from + uint32((r >> 32) % (start + duration - from));
            items[i] = _item(ids[(r >> 64) % deals], from, to);
        }

        uint256 snapshot = vm.snapshotState();
        uint256 expected;
        for (uint256 i; i < count; ++i) {
            IMarket.Settlement memory s = items[i];
            IMarket.Deal memory d = market.getDeal(s.dealId);
            if (d.status != IMarket.DealStatus.Active || s.fromEpoch <= d.paidThrough) continue;
            vm.prank(hoster); // ranges may skip epochs: the hoster's right
            market.settle(s.dealId, s.fromEpoch, s.toEpoch, s.sigs);
            ++expected;
        }
        bytes32 sequential = _settlementState(ids);

        vm.revertToState(snapshot);
        vm.prank(hoster);
        assertEq(market.settleMany(items), expected);
        assertEq(_settlementState(ids), sequential);
    }

    /// @dev Hash of the given deals, their bids and every balance a settlement or fault can change.
    function _settlementState(uint256[] memory ids) internal view returns (bytes32 h) {
        for (uint256 k; k < ids.length; ++k) {
            IMarket.Deal memory d = market.getDeal(ids[k]);
            h = keccak256(abi.encode(h, d, market.getBid(d.bidId)));
        }
        h = keccak256(abi.encode(h, market.balanceOf(hoster), market.balanceOf(client), address(market).balance));
        for (uint256 i; i < validators.length; ++i) {
            h = keccak256(abi.encode(h, market.balanceOf(validators[i])));
        }
    }

    /// @dev Slashed collateral goes entirely to client + reporters; the hoster's stake drops by it.
    function testFuzz_faultFailed_slashSplitIsExact(uint96 price, uint32 duration, uint16 clientBps, uint8 signers)
        public
    {
        price = uint96(bound(price, 1, 1e15));
        duration = uint32(bound(duration, 1, 1000));
        clientBps = uint16(bound(clientBps, 0, 10_000));
        signers = uint8(bound(signers, QUORUM, 4));
        IMarket.Params memory p = defaultParams();
        p.slashClientBps = clientBps;
        market = new Market(p);
        for (uint256 i; i < 4; ++i) {
            _join(VALIDATOR, validators[i], MIN_VALIDATOR);
        }
        _join(HOSTER, hoster, 1000 ether);
        uint256 bidId = _bidAs(client, 1, price, duration);
        uint256 dealId = _accept(hoster, bidId, 0);
        IMarket.Deal memory d = market.getDeal(dealId);
        _warpToEpoch(d.startEpoch);

        market.faultFailed(
            dealId, d.startEpoch, d.startEpoch, _sigs(dealId, d.startEpoch, d.startEpoch, false, signers)
        );

        uint256 c = d.collateral;
        uint256 toReporters = _assertEqualShares(signers, (c - c * clientBps / 10_000) / signers);
        assertEq(market.balanceOf(client) + toReporters, c);
        assertGe(market.balanceOf(client), c * clientBps / 10_000);
        assertEq(market.node(HOSTER, hoster).stake, 1000 ether - c);
        assertEq(market.node(HOSTER, hoster).locked, 0);
        // the whole escrow stays with the reopened slot
        assertEq(market.getBid(bidId).escrow, uint256(price) * duration);
        assertEq(market.getBid(bidId).openSlots, 1);
    }

    /// @dev faultMissed is possible exactly when current > paidThrough + grace and something is unpaid.
    function testFuzz_faultMissed_onlyAfterGrace(uint32 paid, uint32 nowEpoch) public {
        uint32 duration = 30;
        uint256 bidId = _bid(1, duration);
        uint256 dealId = _accept(hoster, bidId, 0);
        uint32 start = market.getDeal(dealId).startEpoch;
        uint32 end = start + duration - 1;
        paid = uint32(bound(paid, 0, duration));
        if (paid > 0) {
            _warpToEpoch(uint256(start) + paid);
            market.settle(dealId, start, start + paid - 1, _sigs(dealId, start, start + paid - 1, true, QUORUM));
        }
        uint32 paidThrough = market.getDeal(dealId).paidThrough;
        nowEpoch = uint32(bound(nowEpoch, market.currentEpoch(), end + 10));
        _warpToEpoch(nowEpoch);
        bool faultable = nowEpoch > paidThrough + GRACE && paidThrough < end;
        if (!faultable) vm.expectRevert();
        market.faultMissed(dealId);
    }

    /// @dev finish refunds exactly the unpaid budget; escrow of the slot ends at zero.
    function testFuzz_finish_refundsUnpaidBudget(uint32 duration, uint32 paid, uint32 extra) public {
        duration = uint32(bound(duration, 1, 200));
        paid = uint32(bound(paid, 0, duration));
        extra = uint32(bound(extra, 0, 50));
        uint256 bidId = _bid(1, duration);
        uint256 dealId = _accept(hoster, bidId, 0);
        uint32 start = market.getDeal(dealId).startEpoch;
        if (extra > 0) {
            vm.prank(client);
            market.extend{value: uint256(PRICE) * extra}(bidId, extra);
        }
        if (paid > 0) {
            _warpToEpoch(uint256(start) + paid);
            market.settle(dealId, start, start + paid - 1, _sigs(dealId, start, start + paid - 1, true, QUORUM));
        }
        _warpToEpoch(uint256(start) + duration + extra + GRACE);
        market.finish(dealId);
        assertEq(market.balanceOf(client), uint256(PRICE) * (duration + extra - paid));
        assertEq(market.getBid(bidId).escrow, 0);
        assertEq(market.node(HOSTER, hoster).locked, 0);
    }

    /// @dev extend charges only live slots and keeps the per-bid escrow formula.
    function testFuzz_extend_keepsEscrowFormula(uint8 slots, uint32 cancelMask, uint32 extra) public {
        slots = uint8(bound(slots, 1, 32));
        extra = uint32(bound(extra, 1, 1000));
        uint256 bidId = _bid(slots, 10);
        cancelMask &= SlotBits.mask(slots);
        vm.assume(cancelMask != SlotBits.mask(slots));
        vm.startPrank(client);
        for (uint8 s; s < slots; ++s) {
            if (cancelMask & (uint32(1) << s) != 0) market.cancel(bidId, s);
        }
        uint256 live = slots - SlotBits.count(cancelMask);
        market.extend{value: uint256(PRICE) * live * extra}(bidId, extra);
        vm.stopPrank();
        assertEq(market.getBid(bidId).escrow, _bidEscrowFormula(bidId));
        assertEq(market.getBid(bidId).escrow, uint256(PRICE) * live * (10 + extra));
    }

    function testFuzz_slotBits_countMatchesLoop(uint32 bits) public pure {
        uint256 n;
        for (uint256 i; i < 32; ++i) {
            if (uint256(bits) & (1 << i) != 0) ++n;
        }
        assertEq(SlotBits.count(bits), n);
    }

    function testFuzz_join_anyStakeAtLeastMinimum(uint128 stake) public {
        stake = uint128(bound(stake, MIN_HOSTER, 1e30));
        address who = makeAddr("fuzzHoster");
        _join(HOSTER, who, stake);
        assertEq(market.freeStake(HOSTER, who), stake);
        assertEq(uint8(market.node(HOSTER, who).status), uint8(IStakeRegistry.NodeStatus.Active));
    }
}
