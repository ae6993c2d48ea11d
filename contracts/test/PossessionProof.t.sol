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

/// @notice The possession-tree verifier: the shared vectors of the Python implementation
///         (tests/testdata/possession_vectors.json) and fuzzed trees of 1 to 2^25 segments with
///         wrong leaves, paths, indices, roots and lengths.
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
        assertEq(vm.parseJsonUint(json, ".version"), 1);
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
            uint256[5] memory expected = PossessionProof.indices(seed, n);
            assertEq(indices.length, 5);
            for (uint256 j; j < 5; ++j) {
                assertEq(indices[j], expected[j], "index");
            }
            assertTrue(harness.verify(proof, root, seed, n), "proof");
            proof[proof.length - 1] ^= 0x01;
            assertFalse(harness.verify(proof, root, seed, n), "tampered proof");
        }
        assertGt(cases, 0);
    }

    /*//////////////////////////////////////////////////////////////
                              FUZZED TREES
    //////////////////////////////////////////////////////////////*/

    function _tree(bytes32 salt, uint256 n) internal pure returns (PossessionTree.Tree memory) {
        return PossessionTree.build(salt, n, 5);
    }

    function test_fuzz_validProofVerifies(bytes32 salt, uint256 n, bytes32 seed) public view {
        n = bound(n, 1, 1 << 25);
        PossessionTree.Tree memory t = _tree(salt, n);
        bytes memory proof = t.proof(seed);
        assertEq(proof.length, 5 * (128 + 24 * PossessionProof.depth(n)));
        assertTrue(harness.verify(proof, t.root(), seed, n));
    }

    function test_fuzz_anyFlippedByteFails(bytes32 salt, uint256 n, bytes32 seed, uint256 at, uint8 bits) public view {
        n = bound(n, 1, 1 << 25);
        PossessionTree.Tree memory t = _tree(salt, n);
        bytes memory proof = t.proof(seed);
        at = bound(at, 0, proof.length - 1);
        proof[at] ^= bytes1(uint8(bound(bits, 1, 255)));
        assertFalse(harness.verify(proof, t.root(), seed, n));
    }

    function test_fuzz_wrongIndicesFail(bytes32 salt, uint256 n, bytes32 seed, bytes32 other) public view {
        n = bound(n, 1 << 10, 1 << 25); // with fewer segments two seeds may ask the same ones
        vm.assume(seed != other);
        PossessionTree.Tree memory t = _tree(salt, n);
        assertFalse(harness.verify(t.proof(seed), t.root(), other, n));
    }

    function test_fuzz_wrongRootOrSizeFails(bytes32 salt, uint256 n, bytes32 seed) public view {
        n = bound(n, 2, 1 << 25);
        PossessionTree.Tree memory t = _tree(salt, n);
        PossessionTree.Tree memory u = _tree(keccak256(abi.encode(salt)), n);
        bytes memory proof = t.proof(seed);
        assertFalse(harness.verify(proof, u.root(), seed, n));
        // the same proof for a shard of twice the size: other depth, other length
        assertFalse(harness.verify(proof, t.root(), seed, 2 * n));
        // truncated or extended
        assertFalse(harness.verify(bytes.concat(proof, hex"00"), t.root(), seed, n));
        bytes memory short = new bytes(proof.length - 1);
        assertFalse(harness.verify(short, t.root(), seed, n));
    }

    function test_fuzz_pathOfAnotherLeafFails(bytes32 salt, uint256 n, bytes32 seed) public view {
        n = bound(n, 1 << 10, 1 << 25);
        PossessionTree.Tree memory t = _tree(salt, n);
        bytes memory proof = t.proof(seed);
        // replace the first item by the path of a neighbouring leaf
        uint256 idx = PossessionTree.index(seed, 0, n);
        bytes memory other = t.path(idx == 0 ? 1 : idx - 1);
        uint256 item = 128 + 24 * t.d;
        for (uint256 i; i < item; ++i) {
            proof[i] = other[i];
        }
        assertFalse(harness.verify(proof, t.root(), seed, n));
    }

    function test_fuzz_depthIsCeilLog2(uint256 n) public pure {
        n = bound(n, 1, type(uint64).max);
        assertEq(PossessionProof.depth(n), PossessionTree.depth(n));
    }

    function test_oneSegmentShard_hasDepthOne() public view {
        PossessionTree.Tree memory t = _tree("tiny", 1);
        assertEq(t.d, 1);
        assertEq(t.root(), PossessionTree.hashPair(PossessionTree.hashSegment(PossessionTree.segment(t, 0)), t.zero[0]));
        assertTrue(harness.verify(t.proof("s"), t.root(), "s", 1));
    }

    function test_isRoot_requiresZeroTail() public pure {
        assertTrue(PossessionProof.isRoot(bytes32(uint256(1) << 64)));
        assertFalse(PossessionProof.isRoot(bytes32(uint256(1) << 63)));
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
}
