// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMarket} from "../interfaces/IMarket.sol";
import {IStakeRegistry} from "../interfaces/IStakeRegistry.sol";
import {Market} from "../Market.sol";
import {MarketFixture} from "./utils/MarketFixture.sol";
import {PossessionTree} from "./utils/PossessionTree.sol";

/// @notice The trust properties T1-T7 of docs/trust.md and the attacks of the v2 issue, one
///         test each, plus every branch of challenges, proofs and validator slashing.
contract MarketTrustTest is MarketFixture {
    uint32 internal constant DURATION = 20;
    address internal reporter = makeAddr("reporter");

    /*//////////////////////////////////////////////////////////////
                                HELPERS
    //////////////////////////////////////////////////////////////*/

    function _liveDeal() internal returns (uint256 dealId, uint32 start) {
        uint256 bidId = _bid(3, DURATION);
        dealId = _fill(hoster, bidId, 0);
        start = _deal(dealId).startEpoch;
    }

    /// @dev Validators of another party: join, bond, return their keys.
    function _ownValidators(string memory who, uint256 n) internal returns (uint256[] memory keys) {
        keys = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            (address v, uint256 k) = makeAddrAndKey(string.concat(who, vm.toString(i)));
            keys[i] = k;
            _join(VALIDATOR, v, MIN_VALIDATOR);
        }
    }

    function _requestProof(uint256 dealId, uint32 epoch, uint256[] memory keys, address poster) internal {
        IMarket.Signature[] memory sigs = _sigsWith(dealId, epoch, epoch, false, keys);
        vm.deal(poster, poster.balance + BOND);
        vm.prank(poster);
        market.requestProof{value: BOND}(dealId, epoch, sigs);
    }

    function _firstKeys(uint256 n) internal view returns (uint256[] memory keys) {
        keys = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            keys[i] = validatorKeys[i];
        }
    }

    /// @dev A recent audit seed block whose hash does (or does not) draw `dealId`.
    function _auditBlock(uint256 dealId, bool drawn) internal returns (uint256 seedBlock) {
        vm.roll(vm.getBlockNumber() + AUDIT_EVERY);
        seedBlock = (vm.getBlockNumber() - 1) / AUDIT_EVERY * AUDIT_EVERY;
        for (uint256 i;; ++i) {
            bytes32 bh = keccak256(abi.encode("audit", seedBlock, i));
            if ((uint256(keccak256(abi.encode(bh, dealId))) % 10_000 < AUDIT_BPS) == drawn) {
                vm.setBlockhash(seedBlock, bh);
                return seedBlock;
            }
        }
    }

    function _audit(uint256 dealId) internal {
        market.audit(dealId, _auditBlock(dealId, true));
    }

    /// @dev Overdue: past the challenge's due epoch.
    function _pastDue(uint256 dealId) internal {
        (,,, uint32 due,) = market.challengeOf(dealId);
        _warpToEpoch(uint256(due) + 1);
    }

    function _stake(address h) internal view returns (uint256) {
        return market.node(HOSTER, h).stake;
    }

    function _proofOfOtherData(uint256 dealId) internal view returns (bytes memory) {
        (, bytes32 seed,,,) = market.challengeOf(dealId);
        return PossessionTree.proof(PossessionTree.build("other data", SHARD_SEGMENTS, 6), seed);
    }

    /// @dev Σ of everything the market owes: escrow of the given bids, stakes, bonds, balances.
    function _owed(uint256 bids, address[] memory accounts) internal view returns (uint256 sum) {
        for (uint256 i = 1; i <= bids; ++i) {
            sum += market.getBid(i).escrow;
        }
        for (uint256 r; r < 2; ++r) {
            address[] memory list = market.nodesPage(IStakeRegistry.Role(r), 0, type(uint256).max);
            for (uint256 i; i < list.length; ++i) {
                sum += market.node(IStakeRegistry.Role(r), list[i]).stake;
            }
        }
        sum += market.bondsHeld();
        for (uint256 i; i < accounts.length; ++i) {
            sum += market.balanceOf(accounts[i]);
        }
    }

    /*//////////////////////////////////////////////////////////////
                 T1 HONEST HOSTERS KEEP THEIR COLLATERAL
    //////////////////////////////////////////////////////////////*/

    function test_T1_honestHosterAnsweringEveryChallengeKeepsCollateral() public {
        uint256[] memory hostile = _ownValidators("clientValidator", 2);
        _warp(BONDING);
        (uint256 dealId, uint32 start) = _liveDeal();
        uint256 stake = _stake(hoster);
        _warpEpochs(1);
        // fail quorum, audit and missed quorum: each only asks for a proof the hoster answers
        _requestProof(dealId, start, hostile, client);
        _prove(dealId);
        _audit(dealId);
        _prove(dealId);
        _warpEpochs(MISSED + 1);
        market.requestProofForMissedQuorum(dealId);
        _prove(dealId);
        _warpToEpoch(_deal(dealId).endEpoch + WINDOW + 1);
        market.finish(dealId);
        assertEq(_stake(hoster), stake);
        assertEq(market.node(HOSTER, hoster).locked, 0);
        assertEq(market.balanceOf(hoster), BOND); // the fail quorum's bond paid the hoster
        assertEq(_deal(dealId).faults, 0);
    }

    function test_T1_strangersCannotSlashOrPay() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        uint256[] memory sybils = _ownValidators("sybil", 3); // fresh, not bonded
        _warpEpochs(2);
        IMarket.Signature[] memory fail = _sigsWith(dealId, start, start, false, sybils);
        vm.deal(address(this), BOND);
        vm.expectPartialRevert(IMarket.NotInCommittee.selector);
        market.requestProof{value: BOND}(dealId, start, fail);
        IMarket.Signature[] memory ok = _sigsWith(dealId, start, start, true, sybils);
        vm.expectPartialRevert(IMarket.NotInCommittee.selector);
        market.settle(dealId, start, start, ok);
        // unregistered keys
        uint256[] memory strangers = new uint256[](2);
        (strangers[0], strangers[1]) = (uint256(keccak256("x")), uint256(keccak256("y")));
        ok = _sigsWith(dealId, start, start, true, strangers);
        vm.expectPartialRevert(IMarket.NotInCommittee.selector);
        market.settle(dealId, start, start, ok);
        // nothing to report
        vm.expectRevert(abi.encodeWithSelector(IMarket.NoOpenChallenge.selector, dealId));
        market.reportMissedProof(dealId);
        assertEq(_stake(hoster), 10 ether);
        assertEq(market.balanceOf(hoster), 0);
    }

    /*//////////////////////////////////////////////////////////////
                          T2 LOST DATA IS CAUGHT
    //////////////////////////////////////////////////////////////*/

    function test_T2_auditCatchesHosterThatDeletedData() public {
        (uint256 dealId,) = _liveDeal();
        _warpEpochs(2);
        uint256 seedBlock = _auditBlock(dealId, true);
        vm.expectEmit(false, false, false, false, address(market));
        emit IMarket.ProofRequested(dealId, 2, 0, 0, 0);
        market.audit(dealId, seedBlock);
        // the hoster deleted the data: whatever it sends does not verify
        IMarket.ProofItem[] memory items = new IMarket.ProofItem[](1);
        items[0] = IMarket.ProofItem(dealId, _seedOf(dealId), _proofOfOtherData(dealId));
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidProof.selector, dealId));
        market.proveMany(items);
        _pastDue(dealId);
        uint128 collateral = _deal(dealId).collateral;
        vm.prank(reporter);
        market.reportMissedProof(dealId);
        assertEq(_stake(hoster), 10 ether - collateral / MAX_FAULTS);
        assertEq(_deal(dealId).faults, 1);
    }

    function test_T2_proofWithWrongLeafOrPathReverts() public {
        (uint256 dealId,) = _liveDeal();
        _warpEpochs(2);
        _audit(dealId);
        bytes memory proof = _challengeProof(dealId);
        (uint256 capBytes, uint256 item) = PossessionTree.layout(tree);
        // a cap node, the first segment, its 6th sibling, the last sibling of the 4th item
        uint256[4] memory at =
            [uint256(0), capBytes, capBytes + 128 + 20 * 5 + 1, capBytes + 3 * item + 128 + 20 * (tree.d - 4)];
        for (uint256 i; i < at.length; ++i) {
            bytes memory bad = bytes.concat(proof);
            bad[at[i]] ^= 0x80;
            IMarket.ProofItem[] memory items = new IMarket.ProofItem[](1);
            items[0] = IMarket.ProofItem(dealId, _seedOf(dealId), bad);
            vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidProof.selector, dealId));
            market.proveMany(items);
        }
        _prove(dealId);
    }

    /*//////////////////////////////////////////////////////////////
                  T3 NO PAY WITHOUT AN INDEPENDENT CHECK
    //////////////////////////////////////////////////////////////*/

    /// @dev A market with a small committee: 4 honest validators plus the hoster's 8.
    function test_T3_hosterWithOwnValidatorsBoundedBySortitionAndAudit() public {
        IMarket.Params memory p = defaultParams();
        p.committeeSize = 1;
        market = new Market(p);
        for (uint256 i; i < 4; ++i) {
            _join(VALIDATOR, validators[i], MIN_VALIDATOR);
        }
        _join(HOSTER, hoster, 10 ether);
        uint256[] memory own = _ownValidators("hosterValidator", 8);
        _warp(BONDING);
        uint256 bidId = _bid(1, DURATION);
        uint256 dealId = _fill(hoster, bidId, 0);
        uint32 start = _deal(dealId).startEpoch;
        _warpEpochs(3);

        // its validators outside this period's committee cannot pay it
        uint256[] memory outside = new uint256[](2);
        uint256 found;
        for (uint256 i; i < own.length && found < 2; ++i) {
            if (!market.isCommitteeMember(dealId, start, vm.addr(own[i]))) outside[found++] = own[i];
        }
        assertEq(found, 2);
        IMarket.Signature[] memory sigs = _sigsWith(dealId, start, start, true, outside);
        vm.expectPartialRevert(IMarket.NotInCommittee.selector);
        market.settle(dealId, start, start, sigs);
        assertEq(market.balanceOf(hoster), 0);

        // about committeeSize members per period, whoever runs them
        uint256 members;
        for (uint32 period; period < 50; ++period) {
            for (uint256 i; i < own.length; ++i) {
                if (market.isCommitteeMember(dealId, period * PERIOD, vm.addr(own[i]))) ++members;
            }
            for (uint256 i; i < 4; ++i) {
                if (market.isCommitteeMember(dealId, period * PERIOD, validators[i])) ++members;
            }
        }
        assertGt(members, 25); // expected 50 x 1
        assertLt(members, 100);

        // and a random audit catches a hoster that deleted the data, whoever pays it
        _audit(dealId);
        _pastDue(dealId);
        market.reportMissedProof(dealId);
        assertLt(_stake(hoster), 10 ether);
    }

    function test_T3_noPayForEpochsAtOrBeforeFailedEpoch() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        _warpEpochs(3);
        _audit(dealId);
        (,, uint32 epoch,,) = market.challengeOf(dealId);
        _warpEpochs(1);
        // while the challenge is open, its epoch and later cannot be paid
        IMarket.Signature[] memory sigs = _sigs(dealId, start, epoch, true, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.ChallengePending.selector, dealId, epoch));
        market.settle(dealId, start, epoch, sigs);
        _pastDue(dealId);
        market.reportMissedProof(dealId);
        assertEq(_deal(dealId).failedEpoch, epoch);
        _prove(dealId); // answers the re-issued challenge
        sigs = _sigs(dealId, start, epoch, true, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochFailed.selector, start, epoch));
        market.settle(dealId, start, epoch, sigs);
        // after the failed epoch anyone may settle from failedEpoch + 1
        _settle(dealId, epoch + 1, epoch + 1);
        assertEq(_deal(dealId).paidEpochs, 1);
    }

    function test_T3_settleManySkipsRangesAChallengeOvertook() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        _warpEpochs(3);
        IMarket.Settlement[] memory items = new IMarket.Settlement[](1);
        items[0] = _item(dealId, start, market.currentEpoch() - 1);
        _requestProof(dealId, start + 1, _firstKeys(2), client); // a front-running fail quorum
        vm.expectEmit(address(market));
        emit IMarket.SettlementSkipped(dealId, items[0].fromEpoch, items[0].toEpoch);
        assertEq(market.settleMany(items), 0);
    }

    function test_T3_attestationsNotReplayableAcrossDealsOrMarkets() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        uint256 other = _fill(hoster2, 1, 1);
        _warpEpochs(3);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start, true, 2);
        vm.expectPartialRevert(IMarket.NotInCommittee.selector); // recovers unrelated addresses
        market.settle(other, start, start, sigs);
        market.settle(dealId, start, start, sigs);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochAlreadyPaid.selector, start, start));
        market.settle(dealId, start, start, sigs);
        assertTrue(
            market.attestationDigest(dealId, start, start, true, 0)
                != market.attestationDigest(other, start, start, true, 0)
        );
        Market twin = new Market(defaultParams());
        assertTrue(
            twin.attestationDigest(dealId, start, start, true, 0)
                != market.attestationDigest(dealId, start, start, true, 0)
        );
    }

    /*//////////////////////////////////////////////////////////////
                T4 CLIENTS PAY ONLY FOR STORAGE THEY GOT
    //////////////////////////////////////////////////////////////*/

    function test_T4_clientRecoversEveryUnearnedEpoch() public {
        uint256 bidId = _bid(2, DURATION);
        uint256 dealId = _fill(hoster, bidId, 0);
        uint32 start = _deal(dealId).startEpoch;
        vm.prank(client);
        market.cancel(bidId, 1);
        _warpEpochs(3);
        _settle(dealId, start, start + 1);
        _warpToEpoch(_deal(dealId).endEpoch + WINDOW + 1);
        market.finish(dealId);
        assertEq(market.getBid(bidId).escrow, 0);
        assertEq(market.balanceOf(client), uint256(PRICE) * (2 * DURATION - 2));
    }

    /*//////////////////////////////////////////////////////////////
                      T5 GRIEFING COSTS THE GRIEFER
    //////////////////////////////////////////////////////////////*/

    function test_T5_clientNeverDelivers_reservationExpires_feeNoSlash_clientRecoversRest() public {
        uint256 bidId = _bid(1, DURATION);
        vm.prank(hoster);
        market.reserve(bidId, 0, type(uint128).max);
        _warpEpochs(RESERVE);
        market.releaseReservation(bidId, 0);
        assertEq(market.balanceOf(hoster), PRICE); // one epoch of the slot
        assertEq(_stake(hoster), 10 ether);
        assertEq(market.node(HOSTER, hoster).locked, 0);
        vm.prank(client);
        market.cancel(bidId, 0);
        assertEq(market.balanceOf(client), uint256(PRICE) * (DURATION - 1));
        assertEq(market.getBid(bidId).escrow, 0);
    }

    function test_T5_clientCancelAfterExpiryPaysTheFeeFirst() public {
        uint256 bidId = _bid(1, DURATION);
        vm.prank(hoster);
        market.reserve(bidId, 0, type(uint128).max);
        _warpEpochs(RESERVE);
        vm.prank(client);
        market.cancel(bidId, 0);
        assertEq(market.balanceOf(hoster), PRICE);
        assertEq(market.balanceOf(client), uint256(PRICE) * (DURATION - 1));
    }

    function test_T5_clientCorruptingDataCannotSlash() public {
        // the client commits a root that the bytes it serves do not match: no fill, no lock
        bytes32[] memory roots = new bytes32[](1);
        roots[0] = PossessionTree.root(PossessionTree.build("bomb", SHARD_SEGMENTS, 6));
        vm.prank(client);
        uint256 bidId =
            market.bid{value: PRICE * DURATION}(_cids(1), roots, SHARD_SIZE, 1, PRICE, DURATION, new string[](0));
        vm.prank(hoster);
        market.reserve(bidId, 0, type(uint128).max);
        uint256 seedBlock = _seedBlock();
        bytes memory proof = _fillProof(hoster, bidId, 0, seedBlock); // of the data it received
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidProof.selector, 0));
        market.fill(bidId, 0, seedBlock, type(uint128).max, proof);
        _warpEpochs(RESERVE);
        market.releaseReservation(bidId, 0);
        assertEq(_stake(hoster), 10 ether);
        assertEq(market.node(HOSTER, hoster).locked, 0);
        assertEq(market.balanceOf(hoster), PRICE);
    }

    function test_T5_clientWithOwnValidatorsCannotSlash() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        uint256[] memory own = _ownValidators("clientValidator", 2);
        _warp(BONDING);
        _warpEpochs(1);
        uint256 collateral = _deal(dealId).collateral;
        _requestProof(dealId, start, own, client);
        (bool open,,,, uint256 bond) = market.challengeOf(dealId);
        assertTrue(open);
        assertEq(bond, BOND);
        assertEq(market.bondsHeld(), BOND);
        vm.expectEmit(address(market));
        emit IMarket.ProofAccepted(dealId, start);
        _prove(dealId);
        assertEq(_deal(dealId).collateral, collateral);
        assertEq(market.balanceOf(hoster), BOND);
        assertEq(market.bondsHeld(), 0);
        // the client itself is never in its deal's committee
        assertFalse(market.isCommitteeMember(dealId, start, client));
    }

    function test_T5_failQuorumWithoutBondReverts() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        _warpEpochs(1);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start, false, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.WrongEscrow.selector, 0, BOND));
        market.requestProof(dealId, start, sigs);
    }

    function test_T5_missedFailQuorumProofReturnsBondToPoster() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        _warpEpochs(1);
        address poster = makeAddr("poster");
        _requestProof(dealId, start, _firstKeys(2), poster);
        _pastDue(dealId);
        vm.prank(reporter);
        market.reportMissedProof(dealId);
        assertEq(market.balanceOf(poster), BOND);
        assertEq(market.bondsHeld(), 0);
        assertEq(_deal(dealId).failedEpoch, start);
    }

    function test_T5_equivocatingValidatorSlashedOnce() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        IMarket.Signature memory ok = _sign(validatorKeys[0], dealId, start, start + 3, true, "ok");
        IMarket.Signature memory fail = _sign(validatorKeys[0], dealId, start + 2, start + 2, false, "fail");
        uint256 total = market.totalValidatorStake();
        vm.expectEmit(address(market));
        emit IMarket.ValidatorSlashed(validators[0], dealId, 0, VSLASH, reporter);
        vm.prank(reporter);
        market.reportEquivocation(dealId, start, start + 3, ok, start + 2, start + 2, fail);
        assertEq(market.balanceOf(reporter), VSLASH);
        assertEq(market.node(VALIDATOR, validators[0]).stake, MIN_VALIDATOR - VSLASH);
        assertFalse(market.isEligibleValidator(validators[0])); // below the minimum now
        assertEq(market.totalValidatorStake(), total - MIN_VALIDATOR);
        vm.expectRevert(abi.encodeWithSelector(IMarket.AlreadySlashed.selector, dealId, validators[0]));
        market.reportEquivocation(dealId, start, start + 3, ok, start + 2, start + 2, fail);
    }

    function test_T5_reportEquivocation_reverts() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        IMarket.Signature memory ok = _sign(validatorKeys[0], dealId, start, start, true, "ok");
        IMarket.Signature memory fail = _sign(validatorKeys[0], dealId, start + 1, start + 1, false, "fail");
        IMarket.Signature memory otherFail = _sign(validatorKeys[1], dealId, start, start, false, "fail");
        vm.expectRevert(IMarket.NotContradictory.selector); // disjoint ranges
        market.reportEquivocation(dealId, start, start, ok, start + 1, start + 1, fail);
        vm.expectRevert(IMarket.NotContradictory.selector); // inverted range
        market.reportEquivocation(dealId, start + 1, start, ok, start, start, otherFail);
        vm.expectRevert(abi.encodeWithSelector(IMarket.NotSameSigner.selector, validators[0], validators[1]));
        market.reportEquivocation(dealId, start, start, ok, start, start, otherFail);
        uint256 k = uint256(keccak256("unregistered"));
        IMarket.Signature memory ok2 = _sign(k, dealId, start, start, true, "ok");
        IMarket.Signature memory fail2 = _sign(k, dealId, start, start, false, "fail");
        vm.expectRevert(abi.encodeWithSelector(IMarket.NotValidator.selector, vm.addr(k)));
        market.reportEquivocation(dealId, start, start, ok2, start, start, fail2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.UnknownDeal.selector, 77));
        market.reportEquivocation(77, start, start, ok, start, start, fail);
    }

    function test_T5_falseOkValidatorSlashedOnce() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        _warpEpochs(3);
        IMarket.Signature memory ok = _sign(validatorKeys[2], dealId, start, start + 5, true, "ok");
        vm.expectRevert(IMarket.NotContradictory.selector); // no failed epoch yet
        market.reportFalseOk(dealId, start, start + 5, ok);
        _audit(dealId);
        (,, uint32 epoch,,) = market.challengeOf(dealId);
        _pastDue(dealId);
        market.reportMissedProof(dealId);
        IMarket.Signature memory before = _sign(validatorKeys[2], dealId, start, epoch - 1, true, "ok");
        vm.expectRevert(IMarket.NotContradictory.selector);
        market.reportFalseOk(dealId, start, epoch - 1, before);
        IMarket.Signature memory liar = _sign(validatorKeys[2], dealId, start, epoch, true, "ok");
        vm.prank(reporter);
        market.reportFalseOk(dealId, start, epoch, liar);
        assertEq(market.node(VALIDATOR, validators[2]).stake, MIN_VALIDATOR - VSLASH);
        vm.expectRevert(abi.encodeWithSelector(IMarket.AlreadySlashed.selector, dealId, validators[2]));
        market.reportFalseOk(dealId, start, epoch, liar);
    }

    /*//////////////////////////////////////////////////////////////
                  T6 OUTAGES COST PAY, NOT COLLATERAL
    //////////////////////////////////////////////////////////////*/

    function test_T6_missedQuorumOnlyRequestsProof() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        uint256 from = uint256(start - 1) + MISSED + 1;
        _warpToEpoch(from - 1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.QuorumNotMissed.selector, from - 1, from));
        market.requestProofForMissedQuorum(dealId);
        _warpToEpoch(from);
        market.requestProofForMissedQuorum(dealId);
        IMarket.Challenge memory c = market.challengeRecord(dealId);
        assertEq(uint8(c.reason), uint8(IMarket.ProofReason.MissedQuorum));
        assertEq(c.epoch, from);
        assertEq(c.dueEpoch, from + WINDOW);
        assertEq(_deal(dealId).collateral, _collateralOf(DURATION));
        assertEq(_stake(hoster), 10 ether);
        _prove(dealId);
        // the next one only after another g epochs without pay or proof
        vm.expectPartialRevert(IMarket.QuorumNotMissed.selector);
        market.requestProofForMissedQuorum(dealId);
    }

    function test_T6_missedProofsSlashProportionallyThenSlotReopens() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        uint256 collateral = _deal(dealId).collateral;
        _warpEpochs(3);
        _settle(dealId, start, start + 1);
        _audit(dealId);
        uint256 slashedTotal;
        for (uint8 f = 1; f <= MAX_FAULTS; ++f) {
            _pastDue(dealId);
            uint256 slash = f == MAX_FAULTS ? collateral - slashedTotal : collateral / MAX_FAULTS;
            uint256 toClient = slash * SLASH_CLIENT_BPS / 10_000;
            vm.expectEmit(address(market));
            emit IMarket.ProofMissed(dealId, hoster, f, slash, toClient, slash - toClient);
            vm.prank(reporter);
            market.reportMissedProof(dealId);
            slashedTotal += slash;
            assertEq(_stake(hoster), 10 ether - slashedTotal);
        }
        IMarket.Deal memory d = _deal(dealId);
        assertEq(uint8(d.status), uint8(IMarket.DealStatus.Faulted));
        assertEq(d.collateral, 0);
        assertEq(market.node(HOSTER, hoster).locked, 0);
        assertEq(market.getBid(1).openSlots & 1, 1);
        assertEq(market.slotEpochs(1, 0), DURATION - 2);
        assertFalse(market.hosterLiveInBid(1, hoster));
        assertEq(market.getBid(1).escrow, _bidEscrowFormula(1));
        (bool open,,,,) = market.challengeOf(dealId);
        assertFalse(open);
        // the hoster that lost the slot may fill it again (it holds no other live slot)
        uint256 again = _fill(hoster, 1, 0);
        assertEq(_deal(again).endEpoch - _deal(again).startEpoch + 1, DURATION - 2);
    }

    function test_T6_hosterMayNeverHoldTwoLiveSlotsOfABid() public {
        uint256 bidId = _bid(3, DURATION);
        _fill(hoster, bidId, 0);
        uint256 seedBlock = _seedBlock();
        bytes memory proof = _fillProof(hoster, bidId, 1, seedBlock);
        vm.prank(hoster);
        vm.expectRevert(abi.encodeWithSelector(IMarket.HosterAlreadyInBid.selector, bidId, hoster));
        market.fill(bidId, 1, seedBlock, type(uint128).max, proof);
    }

    function test_T6_reportMissedProof_reverts() public {
        (uint256 dealId,) = _liveDeal();
        _warpEpochs(2);
        _audit(dealId);
        (,,, uint32 due,) = market.challengeOf(dealId);
        _warpToEpoch(due);
        vm.expectRevert(abi.encodeWithSelector(IMarket.ChallengeNotOverdue.selector, due, due));
        market.reportMissedProof(dealId);
        vm.expectRevert(abi.encodeWithSelector(IMarket.UnknownDeal.selector, 55));
        market.reportMissedProof(55);
    }

    /*//////////////////////////////////////////////////////////////
                        T7 TERMS FIXED AT FILL
    //////////////////////////////////////////////////////////////*/

    function test_T7_extendDoesNotChangeLiveDeals() public {
        (uint256 dealId,) = _liveDeal();
        IMarket.Deal memory before = _deal(dealId);
        uint256 locked = market.node(HOSTER, hoster).locked;
        vm.prank(client);
        market.extend{value: uint256(PRICE) * 2 * 50}(1, 50);
        assertEq(abi.encode(_deal(dealId)), abi.encode(before));
        assertEq(market.node(HOSTER, hoster).locked, locked);
    }

    function test_T7_extendAfterFullyPaidCannotMakeDealFaultable() public {
        uint256 bidId = _bid(2, 5);
        uint256 dealId = _fill(hoster, bidId, 0);
        uint32 start = _deal(dealId).startEpoch;
        _warpEpochs(6);
        _settle(dealId, start, start + 4); // fully paid
        vm.prank(client);
        market.extend{value: uint256(PRICE) * 100}(bidId, 100);
        _warpEpochs(MISSED + 10);
        vm.expectPartialRevert(IMarket.QuorumNotMissed.selector);
        market.requestProofForMissedQuorum(dealId);
        uint256 seedBlock = _auditBlock(dealId, true);
        vm.expectPartialRevert(IMarket.EpochOutsideDeal.selector);
        market.audit(dealId, seedBlock);
        market.finish(dealId);
        assertEq(_stake(hoster), 10 ether);
    }

    function test_T7_extendFrontRunningFillCannotRaiseCollateral() public {
        uint256 bidId = _bid(1, DURATION);
        uint256 seedBlock = _seedBlock();
        bytes memory proof = _fillProof(hoster, bidId, 0, seedBlock);
        uint128 agreed = uint128(_collateralOf(DURATION));
        // the client front-runs the fill with a large extension
        vm.prank(client);
        market.extend{value: uint256(PRICE) * 1000}(bidId, 1000);
        vm.prank(hoster);
        vm.expectRevert(
            abi.encodeWithSelector(IMarket.CollateralTooHigh.selector, _collateralOf(DURATION + 1000), agreed)
        );
        market.fill(bidId, 0, seedBlock, agreed, proof);
    }

    function test_T7_reservedSlotCannotBeExtended() public {
        uint256 bidId = _bid(1, DURATION);
        vm.prank(hoster);
        market.reserve(bidId, 0, uint128(_collateralOf(DURATION)));
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(IMarket.NothingToExtend.selector, bidId));
        market.extend{value: PRICE}(bidId, 1);
    }

    /*//////////////////////////////////////////////////////////////
                        CHALLENGES AND PROOFS
    //////////////////////////////////////////////////////////////*/

    function test_requestProof_reverts() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        uint32 end = _deal(dealId).endEpoch;
        IMarket.Signature[] memory sigs = _sigs(dealId, start - 1, start - 1, false, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochOutsideDeal.selector, start - 1, start, end));
        market.requestProof{value: BOND}(dealId, start - 1, sigs);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochOutsideDeal.selector, end + 1, start, end));
        market.requestProof{value: BOND}(dealId, end + 1, sigs);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochNotOver.selector, start, start - 1));
        market.requestProof{value: BOND}(dealId, start, sigs);
        _warpEpochs(3);
        _settle(dealId, start, start);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochAlreadyPaid.selector, start, start));
        market.requestProof{value: BOND}(dealId, start, sigs);
        _requestProof(dealId, start + 1, _firstKeys(2), client);
        sigs = _sigs(dealId, start + 2, start + 2, false, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.ChallengeOpen.selector, dealId));
        market.requestProof{value: BOND}(dealId, start + 2, sigs);
        _pastDue(dealId);
        market.reportMissedProof(dealId);
        sigs = _sigs(dealId, start + 1, start + 1, false, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochFailed.selector, start + 1, start + 1));
        market.requestProof{value: BOND}(dealId, start + 1, sigs);
        vm.expectRevert(abi.encodeWithSelector(IMarket.UnknownDeal.selector, 0));
        market.requestProof{value: BOND}(0, start + 1, sigs);
    }

    function test_audit_reverts() public {
        (uint256 dealId,) = _liveDeal();
        _warpEpochs(2);
        uint256 notDrawn = _auditBlock(dealId, false);
        vm.expectRevert(abi.encodeWithSelector(IMarket.NotDrawnForAudit.selector, dealId, notDrawn));
        market.audit(dealId, notDrawn);
        uint256 drawn = _auditBlock(dealId, true);
        vm.expectRevert(abi.encodeWithSelector(IMarket.NotAuditBlock.selector, drawn + 1));
        market.audit(dealId, drawn + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IMarket.InvalidSeedBlock.selector, drawn + 10 * AUDIT_EVERY, vm.getBlockNumber())
        );
        market.audit(dealId, drawn + 10 * AUDIT_EVERY);
        market.audit(dealId, drawn);
        _prove(dealId);
        vm.expectRevert(abi.encodeWithSelector(IMarket.AuditAlreadyDone.selector, dealId, drawn));
        market.audit(dealId, drawn);
        uint256 next = _auditBlock(dealId, true);
        market.audit(dealId, next);
        uint256 third = _auditBlock(dealId, true);
        vm.expectRevert(abi.encodeWithSelector(IMarket.ChallengeOpen.selector, dealId));
        market.audit(dealId, third);
        vm.roll(vm.getBlockNumber() + 300);
        vm.expectRevert(abi.encodeWithSelector(IMarket.InvalidSeedBlock.selector, third, vm.getBlockNumber()));
        market.audit(dealId, third);
    }

    function test_proveMany_skipsAProofBuiltForAnEarlierChallenge() public {
        (uint256 dealId,) = _liveDeal();
        uint256 other = _fill(hoster2, 1, 1);
        _warpEpochs(2);
        _audit(dealId);
        IMarket.ProofItem memory stale = IMarket.ProofItem(dealId, _seedOf(dealId), _challengeProof(dealId));
        _pastDue(dealId);
        market.reportMissedProof(dealId); // a new challenge (a new seed) replaces the one `stale` answers
        assertTrue(_seedOf(dealId) != stale.seed);
        _audit(other);
        IMarket.ProofItem[] memory items = new IMarket.ProofItem[](2);
        items[0] = stale;
        items[1] = IMarket.ProofItem(other, _seedOf(other), _challengeProof(other));
        vm.expectEmit(address(market));
        emit IMarket.ProofSkipped(dealId);
        market.proveMany(items); // one stale item does not sink the hoster's whole batch
        (bool open,,,,) = market.challengeOf(other);
        assertFalse(open);
        (open,,,,) = market.challengeOf(dealId);
        assertTrue(open); // the new challenge is still owed
    }

    function test_proveMany_skipsClosedAndOverdue_revertsOnTooMany() public {
        (uint256 dealId,) = _liveDeal();
        uint256 other = _fill(hoster2, 1, 1);
        _warpEpochs(2);
        _audit(dealId);
        _audit(other);
        IMarket.ProofItem[] memory items = new IMarket.ProofItem[](3);
        items[0] = IMarket.ProofItem(dealId, _seedOf(dealId), _challengeProof(dealId));
        items[1] = IMarket.ProofItem(dealId, _seedOf(dealId), _challengeProof(dealId)); // already closed by item 0
        items[2] = IMarket.ProofItem(other, _seedOf(other), _challengeProof(other));
        vm.expectEmit(address(market));
        emit IMarket.ProofSkipped(dealId);
        market.proveMany(items);
        (bool open,,,,) = market.challengeOf(other);
        assertFalse(open);
        assertGt(market.challengeRecord(other).lastProvenEpoch, 0);

        _audit(dealId);
        _pastDue(dealId);
        IMarket.ProofItem[] memory late = new IMarket.ProofItem[](1);
        late[0] = IMarket.ProofItem(dealId, _seedOf(dealId), _challengeProof(dealId));
        vm.expectEmit(address(market));
        emit IMarket.ProofSkipped(dealId);
        market.proveMany(late);
        (open,,,,) = market.challengeOf(dealId);
        assertTrue(open); // still reportable

        IMarket.ProofItem[] memory many = new IMarket.ProofItem[](101);
        vm.expectRevert(abi.encodeWithSelector(IMarket.TooManyProofs.selector, 101, 100));
        market.proveMany(many);
    }

    function test_finish_revertsWhileChallengeOpen() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        _warpToEpoch(_deal(dealId).endEpoch);
        _requestProof(dealId, start, _firstKeys(2), client);
        _warpToEpoch(_deal(dealId).endEpoch + WINDOW + 1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.ChallengeOpen.selector, dealId));
        market.finish(dealId);
    }

    /*//////////////////////////////////////////////////////////////
                              ACCOUNTING
    //////////////////////////////////////////////////////////////*/

    function test_balanceCoversEverythingOwedThroughAFullLifecycle() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        _warpEpochs(3);
        _settle(dealId, start, start + 1);
        _requestProof(dealId, start + 2, _firstKeys(2), reporter);
        _pastDue(dealId);
        market.reportMissedProof(dealId);
        address[] memory accounts = new address[](8);
        (accounts[0], accounts[1], accounts[2], accounts[3]) = (client, hoster, reporter, address(this));
        for (uint256 i; i < 4; ++i) {
            accounts[4 + i] = validators[i];
        }
        assertEq(address(market).balance, _owed(1, accounts));
        assertEq(market.getBid(1).escrow, _bidEscrowFormula(1));
    }

    function test_validatorSlash_exitingValidatorStaysOutOfTheTotal() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        vm.prank(validators[3]);
        market.announceExit(VALIDATOR);
        uint256 total = market.totalValidatorStake();
        IMarket.Signature memory ok = _sign(validatorKeys[3], dealId, start, start, true, "ok");
        IMarket.Signature memory fail = _sign(validatorKeys[3], dealId, start, start, false, "fail");
        market.reportEquivocation(dealId, start, start, ok, start, start, fail);
        assertEq(market.totalValidatorStake(), total);
        assertEq(market.node(VALIDATOR, validators[3]).stake, MIN_VALIDATOR - VSLASH);
    }

    function test_requestProof_withoutBondWhenProofBondIsZero() public {
        IMarket.Params memory p = defaultParams();
        p.proofBond = 0;
        market = new Market(p);
        for (uint256 i; i < 4; ++i) {
            _join(VALIDATOR, validators[i], MIN_VALIDATOR);
        }
        _join(HOSTER, hoster, 10 ether);
        _warp(BONDING);
        (uint256 dealId, uint32 start) = _liveDeal();
        _warpEpochs(1);
        IMarket.Signature[] memory sigs = _sigs(dealId, start, start, false, 2);
        market.requestProof(dealId, start, sigs);
        (bool open,,,, uint256 bond) = market.challengeOf(dealId);
        assertTrue(open);
        assertEq(bond, 0);
        _prove(dealId);
        assertEq(market.balanceOf(hoster), 0);
    }

    function test_audit_revertsBeforeTheDealStarts() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        uint256 seedBlock = _auditBlock(dealId, true);
        uint32 end = _deal(dealId).endEpoch;
        vm.expectRevert(abi.encodeWithSelector(IMarket.EpochOutsideDeal.selector, start - 1, start, end));
        market.audit(dealId, seedBlock);
    }

    function test_validatorSlash_takesAtMostTheStakeAndTopUpRecounts() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        uint256 other = _fill(hoster2, 1, 1);
        uint256 total = market.totalValidatorStake();
        for (uint256 i; i < 2; ++i) {
            uint256 id = i == 0 ? dealId : other;
            IMarket.Signature memory ok = _sign(validatorKeys[0], id, start, start, true, "ok");
            IMarket.Signature memory fail = _sign(validatorKeys[0], id, start, start, false, "fail");
            market.reportEquivocation(id, start, start, ok, start, start, fail);
        }
        assertEq(market.node(VALIDATOR, validators[0]).stake, 0); // the second slash took the rest
        assertEq(market.totalValidatorStake(), total - MIN_VALIDATOR);
        vm.deal(validators[0], 2 ether);
        vm.prank(validators[0]);
        market.topUp{value: 2 ether}(VALIDATOR);
        assertEq(market.totalValidatorStake(), total - MIN_VALIDATOR + 2 ether);
        vm.prank(validators[0]);
        market.announceExit(VALIDATOR);
        assertEq(market.totalValidatorStake(), total - MIN_VALIDATOR);
        // a validator below the minimum announcing its exit changes nothing
        IMarket.Signature memory ok1 = _sign(validatorKeys[1], dealId, start, start, true, "ok");
        IMarket.Signature memory fail1 = _sign(validatorKeys[1], dealId, start, start, false, "fail");
        market.reportEquivocation(dealId, start, start, ok1, start, start, fail1);
        uint256 after1 = market.totalValidatorStake();
        vm.prank(validators[1]);
        market.announceExit(VALIDATOR);
        assertEq(market.totalValidatorStake(), after1);
    }

    function test_proveMany_olderChallengeKeepsLastProvenEpoch() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        _warpEpochs(MISSED + 1);
        market.requestProofForMissedQuorum(dealId);
        _prove(dealId);
        uint32 proven = market.challengeRecord(dealId).lastProvenEpoch;
        assertGt(proven, start);
        _requestProof(dealId, start, _firstKeys(2), client); // an older epoch
        _prove(dealId);
        assertEq(market.challengeRecord(dealId).lastProvenEpoch, proven);
    }

    function test_settleMany_skipsRangesAtOrBeforeTheFailedEpoch() public {
        (uint256 dealId, uint32 start) = _liveDeal();
        _warpEpochs(1);
        _requestProof(dealId, start, _firstKeys(2), client);
        _pastDue(dealId);
        market.reportMissedProof(dealId);
        _prove(dealId);
        IMarket.Settlement[] memory items = new IMarket.Settlement[](1);
        items[0] = _item(dealId, start, start);
        vm.expectEmit(address(market));
        emit IMarket.SettlementSkipped(dealId, start, start);
        assertEq(market.settleMany(items), 0);
    }
}
