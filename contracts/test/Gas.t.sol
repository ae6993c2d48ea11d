// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {VmSafe} from "forge-std/Vm.sol";

import {IMarket} from "../interfaces/IMarket.sol";
import {FileRegistry} from "../FileRegistry.sol";
import {MarketFixture} from "./utils/MarketFixture.sol";

/// @notice Steady-state gas of the hot operations (docs/gas.md). Each test makes exactly one
///         measured call, recorded with vm.snapshotGasLastCall (contracts/snapshots/GasTest.json);
///         `forge snapshot --match-contract Gas --snap contracts/.gas-snapshot` pins the totals.
/// @dev vm.cool makes the contract's storage cold again before the measured call, as in a
///      fresh transaction. Goals (execution gas of the call): bid 6 slots <= 180k, accept <= 100k,
///      settle 10 epochs quorum 2 <= 90k, fault + reopen <= 120k, add 512 B entry <= 80k;
///      settleMany of 10 or 50 such settlements <= 50k per deal (a single settle: ~63k).
contract GasTest is MarketFixture {
    FileRegistry internal files;
    address internal reporter = makeAddr("reporter");
    uint256 internal constant SETTLE_MANY_GOAL_PER_DEAL = 50_000;

    function setUp() public override {
        super.setUp();
        files = new FileRegistry();
        // Steady state: counters already non-zero, the client has a balance.
        uint256 warmBid = _bid(1, 1);
        _accept(hoster3, warmBid, 0);
        vm.prank(client);
        files.add(hex"01");
    }

    function test_gas_bid6Slots() public {
        bytes[] memory cids = _cids(6);
        assertEq(cids[0].length, 36);
        uint256 value = uint256(PRICE) * 6 * 720;
        vm.cool(address(market));
        vm.prank(client);
        market.bid{value: value}(cids, 1 << 20, 6, PRICE, 720, new string[](0));
        _record("bid_6_slots", 180_000);
    }

    function test_gas_accept() public {
        uint256 bidId = _bid(6, 720);
        vm.cool(address(market));
        vm.prank(hoster);
        market.accept(bidId, 2);
        _record("accept", 100_000);
    }

    function test_gas_settle10EpochsQuorum2_first() public {
        (uint256 dealId, uint32 start) = _deal();
        _warpEpochs(11);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start + 9, true, 2);
        vm.cool(address(market));
        market.settle(dealId, start, start + 9, sigs);
        _record("settle_10_epochs_quorum_2_first", type(uint256).max);
    }

    function test_gas_settle10EpochsQuorum2_steady() public {
        (uint256 dealId, uint32 start) = _deal();
        _warpEpochs(12);
        market.settle(dealId, start, start, _sigs(dealId, start, start, true, 2));
        IMarket.Signature[] memory sigs = _sigs(dealId, start + 1, start + 10, true, 2);
        vm.cool(address(market));
        market.settle(dealId, start + 1, start + 10, sigs);
        _record("settle_10_epochs_quorum_2", 90_000);
    }

    function test_gas_settleMany10Deals() public {
        _settleManySteady(10, "settle_many_10_deals_10_epochs_quorum_2");
    }

    function test_gas_settleMany50Deals() public {
        _settleManySteady(50, "settle_many_50_deals_10_epochs_quorum_2");
    }

    function test_gas_faultMissedReopen() public {
        (uint256 dealId, uint32 start) = _deal();
        _warpEpochs(2);
        market.settle(dealId, start, start, _sigs(dealId, start, start, true, 2));
        _warpEpochs(GRACE + 1);
        vm.cool(address(market));
        vm.prank(reporter);
        market.faultMissed(dealId);
        _record("fault_missed_reopen", 120_000);
        assertEq(market.getBid(market.getDeal(dealId).bidId).openSlots & 1, 1);
    }

    function test_gas_fileAdd512Bytes() public {
        bytes memory metadata = new bytes(512);
        for (uint256 i; i < 512; ++i) {
            metadata[i] = bytes1(uint8(i * 7 + 1));
        }
        vm.cool(address(files));
        vm.prank(client);
        files.add(metadata);
        _record("file_add_512B", 80_000);
    }

    /// @dev Record the last call's gas in contracts/snapshots/GasTest.json and check its goal.
    ///      `forge coverage` builds without the optimizer: its figures are neither recorded nor checked.
    function _record(string memory name, uint256 goal) private {
        if (vm.isContext(VmSafe.ForgeContext.Coverage)) return;
        uint256 gasUsed = vm.snapshotGasLastCall(name);
        assertLe(gasUsed, goal, name);
    }

    /// @dev settleMany of `n` deals of one hoster, 10 epochs each, quorum 2, in the steady state of
    ///      `settle_10_epochs_quorum_2` (each deal settled once, so every balance is non-zero).
    ///      Records the call's gas and, as `<name>_per_deal`, that divided by n.
    function _settleManySteady(uint256 n, string memory name) private {
        uint256[] memory ids = new uint256[](n);
        uint32 start;
        for (uint256 i; i < n; ++i) {
            (ids[i], start) = _deal();
        }
        _warpEpochs(12);
        IMarket.Settlement[] memory items = new IMarket.Settlement[](n);
        for (uint256 i; i < n; ++i) {
            market.settle(ids[i], start, start, _sigs(ids[i], start, start, true, 2));
            items[i] = IMarket.Settlement(ids[i], start + 1, start + 10, _sigs(ids[i], start + 1, start + 10, true, 2));
        }
        vm.cool(address(market));
        uint256 settled = market.settleMany(items);
        if (!vm.isContext(VmSafe.ForgeContext.Coverage)) {
            uint256 perDeal = vm.snapshotGasLastCall(name) / n;
            vm.snapshotValue(string.concat(name, "_per_deal"), perDeal);
            assertLe(perDeal, SETTLE_MANY_GOAL_PER_DEAL, name);
        }
        assertEq(settled, n);
    }

    function _deal() private returns (uint256 dealId, uint32 start) {
        uint256 bidId = _bid(6, 720);
        dealId = _accept(hoster, bidId, 0);
        start = market.getDeal(dealId).startEpoch;
    }
}
