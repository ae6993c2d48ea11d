// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";

import {Market} from "../../Market.sol";
import {IMarket} from "../../interfaces/IMarket.sol";
import {IStakeRegistry} from "../../interfaces/IStakeRegistry.sol";
import {MarketHandler} from "./MarketHandler.sol";

/// @notice PROTOCOL.md invariants over random operation sequences with attacker actors
///         (MarketHandler): a small committee (expected 3 of 8 bonded validators per period,
///         4 of them run by a hoster), Sybil validators, withholding, corrupting and extending
///         clients, a hoster that deleted its data.
abstract contract MarketInvariantSetUp is Test {
    Market internal market;
    MarketHandler internal handler;

    function setUp() public {
        vm.warp(1_700_000_000);
        vm.roll(1000);
        IMarket.Params memory p;
        p.epochSeconds = 3600;
        p.quorum = 2;
        p.committeeSize = 3;
        p.periodEpochs = 6;
        p.reserveEpochs = 2;
        p.proofWindowEpochs = 2;
        p.missedQuorumEpochs = 4;
        p.auditBps = 3000;
        p.auditEveryBlocks = 5;
        p.maxFaults = 2;
        p.collateralBps = 5000;
        p.validatorFeeBps = 500;
        p.slashClientBps = 5000;
        p.minHosterStake = 1 ether;
        p.minValidatorStake = 1 ether;
        p.proofBond = 0.01 ether;
        p.validatorSlash = 0.5 ether;
        p.exitDelay = 2 hours;
        p.validatorBondingSeconds = 12 hours;
        market = new Market(p);
        uint256[] memory keys = new uint256[](4);
        for (uint256 i; i < 4; ++i) {
            keys[i] = uint256(keccak256(abi.encode("validator key", i)));
            address v = vm.addr(keys[i]);
            vm.deal(v, 1 ether);
            vm.prank(v);
            market.join{value: 1 ether}(IStakeRegistry.Role.Validator, "https://v.example", 0);
        }
        handler = new MarketHandler(market, keys);
        handler.bootstrap();
        vm.warp(vm.getBlockTimestamp() + 12 hours);
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](24);
        selectors[0] = MarketHandler.bid.selector;
        selectors[1] = MarketHandler.bid.selector;
        selectors[2] = MarketHandler.reserve.selector;
        selectors[3] = MarketHandler.releaseReservation.selector;
        selectors[4] = MarketHandler.fill.selector;
        selectors[5] = MarketHandler.fill.selector;
        selectors[6] = MarketHandler.settle.selector;
        selectors[7] = MarketHandler.settle.selector;
        selectors[8] = MarketHandler.settle.selector;
        selectors[9] = MarketHandler.requestProof.selector;
        selectors[10] = MarketHandler.requestProofForMissedQuorum.selector;
        selectors[11] = MarketHandler.audit.selector;
        selectors[12] = MarketHandler.prove.selector;
        selectors[13] = MarketHandler.reportMissedProof.selector;
        selectors[14] = MarketHandler.reportMissedProof.selector;
        selectors[15] = MarketHandler.finish.selector;
        selectors[16] = MarketHandler.cancel.selector;
        selectors[17] = MarketHandler.extend.selector;
        selectors[18] = MarketHandler.extendDeal.selector;
        selectors[19] = MarketHandler.joinSybil.selector;
        selectors[20] = MarketHandler.withdraw.selector;
        selectors[21] = MarketHandler.forceEth.selector;
        selectors[22] = MarketHandler.warp.selector;
        selectors[23] = MarketHandler.warp.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }
}

/// @notice The invariants: each function is its own fuzz campaign, so related checks share one.
contract MarketInvariantTest is MarketInvariantSetUp {
    ///      T4: ETH covers everything owed; each bid's escrow matches its budgets.
    function invariant_T4_ethCoversEscrowStakesBondsBalances_escrowMatchesBudgets() public view {
        _ethCoversEverythingOwed();
        _escrowMatchesBudgets();
    }

    /// @dev T3: each (deal, epoch) paid at most once, only with a committee quorum, never a failed epoch.
    function invariant_T3_paidOnceOnlyByCommitteeNeverForFailedEpochs() public view {
        _eachDealEpochPaidAtMostOnce();
        _noPayWithoutCommitteeNorForFailedEpochs();
    }

    /// @dev T1/T6/T7: slashes only via missed proofs; terms fixed after fill.
    function invariant_T1_T7_slashOnlyViaMissedProofs_termsFixedAfterFill() public view {
        _slashesOnlyViaMissedProofs();
        _termsFixedAfterFill();
    }

    /// @dev 1. ETH == open escrow + stakes + bonds + withdrawable balances (+ ETH forced in).
    function _ethCoversEverythingOwed() internal view {
        uint256 owed;
        for (uint256 id = 1; id <= market.bidCount(); ++id) {
            owed += market.getBid(id).escrow;
        }
        for (uint256 r; r < 2; ++r) {
            address[] memory list = market.nodesPage(IStakeRegistry.Role(r), 0, type(uint256).max);
            for (uint256 i; i < list.length; ++i) {
                owed += market.node(IStakeRegistry.Role(r), list[i]).stake;
            }
        }
        owed += market.bondsHeld();
        address[] memory all = handler.accounts();
        for (uint256 i; i < all.length; ++i) {
            owed += market.balanceOf(all[i]);
        }
        assertEq(address(market).balance, owed + handler.forcedEth());
    }

    /// @dev 4. Each bid's escrow is exactly its open budgets plus its live deals' unpaid budgets.
    function _escrowMatchesBudgets() internal view {
        for (uint256 id = 1; id <= market.bidCount(); ++id) {
            IMarket.Bid memory b = market.getBid(id);
            uint256 sum;
            for (uint8 s; s < b.slotCount; ++s) {
                if (b.openSlots & (uint32(1) << s) != 0) sum += uint256(b.pricePerEpoch) * market.slotEpochs(id, s);
            }
            for (uint256 d = 1; d <= market.dealCount(); ++d) {
                IMarket.Deal memory deal = market.getDeal(d);
                if (deal.bidId == id && deal.status == IMarket.DealStatus.Active) {
                    sum += uint256(b.pricePerEpoch) * (deal.endEpoch - deal.startEpoch + 1 - deal.paidEpochs);
                }
            }
            assertEq(b.escrow, sum);
        }
    }

    /// @dev 3. Each (deal, epoch) is paid at most once; paidEpochs counts exactly what was paid.
    function _eachDealEpochPaidAtMostOnce() internal view {
        assertFalse(handler.doublePaid());
        for (uint256 d = 1; d <= market.dealCount(); ++d) {
            assertEq(market.getDeal(d).paidEpochs, handler.ghostPaidCount(d));
        }
    }

    /// @dev 2. No pay without a drawn committee's quorum (Sybils, colluders outside it) and
    ///      never for an epoch whose proof failed.
    function _noPayWithoutCommitteeNorForFailedEpochs() internal view {
        assertFalse(handler.paidByNonMember());
        for (uint256 d = 1; d <= market.dealCount(); ++d) {
            uint32[] memory failed = handler.ghostFailed(d);
            for (uint256 i; i < failed.length; ++i) {
                assertFalse(handler.ghostPaid(d, failed[i]));
            }
        }
    }

    /// @dev 6. T1: hoster stake falls only by what reportMissedProof slashed, and an honest
    ///      hoster (answers every challenge) is never slashed nor fails a proof.
    function _slashesOnlyViaMissedProofs() internal view {
        for (uint256 i; i < handler.hosterCount(); ++i) {
            address h = handler.hosters(i);
            assertEq(
                market.node(IStakeRegistry.Role.Hoster, h).stake + handler.ghostSlashed(h), handler.ghostStakeIn(h)
            );
        }
        assertEq(handler.ghostSlashed(handler.hosters(0)), 0);
        assertFalse(handler.honestProofFailed());
    }

    /// @dev 7. A filled deal's end only changes through extendDeal (the hoster's signature) and
    ///      its collateral never rises otherwise.
    function _termsFixedAfterFill() internal view {
        for (uint256 d = 1; d <= market.dealCount(); ++d) {
            IMarket.Deal memory deal = market.getDeal(d);
            assertEq(deal.endEpoch, handler.ghostEnd(d));
            assertLe(deal.collateral, handler.ghostCollateralCap(d));
        }
    }
}

/// @dev The handler reaches fills, proofs and slashes (not vacuous invariants).
contract HandlerSmokeTest is MarketInvariantSetUp {
    function test_handlerReachesFillSettleProveAndSlash() public {
        handler.bid(0, 2, 20, 1e9);
        handler.fill(0, 0);
        handler.fill(1, 0);
        assertEq(handler.calls("fill"), 2);
        handler.warp(6);
        handler.settle(0, 5, 0);
        handler.settle(1, 5, 0);
        handler.requestProofForMissedQuorum(1);
        handler.warp(6);
        handler.reportMissedProof(1);
        assertGt(handler.calls("reportMissedProof"), 0);
    }
}
