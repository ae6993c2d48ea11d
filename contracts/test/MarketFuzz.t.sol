// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMarket} from "../interfaces/IMarket.sol";
import {MarketFixture} from "./utils/MarketFixture.sol";

/// @notice Property tests of the money paths: the fee split, the slash split, refunds, escrow.
contract MarketFuzzTest is MarketFixture {
    function testFuzz_settle_paysExactlyPriceTimesEpochs(uint96 price, uint8 epochs) public {
        price = uint96(bound(price, 1, 1e15));
        epochs = uint8(bound(epochs, 1, 20));
        uint256 bidId = _bidAs(client, 1, price, 20);
        uint256 dealId = _fill(hoster, bidId, 0);
        uint32 start = _deal(dealId).startEpoch;
        _warpEpochs(21);
        uint256 escrow = market.getBid(bidId).escrow;
        _settle(dealId, start, start + epochs - 1);
        uint256 paid = market.balanceOf(hoster) + market.balanceOf(validators[0]) + market.balanceOf(validators[1]);
        assertEq(paid, uint256(price) * epochs);
        assertEq(escrow - market.getBid(bidId).escrow, paid);
        assertEq(market.getBid(bidId).escrow, _bidEscrowFormula(bidId));
    }

    function testFuzz_missedProofs_slashWholeCollateralOverMaxFaults(uint96 price, uint32 duration) public {
        price = uint96(bound(price, 1, 1e13));
        duration = uint32(bound(duration, 8, 200));
        uint256 bidId = _bidAs(client, 1, price, duration);
        uint256 dealId = _fill(hoster, bidId, 0);
        uint256 collateral = _deal(dealId).collateral;
        uint256 stake = market.node(HOSTER, hoster).stake;
        address reporter = makeAddr("reporter");
        _warpEpochs(MISSED + 1);
        market.requestProofForMissedQuorum(dealId);
        for (uint256 f; f < MAX_FAULTS; ++f) {
            (,,, uint32 due,) = market.challengeOf(dealId);
            _warpToEpoch(uint256(due) + 1);
            vm.prank(reporter);
            market.reportMissedProof(dealId);
        }
        assertEq(stake - market.node(HOSTER, hoster).stake, collateral);
        assertEq(market.balanceOf(client) + market.balanceOf(reporter), collateral);
        assertEq(market.node(HOSTER, hoster).locked, 0);
        assertEq(market.getBid(bidId).escrow, _bidEscrowFormula(bidId));
    }

    function testFuzz_finish_refundsUnpaidBudget(uint8 paidEpochs, uint32 duration) public {
        duration = uint32(bound(duration, 2, 23));
        paidEpochs = uint8(bound(paidEpochs, 1, duration));
        uint256 bidId = _bid(1, duration);
        uint256 dealId = _fill(hoster, bidId, 0);
        uint32 start = _deal(dealId).startEpoch;
        _warpToEpoch(_deal(dealId).endEpoch + WINDOW + 1);
        _settle(dealId, start, start + paidEpochs - 1);
        uint256 before = market.balanceOf(client);
        market.finish(dealId);
        assertEq(market.balanceOf(client) - before, uint256(PRICE) * (duration - paidEpochs));
        assertEq(market.getBid(bidId).escrow, 0);
    }

    function testFuzz_extend_keepsEscrowRule(uint8 slots, uint8 filled, uint32 extra) public {
        slots = uint8(bound(slots, 1, 4));
        filled = uint8(bound(filled, 0, slots));
        extra = uint32(bound(extra, 1, 1000));
        uint256 bidId = _bid(slots, 10);
        address[3] memory hs = [hoster, hoster2, hoster3];
        for (uint8 i; i < filled && i < 3; ++i) {
            _fill(hs[i], bidId, i);
        }
        IMarket.Bid memory b = market.getBid(bidId);
        uint32 open = b.openSlots & ~b.reservedSlots;
        uint256 n;
        for (uint256 i; i < slots; ++i) {
            if (open & (uint32(1) << uint32(i)) != 0) ++n;
        }
        vm.prank(client);
        if (n == 0) {
            vm.expectRevert(abi.encodeWithSelector(IMarket.NothingToExtend.selector, bidId));
            market.extend(bidId, extra);
            return;
        }
        market.extend{value: uint256(PRICE) * n * extra}(bidId, extra);
        assertEq(market.getBid(bidId).escrow, _bidEscrowFormula(bidId));
    }
}
