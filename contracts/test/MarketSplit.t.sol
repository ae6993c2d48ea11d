// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMarket} from "../interfaces/IMarket.sol";
import {MarketExtension} from "../MarketExtension.sol";
import {MarketFixture} from "./utils/MarketFixture.sol";

/// @dev The Market / MarketExtension split (EIP-170): the extension refuses direct calls, runs on
///      the Market's storage (each state group written by one contract's code and read by the
///      other's), and signatures it verifies bind to the Market's EIP-712 domain.
contract MarketSplitTest is MarketFixture {
    uint32 internal constant DURATION = 10;
    address internal reporter = makeAddr("reporter");

    MarketExtension internal ext;

    function setUp() public override {
        super.setUp();
        // The extension is the Market's first (and only) CREATE: nonce 1.
        ext = MarketExtension(vm.computeCreateAddress(address(market), 1));
        assertGt(address(ext).code.length, 0);
    }

    /*//////////////////////////////////////////////////////////////
                              DIRECT CALLS
    //////////////////////////////////////////////////////////////*/

    function test_extension_refusesDirectCalls() public {
        vm.deal(address(this), 10 ether);
        vm.expectRevert(MarketExtension.OnlyViaMarket.selector);
        ext.join{value: 2 ether}(HOSTER, "https://x", 1);
        vm.expectRevert(MarketExtension.OnlyViaMarket.selector);
        ext.updateNode(HOSTER, "https://x", 1);
        vm.expectRevert(MarketExtension.OnlyViaMarket.selector);
        ext.topUp{value: 1}(HOSTER);
        vm.expectRevert(MarketExtension.OnlyViaMarket.selector);
        ext.announceExit(HOSTER);
        vm.expectRevert(MarketExtension.OnlyViaMarket.selector);
        ext.exit(HOSTER);
        vm.expectRevert(MarketExtension.OnlyViaMarket.selector);
        ext.cancel(1, 0);
        vm.expectRevert(MarketExtension.OnlyViaMarket.selector);
        ext.extend{value: 1}(1, 1);
        vm.expectRevert(MarketExtension.OnlyViaMarket.selector);
        ext.releaseReservation(1, 0);
        vm.expectRevert(MarketExtension.OnlyViaMarket.selector);
        ext.finish(1);
        vm.expectRevert(MarketExtension.OnlyViaMarket.selector);
        ext.extendDeal{value: 1}(1, 1, "");
        vm.expectRevert(MarketExtension.OnlyViaMarket.selector);
        ext.requestProofForMissedQuorum(1);
        IMarket.Signature memory sig;
        vm.expectRevert(MarketExtension.OnlyViaMarket.selector);
        ext.reportFalseOk(1, 1, 1, sig);
        vm.expectRevert(MarketExtension.OnlyViaMarket.selector);
        ext.reportEquivocation(1, 1, 1, sig, 1, 1, sig);
    }

    /// @dev eip712Domain is answered by the extension's code, for the Market's address.
    function test_eip712Domain_isTheMarkets() public view {
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            market.eip712Domain();
        assertEq(name, "Scatter Market");
        assertEq(version, "2");
        assertEq(chainId, block.chainid);
        assertEq(verifyingContract, address(market));
    }

    function test_extension_sharesParams() public view {
        IMarket.Params memory p = market.params(); // served by the extension's immutables
        assertEq(p.genesis, uint64(1_700_000_000));
        assertEq(p.epochSeconds, EPOCH);
        assertEq(p.proofBond, BOND);
        assertEq(market.currentEpoch(), (vm.getBlockTimestamp() - p.genesis) / EPOCH); // Market's own
    }

    /*//////////////////////////////////////////////////////////////
                              STORAGE LAYOUT
    //////////////////////////////////////////////////////////////*/

    /// @dev Stake registry: join/topUp/announceExit/exit (extension) vs freeStake,
    ///      isEligibleValidator, totalValidatorStake, reserve (Market).
    function test_layout_nodes() public {
        address n = makeAddr("layoutNode");
        uint256 total = market.totalValidatorStake();
        _join(VALIDATOR, n, MIN_VALIDATOR); // extension writes _nodes, _nodeList, _listed, _validatorStake
        assertEq(market.freeStake(VALIDATOR, n), MIN_VALIDATOR); // Market reads _nodes
        assertEq(market.totalValidatorStake(), total + MIN_VALIDATOR);
        assertEq(market.nodesPage(VALIDATOR, validators.length, 1)[0], n);
        vm.deal(n, 1 ether);
        vm.prank(n);
        market.topUp{value: 1 ether}(VALIDATOR);
        assertEq(market.totalValidatorStake(), total + MIN_VALIDATOR + 1 ether);
        _warp(BONDING);
        assertTrue(market.isEligibleValidator(n));
        vm.prank(n);
        market.announceExit(VALIDATOR);
        assertFalse(market.isEligibleValidator(n));
        assertEq(market.totalValidatorStake(), total);
    }

    /// @dev Bids, slot budgets, reservations, hoster flags: written by both, read by both.
    function test_layout_bids() public {
        uint256 bidId = _bid(2, DURATION); // Market writes _bids, _roots, _slotEpochs
        assertEq(market.getBid(bidId).escrow, uint256(PRICE) * 2 * DURATION); // extension reads
        vm.prank(client);
        market.extend{value: uint256(PRICE) * 2 * 3}(bidId, 3); // extension writes
        assertEq(market.slotEpochs(bidId, 0), DURATION + 3); // Market reads _slotEpochs
        assertEq(market.slotRoot(bidId, 1), root); // extension reads _roots written by Market

        vm.prank(hoster);
        market.reserve(bidId, 1, type(uint128).max); // Market writes _reservations, _hosterFlags
        assertEq(market.reservationOf(bidId, 1).hoster, hoster); // extension reads
        _warpEpochs(RESERVE + 1);
        market.releaseReservation(bidId, 1); // extension releases, pays the fee (_balances)
        assertFalse(market.hosterLiveInBid(bidId, hoster)); // Market reads _hosterFlags
        assertEq(market.balanceOf(hoster), PRICE); // Market reads _balances

        vm.prank(client);
        market.cancel(bidId, 0); // extension closes slot 0
        vm.expectRevert(abi.encodeWithSelector(IMarket.SlotNotOpen.selector, bidId, 0));
        vm.prank(hoster2);
        market.reserve(bidId, 0, type(uint128).max); // Market sees it closed
        uint256 before = hoster.balance;
        vm.prank(hoster);
        market.withdraw(payable(hoster)); // Market pays what the extension credited
        assertEq(hoster.balance, before + PRICE);
    }

    /// @dev Deals and challenges: fill/settle (Market) vs extendDeal/requestProofForMissedQuorum/
    ///      finish (extension), read back by the other side.
    function test_layout_dealsAndChallenges() public {
        (address h, uint256 hk) = makeAddrAndKey("layoutHoster");
        _join(HOSTER, h, 10 ether);
        uint256 bidId = _bid(1, DURATION);
        uint256 dealId = _fill(h, bidId, 0); // Market writes _deals, _dealCount
        IMarket.Deal memory d = market.getDeal(dealId); // extension reads
        assertEq(d.hoster, h);
        assertEq(market.dealCount(), dealId);

        bytes memory sig = _extendSig(hk, dealId, 1, d.endEpoch);
        vm.prank(client);
        market.extendDeal{value: PRICE}(dealId, 1, sig); // extension
        assertEq(market.getDeal(dealId).endEpoch, d.endEpoch + 1);
        // Market's committee check reads the deal written by fill.
        assertTrue(market.isCommitteeMember(dealId, d.startEpoch, validators[0]));

        _warpToEpoch(uint256(d.startEpoch) + MISSED + 1);
        market.requestProofForMissedQuorum(dealId); // extension writes _challenges
        (bool open,,,,) = market.challengeOf(dealId);
        assertTrue(open);
        IMarket.ProofItem[] memory items = new IMarket.ProofItem[](1);
        items[0] = IMarket.ProofItem({dealId: dealId, seed: _seedOf(dealId), proof: _challengeProof(dealId)});
        market.proveMany(items); // Market answers the challenge the extension opened
        assertFalse(market.challengeRecord(dealId).open);

        _warpToEpoch(uint256(d.endEpoch) + 1 + WINDOW + 1);
        market.finish(dealId); // extension
        IMarket.Signature[] memory sigs = _sigs(dealId, d.startEpoch, d.startEpoch, true, QUORUM);
        vm.expectRevert(abi.encodeWithSelector(IMarket.DealNotActive.selector, dealId));
        market.settle(dealId, d.startEpoch, d.startEpoch, sigs); // Market sees it finished
    }

    /*//////////////////////////////////////////////////////////////
                          EIP-712 UNDER DELEGATECALL
    //////////////////////////////////////////////////////////////*/

    function _domain(address verifyingContract) internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Scatter Market"),
                keccak256("2"),
                block.chainid,
                verifyingContract
            )
        );
    }

    function _extendSig(uint256 key, uint256 dealId, uint32 extra, uint32 end) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, market.extendDealDigest(dealId, extra, end));
        return abi.encodePacked(r, s, v);
    }

    /// @dev extendDeal runs in the extension; a signature over the extension's own domain fails,
    ///      one over the Market's domain (computed here from scratch) passes.
    function test_extendDeal_signatureBindsToMarket() public {
        (address h, uint256 hk) = makeAddrAndKey("domainHoster");
        _join(HOSTER, h, 10 ether);
        uint256 dealId = _fill(h, _bid(1, DURATION), 0);
        uint32 end = market.getDeal(dealId).endEpoch;
        bytes32 structHash = keccak256(abi.encode(market.EXTEND_DEAL_TYPEHASH(), dealId, uint32(2), end));

        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(hk, keccak256(abi.encodePacked("\x19\x01", _domain(address(ext)), structHash)));
        vm.prank(client);
        vm.expectRevert(IMarket.InvalidHosterSignature.selector);
        market.extendDeal{value: uint256(PRICE) * 2}(dealId, 2, abi.encodePacked(r, s, v));

        (v, r, s) = vm.sign(hk, keccak256(abi.encodePacked("\x19\x01", _domain(address(market)), structHash)));
        vm.prank(client);
        market.extendDeal{value: uint256(PRICE) * 2}(dealId, 2, abi.encodePacked(r, s, v));
        assertEq(market.getDeal(dealId).endEpoch, end + 2);
    }

    function _signIn(address verifyingContract, uint256 key, uint256 dealId, uint32 from, uint32 to, bool ok)
        internal
        view
        returns (IMarket.Signature memory sig)
    {
        bytes32 structHash = keccak256(abi.encode(market.ATTESTATION_TYPEHASH(), dealId, from, to, ok, bytes32("e")));
        (sig.v, sig.r, sig.s) =
            vm.sign(key, keccak256(abi.encodePacked("\x19\x01", _domain(verifyingContract), structHash)));
        sig.evidence = "e";
    }

    /// @dev reportEquivocation runs in the extension: attestations signed for the extension's
    ///      domain recover another signer (no slash); the Market's domain slashes.
    function test_reportEquivocation_signatureBindsToMarket() public {
        uint256 dealId = _fill(hoster, _bid(1, DURATION), 0);
        uint32 start = market.getDeal(dealId).startEpoch;
        IMarket.Signature memory ok = _signIn(address(ext), validatorKeys[0], dealId, start, start, true);
        IMarket.Signature memory fail = _signIn(address(ext), validatorKeys[0], dealId, start, start, false);
        vm.prank(reporter);
        vm.expectRevert(); // recovers two unrelated addresses: NotSameSigner
        market.reportEquivocation(dealId, start, start, ok, start, start, fail);

        ok = _signIn(address(market), validatorKeys[0], dealId, start, start, true);
        fail = _signIn(address(market), validatorKeys[0], dealId, start, start, false);
        vm.prank(reporter);
        market.reportEquivocation(dealId, start, start, ok, start, start, fail);
        assertEq(market.balanceOf(reporter), VSLASH);
    }
}
