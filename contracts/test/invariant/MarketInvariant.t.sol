// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";

import {Market} from "../../Market.sol";
import {IMarket} from "../../interfaces/IMarket.sol";
import {IStakeRegistry} from "../../interfaces/IStakeRegistry.sol";
import {MarketHandler} from "./MarketHandler.sol";

/// @notice PROTOCOL.md invariants 1-4, 6 and 7 over random operation sequences (MarketHandler).
contract MarketInvariantTest is Test {
    Market internal market;
    MarketHandler internal handler;

    function setUp() public {
        vm.warp(1_700_000_000);
        market = new Market(
            IMarket.Params({
                genesis: 0,
                epochSeconds: 3600,
                quorum: 2,
                graceEpochs: 2,
                collateralBps: 5000,
                validatorFeeBps: 500,
                slashClientBps: 5000,
                minHosterStake: 1 ether,
                minValidatorStake: 1 ether,
                exitDelay: 2 hours
            })
        );
        uint256[] memory keys = new uint256[](4);
        for (uint256 i; i < 4; ++i) {
            keys[i] = uint256(keccak256(abi.encode("validator key", i)));
            address v = vm.addr(keys[i]);
            vm.deal(v, 1 ether);
            vm.prank(v);
            market.join{value: 1 ether}(IStakeRegistry.Role.Validator, "https://v.example", 0);
        }
        handler = new MarketHandler(market, keys);
        for (uint256 i; i < handler.hosterCount(); ++i) {
            handler.joinHoster(i, 10 ether);
        }
        targetContract(address(handler));
        // Weighted: deals, settlements and time are where the money moves.
        bytes4[] memory selectors = new bytes4[](23);
        selectors[0] = MarketHandler.joinHoster.selector;
        selectors[1] = MarketHandler.topUpHoster.selector;
        selectors[2] = MarketHandler.announceExitHoster.selector;
        selectors[3] = MarketHandler.exitHoster.selector;
        selectors[4] = MarketHandler.cycleValidator.selector;
        selectors[5] = MarketHandler.bid.selector;
        selectors[6] = MarketHandler.accept.selector;
        selectors[7] = MarketHandler.accept.selector;
        selectors[8] = MarketHandler.cancel.selector;
        selectors[9] = MarketHandler.extend.selector;
        selectors[10] = MarketHandler.settle.selector;
        selectors[11] = MarketHandler.settle.selector;
        selectors[12] = MarketHandler.settle.selector;
        selectors[13] = MarketHandler.settleAdversarial.selector;
        selectors[14] = MarketHandler.faultMissed.selector;
        selectors[15] = MarketHandler.faultFailed.selector;
        selectors[16] = MarketHandler.finish.selector;
        selectors[17] = MarketHandler.withdraw.selector;
        selectors[18] = MarketHandler.warp.selector;
        selectors[19] = MarketHandler.warp.selector;
        selectors[20] = MarketHandler.bid.selector;
        selectors[21] = MarketHandler.settleMany.selector;
        selectors[22] = MarketHandler.settleMany.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @dev 1. The contract's ETH equals open escrow + stakes + withdrawable balances.
    function invariant_ethIsEscrowPlusStakesPlusBalances() public view {
        uint256 escrow;
        for (uint256 id = 1; id <= market.bidCount(); ++id) {
            escrow += market.getBid(id).escrow;
        }
        uint256 stakes;
        address[] memory all = handler.accounts();
        for (uint256 i; i < all.length; ++i) {
            stakes += market.node(IStakeRegistry.Role.Hoster, all[i]).stake;
            stakes += market.node(IStakeRegistry.Role.Validator, all[i]).stake;
        }
        uint256 balances;
        for (uint256 i; i < all.length; ++i) {
            balances += market.balanceOf(all[i]);
        }
        assertEq(address(market).balance, escrow + stakes + balances);
    }

    /// @dev 2. No epoch is paid without a quorum of `ok` attestations the handler signed.
    function invariant_noEpochPaidWithoutQuorum() public view {
        assertFalse(handler.ghostPaidWithoutQuorum());
        for (uint256 id = 1; id <= market.dealCount(); ++id) {
            assertLe(market.getDeal(id).paidEpochs, handler.ghostOkQuorumEpochs(id));
        }
    }

    /// @dev 3. Each (deal, epoch) is paid at most once; the contract's count matches the ghost.
    function invariant_eachEpochPaidAtMostOnce() public view {
        assertFalse(handler.ghostDoublePaid());
        for (uint256 id = 1; id <= market.dealCount(); ++id) {
            IMarket.Deal memory d = market.getDeal(id);
            assertEq(d.paidEpochs, handler.ghostPaidEpochs(id));
            assertLe(d.paidEpochs, uint256(d.paidThrough) + 1 - d.startEpoch);
        }
    }

    /// @dev Per-bid escrow == Σ over slots not closed of price x unspent budget.
    function invariant_bidEscrowMatchesFormula() public view {
        for (uint256 id = 1; id <= market.bidCount(); ++id) {
            assertEq(market.getBid(id).escrow, handler.escrowFormula(id));
        }
    }

    /// @dev 6. Collateral is slashed only when a fault condition held; stakes account for it.
    function invariant_slashOnlyOnFault() public view {
        assertFalse(handler.ghostUnjustifiedSlash());
        for (uint256 i; i < handler.hosterCount(); ++i) {
            address h = handler.hosters(i);
            IStakeRegistry.Node memory n = market.node(IStakeRegistry.Role.Hoster, h);
            assertEq(n.stake, handler.ghostStakeIn(h) - handler.ghostSlashed(h));
            assertLe(n.locked, n.stake);
        }
    }

    /// @dev 4. Whatever happened, the client recovers all escrow no hoster is earning: after
    ///      every deal's end + grace, finishing all deals and cancelling all open slots leaves
    ///      no escrow and no locked collateral; 1 still holds.
    function afterInvariant() public {
        handler.recoverAll();
        for (uint256 id = 1; id <= market.bidCount(); ++id) {
            assertEq(market.getBid(id).escrow, 0);
        }
        for (uint256 i; i < handler.hosterCount(); ++i) {
            assertEq(market.node(IStakeRegistry.Role.Hoster, handler.hosters(i)).locked, 0);
        }
        invariant_ethIsEscrowPlusStakesPlusBalances();
    }
}
