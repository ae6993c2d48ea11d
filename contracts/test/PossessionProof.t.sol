// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";

import {PossessionProof} from "../libraries/PossessionProof.sol";
import {PossessionTree} from "./utils/PossessionTree.sol";

/// @dev Calldata entry point for the library under test.
contract PossessionProofHarness {
    function verify(bytes calldata proof, bytes32 root, bytes32 seed, uint256 n) external pure returns (bool) {
        return PossessionProof.verify(proof, root, seed, n);
    }
}

/// @notice The possession-tree verifier (format version 2): the shared vectors of the Python
///         implementation (tests/testdata/possession_vectors.json) and fuzzed trees of 1 to 2^25
///         segments (D = 1..25, so C = D for D <= 3) with wrong leaves, siblings, cap nodes,
///         indices, seeds, roots and lengths.
contract PossessionProofTest is Test {
    using PossessionTree for PossessionTree.Tree;

    string internal constant VECTORS = "tests/testdata/possession_vectors.json";
    PossessionProofHarness internal harness;

    function setUp() public {
        harness = new PossessionProofHarness();
    }

    /*//////////////////////////////////////////////////////////////
                        SHARED VECTORS (PYTHON)
    //////////////////////////////////////////////////////////////*/

    function test_vectors_agreeWithPython() public view {
        string memory json = vm.readFile(VECTORS);
        assertEq(vm.parseJsonUint(json, ".version"), 2, "vectors of format version 2");
        assertEq(vm.parseJsonUint(json, ".segment"), 128);
        uint256 cases;
        for (; vm.keyExistsJson(json, string.concat(".cases[", vm.toString(cases), "]")); ++cases) {
            string memory key = string.concat(".cases[", vm.toString(cases), "]");
            bytes memory data =
                vm.parseBytes(string.concat("0x", vm.parseJsonString(json, string.concat(key, ".data_hex"))));
            uint256 size = vm.parseJsonUint(json, string.concat(key, ".size"));
            bytes32 root = vm.parseJsonBytes32(json, string.concat(key, ".root"));
            bytes32 seed = vm.parseJsonBytes32(json, string.concat(key, ".seed"));
            uint256[] memory indices = vm.parseJsonUintArray(json, string.concat(key, ".indices"));
            bytes memory proof = vm.parseJsonBytes(json, string.concat(key, ".proof"));

            assertEq(data.length, size, "size");
            assertTrue(PossessionProof.isRoot(root), "root format");
            assertEq(PossessionTree.rootOf(data), root, "root");
            uint256 n = PossessionProof.segmentCount(size);
            assertEq(proof.length, PossessionProof.proofLength(n), "proof length");
            uint256[5] memory expected = PossessionProof.indices(seed, n);
            assertEq(indices.length, 5);
            for (uint256 j; j < 5; ++j) {
                assertEq(indices[j], expected[j], "index");
            }
            assertTrue(harness.verify(proof, root, seed, n), "proof");
            proof[0] ^= 0x01; // the cap
            assertFalse(harness.verify(proof, root, seed, n), "tampered cap");
            proof[0] ^= 0x01;
            proof[proof.length - 1] ^= 0x01; // the last segment or sibling
            assertFalse(harness.verify(proof, root, seed, n), "tampered proof");
        }
        assertGt(cases, 0);
    }

    /*//////////////////////////////////////////////////////////////
                              FUZZED TREES
    //////////////////////////////////////////////////////////////*/

    /// @dev A tree of 1 to 2^25 segments, D = 1..25: half the runs pick D uniformly (small trees,
    ///      where C = D and the cap holds the leaves, get their share), the others N uniformly.
    function _tree(bytes32 salt, uint256 n) internal pure returns (PossessionTree.Tree memory) {
        if (n & 1 == 0) {
            uint256 d = bound(n >> 1, 1, 25);
            n = (uint256(1) << (d - 1)) + 1 + uint256(salt) % (uint256(1) << (d - 1));
            if (d == 1) n = 1 + uint256(salt) % 2;
        } else {
            n = bound(n >> 1, 1, 1 << 25);
        }
        return PossessionTree.build(salt, n, 5);
    }

    function test_fuzz_validProofVerifies(bytes32 salt, uint256 n, bytes32 seed) public view {
        PossessionTree.Tree memory t = _tree(salt, n);
        assertLe(t.d, 25);
        bytes memory proof = t.proof(seed);
        uint256 c = t.d < 3 ? t.d : 3;
        assertEq(proof.length, 20 * 2 ** c + 5 * (128 + 20 * (t.d - c)));
        assertEq(proof.length, PossessionProof.proofLength(t.n));
        assertTrue(harness.verify(proof, t.root(), seed, t.n));
    }

    function test_fuzz_anyFlippedByteFails(bytes32 salt, uint256 n, bytes32 seed, uint256 at, uint8 bits) public view {
        PossessionTree.Tree memory t = _tree(salt, n);
        bytes memory proof = t.proof(seed);
        at = bound(at, 0, proof.length - 1);
        proof[at] ^= bytes1(uint8(bound(bits, 1, 255)));
        assertFalse(harness.verify(proof, t.root(), seed, t.n));
    }

    /// @dev A wrong leaf: the challenged segment replaced by other bytes, siblings kept.
    function test_fuzz_wrongSegmentFails(bytes32 salt, uint256 n, bytes32 seed, uint256 j, bytes32 junk) public view {
        vm.assume(junk != salt);
        PossessionTree.Tree memory t = _tree(salt, n);
        bytes memory proof = t.proof(seed);
        (uint256 capBytes, uint256 item) = t.layout();
        uint256 at = capBytes + bound(j, 0, 4) * item;
        bytes memory seg = PossessionTree.periodSegment(junk, 0);
        for (uint256 b; b < 128; ++b) {
            proof[at + b] = seg[b];
        }
        assertFalse(harness.verify(proof, t.root(), seed, t.n));
    }

    /// @dev A wrong sibling: one of an item's siblings replaced by another 20-byte value.
    function test_fuzz_wrongSiblingFails(bytes32 salt, uint256 n, bytes32 seed, uint256 j, uint256 l, bytes20 sib)
        public
        view
    {
        PossessionTree.Tree memory t = _tree(salt, n);
        vm.assume(t.d > 3); // C = D: no siblings below the cap
        bytes memory proof = t.proof(seed);
        (uint256 capBytes, uint256 item) = t.layout();
        uint256 at = capBytes + bound(j, 0, 4) * item + 128 + 20 * bound(l, 0, t.d - 4);
        vm.assume(bytes20(_slice(proof, at)) != sib);
        for (uint256 b; b < 20; ++b) {
            proof[at + b] = sib[b];
        }
        assertFalse(harness.verify(proof, t.root(), seed, t.n));
    }

    /// @dev A wrong cap node: whichever node, even one no segment climbs to, breaks the root.
    function test_fuzz_wrongCapNodeFails(bytes32 salt, uint256 n, bytes32 seed, uint256 i, bytes20 other) public view {
        PossessionTree.Tree memory t = _tree(salt, n);
        bytes memory proof = t.proof(seed);
        (uint256 capBytes,) = t.layout();
        uint256 at = 20 * bound(i, 0, capBytes / 20 - 1);
        vm.assume(bytes20(_slice(proof, at)) != other);
        for (uint256 b; b < 20; ++b) {
            proof[at + b] = other[b];
        }
        assertFalse(harness.verify(proof, t.root(), seed, t.n));
    }

    /// @dev With a cap consistent with the root, a segment must climb to the cap node above its
    ///      own index: the item of a leaf under another cap node (of another value) is refused.
    function test_fuzz_itemUnderAnotherCapNodeFails(bytes32 salt, uint256 n, bytes32 seed) public view {
        PossessionTree.Tree memory t = _tree(salt, n);
        bytes memory proof = t.proof(seed);
        (uint256 capBytes, uint256 item) = t.layout();
        uint256 h = t.d - t.capLevels();
        uint256 idx = PossessionTree.index(seed, 0, t.n);
        bytes32 mine = t.node(h, idx >> h);
        // the first leaf (maybe a padding leaf) under the first cap node of another value
        uint256 other = type(uint256).max;
        for (uint256 i; i < capBytes / 20 && other == type(uint256).max; ++i) {
            if (t.node(h, i) != mine) other = i << h;
        }
        vm.assume(other != type(uint256).max); // the periodic test data may make all cap nodes equal
        bytes memory otherItem = t.path(other);
        for (uint256 b; b < item; ++b) {
            proof[capBytes + b] = otherItem[b];
        }
        assertFalse(harness.verify(proof, t.root(), seed, t.n));
    }

    function test_fuzz_wrongSeedFails(bytes32 salt, uint256 n, bytes32 seed, bytes32 other) public view {
        PossessionTree.Tree memory t = PossessionTree.build(salt, bound(n, 1 << 10, 1 << 25), 5);
        vm.assume(seed != other); // with fewer segments two seeds may ask the same ones
        assertFalse(harness.verify(t.proof(seed), t.root(), other, t.n));
    }

    function test_fuzz_pathOfAnotherLeafFails(bytes32 salt, uint256 n, bytes32 seed) public view {
        PossessionTree.Tree memory t = PossessionTree.build(salt, bound(n, 1 << 10, 1 << 25), 5);
        bytes memory proof = t.proof(seed);
        // replace the first item by the item of a neighbouring leaf (wrong index)
        uint256 idx = PossessionTree.index(seed, 0, t.n);
        bytes memory other = t.path(idx == 0 ? 1 : idx - 1);
        (uint256 capBytes, uint256 item) = t.layout();
        for (uint256 i; i < item; ++i) {
            proof[capBytes + i] = other[i];
        }
        assertFalse(harness.verify(proof, t.root(), seed, t.n));
    }

    function test_fuzz_wrongRootOrSizeFails(bytes32 salt, uint256 n, bytes32 seed) public view {
        PossessionTree.Tree memory t = _tree(salt, n);
        PossessionTree.Tree memory u = PossessionTree.build(keccak256(abi.encode(salt)), t.n, 5);
        bytes memory proof = t.proof(seed);
        assertFalse(harness.verify(proof, u.root(), seed, t.n));
        // the same proof for a shard of twice the size: other depth, other length
        assertFalse(harness.verify(proof, t.root(), seed, 2 * t.n + 1));
    }

    /// @dev Truncated or extended proofs fail, whatever the bytes added or cut.
    function test_fuzz_truncatedOrExtendedFails(bytes32 salt, uint256 n, bytes32 seed, uint256 cut, bytes memory extra)
        public
        view
    {
        PossessionTree.Tree memory t = _tree(salt, n);
        bytes memory proof = t.proof(seed);
        vm.assume(extra.length > 0);
        assertFalse(harness.verify(bytes.concat(proof, extra), t.root(), seed, t.n), "extended");
        cut = bound(cut, 1, proof.length);
        bytes memory short = new bytes(proof.length - cut);
        for (uint256 i; i < short.length; ++i) {
            short[i] = proof[i];
        }
        assertFalse(harness.verify(short, t.root(), seed, t.n), "truncated");
    }

    /// @dev A proof of format version 1 (no cap, 24-byte nodes) is refused by its length.
    function test_fuzz_formatOneLengthFails(bytes32 salt, uint256 n, bytes32 seed) public view {
        PossessionTree.Tree memory t = _tree(salt, n);
        bytes memory proof = t.proof(seed);
        bytes memory v1 = new bytes(5 * (128 + 24 * t.d));
        for (uint256 i; i < v1.length && i < proof.length; ++i) {
            v1[i] = proof[i];
        }
        assertFalse(harness.verify(v1, t.root(), seed, t.n));
    }

    function test_fuzz_depthIsCeilLog2(uint256 n) public pure {
        n = bound(n, 1, type(uint64).max);
        assertEq(PossessionProof.depth(n), PossessionTree.depth(n));
    }

    function test_proofLength_ofOneGiBShard() public pure {
        assertEq(PossessionProof.proofLength(1 << 23), 2800); // D = 23, C = 3
        assertEq(PossessionProof.proofLength(512), 1400); // 64 KiB: D = 9
        assertEq(PossessionProof.proofLength(1), 5 * 128 + 40); // D = 1, C = 1: 2 leaves
        assertEq(PossessionProof.proofLength(5), 5 * 128 + 160); // D = 3, C = 3: 8 leaves
    }

    function test_oneSegmentShard_hasDepthOne() public view {
        PossessionTree.Tree memory t = PossessionTree.build("tiny", 1, 5);
        assertEq(t.d, 1);
        assertEq(t.root(), PossessionTree.hashPair(PossessionTree.hashSegment(PossessionTree.segment(t, 0)), t.zero[0]));
        assertTrue(harness.verify(t.proof("s"), t.root(), "s", 1));
    }

    function test_isRoot_requiresZeroTail() public pure {
        assertTrue(PossessionProof.isRoot(bytes32(uint256(1) << 96)));
        assertFalse(PossessionProof.isRoot(bytes32(uint256(1) << 95)));
        assertFalse(PossessionProof.isRoot(bytes32(uint256(1) << 64))); // a format-1 root
    }

    /// @dev The sparse builder agrees with the plain builder on data it can hold.
    function test_fuzz_treeBuilderMatchesPlainRoot(bytes32 salt, uint256 n) public pure {
        n = bound(n, 1, 70);
        PossessionTree.Tree memory t = PossessionTree.build(salt, n, 3);
        bytes memory data;
        for (uint256 i; i < n; ++i) {
            data = bytes.concat(data, PossessionTree.segment(t, i));
        }
        assertEq(t.root(), PossessionTree.rootOf(data));
    }

    function _slice(bytes memory b, uint256 at) private pure returns (bytes32 w) {
        assembly {
            w := mload(add(add(b, 0x20), at))
        }
    }
}
