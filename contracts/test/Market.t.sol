// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMarket} from "../interfaces/IMarket.sol";
import {IStakeRegistry} from "../interfaces/IStakeRegistry.sol";
import {Market} from "../Market.sol";
import {PossessionProof} from "../libraries/PossessionProof.sol";
import {MarketFixture} from "./utils/MarketFixture.sol";
import {PossessionTree} from "./utils/PossessionTree.sol";

/// @notice Unit tests of each Market operation: happy path, events, every revert.
///         The trust properties T1-T7 and the attacks live in MarketTrust.t.sol.
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
        assertEq(q.genesis, vm.getBlockTimestamp());
        p.genesis = q.genesis;
        assertEq(abi.encode(q), abi.encode(p));
        assertEq(m.currentEpoch(), 0);
        assertEq(m.VERSION(), 3);
        assertEq(m.MAX_SLOTS(), 32);
        assertEq(m.MAX_PROOF_BATCH(), 100);
    }

    function test_constructor_revertsOnInvalidParams() public {
        for (uint256 i; i < 13; ++i) {
            IMarket.Params memory p = defaultParams();
            if (i == 0) p.epochSeconds = 0;
            if (i == 1) p.quorum = 0;
            if (i == 2) p.committeeSize = 0;
            if (i == 3) p.periodEpochs = 0;
            if (i == 4) p.proofWindowEpochs = 0;
            if (i == 5) p.missedQuorumEpochs = 0;
            if (i == 6) p.auditEveryBlocks = 0;
            if (i == 7) p.maxFaults = 0;
            if (i == 8) p.auditBps = 10_001;
            if (i == 9) p.collateralBps = 10_001;
            if (i == 10) p.validatorFeeBps = 10_001;
            if (i == 11) p.slashClientBps = 10_001;
            if (i == 12) p.minValidatorStake = 0;
            vm.expectRevert(IMarket.InvalidParams.selector);
            new Market(p);
        }
    }

    function test_currentEpochAndPeriod() public view {
        uint32 e = market.currentEpoch();
        assertEq(e, BONDING / EPOCH);
        assertEq(market.periodOf(e), e / PERIOD);
        assertEq(market.periodOf(PERIOD - 1), 0);
        assertEq(market.periodOf(PERIOD), 1);
    }

    /*//////////////////////////////////////////////////////////////
                                  BID
    //////////////////////////////////////////////////////////////*/

    function test_bid_storesBidRootsAndBudgets() public {
        bytes[] memory cids = _cids(3);
        bytes32[] memory roots = new bytes32[](3);
        for (uint256 i; i < 3; ++i) {
            roots[i] = bytes32(uint256(i + 1) << 96);
        }
        string[] memory origins = new string[](1);
        origins[0] = "/dns4/origin.example/tcp/4001";
        uint256 value = uint256(PRICE) * 3 * DURATION;
        vm.expectEmit(address(market));
        emit IMarket.BidPosted(1, client, SHARD_SIZE, 3, PRICE, DURATION, cids, roots, origins);
        vm.prank(client);
        uint256 bidId = market.bid{value: value}(cids, roots, SHARD_SIZE, 3, PRICE, DURATION, origins);

        IMarket.Bid memory b = market.getBid(bidId);
        assertEq(b.client, client);
        assertEq(b.size, SHARD_SIZE);
        assertTrue(b.rootPerSlot);
        assertEq(b.openSlots, 7);
        assertEq(b.escrow, value);
        assertEq(b.postedBlock, vm.getBlockNumber());
        for (uint8 i; i < 3; ++i) {
            assertEq(market.slotRoot(bidId, i), roots[i]);
            assertEq(market.slotEpochs(bidId, i), DURATION);
        }
        assertEq(market.slotEpochs(bidId, 3), 0);
        assertEq(market.slotEpochs(bidId, 40), 0);
        assertEq(market.bidCount(), 1);
    }

    function test_bid_replicatedRootServesEverySlot() public {
        uint256 bidId = _bid(4, DURATION);
        assertFalse(market.getBid(bidId).rootPerSlot);
        assertEq(market.slotRoot(bidId, 3), root);
        vm.expectRevert(abi.encodeWithSelector(IMarket.SlotNotOpen.selector, bidId, 4));
        market.slotRoot(bidId, 4);
        vm.expectRevert(abi.encodeWithSelector(IMarket.UnknownBid.selector, 99));
        market.slotRoot(99, 0);
    }

    function test_bid_revertsOnInvalidInput() public {
        bytes32[] memory oneRoot = _roots(1);
        vm.startPrank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidSlotCount.selector, 0, 32));
        market.bid(_cids(1), oneRoot, 1, 0, PRICE, 1, new string[](0));
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidSlotCount.selector, 33, 32));
        market.bid(_cids(1), oneRoot, 1, 33, PRICE, 1, new string[](0));
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidCidCount.selector, 2, 3));
        market.bid(_cids(2), _roots(2), 1, 3, PRICE, 1, new string[](0));
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidRootCount.selector, 2, 1));
        market.bid(_cids(1), _roots(2), 1, 1, PRICE, 1, new string[](0));
        bytes[] memory empty = new bytes[](1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EmptyCid.selector, 0));
        market.bid(empty, oneRoot, 1, 1, PRICE, 1, new string[](0));
        bytes32[] memory bad = new bytes32[](1);
        bad[0] = bytes32(uint256(1)); // a non-zero last 12 bytes
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidRoot.selector, 0));
        market.bid(_cids(1), bad, 1, 1, PRICE, 1, new string[](0));
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidSize.selector, 0));
        market.bid(_cids(1), oneRoot, 0, 1, PRICE, 1, new string[](0));
        uint64 tooBig = uint64(market.MAX_SIZE() + 1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidSize.selector, tooBig));
        market.bid(_cids(1), oneRoot, tooBig, 1, PRICE, 1, new string[](0));
        vm.expectRevert(IMarket.ZeroPrice.selector);
        market.bid(_cids(1), oneRoot, 1, 1, 0, 1, new string[](0));
        vm.expectRevert(IMarket.ZeroDuration.selector);
        market.bid(_cids(1), oneRoot, 1, 1, PRICE, 0, new string[](0));
        vm.expectRevert(abi.encodeWithSelector(IMarket.WrongEscrow.selector, 0, PRICE));
        market.bid(_cids(1), oneRoot, 1, 1, PRICE, 1, new string[](0));
        vm.stopPrank();
    }

    /// @dev Market VERSION 3 checks possession format 2 only: a format-1 root (a 24-byte node,
    ///      the last 8 bytes zero) is refused, so no slot can commit to a tree it cannot prove.
    function test_bid_refusesFormatOneRoot() public {
        bytes32[] memory roots = new bytes32[](2);
        roots[0] = root;
        // the format-1 root of the 1-byte shard 0xea (version 1 of possession_vectors.json)
        roots[1] = 0xb49f69b0a2ce00696dae5a400ce2c9cce977afcd305428530000000000000000;
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidRoot.selector, 1));
        market.bid{value: 2 * PRICE}(_cids(2), roots, SHARD_SIZE, 2, PRICE, 1, new string[](0));
    }

    /*//////////////////////////////////////////////////////////////
                              RESERVATIONS
    //////////////////////////////////////////////////////////////*/

    function test_reserve_holdsSlotWithoutLocking() public {
        uint256 bidId = _bid(2, DURATION);
        uint64 expiresAt = uint64(vm.getBlockTimestamp() + RESERVE * EPOCH);
        vm.expectEmit(address(market));
        emit IMarket.SlotReserved(bidId, hoster, 1, expiresAt);
        vm.prank(hoster);
        market.reserve(bidId, 1, type(uint128).max);
        assertEq(market.getBid(bidId).reservedSlots, 2);
        assertEq(market.getBid(bidId).openSlots, 3);
        assertEq(market.reservationOf(bidId, 1).hoster, hoster);
        assertEq(market.reservationOf(bidId, 1).expiresAt, expiresAt);
        assertTrue(market.hosterLiveInBid(bidId, hoster));
        assertEq(market.node(HOSTER, hoster).locked, 0);
    }

    function test_reserve_reverts() public {
        uint256 bidId = _bid(2, DURATION);
        vm.prank(hoster);
        market.reserve(bidId, 0, type(uint128).max);
        uint64 expiresAt = market.reservationOf(bidId, 0).expiresAt;

        vm.prank(hoster2); // held by another hoster
        vm.expectRevert(abi.encodeWithSelector(IMarket.SlotIsReserved.selector, bidId, 0, hoster, expiresAt));
        market.reserve(bidId, 0, type(uint128).max);
        vm.prank(hoster); // its own reservation again
        vm.expectRevert(abi.encodeWithSelector(IMarket.SlotIsReserved.selector, bidId, 0, hoster, 0));
        market.reserve(bidId, 0, type(uint128).max);
        vm.prank(hoster); // a second live slot of the bid
        vm.expectRevert(abi.encodeWithSelector(IMarket.HosterAlreadyInBid.selector, bidId, hoster));
        market.reserve(bidId, 1, type(uint128).max);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.ClientCannotHost.selector, bidId));
        market.reserve(bidId, 1, type(uint128).max);
        vm.prank(hoster2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.SlotNotOpen.selector, bidId, 2));
        market.reserve(bidId, 2, type(uint128).max);
        uint256 collateral = _collateralOf(DURATION);
        vm.prank(hoster2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.CollateralTooHigh.selector, collateral, collateral - 1));
        market.reserve(bidId, 1, uint128(collateral - 1));
        address stranger = makeAddr("stranger");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IStakeRegistry.NotActive.selector, stranger, HOSTER));
        market.reserve(bidId, 1, type(uint128).max);
        vm.expectRevert(abi.encodeWithSelector(IMarket.UnknownBid.selector, 7));
        market.reserve(7, 0, 0);
    }

    function test_reserve_revertsWithoutFreeStake() public {
        uint256 bidId = _bidAs(client, 1, 1 ether, 100); // collateral 50 ether
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IStakeRegistry.InsufficientStake.selector, 10 ether, 50 ether));
        market.reserve(bidId, 0, type(uint128).max);
    }

    function test_releaseReservation_revertsBeforeExpiryOrWithout() public {
        uint256 bidId = _bid(1, DURATION);
        vm.expectRevert(abi.encodeWithSelector(IMarket.NoReservation.selector, bidId, 0));
        market.releaseReservation(bidId, 0);
        vm.prank(hoster);
        market.reserve(bidId, 0, type(uint128).max);
        uint64 expiresAt = market.reservationOf(bidId, 0).expiresAt;
        vm.warp(expiresAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.SlotIsReserved.selector, bidId, 0, hoster, expiresAt));
        market.releaseReservation(bidId, 0);
        vm.warp(expiresAt);
        market.releaseReservation(bidId, 0);
        assertFalse(market.hosterLiveInBid(bidId, hoster));
    }

    function test_releaseReservation_feeOncePerBidAndHoster() public {
        uint256 bidId = _bid(2, DURATION);
        vm.prank(hoster);
        market.reserve(bidId, 0, type(uint128).max);
        _warpEpochs(RESERVE);
        vm.expectEmit(address(market));
        emit IMarket.ReservationReleased(bidId, hoster, 0, PRICE);
        market.releaseReservation(bidId, 0);
        assertEq(market.balanceOf(hoster), PRICE);
        assertEq(market.slotEpochs(bidId, 0), DURATION - 1);

        vm.prank(hoster);
        market.reserve(bidId, 1, type(uint128).max);
        _warpEpochs(RESERVE);
        vm.expectEmit(address(market));
        emit IMarket.ReservationReleased(bidId, hoster, 1, 0);
        market.releaseReservation(bidId, 1);
        assertEq(market.balanceOf(hoster), PRICE);
        assertEq(market.slotEpochs(bidId, 1), DURATION);
        assertEq(market.getBid(bidId).escrow, _bidEscrowFormula(bidId));
    }

    function test_reserve_byAnotherHosterReleasesExpiredReservationFirst() public {
        uint256 bidId = _bid(1, DURATION);
        vm.prank(hoster);
        market.reserve(bidId, 0, type(uint128).max);
        _warpEpochs(RESERVE);
        vm.prank(hoster2);
        market.reserve(bidId, 0, type(uint128).max);
        assertEq(market.reservationOf(bidId, 0).hoster, hoster2);
        assertEq(market.balanceOf(hoster), PRICE);
        assertFalse(market.hosterLiveInBid(bidId, hoster));
    }

    /*//////////////////////////////////////////////////////////////
                                  FILL
    //////////////////////////////////////////////////////////////*/

    function test_fill_locksCollateralAndStartsDeal() public {
        uint256 bidId = _bid(2, DURATION);
        uint256 seedBlock = _seedBlock();
        bytes memory proof = _fillProof(hoster, bidId, 1, seedBlock);
        uint32 start = market.currentEpoch() + 1;
        uint128 collateral = uint128(_collateralOf(DURATION));
        vm.expectEmit(address(market));
        emit IMarket.SlotFilled(bidId, 1, hoster, 1, start, start + DURATION - 1, collateral);
        vm.prank(hoster);
        uint256 dealId = market.fill(bidId, 1, seedBlock, collateral, proof);

        IMarket.Deal memory d = _deal(dealId);
        assertEq(d.hoster, hoster);
        assertEq(d.bidId, bidId);
        assertEq(d.slot, 1);
        assertEq(uint8(d.status), uint8(IMarket.DealStatus.Active));
        assertEq(d.startEpoch, start);
        assertEq(d.endEpoch, start + DURATION - 1);
        assertEq(d.paidThrough, start - 1);
        assertEq(d.collateral, collateral);
        assertEq(d.seed, uint64(uint256(keccak256(abi.encode(block.prevrandao, dealId)))));
        assertEq(market.node(HOSTER, hoster).locked, collateral);
        assertEq(market.getBid(bidId).openSlots, 1);
        assertTrue(market.hosterLiveInBid(bidId, hoster));
        assertEq(market.dealCount(), 1);
    }

    function test_fill_byReserverConsumesItsReservation() public {
        uint256 bidId = _bid(1, DURATION);
        vm.prank(hoster);
        market.reserve(bidId, 0, type(uint128).max);
        _warpEpochs(RESERVE + 1); // even expired, the reserver may still fill
        uint256 dealId = _fill(hoster, bidId, 0);
        assertEq(market.getBid(bidId).reservedSlots, 0);
        assertEq(market.getBid(bidId).openSlots, 0);
        assertEq(_deal(dealId).hoster, hoster);
        assertEq(market.balanceOf(hoster), 0); // no fee: it filled
    }

    function test_fill_revertsWhileAnotherHosterHoldsTheSlot() public {
        uint256 bidId = _bid(1, DURATION);
        vm.prank(hoster);
        market.reserve(bidId, 0, type(uint128).max);
        uint256 seedBlock = _seedBlock();
        bytes memory proof = _fillProof(hoster2, bidId, 0, seedBlock);
        vm.prank(hoster2);
        vm.expectPartialRevert(IMarket.SlotIsReserved.selector);
        market.fill(bidId, 0, seedBlock, type(uint128).max, proof);
    }

    function test_fill_perSlotRootsProveTheirOwnRoot() public {
        bytes32[] memory roots = new bytes32[](2);
        roots[0] = bytes32(uint256(7) << 96); // slot 0 commits something else
        roots[1] = root;
        vm.prank(client);
        uint256 bidId =
            market.bid{value: 2 * PRICE * DURATION}(_cids(2), roots, SHARD_SIZE, 2, PRICE, DURATION, new string[](0));
        uint256 dealId = _fill(hoster, bidId, 1);
        assertEq(_deal(dealId).rootIndex, 1);
        uint256 seedBlock = _seedBlock();
        bytes memory proof = _fillProof(hoster2, bidId, 0, seedBlock);
        vm.prank(hoster2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidProof.selector, 0));
        market.fill(bidId, 0, seedBlock, type(uint128).max, proof);
    }

    function test_fill_revertsOnSeedBlockOutsideWindow() public {
        uint256 bidId = _bid(1, DURATION);
        uint256 window = market.FILL_SEED_WINDOW();
        vm.roll(vm.getBlockNumber() + window + 5);
        bytes memory proof = _fillProof(hoster, bidId, 0, vm.getBlockNumber());
        vm.startPrank(hoster);
        vm.expectRevert(
            abi.encodeWithSelector(IMarket.InvalidSeedBlock.selector, vm.getBlockNumber(), vm.getBlockNumber())
        );
        market.fill(bidId, 0, vm.getBlockNumber(), type(uint128).max, proof);
        uint256 old = vm.getBlockNumber() - window - 1;
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidSeedBlock.selector, old, vm.getBlockNumber()));
        market.fill(bidId, 0, old, type(uint128).max, proof);
        vm.stopPrank();
    }

    function test_fill_proofIsBoundToHosterAndSlot() public {
        uint256 bidId = _bid(2, DURATION);
        uint256 seedBlock = _seedBlock();
        bytes memory copied = _fillProof(hoster, bidId, 0, seedBlock);
        vm.prank(hoster2); // hoster2 replays hoster's proof
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidProof.selector, 0));
        market.fill(bidId, 0, seedBlock, type(uint128).max, copied);
        vm.prank(hoster); // for another slot
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidProof.selector, 0));
        market.fill(bidId, 1, seedBlock, type(uint128).max, copied);
    }

    function test_fill_revertsOnCorruptedProof() public {
        uint256 bidId = _bid(1, DURATION);
        uint256 seedBlock = _seedBlock();
        bytes memory proof = _fillProof(hoster, bidId, 0, seedBlock);
        (uint256 capBytes, uint256 item) = PossessionTree.layout(tree);
        uint256[5] memory positions =
            [uint256(5), capBytes + 3, capBytes + 128 + 3, capBytes + 4 * item + 127, proof.length - 1];
        for (uint256 i; i < positions.length; ++i) {
            bytes memory bad = bytes.concat(proof);
            bad[positions[i]] ^= 0x01;
            vm.prank(hoster);
            vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidProof.selector, 0));
            market.fill(bidId, 0, seedBlock, type(uint128).max, bad);
        }
        bytes memory short = new bytes(proof.length - 20);
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidProof.selector, 0));
        market.fill(bidId, 0, seedBlock, type(uint128).max, short);
    }

    function test_fill_revertsAboveMaxCollateral() public {
        uint256 bidId = _bid(1, DURATION);
        uint256 seedBlock = _seedBlock();
        bytes memory proof = _fillProof(hoster, bidId, 0, seedBlock);
        uint256 collateral = _collateralOf(DURATION);
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IMarket.CollateralTooHigh.selector, collateral, collateral - 1));
        market.fill(bidId, 0, seedBlock, uint128(collateral - 1), proof);
    }

    function test_fill_revertsOnExhaustedSlot() public {
        uint256 bidId = _bid(1, 1);
        vm.prank(hoster);
        market.reserve(bidId, 0, type(uint128).max);
        _warpEpochs(RESERVE);
        market.releaseReservation(bidId, 0); // the one-epoch budget went to the reservation fee
        assertEq(market.slotEpochs(bidId, 0), 0);
        uint256 seedBlock = _seedBlock();
        bytes memory proof = _fillProof(hoster2, bidId, 0, seedBlock);
        vm.prank(hoster2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.SlotExhausted.selector, bidId, 0));
        market.fill(bidId, 0, seedBlock, type(uint128).max, proof);
        // no second fee from an empty budget
        vm.prank(hoster2);
        market.reserve(bidId, 0, type(uint128).max);
        _warpEpochs(RESERVE);
        market.releaseReservation(bidId, 0);
        assertEq(market.balanceOf(hoster2), 0);
    }

    function test_fill_revertsForUnregisteredExitingOrUnderstakedHoster() public {
        uint256 bidId = _bidAs(client, 1, 1 ether, 100); // collateral 50 ether
        uint256 small = _bid(1, DURATION);
        address stranger = makeAddr("stranger");
        uint256 seedBlock = _seedBlock();
        bytes memory proof = _fillProof(stranger, small, 0, seedBlock);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IStakeRegistry.NotRegistered.selector, stranger, HOSTER));
        market.fill(small, 0, seedBlock, type(uint128).max, proof);
        proof = _fillProof(hoster, bidId, 0, seedBlock);
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IStakeRegistry.InsufficientStake.selector, 10 ether, 50 ether));
        market.fill(bidId, 0, seedBlock, type(uint128).max, proof);
        vm.prank(hoster2);
        market.announceExit(HOSTER);
        proof = _fillProof(hoster2, small, 0, seedBlock);
        vm.prank(hoster2);
        vm.expectRevert(abi.encodeWithSelector(IStakeRegistry.NotActive.selector, hoster2, HOSTER));
        market.fill(small, 0, seedBlock, type(uint128).max, proof);
    }

    function test_settleMany_skipsFinishedDeal() public {
        uint256 bidId = _bid(1, 2);
        uint256 dealId = _fill(hoster, bidId, 0);
        uint32 start = _deal(dealId).startEpoch;
        _warpToEpoch(_deal(dealId).endEpoch + WINDOW + 1);
        IMarket.Settlement[] memory items = new IMarket.Settlement[](1);
        items[0] = _item(dealId, start, start);
        market.finish(dealId);
        vm.expectEmit(address(market));
        emit IMarket.SettlementSkipped(dealId, start, start);
        assertEq(market.settleMany(items), 0);
        IMarket.Signature[] memory sigs = items[0].sigs;
        vm.expectRevert(abi.encodeWithSelector(IMarket.DealNotActive.selector, dealId));
        market.settle(dealId, start, start, sigs);
    }

    /*//////////////////////////////////////////////////////////////
                                 SETTLE
    //////////////////////////////////////////////////////////////*/

    function _liveDeal() internal returns (uint256 dealId, uint32 start) {
        uint256 bidId = _bid(3, DURATION);
        dealId = _fill(hoster, bidId, 0);
        start = _deal(dealId).startEpoch;
    }

    function test_settle_paysHosterAndSigners() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        _warpEpochs(4);
        uint256 amount = uint256(PRICE) * 3;
        uint256 share = amount * FEE_BPS / 10_000 / 2;
        vm.expectEmit(address(market));
        emit IMarket.DealSettled(dealId, hoster, start, start + 2, amount - 2 * share, 2 * share);
        _settle(dealId, start, start + 2);
        assertEq(market.balanceOf(hoster), amount - 2 * share);
        assertEq(market.balanceOf(validators[0]) + market.balanceOf(validators[1]), 2 * share);
        assertEq(_deal(dealId).paidThrough, start + 2);
        assertEq(_deal(dealId).paidEpochs, 3);
        assertEq(market.getBid(1).escrow, _bidEscrowFormula(1));
    }

    function test_settle_reverts() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        _warpEpochs(4);
        uint32 current = market.currentEpoch();
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start, true, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidEpochRange.selector, start + 1, start));
        market.settle(dealId, start + 1, start, sigs);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochAlreadyPaid.selector, start - 1, start - 1));
        market.settle(dealId, start - 1, start, sigs);
        vm.expectRevert(abi.encodeWithSelector(IMarket.OnlyHosterMaySkip.selector, start + 1, start));
        market.settle(dealId, start + 1, start + 1, sigs);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochNotOver.selector, current, current));
        market.settle(dealId, start, current, sigs);
        IMarket.Signature[] memory one = _sigs(dealId, start, start, true, 1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.NoQuorum.selector, 1, 2));
        market.settle(dealId, start, start, one);
        IMarket.Signature[] memory swapped = new IMarket.Signature[](2);
        (swapped[0], swapped[1]) = (sigs[1], sigs[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.SignersNotSorted.selector, 1));
        market.settle(dealId, start, start, swapped);
        IMarket.Signature[] memory broken = _sigs(dealId, start, start, true, 2);
        broken[0].s = bytes32(type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidSignature.selector, 0));
        market.settle(dealId, start, start, broken);
        IMarket.Signature[] memory failSigs = _sigs(dealId, start, start, false, 2); // signed `fail`
        vm.expectPartialRevert(IMarket.NotInCommittee.selector);
        market.settle(dealId, start, start, failSigs);
        vm.expectRevert(abi.encodeWithSelector(IMarket.UnknownDeal.selector, 99));
        market.settle(99, start, start, sigs);
    }

    function test_settle_hosterMaySkipEpochsItLoses() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        _warpEpochs(4);
        IMarket.Signature[] memory sigs = _sigs(dealId, start + 1, start + 1, true, 2);
        vm.prank(hoster);
        market.settle(dealId, start + 1, start + 1, sigs);
        assertEq(_deal(dealId).paidEpochs, 1);
        assertEq(_deal(dealId).paidThrough, start + 1);
    }

    function test_settle_revertsAfterDealEndAndAcrossPeriods() public {
        uint256 bidId = _bid(1, 40);
        uint256 dealId = _fill(hoster, bidId, 0);
        uint32 start = _deal(dealId).startEpoch;
        uint32 end = _deal(dealId).endEpoch;
        _warpEpochs(50);
        uint32 boundary = (start / PERIOD + 1) * PERIOD; // first epoch of the next period
        IMarket.Signature[] memory sigs = _sigs(dealId, start, boundary, true, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.RangeCrossesPeriod.selector, start, boundary));
        market.settle(dealId, start, boundary, sigs);
        _settle(dealId, start, boundary - 1);
        sigs = _sigs(dealId, end, end + 1, true, 2);
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochOutsideDeal.selector, end + 1, start, end));
        market.settle(dealId, end, end + 1, sigs);
    }

    function test_settle_excludesHosterAndClientAsSigners() public {
        (address v, uint256 k) = makeAddrAndKey("hosterValidator");
        // the hoster itself registers as a validator and bonds
        uint256 hk = uint256(keccak256("hoster-key"));
        address h = vm.addr(hk);
        _join(HOSTER, h, 10 ether);
        _join(VALIDATOR, h, 1 ether);
        _join(VALIDATOR, v, 1 ether);
        _warp(BONDING);
        uint256 bidId = _bid(1, DURATION);
        uint256 own = _fill(h, bidId, 0);
        _warpEpochs(2);
        uint32 s = _deal(own).startEpoch;
        assertFalse(market.isCommitteeMember(own, s, h));
        assertFalse(market.isCommitteeMember(own, s, client));
        assertTrue(market.isCommitteeMember(own, s, v));
        uint256[] memory keys = new uint256[](2);
        (keys[0], keys[1]) = (hk, k);
        IMarket.Signature[] memory sigs = _sigsWith(own, s, s, true, keys);
        vm.expectRevert(abi.encodeWithSelector(IMarket.NotInCommittee.selector, h));
        market.settle(own, s, s, sigs);
    }

    function test_settleMany_settlesAndSkipsOvertaken() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        uint256 other = _fill(hoster2, 1, 1);
        _warpEpochs(4);
        _settle(dealId, start, start);
        IMarket.Settlement[] memory items = new IMarket.Settlement[](3);
        items[0] = _item(dealId, start, start); // overtaken
        items[1] = _item(other, start, start + 1);
        items[2] = _item(other, start, start + 1); // repeated
        vm.expectEmit(address(market));
        emit IMarket.SettlementSkipped(dealId, start, start);
        assertEq(market.settleMany(items), 1);
        assertEq(_deal(other).paidThrough, start + 1);
    }

    function test_settleMany_revertsOnTooManyOrInvertedRange() public {
        IMarket.Settlement[] memory items = new IMarket.Settlement[](101);
        vm.expectRevert(abi.encodeWithSelector(IMarket.TooManySettlements.selector, 101, 100));
        market.settleMany(items);
        (uint256 dealId, uint32 start) = _liveDeal();
        _warpEpochs(4);
        IMarket.Settlement[] memory one = new IMarket.Settlement[](1);
        one[0] = _item(dealId, start + 1, start);
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidEpochRange.selector, start + 1, start));
        market.settleMany(one);
    }

    /*//////////////////////////////////////////////////////////////
                             CANCEL, FINISH
    //////////////////////////////////////////////////////////////*/

    function test_cancel_refundsOpenSlotAndCloses() public {
        uint256 bidId = _bid(2, DURATION);
        vm.expectEmit(address(market));
        emit IMarket.SlotCancelled(bidId, 1, uint256(PRICE) * DURATION);
        vm.prank(client);
        market.cancel(bidId, 1);
        IMarket.Bid memory b = market.getBid(bidId);
        assertEq(b.openSlots, 1);
        assertEq(b.closedSlots, 2);
        assertEq(market.balanceOf(client), uint256(PRICE) * DURATION);
        assertEq(b.escrow, _bidEscrowFormula(bidId));
    }

    function test_cancel_reverts() public {
        uint256 bidId = _bid(2, DURATION);
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IMarket.NotClient.selector, hoster, client));
        market.cancel(bidId, 0);
        _fill(hoster, bidId, 0);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.SlotNotOpen.selector, bidId, 0));
        market.cancel(bidId, 0);
        vm.prank(hoster2);
        market.reserve(bidId, 1, type(uint128).max);
        vm.prank(client);
        vm.expectPartialRevert(IMarket.SlotIsReserved.selector);
        market.cancel(bidId, 1);
    }

    function test_finish_unlocksCollateralAndRefundsUnpaid() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        _warpEpochs(3);
        _settle(dealId, start, start + 1);
        uint32 end = _deal(dealId).endEpoch;
        _warpToEpoch(end + WINDOW);
        vm.expectRevert(abi.encodeWithSelector(IMarket.DealNotOver.selector, end + WINDOW, end + WINDOW + 1));
        market.finish(dealId);
        _warpToEpoch(end + WINDOW + 1);
        uint256 refund = uint256(PRICE) * (DURATION - 2);
        uint256 before = market.balanceOf(client);
        vm.expectEmit(address(market));
        emit IMarket.DealFinished(dealId, hoster, refund);
        market.finish(dealId);
        assertEq(market.balanceOf(client) - before, refund);
        assertEq(market.node(HOSTER, hoster).locked, 0);
        assertEq(uint8(_deal(dealId).status), uint8(IMarket.DealStatus.Finished));
        assertFalse(market.hosterLiveInBid(1, hoster));
        assertEq(market.getBid(1).closedSlots, 1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.DealNotActive.selector, dealId));
        market.finish(dealId);
    }

    /*//////////////////////////////////////////////////////////////
                                 EXTEND
    //////////////////////////////////////////////////////////////*/

    function test_extend_addsEpochsToOpenUnreservedSlotsOnly() public {
        uint256 bidId = _bid(3, DURATION);
        uint256 dealId = _fill(hoster, bidId, 0);
        vm.prank(hoster2);
        market.reserve(bidId, 1, type(uint128).max);
        uint256 value = uint256(PRICE) * 1 * 5;
        vm.expectEmit(address(market));
        emit IMarket.BidExtended(bidId, 5, 4, value);
        vm.prank(client);
        market.extend{value: value}(bidId, 5);
        assertEq(market.slotEpochs(bidId, 2), DURATION + 5);
        assertEq(market.slotEpochs(bidId, 1), DURATION);
        assertEq(_deal(dealId).endEpoch, _deal(dealId).startEpoch + DURATION - 1);
        assertEq(market.getBid(bidId).escrow, _bidEscrowFormula(bidId));
    }

    function test_extend_reverts() public {
        uint256 bidId = _bid(1, DURATION);
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IMarket.NotClient.selector, hoster, client));
        market.extend(bidId, 1);
        vm.startPrank(client);
        vm.expectRevert(IMarket.ZeroDuration.selector);
        market.extend(bidId, 0);
        vm.expectRevert(abi.encodeWithSelector(IMarket.WrongEscrow.selector, 0, PRICE));
        market.extend(bidId, 1);
        vm.stopPrank();
        _fill(hoster, bidId, 0);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.NothingToExtend.selector, bidId));
        market.extend(bidId, 1);
    }

    function _extendSig(uint256 key, uint256 dealId, uint32 extra, uint32 end) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, market.extendDealDigest(dealId, extra, end));
        return abi.encodePacked(r, s, v);
    }

    function test_extendDeal_withHosterSignature() public {
        (address h, uint256 hk) = makeAddrAndKey("signingHoster");
        _join(HOSTER, h, 10 ether);
        uint256 bidId = _bid(1, DURATION);
        uint256 dealId = _fill(h, bidId, 0);
        IMarket.Deal memory d = _deal(dealId);
        bytes memory sig = _extendSig(hk, dealId, 5, d.endEpoch);
        uint128 added = uint128(_collateralOf(5));
        vm.expectEmit(address(market));
        emit IMarket.DealExtended(dealId, 5, d.endEpoch + 5, added, uint256(PRICE) * 5);
        vm.prank(client);
        market.extendDeal{value: uint256(PRICE) * 5}(dealId, 5, sig);
        assertEq(_deal(dealId).endEpoch, d.endEpoch + 5);
        assertEq(_deal(dealId).collateral, d.collateral + added);
        assertEq(market.node(HOSTER, h).locked, d.collateral + added);
        assertEq(market.getBid(bidId).escrow, _bidEscrowFormula(bidId));

        // the same signature cannot be replayed: it named the old end
        vm.prank(client);
        vm.expectRevert(IMarket.InvalidHosterSignature.selector);
        market.extendDeal{value: uint256(PRICE) * 5}(dealId, 5, sig);
    }

    function test_extendDeal_reverts() public {
        (address h, uint256 hk) = makeAddrAndKey("signingHoster");
        _join(HOSTER, h, 10 ether);
        uint256 bidId = _bid(1, DURATION);
        uint256 dealId = _fill(h, bidId, 0);
        uint32 end = _deal(dealId).endEpoch;
        bytes memory sig = _extendSig(hk, dealId, 5, end);
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IMarket.NotClient.selector, hoster, client));
        market.extendDeal(dealId, 5, sig);
        vm.startPrank(client);
        vm.expectRevert(IMarket.ZeroDuration.selector);
        market.extendDeal(dealId, 0, sig);
        vm.expectRevert(abi.encodeWithSelector(IMarket.WrongEscrow.selector, 0, uint256(PRICE) * 5));
        market.extendDeal(dealId, 5, sig);
        bytes memory clientSig = _extendSig(uint256(keccak256("not the hoster")), dealId, 5, end);
        vm.expectRevert(IMarket.InvalidHosterSignature.selector);
        market.extendDeal{value: uint256(PRICE) * 5}(dealId, 5, clientSig);
        vm.expectRevert(IMarket.InvalidHosterSignature.selector);
        market.extendDeal{value: uint256(PRICE) * 5}(dealId, 5, hex"1234");
        vm.stopPrank();
        _warpToEpoch(end + 1);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochOutsideDeal.selector, end + 1, end - DURATION + 1, end));
        market.extendDeal{value: uint256(PRICE) * 5}(dealId, 5, sig);
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

    function test_withdraw_reverts() public {
        vm.prank(client);
        vm.expectRevert(IMarket.NothingToWithdraw.selector);
        market.withdraw(payable(client));
        uint256 bidId = _bid(1, DURATION);
        vm.prank(client);
        market.cancel(bidId, 0);
        uint256 amount = market.balanceOf(client);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.TransferFailed.selector, address(0), amount));
        market.withdraw(payable(address(0)));
        Rejecter rejecter = new Rejecter();
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.TransferFailed.selector, address(rejecter), amount));
        market.withdraw(payable(address(rejecter)));
        assertEq(market.balanceOf(client), amount);
    }

    function test_withdraw_reentrancyCannotDrain() public {
        Reenterer attacker = new Reenterer(market);
        uint256 bidId = _bidAs(address(attacker), 1, PRICE, DURATION);
        vm.prank(address(attacker));
        market.cancel(bidId, 0);
        uint256 amount = market.balanceOf(address(attacker));
        uint256 marketBefore = address(market).balance;
        vm.prank(address(attacker));
        market.withdraw(payable(address(attacker)));
        assertTrue(attacker.reentryReverted());
        assertEq(address(market).balance, marketBefore - amount);
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    function test_challengeSegments_matchesLibrary(bytes32 seed, uint64 size) public view {
        size = uint64(bound(size, 1, market.MAX_SIZE()));
        uint256[5] memory got = market.challengeSegments(seed, size);
        uint256 n = (uint256(size) + 127) / 128;
        for (uint256 j; j < 5; ++j) {
            assertEq(got[j], uint256(keccak256(abi.encode(seed, j))) % n);
            assertEq(got[j], PossessionTree.index(seed, j, n));
        }
    }

    function test_digests_areEip712WithVersion2() public view {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Scatter Market"),
                keccak256("2"),
                block.chainid,
                address(market)
            )
        );
        bytes32 structHash = keccak256(abi.encode(market.ATTESTATION_TYPEHASH(), 1, 2, 3, true, bytes32("e")));
        assertEq(
            market.attestationDigest(1, 2, 3, true, "e"), keccak256(abi.encodePacked("\x19\x01", domain, structHash))
        );
        bytes32 extendHash =
            keccak256(abi.encode(keccak256("ExtendDeal(uint256 dealId,uint32 extraEpochs,uint32 endEpoch)"), 1, 2, 3));
        assertEq(market.extendDealDigest(1, 2, 3), keccak256(abi.encodePacked("\x19\x01", domain, extendHash)));
    }

    function test_challengeOf_emptyForUnknownDeal() public view {
        (bool open, bytes32 seed, uint32 epoch, uint32 due, uint256 bond) = market.challengeOf(42);
        assertFalse(open);
        assertEq(seed, 0);
        assertEq(epoch + due + bond, 0);
        assertEq(market.challengeRecord(42).count, 0);
        assertEq(market.bondsHeld(), 0);
    }

    function test_possessionProof_depth() public pure {
        assertEq(PossessionProof.depth(1), 1);
        assertEq(PossessionProof.depth(2), 1);
        assertEq(PossessionProof.depth(3), 2);
        assertEq(PossessionProof.depth(1 << 23), 23);
        assertEq(PossessionProof.depth((1 << 23) + 1), 24);
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
