// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";

import {Market} from "../../Market.sol";
import {IMarket} from "../../interfaces/IMarket.sol";
import {IStakeRegistry} from "../../interfaces/IStakeRegistry.sol";

/// @dev Deploys a Market with test parameters and offers helpers to join nodes,
///      post bids and sign attestations with a fixed set of validator keys.
abstract contract MarketFixture is Test {
    uint32 internal constant EPOCH = 3600;
    uint8 internal constant QUORUM = 2;
    uint32 internal constant GRACE = 2;
    uint16 internal constant COLLATERAL_BPS = 5000;
    uint16 internal constant FEE_BPS = 500;
    uint16 internal constant SLASH_CLIENT_BPS = 5000;
    uint128 internal constant MIN_HOSTER = 1 ether;
    uint128 internal constant MIN_VALIDATOR = 1 ether;
    uint64 internal constant EXIT_DELAY = 1 days;

    uint96 internal constant PRICE = 1 gwei;

    IStakeRegistry.Role internal constant HOSTER = IStakeRegistry.Role.Hoster;
    IStakeRegistry.Role internal constant VALIDATOR = IStakeRegistry.Role.Validator;

    Market internal market;

    address internal client = makeAddr("client");
    address internal hoster = makeAddr("hoster");
    address internal hoster2 = makeAddr("hoster2");
    address internal hoster3 = makeAddr("hoster3");

    uint256[] internal validatorKeys;
    address[] internal validators;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        vm.roll(100);
        market = new Market(defaultParams());
        for (uint256 i = 1; i <= 4; ++i) {
            (address v, uint256 k) = makeAddrAndKey(string.concat("validator", vm.toString(i)));
            validatorKeys.push(k);
            validators.push(v);
            _join(VALIDATOR, v, MIN_VALIDATOR);
        }
        _join(HOSTER, hoster, 10 ether);
        _join(HOSTER, hoster2, 10 ether);
        _join(HOSTER, hoster3, 10 ether);
        vm.deal(client, 1000 ether);
    }

    function defaultParams() internal pure returns (IMarket.Params memory) {
        return IMarket.Params({
            genesis: 0,
            epochSeconds: EPOCH,
            quorum: QUORUM,
            graceEpochs: GRACE,
            collateralBps: COLLATERAL_BPS,
            validatorFeeBps: FEE_BPS,
            slashClientBps: SLASH_CLIENT_BPS,
            minHosterStake: MIN_HOSTER,
            minValidatorStake: MIN_VALIDATOR,
            exitDelay: EXIT_DELAY
        });
    }

    /*//////////////////////////////////////////////////////////////
                                HELPERS
    //////////////////////////////////////////////////////////////*/

    function _join(IStakeRegistry.Role role, address account, uint256 stake) internal {
        vm.deal(account, account.balance + stake);
        vm.prank(account);
        market.join{value: stake}(role, "https://node.example", 1 << 40);
    }

    function _cid(uint256 i) internal pure returns (bytes memory) {
        // 36-byte CIDv1 (raw codec, sha2-256 multihash)
        return abi.encodePacked(hex"01551220", keccak256(abi.encode(i)));
    }

    function _cids(uint256 n) internal pure returns (bytes[] memory cids) {
        cids = new bytes[](n);
        for (uint256 i; i < n; ++i) {
            cids[i] = _cid(i);
        }
    }

    function _bid(uint8 slots, uint32 duration) internal returns (uint256) {
        return _bidAs(client, slots, PRICE, duration);
    }

    function _bidAs(address who, uint8 slots, uint96 price, uint32 duration) internal returns (uint256) {
        uint256 value = uint256(price) * slots * duration;
        vm.deal(who, who.balance + value);
        vm.prank(who);
        return market.bid{value: value}(_cids(slots), 1 << 20, slots, price, duration, new string[](0));
    }

    function _accept(address who, uint256 bidId, uint8 slot) internal returns (uint256) {
        vm.prank(who);
        return market.accept(bidId, slot);
    }

    function _warpEpochs(uint256 n) internal {
        vm.warp(block.timestamp + n * EPOCH);
        vm.roll(block.number + n);
    }

    /// @dev Warp to the first second of epoch `e`.
    function _warpToEpoch(uint256 e) internal {
        vm.warp(uint256(market.params().genesis) + e * EPOCH);
    }

    function _sign(uint256 key, uint256 dealId, uint32 from, uint32 to, bool ok, bytes32 evidence)
        internal
        view
        returns (IMarket.Signature memory sig)
    {
        bytes32 digest = market.attestationDigest(dealId, from, to, ok, evidence);
        (sig.v, sig.r, sig.s) = vm.sign(key, digest);
        sig.evidence = evidence;
    }

    /// @dev Signatures of the first `n` validators (by key index), sorted by signer address.
    function _sigs(uint256 dealId, uint32 from, uint32 to, bool ok, uint256 n)
        internal
        view
        returns (IMarket.Signature[] memory)
    {
        uint256[] memory keys = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            keys[i] = validatorKeys[i];
        }
        return _sigsWith(dealId, from, to, ok, keys);
    }

    function _sigsWith(uint256 dealId, uint32 from, uint32 to, bool ok, uint256[] memory keys)
        internal
        view
        returns (IMarket.Signature[] memory sigs)
    {
        keys = _sortKeys(keys);
        sigs = new IMarket.Signature[](keys.length);
        for (uint256 i; i < keys.length; ++i) {
            sigs[i] = _sign(keys[i], dealId, from, to, ok, keccak256(abi.encode("evidence", i)));
        }
    }

    /// @dev A settleMany item for [from, to] with a quorum of `ok` signatures.
    function _item(uint256 dealId, uint32 from, uint32 to) internal view returns (IMarket.Settlement memory) {
        return IMarket.Settlement(dealId, from, to, _sigs(dealId, from, to, true, QUORUM));
    }

    function _sortKeys(uint256[] memory keys) internal pure returns (uint256[] memory) {
        for (uint256 i = 1; i < keys.length; ++i) {
            for (uint256 j = i; j > 0 && vm.addr(keys[j - 1]) > vm.addr(keys[j]); --j) {
                (keys[j - 1], keys[j]) = (keys[j], keys[j - 1]);
            }
        }
        return keys;
    }

    /// @dev Signers of `_sigs(..., n)` in signature order.
    function _sortedSigners(uint256 n) internal view returns (address[] memory signers) {
        uint256[] memory keys = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            keys[i] = validatorKeys[i];
        }
        keys = _sortKeys(keys);
        signers = new address[](n);
        for (uint256 i; i < n; ++i) {
            signers[i] = vm.addr(keys[i]);
        }
    }

    /// @dev Σ escrow of every bid + Σ stakes of the given nodes + Σ balances of the given accounts.
    function _bidEscrowFormula(uint256 bidId) internal view returns (uint256 sum) {
        IMarket.Bid memory b = market.getBid(bidId);
        // slots with an active deal: find it by scanning deals (tests only)
        for (uint8 s; s < b.slotCount; ++s) {
            if (b.closedSlots & (uint32(1) << s) != 0) continue;
            uint256 paid;
            uint256 offset = market.slotOffset(bidId, s);
            for (uint256 id = 1; id <= market.dealCount(); ++id) {
                IMarket.Deal memory d = market.getDeal(id);
                if (d.bidId == bidId && d.slot == s && d.status == IMarket.DealStatus.Active) {
                    paid = d.paidEpochs;
                    offset = d.slotOffset;
                }
            }
            sum += uint256(b.pricePerEpoch) * (b.durationEpochs - offset - paid);
        }
    }
}
