// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IStakeRegistry} from "../interfaces/IStakeRegistry.sol";
import {IMarket} from "../interfaces/IMarket.sol";
import {MarketFixture} from "./utils/MarketFixture.sol";

contract StakeRegistryTest is MarketFixture {
    address internal alice = makeAddr("alice");

    /*//////////////////////////////////////////////////////////////
                                 JOIN
    //////////////////////////////////////////////////////////////*/

    function test_join_registersActiveNodeAndListsIt() public {
        vm.deal(alice, 2 ether);
        uint256 countBefore = market.nodeCount(HOSTER);
        vm.expectEmit(address(market));
        emit IStakeRegistry.NodeJoined(alice, HOSTER, 2 ether, 1000, "https://alice");
        vm.prank(alice);
        market.join{value: 2 ether}(HOSTER, "https://alice", 1000);

        IStakeRegistry.Node memory n = market.node(HOSTER, alice);
        assertEq(n.stake, 2 ether);
        assertEq(n.locked, 0);
        assertEq(n.capacity, 1000);
        assertEq(n.exitAt, 0);
        assertEq(uint8(n.status), uint8(IStakeRegistry.NodeStatus.Active));
        assertEq(n.endpoint, "https://alice");
        assertEq(market.nodeCount(HOSTER), countBefore + 1);
        assertEq(market.freeStake(HOSTER, alice), 2 ether);
        assertEq(address(market).balance, _stakeTotal());
    }

    function test_join_rolesAreSeparate() public {
        _join(HOSTER, alice, 1 ether);
        _join(VALIDATOR, alice, 1 ether);
        assertEq(market.node(HOSTER, alice).stake, 1 ether);
        assertEq(market.node(VALIDATOR, alice).stake, 1 ether);
        assertFalse(market.isEligibleValidator(alice)); // bonding period
        vm.warp(vm.getBlockTimestamp() + BONDING);
        assertTrue(market.isEligibleValidator(alice));
    }

    function test_join_revertsWhenAlreadyRegistered() public {
        _join(HOSTER, alice, 1 ether);
        vm.deal(alice, 1 ether);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IStakeRegistry.AlreadyRegistered.selector, alice, HOSTER));
        market.join{value: 1 ether}(HOSTER, "x", 0);
    }

    function test_join_revertsBelowMinimumStake() public {
        vm.deal(alice, 1 ether);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IStakeRegistry.InsufficientStake.selector, 1 ether - 1, MIN_VALIDATOR));
        market.join{value: 1 ether - 1}(VALIDATOR, "x", 0);
    }

    function test_join_revertsOnEmptyEndpoint() public {
        vm.deal(alice, 1 ether);
        vm.prank(alice);
        vm.expectRevert(IStakeRegistry.InvalidEndpoint.selector);
        market.join{value: 1 ether}(HOSTER, "", 0);
    }

    function test_join_revertsOnEndpointOver256Bytes() public {
        vm.deal(alice, 1 ether);
        vm.prank(alice);
        vm.expectRevert(IStakeRegistry.InvalidEndpoint.selector);
        market.join{value: 1 ether}(HOSTER, string(new bytes(257)), 0);
        vm.prank(alice);
        market.join{value: 1 ether}(HOSTER, string(new bytes(256)), 0);
    }

    function test_join_afterExitDoesNotRelist() public {
        _join(HOSTER, alice, 1 ether);
        uint256 count = market.nodeCount(HOSTER);
        vm.prank(alice);
        market.announceExit(HOSTER);
        vm.warp(vm.getBlockTimestamp() + EXIT_DELAY);
        vm.prank(alice);
        market.exit(HOSTER);
        _join(HOSTER, alice, 1 ether);
        assertEq(market.nodeCount(HOSTER), count);
        assertEq(uint8(market.node(HOSTER, alice).status), uint8(IStakeRegistry.NodeStatus.Active));
    }

    /*//////////////////////////////////////////////////////////////
                             UPDATE / TOP UP
    //////////////////////////////////////////////////////////////*/

    function test_updateNode_changesEndpointAndCapacity() public {
        vm.expectEmit(address(market));
        emit IStakeRegistry.NodeUpdated(hoster, HOSTER, 7, "https://new");
        vm.prank(hoster);
        market.updateNode(HOSTER, "https://new", 7);
        IStakeRegistry.Node memory n = market.node(HOSTER, hoster);
        assertEq(n.endpoint, "https://new");
        assertEq(n.capacity, 7);
    }

    function test_updateNode_revertsWhenNotRegistered() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IStakeRegistry.NotRegistered.selector, alice, HOSTER));
        market.updateNode(HOSTER, "x", 0);
    }

    function test_updateNode_revertsOnInvalidEndpoint() public {
        vm.prank(hoster);
        vm.expectRevert(IStakeRegistry.InvalidEndpoint.selector);
        market.updateNode(HOSTER, "", 0);
    }

    function test_topUp_addsStake() public {
        vm.deal(hoster, 3 ether);
        vm.expectEmit(address(market));
        emit IStakeRegistry.StakeAdded(hoster, HOSTER, 3 ether, 13 ether);
        vm.prank(hoster);
        market.topUp{value: 3 ether}(HOSTER);
        assertEq(market.node(HOSTER, hoster).stake, 13 ether);
    }

    function test_topUp_revertsOnZeroValue() public {
        vm.prank(hoster);
        vm.expectRevert(IStakeRegistry.ZeroValue.selector);
        market.topUp(HOSTER);
    }

    function test_topUp_revertsWhenNotRegistered() public {
        vm.deal(alice, 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IStakeRegistry.NotRegistered.selector, alice, VALIDATOR));
        market.topUp{value: 1}(VALIDATOR);
    }

    /*//////////////////////////////////////////////////////////////
                                 EXIT
    //////////////////////////////////////////////////////////////*/

    function test_announceExit_setsExitingAndExitAt() public {
        uint64 exitAt = uint64(vm.getBlockTimestamp()) + EXIT_DELAY;
        vm.expectEmit(address(market));
        emit IStakeRegistry.ExitAnnounced(validators[0], VALIDATOR, exitAt);
        vm.prank(validators[0]);
        market.announceExit(VALIDATOR);
        IStakeRegistry.Node memory n = market.node(VALIDATOR, validators[0]);
        assertEq(uint8(n.status), uint8(IStakeRegistry.NodeStatus.Exiting));
        assertEq(n.exitAt, exitAt);
        assertFalse(market.isEligibleValidator(validators[0]));
        assertEq(market.freeStake(VALIDATOR, validators[0]), 0);
    }

    function test_announceExit_revertsWhenNotRegistered() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IStakeRegistry.NotRegistered.selector, alice, HOSTER));
        market.announceExit(HOSTER);
    }

    function test_announceExit_revertsWhenAlreadyExiting() public {
        vm.startPrank(hoster);
        market.announceExit(HOSTER);
        vm.expectRevert(abi.encodeWithSelector(IStakeRegistry.NotActive.selector, hoster, HOSTER));
        market.announceExit(HOSTER);
        vm.stopPrank();
    }

    function test_exit_creditsStakeAndDeregisters() public {
        vm.prank(hoster);
        market.announceExit(HOSTER);
        vm.warp(vm.getBlockTimestamp() + EXIT_DELAY);
        vm.expectEmit(address(market));
        emit IStakeRegistry.NodeExited(hoster, HOSTER, 10 ether);
        vm.expectEmit(address(market));
        emit IMarket.Credited(hoster, 10 ether);
        vm.prank(hoster);
        market.exit(HOSTER);
        assertEq(uint8(market.node(HOSTER, hoster).status), uint8(IStakeRegistry.NodeStatus.None));
        assertEq(market.node(HOSTER, hoster).stake, 0);
        assertEq(market.balanceOf(hoster), 10 ether);
    }

    function test_exit_revertsWhenNotRegistered() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IStakeRegistry.NotRegistered.selector, alice, HOSTER));
        market.exit(HOSTER);
    }

    function test_exit_revertsWithoutAnnouncement() public {
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IStakeRegistry.ExitNotAnnounced.selector, hoster, HOSTER));
        market.exit(HOSTER);
    }

    function test_exit_revertsBeforeDelay() public {
        vm.prank(hoster);
        market.announceExit(HOSTER);
        uint256 exitAt = vm.getBlockTimestamp() + EXIT_DELAY;
        vm.warp(exitAt - 1);
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IStakeRegistry.ExitDelayNotOver.selector, exitAt - 1, exitAt));
        market.exit(HOSTER);
    }

    function test_exit_revertsWhileCollateralLocked() public {
        uint256 bidId = _bid(1, 10);
        _fill(hoster, bidId, 0);
        uint256 locked = market.node(HOSTER, hoster).locked;
        assertGt(locked, 0);
        vm.prank(hoster);
        market.announceExit(HOSTER);
        vm.warp(vm.getBlockTimestamp() + EXIT_DELAY);
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IStakeRegistry.StakeLocked.selector, locked));
        market.exit(HOSTER);
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    function test_nodesPage_paginates() public view {
        // setUp joined 4 validators in order
        address[] memory all = market.nodesPage(VALIDATOR, 0, 100);
        assertEq(all.length, 4);
        for (uint256 i; i < 4; ++i) {
            assertEq(all[i], validators[i]);
        }
        address[] memory page = market.nodesPage(VALIDATOR, 1, 2);
        assertEq(page.length, 2);
        assertEq(page[0], validators[1]);
        assertEq(page[1], validators[2]);
        assertEq(market.nodesPage(VALIDATOR, 3, 5).length, 1);
        assertEq(market.nodesPage(VALIDATOR, 4, 5).length, 0);
        assertEq(market.nodesPage(VALIDATOR, 0, 0).length, 0);
        assertEq(market.nodesPage(VALIDATOR, 1, type(uint256).max).length, 3);
    }

    function test_isEligibleValidator_falseForUnknownOrHosterOnly() public view {
        assertFalse(market.isEligibleValidator(alice));
        assertFalse(market.isEligibleValidator(hoster));
        assertTrue(market.isEligibleValidator(validators[0]));
    }

    function test_freeStake_zeroWhenUnregistered() public view {
        assertEq(market.freeStake(HOSTER, alice), 0);
    }

    /*//////////////////////////////////////////////////////////////
                      BONDING AND SORTITION TOTAL
    //////////////////////////////////////////////////////////////*/

    function test_validator_eligibleOnlyAfterBondingPeriod() public {
        _join(VALIDATOR, alice, 1 ether);
        assertEq(market.node(VALIDATOR, alice).joinedAt, vm.getBlockTimestamp());
        vm.warp(vm.getBlockTimestamp() + BONDING - 1);
        assertFalse(market.isEligibleValidator(alice));
        vm.warp(vm.getBlockTimestamp() + 1);
        assertTrue(market.isEligibleValidator(alice));
    }

    function test_totalValidatorStake_tracksJoinTopUpExit() public {
        uint256 base = market.totalValidatorStake();
        assertEq(base, 4 * MIN_VALIDATOR);
        _join(VALIDATOR, alice, 2 ether);
        assertEq(market.totalValidatorStake(), base + 2 ether);
        _join(HOSTER, alice, 3 ether); // hoster stake does not count
        assertEq(market.totalValidatorStake(), base + 2 ether);
        vm.deal(alice, 1 ether);
        vm.prank(alice);
        market.topUp{value: 1 ether}(VALIDATOR);
        assertEq(market.totalValidatorStake(), base + 3 ether);
        vm.prank(alice);
        market.announceExit(VALIDATOR);
        assertEq(market.totalValidatorStake(), base);
        vm.deal(alice, 1 ether);
        vm.prank(alice);
        market.topUp{value: 1 ether}(VALIDATOR); // an exiting validator stays out
        assertEq(market.totalValidatorStake(), base);
        vm.warp(vm.getBlockTimestamp() + EXIT_DELAY);
        vm.prank(alice);
        market.exit(VALIDATOR);
        assertEq(market.totalValidatorStake(), base);
    }

    function _stakeTotal() private view returns (uint256 total) {
        for (uint256 r; r < 2; ++r) {
            IStakeRegistry.Role role = IStakeRegistry.Role(r);
            address[] memory list = market.nodesPage(role, 0, type(uint256).max);
            for (uint256 i; i < list.length; ++i) {
                total += market.node(role, list[i]).stake;
            }
        }
    }
}
