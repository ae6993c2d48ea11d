// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMarket} from "../interfaces/IMarket.sol";
import {IStakeRegistry} from "../interfaces/IStakeRegistry.sol";
import {Market} from "../Market.sol";
import {MarketFixture} from "./utils/MarketFixture.sol";

contract MarketTest is MarketFixture {
    uint32 internal constant DURATION = 10;

    /*//////////////////////////////////////////////////////////////
                              CONSTRUCTOR
    //////////////////////////////////////////////////////////////*/

    function test_constructor_setsParamsAndGenesis() public {
        IMarket.Params memory p = defaultParams();
        p.genesis = 12345; // ignored
        Market m = new Market(p);
        IMarket.Params memory q = m.params();
        assertEq(q.genesis, block.timestamp);
        assertEq(q.epochSeconds, EPOCH);
        assertEq(q.quorum, QUORUM);
        assertEq(q.graceEpochs, GRACE);
        assertEq(q.collateralBps, COLLATERAL_BPS);
        assertEq(q.validatorFeeBps, FEE_BPS);
        assertEq(q.slashClientBps, SLASH_CLIENT_BPS);
        assertEq(q.minHosterStake, MIN_HOSTER);
        assertEq(q.minValidatorStake, MIN_VALIDATOR);
        assertEq(q.exitDelay, EXIT_DELAY);
        assertEq(m.currentEpoch(), 0);
        assertEq(m.VERSION(), 1);
        assertEq(m.MAX_SLOTS(), 32);
    }

    function test_constructor_revertsOnInvalidParams() public {
        IMarket.Params memory p = defaultParams();
        p.epochSeconds = 0;
        _expectInvalid(p);
        p = defaultParams();
        p.quorum = 0;
        _expectInvalid(p);
        p = defaultParams();
        p.graceEpochs = 0;
        _expectInvalid(p);
        p = defaultParams();
        p.collateralBps = 10_001;
        _expectInvalid(p);
        p = defaultParams();
        p.validatorFeeBps = 10_001;
        _expectInvalid(p);
        p = defaultParams();
        p.slashClientBps = 10_001;
        _expectInvalid(p);
    }

    function _expectInvalid(IMarket.Params memory p) private {
        vm.expectRevert(IMarket.InvalidParams.selector);
        new Market(p);
    }

    function test_currentEpoch_countsFromDeployment() public {
        assertEq(market.currentEpoch(), 0);
        vm.warp(block.timestamp + EPOCH - 1);
        assertEq(market.currentEpoch(), 0);
        vm.warp(block.timestamp + 1);
        assertEq(market.currentEpoch(), 1);
        vm.warp(block.timestamp + 5 * EPOCH);
        assertEq(market.currentEpoch(), 6);
    }

    /*//////////////////////////////////////////////////////////////
                                  BID
    //////////////////////////////////////////////////////////////*/

    function test_bid_storesBidAndEmitsCids() public {
        bytes[] memory cids = _cids(3);
        string[] memory origins = new string[](1);
        origins[0] = "/dns4/origin.example/tcp/4001";
        uint256 value = uint256(PRICE) * 3 * DURATION;
        vm.expectEmit(address(market));
        emit IMarket.BidPosted(1, client, 1 << 20, 3, PRICE, DURATION, cids, origins);
        vm.prank(client);
        uint256 bidId = market.bid{value: value}(cids, 1 << 20, 3, PRICE, DURATION, origins);

        assertEq(bidId, 1);
        assertEq(market.bidCount(), 1);
        IMarket.Bid memory b = market.getBid(bidId);
        assertEq(b.client, client);
        assertEq(b.size, 1 << 20);
        assertEq(b.slotCount, 3);
        assertEq(b.pricePerEpoch, PRICE);
        assertEq(b.durationEpochs, DURATION);
        assertEq(b.openSlots, 0x7);
        assertEq(b.closedSlots, 0);
        assertEq(b.escrow, value);
        assertEq(b.postedBlock, block.number);
        assertEq(address(market).balance, value + _stakes());
    }

    function test_bid_acceptsOneCidForAllReplicas() public {
        bytes[] memory cids = new bytes[](1);
        cids[0] = _cid(7);
        vm.prank(client);
        uint256 bidId = market.bid{value: uint256(PRICE) * 32 * DURATION}(cids, 1, 32, PRICE, DURATION, new string[](0));
        assertEq(market.getBid(bidId).openSlots, type(uint32).max);
    }

    function test_bid_revertsOnZeroOrTooManySlots() public {
        vm.startPrank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidSlotCount.selector, 0, 32));
        market.bid(_cids(1), 1, 0, PRICE, DURATION, new string[](0));
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidSlotCount.selector, 33, 32));
        market.bid(_cids(1), 1, 33, PRICE, DURATION, new string[](0));
        vm.stopPrank();
    }

    function test_bid_revertsOnCidCountMismatch() public {
        vm.startPrank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidCidCount.selector, 2, 3));
        market.bid(_cids(2), 1, 3, PRICE, DURATION, new string[](0));
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidCidCount.selector, 0, 3));
        market.bid(_cids(0), 1, 3, PRICE, DURATION, new string[](0));
        vm.stopPrank();
    }

    function test_bid_revertsOnEmptyCid() public {
        bytes[] memory cids = _cids(3);
        cids[1] = "";
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EmptyCid.selector, 1));
        market.bid(cids, 1, 3, PRICE, DURATION, new string[](0));
    }

    function test_bid_revertsOnZeroSizePriceOrDuration() public {
        vm.startPrank(client);
        vm.expectRevert(IMarket.ZeroSize.selector);
        market.bid(_cids(1), 0, 1, PRICE, DURATION, new string[](0));
        vm.expectRevert(IMarket.ZeroPrice.selector);
        market.bid(_cids(1), 1, 1, 0, DURATION, new string[](0));
        vm.expectRevert(IMarket.ZeroDuration.selector);
        market.bid(_cids(1), 1, 1, PRICE, 0, new string[](0));
        vm.stopPrank();
    }

    function test_bid_revertsOnWrongEscrow() public {
        uint256 required = uint256(PRICE) * 2 * DURATION;
        vm.startPrank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.WrongEscrow.selector, required - 1, required));
        market.bid{value: required - 1}(_cids(2), 1, 2, PRICE, DURATION, new string[](0));
        vm.expectRevert(abi.encodeWithSelector(IMarket.WrongEscrow.selector, required + 1, required));
        market.bid{value: required + 1}(_cids(2), 1, 2, PRICE, DURATION, new string[](0));
        vm.stopPrank();
    }

    /*//////////////////////////////////////////////////////////////
                                 ACCEPT
    //////////////////////////////////////////////////////////////*/

    function test_accept_createsDealAndLocksCollateral() public {
        uint256 bidId = _bid(3, DURATION);
        _warpEpochs(4);
        uint128 collateral = uint128(uint256(PRICE) * DURATION * COLLATERAL_BPS / 10_000);
        vm.expectEmit(address(market));
        emit IMarket.SlotAccepted(bidId, 1, hoster, 1, 5, 5 + DURATION - 1, collateral);
        uint256 dealId = _accept(hoster, bidId, 1);

        assertEq(dealId, 1);
        assertEq(market.dealCount(), 1);
        IMarket.Deal memory d = market.getDeal(dealId);
        assertEq(d.hoster, hoster);
        assertEq(d.bidId, bidId);
        assertEq(d.slot, 1);
        assertEq(uint8(d.status), uint8(IMarket.DealStatus.Active));
        assertEq(d.startEpoch, 5);
        assertEq(d.paidThrough, 4);
        assertEq(d.paidEpochs, 0);
        assertEq(d.slotOffset, 0);
        assertEq(d.collateral, collateral);
        assertEq(market.dealEndEpoch(dealId), 14);
        assertEq(market.getBid(bidId).openSlots, 0x5);
        assertTrue(market.hosterInBid(bidId, hoster));
        assertEq(market.node(HOSTER, hoster).locked, collateral);
        assertEq(market.freeStake(HOSTER, hoster), 10 ether - collateral);
    }

    function test_accept_revertsOnUnknownBid() public {
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IMarket.UnknownBid.selector, 9));
        market.accept(9, 0);
    }

    function test_accept_revertsWhenNoSlotOpen() public {
        uint256 bidId = _bid(1, DURATION);
        _accept(hoster, bidId, 0);
        vm.prank(hoster2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.NoOpenSlots.selector, bidId));
        market.accept(bidId, 0);
    }

    function test_accept_revertsOnTakenOrOutOfRangeSlot() public {
        uint256 bidId = _bid(2, DURATION);
        _accept(hoster, bidId, 0);
        vm.startPrank(hoster2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.SlotNotOpen.selector, bidId, 0));
        market.accept(bidId, 0);
        vm.expectRevert(abi.encodeWithSelector(IMarket.SlotNotOpen.selector, bidId, 2));
        market.accept(bidId, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.SlotNotOpen.selector, bidId, 200));
        market.accept(bidId, 200);
        vm.stopPrank();
    }

    function test_accept_revertsForClient() public {
        _join(HOSTER, client, 5 ether);
        uint256 bidId = _bid(2, DURATION);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.ClientCannotHost.selector, bidId));
        market.accept(bidId, 0);
    }

    function test_accept_revertsOnSecondSlotOfSameBid() public {
        uint256 bidId = _bid(2, DURATION);
        _accept(hoster, bidId, 0);
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IMarket.HosterAlreadyInBid.selector, bidId, hoster));
        market.accept(bidId, 1);
    }

    function test_accept_revertsForFaultedHosterOnReopenedSlot() public {
        uint256 bidId = _bid(2, DURATION);
        uint256 dealId = _accept(hoster, bidId, 0);
        _warpEpochs(GRACE + 2);
        market.faultMissed(dealId);
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IMarket.HosterAlreadyInBid.selector, bidId, hoster));
        market.accept(bidId, 0);
    }

    function test_accept_revertsForUnregisteredHoster() public {
        uint256 bidId = _bid(1, DURATION);
        address nobody = makeAddr("nobody");
        vm.prank(nobody);
        vm.expectRevert(abi.encodeWithSelector(IStakeRegistry.NotRegistered.selector, nobody, HOSTER));
        market.accept(bidId, 0);
    }

    function test_accept_revertsForExitingHoster() public {
        uint256 bidId = _bid(1, DURATION);
        vm.prank(hoster);
        market.announceExit(HOSTER);
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IStakeRegistry.NotActive.selector, hoster, HOSTER));
        market.accept(bidId, 0);
    }

    function test_accept_revertsOnInsufficientFreeStake() public {
        uint96 price = 1 ether;
        uint256 bidId = _bidAs(client, 1, price, 100); // collateral 50 ether
        uint256 need = uint256(price) * 100 * COLLATERAL_BPS / 10_000;
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IStakeRegistry.InsufficientStake.selector, 10 ether, need));
        market.accept(bidId, 0);
    }

    function test_accept_reopenedSlotGetsRemainingBudget() public {
        uint256 bidId = _bid(1, DURATION);
        uint256 dealId = _accept(hoster, bidId, 0);
        uint32 start = market.getDeal(dealId).startEpoch;
        _warpEpochs(4);
        _settle(dealId, start, start + 2); // 3 epochs paid
        _warpEpochs(GRACE + 1);
        vm.expectEmit(address(market));
        emit IMarket.SlotReopened(bidId, 0, DURATION - 3);
        market.faultMissed(dealId);
        assertEq(market.slotOffset(bidId, 0), 3);

        uint256 deal2 = _accept(hoster2, bidId, 0);
        IMarket.Deal memory d = market.getDeal(deal2);
        assertEq(d.slotOffset, 3);
        assertEq(d.collateral, uint256(PRICE) * (DURATION - 3) * COLLATERAL_BPS / 10_000);
        assertEq(market.dealEndEpoch(deal2), d.startEpoch + DURATION - 3 - 1);
    }

    /*//////////////////////////////////////////////////////////////
                                 SETTLE
    //////////////////////////////////////////////////////////////*/

    function test_settle_paysHosterAndSplitsFee() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(6);
        uint256 amount = uint256(PRICE) * 5;
        uint256 share = amount * FEE_BPS / 10_000 / 3;
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start + 4, true, 3);
        uint256 escrowBefore = market.getBid(1).escrow;
        vm.expectEmit(address(market));
        emit IMarket.DealSettled(dealId, hoster, start, start + 4, amount - 3 * share, 3 * share);
        market.settle(dealId, start, start + 4, sigs);

        IMarket.Deal memory d = market.getDeal(dealId);
        assertEq(d.paidThrough, start + 4);
        assertEq(d.paidEpochs, 5);
        assertEq(market.balanceOf(hoster), amount - 3 * share);
        address[] memory signers = _sortedSigners(3);
        for (uint256 i; i < 3; ++i) {
            assertEq(market.balanceOf(signers[i]), share);
        }
        assertEq(market.getBid(1).escrow, escrowBefore - amount);
        assertEq(market.getBid(1).escrow, _bidEscrowFormula(1));
    }

    function test_settle_feeDustGoesToHoster() public {
        uint256 bidId = _bidAs(client, 1, 7, DURATION); // price 7 wei: fee rounds down
        uint256 dealId = _accept(hoster, bidId, 0);
        uint32 start = market.getDeal(dealId).startEpoch;
        _warpEpochs(2);
        market.settle(dealId, start, start, _sigs(dealId, start, start, true, 3));
        assertEq(market.balanceOf(hoster), 7);
    }

    function test_settle_skippedEpochsAreRefundedAtFinish() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(DURATION + 1);
        _settle(dealId, start + 3, start + 5); // epochs start..start+2 skipped
        _warpEpochs(GRACE + 1);
        market.finish(dealId);
        assertEq(market.balanceOf(client), uint256(PRICE) * (DURATION - 3));
        assertEq(market.getBid(1).escrow, 0);
    }

    function test_settle_onlyHosterMaySkipEpochs() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(6);
        IMarket.Signature[] memory sigs = _sigs(dealId, start + 2, start + 4, true, 3);
        vm.expectRevert(abi.encodeWithSelector(IMarket.OnlyHosterMaySkip.selector, start + 2, start));
        market.settle(dealId, start + 2, start + 4, sigs);
        vm.prank(hoster);
        market.settle(dealId, start + 2, start + 4, sigs);
        assertEq(market.getDeal(dealId).paidThrough, start + 4);
    }

    function test_settle_anyoneMaySettleTheNextUnpaidRange() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(6);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start + 1, true, 3);
        vm.prank(address(0xBEEF));
        market.settle(dealId, start, start + 1, sigs);
        assertEq(market.getDeal(dealId).paidEpochs, 2);
    }

    function test_settle_revertsOnUnknownDeal() public {
        IMarket.Signature[] memory sigs;
        vm.expectRevert(abi.encodeWithSelector(IMarket.UnknownDeal.selector, 5));
        market.settle(5, 1, 1, sigs);
    }

    function test_settle_revertsOnInactiveDeal() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(GRACE + 2);
        market.faultMissed(dealId);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start, true, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.DealNotActive.selector, dealId));
        market.settle(dealId, start, start, sigs);
    }

    function test_settle_revertsOnInvertedRange() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(5);
        IMarket.Signature[] memory sigs = _sigs(dealId, start + 1, start, true, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidEpochRange.selector, start + 1, start));
        market.settle(dealId, start + 1, start, sigs);
    }

    function test_settle_revertsOnReplayedEpochs() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(5);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start + 1, true, 2);
        market.settle(dealId, start, start + 1, sigs);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochAlreadyPaid.selector, start, start + 1));
        market.settle(dealId, start, start + 1, sigs);
        // overlapping range
        IMarket.Signature[] memory overlap = _sigs(dealId, start + 1, start + 2, true, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochAlreadyPaid.selector, start + 1, start + 1));
        market.settle(dealId, start + 1, start + 2, overlap);
    }

    function test_settle_revertsBeforeStartEpoch() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(5);
        IMarket.Signature[] memory sigs = _sigs(dealId, start - 1, start, true, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochAlreadyPaid.selector, start - 1, start - 1));
        market.settle(dealId, start - 1, start, sigs);
    }

    function test_settle_revertsOnCurrentEpoch() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpToEpoch(start);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start, true, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochNotOver.selector, start, start));
        market.settle(dealId, start, start, sigs);
    }

    function test_settle_revertsAfterDealEnd() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(DURATION + 5);
        uint32 end = start + DURATION - 1;
        IMarket.Signature[] memory sigs = _sigs(dealId, start, end + 1, true, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochAfterDealEnd.selector, end + 1, end));
        market.settle(dealId, start, end + 1, sigs);
        _settle(dealId, start, end);
    }

    function test_settle_revertsWithoutQuorum() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(2);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start, true, 1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.NoQuorum.selector, 1, QUORUM));
        market.settle(dealId, start, start, sigs);
    }

    function test_settle_revertsOnMalformedSignature() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(2);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start, true, 2);
        sigs[1].v = 29;
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidSignature.selector, 1));
        market.settle(dealId, start, start, sigs);
    }

    function test_settle_revertsOnMalleableSignature() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(2);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start, true, 2);
        // (r, n - s, v ^ 1) recovers the same signer but is rejected (high s).
        uint256 n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
        sigs[0].s = bytes32(n - uint256(sigs[0].s));
        sigs[0].v = sigs[0].v == 27 ? 28 : 27;
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidSignature.selector, 0));
        market.settle(dealId, start, start, sigs);
    }

    function test_settle_revertsOnDuplicateSigner() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(2);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start, true, 2);
        sigs[1] = sigs[0];
        vm.expectRevert(abi.encodeWithSelector(IMarket.SignersNotSorted.selector, 1));
        market.settle(dealId, start, start, sigs);
    }

    function test_settle_revertsOnUnsortedSigners() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(2);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start, true, 2);
        (sigs[0], sigs[1]) = (sigs[1], sigs[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.SignersNotSorted.selector, 1));
        market.settle(dealId, start, start, sigs);
    }

    function test_settle_revertsOnFailAttestation() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(2);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start, false, 2);
        // an `ok = false` signature recovers to some other address: not a validator
        vm.expectRevert();
        market.settle(dealId, start, start, sigs);
    }

    function test_settle_revertsOnUnregisteredSigner() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(2);
        (address stranger, uint256 key) = makeAddrAndKey("stranger");
        uint256[] memory keys = new uint256[](2);
        keys[0] = validatorKeys[0];
        keys[1] = key;
        IMarket.Signature[] memory sigs = _sigsWith(dealId, start, start, true, keys);
        vm.expectRevert(abi.encodeWithSelector(IMarket.IneligibleValidator.selector, stranger));
        market.settle(dealId, start, start, sigs);
    }

    function test_settle_revertsOnExitingValidator() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(2);
        vm.prank(validators[0]);
        market.announceExit(VALIDATOR);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start, true, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.IneligibleValidator.selector, validators[0]));
        market.settle(dealId, start, start, sigs);
    }

    function test_settle_revertsOnHosterSigningOwnDeal() public {
        (address op, uint256 key) = makeAddrAndKey("operator");
        _join(HOSTER, op, 5 ether);
        _join(VALIDATOR, op, MIN_VALIDATOR);
        uint256 bidId = _bid(1, DURATION);
        uint256 dealId = _accept(op, bidId, 0);
        uint32 start = market.getDeal(dealId).startEpoch;
        _warpEpochs(2);
        uint256[] memory keys = new uint256[](2);
        keys[0] = validatorKeys[0];
        keys[1] = key;
        IMarket.Signature[] memory sigs = _sigsWith(dealId, start, start, true, keys);
        vm.expectRevert(abi.encodeWithSelector(IMarket.ConflictOfInterest.selector, op));
        market.settle(dealId, start, start, sigs);
    }

    function test_settle_revertsOnClientSigning() public {
        (address c, uint256 key) = makeAddrAndKey("validatingClient");
        _join(VALIDATOR, c, MIN_VALIDATOR);
        uint256 bidId = _bidAs(c, 1, PRICE, DURATION);
        uint256 dealId = _accept(hoster, bidId, 0);
        uint32 start = market.getDeal(dealId).startEpoch;
        _warpEpochs(2);
        uint256[] memory keys = new uint256[](2);
        keys[0] = validatorKeys[0];
        keys[1] = key;
        IMarket.Signature[] memory sigs = _sigsWith(dealId, start, start, true, keys);
        vm.expectRevert(abi.encodeWithSelector(IMarket.ConflictOfInterest.selector, c));
        market.settle(dealId, start, start, sigs);
    }

    function test_settle_rejectsSignatureForAnotherDeal() public {
        uint256 bidId = _bid(2, DURATION);
        uint256 deal1 = _accept(hoster, bidId, 0);
        uint256 deal2 = _accept(hoster2, bidId, 1);
        uint32 start = market.getDeal(deal1).startEpoch;
        _warpEpochs(2);
        IMarket.Signature[] memory sigs = _sigs(deal1, start, start, true, 2);
        vm.expectRevert(); // recovers unrelated addresses
        market.settle(deal2, start, start, sigs);
    }

    function test_settle_rejectsSignatureForAnotherEpochRange() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(4);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start, true, 2);
        vm.expectRevert();
        market.settle(dealId, start, start + 1, sigs);
    }

    function test_settle_rejectsSignatureForAnotherDeployment() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        Market other = new Market(defaultParams());
        _warpEpochs(2);
        IMarket.Signature[] memory sigs = new IMarket.Signature[](2);
        uint256[] memory keys = _sortKeys(_firstKeys(2));
        for (uint256 i; i < 2; ++i) {
            bytes32 digest = other.attestationDigest(dealId, start, start, true, bytes32(0));
            (sigs[i].v, sigs[i].r, sigs[i].s) = vm.sign(keys[i], digest);
        }
        assertTrue(
            other.attestationDigest(dealId, start, start, true, 0)
                != market.attestationDigest(dealId, start, start, true, 0)
        );
        vm.expectRevert();
        market.settle(dealId, start, start, sigs);
    }

    function test_settle_rejectsSignatureForAnotherChainId() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(2);
        uint256 chainId = block.chainid;
        vm.chainId(chainId + 1);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start, true, 2);
        vm.chainId(chainId);
        vm.expectRevert();
        market.settle(dealId, start, start, sigs);
    }

    function test_attestationDigest_matchesEip712() public view {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Scatter Market"),
                keccak256("1"),
                block.chainid,
                address(market)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Attestation(uint256 dealId,uint32 fromEpoch,uint32 toEpoch,bool ok,bytes32 evidence)"),
                uint256(7),
                uint32(3),
                uint32(9),
                true,
                bytes32(uint256(0xabc))
            )
        );
        assertEq(
            market.attestationDigest(7, 3, 9, true, bytes32(uint256(0xabc))),
            keccak256(abi.encodePacked("\x19\x01", domain, structHash))
        );
        assertEq(
            market.ATTESTATION_TYPEHASH(),
            keccak256("Attestation(uint256 dealId,uint32 fromEpoch,uint32 toEpoch,bool ok,bytes32 evidence)")
        );
    }

    /*//////////////////////////////////////////////////////////////
                              SETTLE MANY
    //////////////////////////////////////////////////////////////*/

    function test_settleMany_equalsSequentialSettles() public {
        (uint256 deal1, uint32 start) = _deal(DURATION);
        (uint256 deal2,) = _deal(DURATION);
        uint256 deal3 = _accept(hoster2, _bid(1, DURATION), 0);
        _warpEpochs(6);
        IMarket.Settlement[] memory items = new IMarket.Settlement[](4);
        items[0] = _item(deal1, start, start + 2);
        items[1] = _item(deal2, start, start + 4);
        items[2] = _item(deal3, start, start);
        items[3] = _item(deal1, start + 3, start + 4); // a later range of an earlier item's deal

        uint256 snapshot = vm.snapshotState();
        vm.recordLogs();
        for (uint256 i; i < items.length; ++i) {
            market.settle(items[i].dealId, items[i].fromEpoch, items[i].toEpoch, items[i].sigs);
        }
        bytes32 sequential = keccak256(abi.encode(vm.getRecordedLogs()));
        bytes32 state = _settlementState(3);

        vm.revertToState(snapshot);
        vm.recordLogs();
        assertEq(market.settleMany(items), 4);
        assertEq(keccak256(abi.encode(vm.getRecordedLogs())), sequential, "same events");
        assertEq(_settlementState(3), state, "same deals, escrows and balances");
        assertEq(market.getDeal(deal1).paidThrough, start + 4);
        assertEq(market.getDeal(deal2).paidThrough, start + 4);
        assertEq(market.getDeal(deal3).paidThrough, start);
        assertEq(market.balanceOf(hoster2), uint256(PRICE) - uint256(PRICE) * FEE_BPS / 10_000);
    }

    function test_settleMany_skipsOvertakenItemsAndSettlesTheRest() public {
        (uint256 paid, uint32 start) = _deal(DURATION);
        (uint256 faulted,) = _deal(DURATION);
        (uint256 fresh,) = _deal(DURATION);
        _warpEpochs(GRACE + 2);
        _settle(paid, start, start + 1); // someone settled first
        market.faultMissed(faulted);
        IMarket.Settlement[] memory items = new IMarket.Settlement[](5);
        items[0] = _item(paid, start, start + 1); // the same range
        items[1] = _item(paid, start + 1, start + 2); // overlaps the paid range
        items[2] = _item(faulted, start, start + 1);
        items[3] = _item(fresh, start, start + 1);
        items[4] = _item(fresh, start, start + 1); // repeated: the item before pays it

        IMarket.Deal memory paidBefore = market.getDeal(paid);
        uint256 hosterBefore = market.balanceOf(hoster);
        vm.expectEmit(address(market));
        emit IMarket.SettlementSkipped(paid, start, start + 1);
        vm.expectEmit(address(market));
        emit IMarket.SettlementSkipped(paid, start + 1, start + 2);
        vm.expectEmit(address(market));
        emit IMarket.SettlementSkipped(faulted, start, start + 1);
        vm.expectEmit(address(market));
        emit IMarket.DealSettled(fresh, hoster, start, start + 1, 2 * PRICE - _fee(2), _fee(2));
        vm.expectEmit(address(market));
        emit IMarket.SettlementSkipped(fresh, start, start + 1);
        assertEq(market.settleMany(items), 1);

        assertEq(abi.encode(market.getDeal(paid)), abi.encode(paidBefore));
        assertEq(uint8(market.getDeal(faulted).status), uint8(IMarket.DealStatus.Faulted));
        assertEq(market.getDeal(fresh).paidThrough, start + 1);
        assertEq(market.balanceOf(hoster), hosterBefore + 2 * PRICE - _fee(2));
        assertEq(market.getBid(3).escrow, _bidEscrowFormula(3));
    }

    function test_settleMany_skipsFinishedDeal() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(DURATION + GRACE + 2);
        market.finish(dealId);
        IMarket.Settlement[] memory items = new IMarket.Settlement[](1);
        items[0] = _item(dealId, start, start);
        vm.expectEmit(address(market));
        emit IMarket.SettlementSkipped(dealId, start, start);
        assertEq(market.settleMany(items), 0);
    }

    function test_settleMany_badSignatureInOneItemRevertsAll() public {
        (uint256 deal1, uint32 start) = _deal(DURATION);
        (uint256 deal2,) = _deal(DURATION);
        _warpEpochs(3);
        IMarket.Settlement[] memory items = new IMarket.Settlement[](2);
        items[0] = _item(deal1, start, start + 1);
        items[1] = _item(deal2, start, start + 1);
        items[1].sigs[1].v = 29;
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidSignature.selector, 1));
        market.settleMany(items);
        // a signature for another item's deal is just as bad
        items[1] = _item(deal1, start, start + 1);
        items[1].dealId = deal2;
        vm.expectRevert(); // the signers recovered from another deal's digest are unknown
        market.settleMany(items);
        assertEq(market.getDeal(deal1).paidEpochs, 0);
        assertEq(market.balanceOf(hoster), 0);
    }

    function test_settleMany_revertsWithSettlesErrors() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(3);
        IMarket.Settlement[] memory items = new IMarket.Settlement[](1);

        items[0] = _item(dealId, start, start + 2); // start + 2 is the current epoch
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochNotOver.selector, start + 2, start + 2));
        market.settleMany(items);

        items[0] = IMarket.Settlement(dealId, start, start, _sigs(dealId, start, start, true, 1));
        vm.expectRevert(abi.encodeWithSelector(IMarket.NoQuorum.selector, 1, QUORUM));
        market.settleMany(items);

        items[0] = _item(dealId, start + 1, start + 1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.OnlyHosterMaySkip.selector, start + 1, start));
        market.settleMany(items);
        vm.prank(hoster);
        assertEq(market.settleMany(items), 1);

        // An inverted range is the caller's error even where its start is paid.
        items[0] = _item(dealId, start, start - 1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidEpochRange.selector, start, start - 1));
        market.settleMany(items);
    }

    function test_settleMany_revertsOnUnknownDeal() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(2);
        IMarket.Settlement[] memory items = new IMarket.Settlement[](2);
        items[0] = _item(dealId, start, start);
        items[1] = _item(7, start, start);
        vm.expectRevert(abi.encodeWithSelector(IMarket.UnknownDeal.selector, 7));
        market.settleMany(items);
    }

    function test_settleMany_revertsOnTooManyItems() public {
        assertEq(market.MAX_SETTLE_BATCH(), 100);
        IMarket.Settlement[] memory items = new IMarket.Settlement[](101);
        vm.expectRevert(abi.encodeWithSelector(IMarket.TooManySettlements.selector, 101, 100));
        market.settleMany(items);
    }

    function test_settleMany_acceptsAFullBatch() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(2);
        IMarket.Settlement[] memory items = new IMarket.Settlement[](100);
        IMarket.Settlement memory item = _item(dealId, start, start);
        for (uint256 i; i < items.length; ++i) {
            items[i] = item;
        }
        assertEq(market.settleMany(items), 1); // the other 99 are skipped
        assertEq(market.getDeal(dealId).paidEpochs, 1);
    }

    function test_settleMany_emptyBatchSettlesNothing() public {
        vm.recordLogs();
        assertEq(market.settleMany(new IMarket.Settlement[](0)), 0);
        assertEq(vm.getRecordedLogs().length, 0);
    }

    /*//////////////////////////////////////////////////////////////
                                 FAULTS
    //////////////////////////////////////////////////////////////*/

    function test_faultMissed_slashesAndReopens() public {
        (uint256 dealId,) = _deal(DURATION);
        uint256 c = market.getDeal(dealId).collateral;
        uint256 toClient = c * SLASH_CLIENT_BPS / 10_000;
        _warpEpochs(GRACE + 1);
        address reporter = makeAddr("reporter");
        vm.expectEmit(address(market));
        emit IMarket.DealFaulted(dealId, hoster, true, c, toClient, c - toClient);
        vm.expectEmit(address(market));
        emit IMarket.SlotReopened(1, 0, DURATION);
        vm.prank(reporter);
        market.faultMissed(dealId);

        assertEq(uint8(market.getDeal(dealId).status), uint8(IMarket.DealStatus.Faulted));
        assertEq(market.node(HOSTER, hoster).stake, 10 ether - c);
        assertEq(market.node(HOSTER, hoster).locked, 0);
        assertEq(market.balanceOf(client), toClient);
        assertEq(market.balanceOf(reporter), c - toClient);
        assertEq(market.getBid(1).openSlots & 1, 1);
        assertEq(market.slotOffset(1, 0), 0);
        assertEq(market.getBid(1).escrow, _bidEscrowFormula(1));
    }

    function test_faultMissed_revertsWithinGrace() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(GRACE); // current = start - 1 + GRACE
        vm.expectRevert(abi.encodeWithSelector(IMarket.GraceNotOver.selector, start - 1 + GRACE, start + GRACE));
        market.faultMissed(dealId);
    }

    function test_faultMissed_graceRestartsAfterSettlement() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(4);
        _settle(dealId, start, start + 2);
        // current = start + 3; faultable from start + 2 + GRACE + 1
        vm.expectRevert(abi.encodeWithSelector(IMarket.GraceNotOver.selector, start + 3, start + 3 + GRACE));
        market.faultMissed(dealId);
        _warpEpochs(GRACE);
        market.faultMissed(dealId);
    }

    function test_faultMissed_revertsWhenFullyPaid() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(DURATION + 1);
        _settle(dealId, start, start + DURATION - 1);
        _warpEpochs(GRACE + 5);
        vm.expectRevert(abi.encodeWithSelector(IMarket.GraceNotOver.selector, market.currentEpoch(), type(uint256).max));
        market.faultMissed(dealId);
        market.finish(dealId);
    }

    function test_faultMissed_reopensSlotWithLastUnpaidEpoch() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(DURATION + 1);
        _settle(dealId, start, start + DURATION - 2); // all but the last epoch
        _warpEpochs(GRACE + 1);
        vm.expectEmit(address(market));
        emit IMarket.SlotReopened(1, 0, 1);
        market.faultMissed(dealId);
        IMarket.Bid memory b = market.getBid(1);
        assertEq(b.openSlots & 1, 1);
        assertEq(b.closedSlots & 1, 0);
        assertEq(b.escrow, uint256(PRICE) * 1);
        assertEq(market.slotOffset(1, 0), DURATION - 1);
    }

    function test_faultMissed_revertsOnUnknownOrInactiveDeal() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.UnknownDeal.selector, 1));
        market.faultMissed(1);
        (uint256 dealId,) = _deal(DURATION);
        _warpEpochs(GRACE + 1);
        market.faultMissed(dealId);
        vm.expectRevert(abi.encodeWithSelector(IMarket.DealNotActive.selector, dealId));
        market.faultMissed(dealId);
    }

    function test_faultFailed_slashesAndPaysSigners() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(3);
        _settle(dealId, start, start);
        uint256 c = market.getDeal(dealId).collateral;
        IMarket.Signature[] memory sigs = _sigs(dealId, start + 1, start + 2, false, 3);
        // the current epoch (start + 2) may be reported already
        assertEq(market.currentEpoch(), start + 2);
        uint256 toClient = c * SLASH_CLIENT_BPS / 10_000;
        uint256 share = (c - toClient) / 3;
        uint256 clientBefore = market.balanceOf(client);
        address[] memory signers = _sortedSigners(3);
        uint256[] memory before = new uint256[](3);
        for (uint256 i; i < 3; ++i) {
            before[i] = market.balanceOf(signers[i]);
        }
        vm.expectEmit(address(market));
        emit IMarket.DealFaulted(dealId, hoster, false, c, c - 3 * share, 3 * share);
        market.faultFailed(dealId, start + 1, start + 2, sigs);

        assertEq(market.balanceOf(client) - clientBefore, c - 3 * share);
        for (uint256 i; i < 3; ++i) {
            assertEq(market.balanceOf(signers[i]) - before[i], share);
        }
        assertEq(market.slotOffset(1, 0), 1);
        assertEq(market.getBid(1).escrow, _bidEscrowFormula(1));
        assertEq(market.getBid(1).escrow, uint256(PRICE) * (DURATION - 1));
    }

    function test_faultFailed_revertsOnFutureEpoch() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpToEpoch(start);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start + 1, false, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochNotOver.selector, start + 1, start));
        market.faultFailed(dealId, start, start + 1, sigs);
    }

    function test_faultFailed_revertsOnPaidEpochs() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(3);
        _settle(dealId, start, start + 1);
        IMarket.Signature[] memory sigs = _sigs(dealId, start + 1, start + 1, false, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochAlreadyPaid.selector, start + 1, start + 1));
        market.faultFailed(dealId, start + 1, start + 1, sigs);
    }

    function test_faultFailed_revertsAfterDealEnd() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(DURATION + 3);
        uint32 end = start + DURATION - 1;
        IMarket.Signature[] memory sigs = _sigs(dealId, end + 1, end + 1, false, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochAfterDealEnd.selector, end + 1, end));
        market.faultFailed(dealId, end + 1, end + 1, sigs);
    }

    function test_faultFailed_revertsOnInvertedRangeOrNoQuorum() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(3);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start, false, 1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidEpochRange.selector, start + 1, start));
        market.faultFailed(dealId, start + 1, start, sigs);
        vm.expectRevert(abi.encodeWithSelector(IMarket.NoQuorum.selector, 1, QUORUM));
        market.faultFailed(dealId, start, start, sigs);
    }

    function test_faultFailed_rejectsOkAttestations() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(3);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start, true, 2);
        vm.expectRevert();
        market.faultFailed(dealId, start, start, sigs);
    }

    function test_faultFailed_revertsOnInactiveDeal() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(GRACE + 1);
        market.faultMissed(dealId);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start, false, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.DealNotActive.selector, dealId));
        market.faultFailed(dealId, start, start, sigs);
    }

    /*//////////////////////////////////////////////////////////////
                                 FINISH
    //////////////////////////////////////////////////////////////*/

    function test_finish_unlocksCollateralAndRefundsUnpaid() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(DURATION + 1);
        _settle(dealId, start, start + 5); // 6 of 10 paid
        _warpEpochs(GRACE + 1);
        uint256 refund = uint256(PRICE) * 4;
        vm.expectEmit(address(market));
        emit IMarket.DealFinished(dealId, hoster, refund);
        vm.expectEmit(address(market));
        emit IMarket.Credited(client, refund);
        market.finish(dealId);

        assertEq(uint8(market.getDeal(dealId).status), uint8(IMarket.DealStatus.Finished));
        assertEq(market.node(HOSTER, hoster).locked, 0);
        assertEq(market.node(HOSTER, hoster).stake, 10 ether);
        assertEq(market.balanceOf(client), refund);
        IMarket.Bid memory b = market.getBid(1);
        assertEq(b.closedSlots, 1);
        assertEq(b.escrow, 0);
    }

    function test_finish_revertsBeforeEndPlusGrace() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        uint256 from = uint256(start) + DURATION + GRACE;
        _warpToEpoch(from - 1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.DealNotOver.selector, from - 1, from));
        market.finish(dealId);
        _warpToEpoch(from);
        market.finish(dealId);
    }

    function test_finish_revertsOnInactiveDeal() public {
        (uint256 dealId,) = _deal(DURATION);
        _warpEpochs(DURATION + GRACE + 2);
        market.finish(dealId);
        vm.expectRevert(abi.encodeWithSelector(IMarket.DealNotActive.selector, dealId));
        market.finish(dealId);
    }

    /*//////////////////////////////////////////////////////////////
                              CANCEL / EXTEND
    //////////////////////////////////////////////////////////////*/

    function test_cancel_refundsOpenSlot() public {
        uint256 bidId = _bid(3, DURATION);
        uint256 refund = uint256(PRICE) * DURATION;
        vm.expectEmit(address(market));
        emit IMarket.SlotCancelled(bidId, 2, refund);
        vm.prank(client);
        market.cancel(bidId, 2);
        IMarket.Bid memory b = market.getBid(bidId);
        assertEq(b.openSlots, 0x3);
        assertEq(b.closedSlots, 0x4);
        assertEq(b.escrow, 2 * refund);
        assertEq(market.balanceOf(client), refund);
    }

    function test_cancel_refundsReopenedSlotRemainder() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        _warpEpochs(3);
        _settle(dealId, start, start + 1);
        _warpEpochs(GRACE + 1);
        market.faultMissed(dealId);
        uint256 before = market.balanceOf(client);
        vm.prank(client);
        market.cancel(1, 0);
        assertEq(market.balanceOf(client) - before, uint256(PRICE) * (DURATION - 2));
        assertEq(market.getBid(1).escrow, 0);
    }

    function test_cancel_revertsForNonClient() public {
        uint256 bidId = _bid(1, DURATION);
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IMarket.NotClient.selector, hoster, client));
        market.cancel(bidId, 0);
    }

    function test_cancel_revertsOnUnknownBid() public {
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.UnknownBid.selector, 3));
        market.cancel(3, 0);
    }

    function test_cancel_revertsOnTakenOrCancelledSlot() public {
        uint256 bidId = _bid(2, DURATION);
        _accept(hoster, bidId, 0);
        vm.startPrank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.SlotNotOpen.selector, bidId, 0));
        market.cancel(bidId, 0);
        market.cancel(bidId, 1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.SlotNotOpen.selector, bidId, 1));
        market.cancel(bidId, 1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.SlotNotOpen.selector, bidId, 40));
        market.cancel(bidId, 40);
        vm.stopPrank();
    }

    function test_extend_addsEpochsToLiveSlotsOnly() public {
        uint256 bidId = _bid(3, DURATION);
        uint256 dealId = _accept(hoster, bidId, 0);
        uint32 endBefore = market.dealEndEpoch(dealId);
        vm.prank(client);
        market.cancel(bidId, 2);
        uint256 value = uint256(PRICE) * 2 * 5;
        vm.expectEmit(address(market));
        emit IMarket.BidExtended(bidId, 5, DURATION + 5, value);
        vm.prank(client);
        market.extend{value: value}(bidId, 5);
        IMarket.Bid memory b = market.getBid(bidId);
        assertEq(b.durationEpochs, DURATION + 5);
        assertEq(market.dealEndEpoch(dealId), endBefore + 5);
        assertEq(b.escrow, _bidEscrowFormula(bidId));
    }

    function test_extend_revertsOnWrongValue() public {
        uint256 bidId = _bid(2, DURATION);
        uint256 required = uint256(PRICE) * 2 * 3;
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.WrongEscrow.selector, required - 1, required));
        market.extend{value: required - 1}(bidId, 3);
    }

    function test_extend_revertsOnZeroEpochs() public {
        uint256 bidId = _bid(2, DURATION);
        vm.prank(client);
        vm.expectRevert(IMarket.ZeroDuration.selector);
        market.extend(bidId, 0);
    }

    function test_extend_revertsForNonClientOrUnknownBid() public {
        uint256 bidId = _bid(2, DURATION);
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IMarket.NotClient.selector, hoster, client));
        market.extend(bidId, 1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.UnknownBid.selector, 99));
        market.extend(99, 1);
    }

    function test_extend_revertsWhenAllSlotsClosed() public {
        uint256 bidId = _bid(2, DURATION);
        vm.startPrank(client);
        market.cancel(bidId, 0);
        market.cancel(bidId, 1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.BidClosed.selector, bidId));
        market.extend(bidId, 1);
        vm.stopPrank();
    }

    /*//////////////////////////////////////////////////////////////
                                WITHDRAW
    //////////////////////////////////////////////////////////////*/

    function test_withdraw_sendsWholeBalance() public {
        uint256 bidId = _bid(1, DURATION);
        vm.prank(client);
        market.cancel(bidId, 0);
        address payable to = payable(makeAddr("wallet"));
        uint256 amount = market.balanceOf(client);
        vm.expectEmit(address(market));
        emit IMarket.Withdrawn(client, to, amount);
        vm.prank(client);
        market.withdraw(to);
        assertEq(to.balance, amount);
        assertEq(market.balanceOf(client), 0);
    }

    function test_withdraw_revertsOnZeroBalance() public {
        vm.prank(client);
        vm.expectRevert(IMarket.NothingToWithdraw.selector);
        market.withdraw(payable(client));
    }

    function test_withdraw_revertsOnZeroAddress() public {
        uint256 bidId = _bid(1, DURATION);
        vm.prank(client);
        market.cancel(bidId, 0);
        uint256 amount = market.balanceOf(client);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.TransferFailed.selector, address(0), amount));
        market.withdraw(payable(address(0)));
    }

    function test_withdraw_revertsWhenReceiverRejectsAndKeepsBalance() public {
        Rejecter rejecter = new Rejecter();
        uint256 bidId = _bid(1, DURATION);
        vm.prank(client);
        market.cancel(bidId, 0);
        uint256 amount = market.balanceOf(client);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.TransferFailed.selector, address(rejecter), amount));
        market.withdraw(payable(address(rejecter)));
        assertEq(market.balanceOf(client), amount);
    }

    function test_withdraw_reentrancyCannotDrain() public {
        Reenterer attacker = new Reenterer(market);
        vm.deal(address(attacker), 1 ether);
        uint256 bidId = _bidAs(address(attacker), 1, PRICE, DURATION);
        vm.prank(address(attacker));
        market.cancel(bidId, 0);
        uint256 amount = market.balanceOf(address(attacker));
        uint256 marketBefore = address(market).balance;
        vm.prank(address(attacker));
        market.withdraw(payable(address(attacker)));
        assertEq(attacker.reentryReverted(), true);
        assertEq(address(market).balance, marketBefore - amount);
        assertEq(market.balanceOf(address(attacker)), 0);
        assertEq(address(attacker).balance, 1 ether + amount);
    }

    /*//////////////////////////////////////////////////////////////
                               LIFECYCLE
    //////////////////////////////////////////////////////////////*/

    function test_lifecycle_faultReacceptFinishAccountsForEveryWei() public {
        uint256 stakes = address(market).balance;
        uint256 bidId = _bid(2, DURATION);
        uint256 deal1 = _accept(hoster, bidId, 0);
        uint256 deal2 = _accept(hoster2, bidId, 1);
        uint32 start = market.getDeal(deal1).startEpoch;
        _warpEpochs(4);
        _settle(deal1, start, start + 2);
        _settle(deal2, start, start + 2);
        _warpEpochs(GRACE + 1);
        market.faultMissed(deal1); // hoster stopped after 3 epochs
        uint256 deal3 = _accept(hoster3, bidId, 0);
        assertEq(market.getDeal(deal3).slotOffset, 3);
        _warpEpochs(2 * DURATION);
        uint32 s3 = market.getDeal(deal3).startEpoch;
        _settle(deal3, s3, s3 + DURATION - 4);
        _settle(deal2, start + 3, start + DURATION - 1);
        _warpEpochs(GRACE + 1);
        market.finish(deal2);
        market.finish(deal3);

        IMarket.Bid memory b = market.getBid(bidId);
        assertEq(b.escrow, 0);
        assertEq(b.closedSlots, 3);
        assertEq(b.openSlots, 0);
        // every wei of escrow went to hosters and validators; the slash went to client and reporter
        uint256 paid = market.balanceOf(hoster) + market.balanceOf(hoster2) + market.balanceOf(hoster3);
        for (uint256 i; i < validators.length; ++i) {
            paid += market.balanceOf(validators[i]);
        }
        uint256 slashed = market.getDeal(deal1).collateral;
        assertEq(
            paid + market.balanceOf(client) + market.balanceOf(address(this)), 2 * uint256(PRICE) * DURATION + slashed
        );
        assertEq(address(market).balance, stakes + 2 * uint256(PRICE) * DURATION);
    }

    function test_settle_continuesForExitingHoster() public {
        (uint256 dealId, uint32 start) = _deal(DURATION);
        vm.prank(hoster);
        market.announceExit(HOSTER);
        _warpEpochs(2);
        _settle(dealId, start, start);
        assertEq(market.getDeal(dealId).paidEpochs, 1);
        assertEq(market.freeStake(HOSTER, hoster), 0);
    }

    function test_extend_growsBudgetOfOpenSlots() public {
        uint256 bidId = _bid(1, DURATION);
        vm.prank(client);
        market.extend{value: uint256(PRICE) * 5}(bidId, 5);
        uint256 dealId = _accept(hoster, bidId, 0);
        assertEq(market.getDeal(dealId).collateral, uint256(PRICE) * (DURATION + 5) * COLLATERAL_BPS / 10_000);
        assertEq(market.dealEndEpoch(dealId), market.getDeal(dealId).startEpoch + DURATION + 5 - 1);
    }

    function test_exit_thenWithdrawStake() public {
        vm.prank(hoster);
        market.announceExit(HOSTER);
        vm.warp(block.timestamp + EXIT_DELAY);
        vm.startPrank(hoster);
        market.exit(HOSTER);
        uint256 before = hoster.balance;
        market.withdraw(payable(hoster));
        vm.stopPrank();
        assertEq(hoster.balance - before, 10 ether);
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    function test_dealEndEpoch_revertsOnUnknownDeal() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.UnknownDeal.selector, 1));
        market.dealEndEpoch(1);
    }

    function test_slotOffset_zeroOutOfRange() public view {
        assertEq(market.slotOffset(1, 200), 0);
    }

    function test_getBidAndDeal_emptyForUnknownIds() public view {
        assertEq(market.getBid(5).client, address(0));
        assertEq(market.getDeal(5).hoster, address(0));
    }

    /*//////////////////////////////////////////////////////////////
                                HELPERS
    //////////////////////////////////////////////////////////////*/

    function _deal(uint32 duration) internal returns (uint256 dealId, uint32 start) {
        uint256 bidId = _bid(1, duration);
        dealId = _accept(hoster, bidId, 0);
        start = market.getDeal(dealId).startEpoch;
    }

    /// @dev Settle as the deal's hoster (the only party that may skip unpaid epochs).
    function _settle(uint256 dealId, uint32 from, uint32 to) internal {
        IMarket.Signature[] memory sigs = _sigs(dealId, from, to, true, QUORUM);
        vm.prank(market.getDeal(dealId).hoster);
        market.settle(dealId, from, to, sigs);
    }

    function _fee(uint256 epochs) internal pure returns (uint256) {
        return uint256(PRICE) * epochs * FEE_BPS / 10_000 / QUORUM * QUORUM;
    }

    /// @dev Hash of every deal, bid and balance a settlement can change (deals and bids 1..n).
    function _settlementState(uint256 n) internal view returns (bytes32 h) {
        for (uint256 id = 1; id <= n; ++id) {
            h = keccak256(abi.encode(h, market.getDeal(id), market.getBid(id)));
        }
        h = keccak256(abi.encode(h, market.balanceOf(hoster), market.balanceOf(hoster2), address(market).balance));
        for (uint256 i; i < validators.length; ++i) {
            h = keccak256(abi.encode(h, market.balanceOf(validators[i])));
        }
    }

    function _firstKeys(uint256 n) internal view returns (uint256[] memory keys) {
        keys = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            keys[i] = validatorKeys[i];
        }
    }

    function _stakes() internal pure returns (uint256) {
        return 4 * uint256(MIN_VALIDATOR) + 30 ether;
    }
}

contract Rejecter {
    receive() external payable {
        revert("no");
    }
}

contract Reenterer {
    Market internal immutable market;
    bool public reentryReverted;

    constructor(Market m) {
        market = m;
    }

    receive() external payable {
        if (msg.sender != address(market)) return;
        try market.withdraw(payable(address(this))) {
            reentryReverted = false;
        } catch {
            reentryReverted = true;
        }
    }
}
