// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Possession proofs (format version 2, docs/trust.md "Possession tree")
/// @notice A shard of `size` bytes is cut into N = ceil(size / 128) segments (the last one
///         zero-padded); a binary tree of depth D = max(1, ceil(log2 N)) has 2^D leaves, those at
///         index >= N being the zero segment. H(x) = first 20 bytes of keccak256(x);
///         leaf = H(segment), node = H(left || right); the root is stored as bytes32(bytes20).
///         A challenge with seed s asks segments keccak256(abi.encode(s, j)) % N, j = 0..4.
///         A proof is the cap, the 2^C nodes at height D - C with C = min(3, D) (left to
///         right, 20 bytes each), then for each j the 128-byte segment followed by its D - C
///         siblings (20 bytes each) from the leaf level up.
library PossessionProof {
    /// @notice Bytes per segment.
    uint256 internal constant SEGMENT = 128;
    /// @notice Segments per challenge.
    uint256 internal constant SEGMENTS = 5;
    /// @notice Bytes per tree node.
    uint256 internal constant NODE = 20;
    /// @notice Levels under the root sent once per proof (the cap), at most D.
    uint256 internal constant CAP_LEVELS = 3;
    /// @dev Keeps the first 20 bytes of a word (a node), zeroes the last 12.
    uint256 private constant _NODE_MASK = 0xffffffffffffffffffffffffffffffffffffffff000000000000000000000000;

    /// @notice Whether `root` carries a node: its last 12 bytes are zero.
    function isRoot(bytes32 root) internal pure returns (bool) {
        return uint256(root) & ~_NODE_MASK == 0;
    }

    /// @notice N: the number of segments of a shard of `size` bytes.
    function segmentCount(uint256 size) internal pure returns (uint256) {
        return (size + SEGMENT - 1) / SEGMENT;
    }

    /// @notice D = max(1, ceil(log2 n)) for n >= 1: the bit length of n - 1, at least 1.
    function depth(uint256 n) internal pure returns (uint256 d) {
        uint256 x = n - 1;
        // floor(log2 x) by binary search over the bit positions (0 for x = 0), then + 1.
        assembly ("memory-safe") {
            d := shl(7, lt(0xffffffffffffffffffffffffffffffff, x))
            d := or(d, shl(6, lt(0xffffffffffffffff, shr(d, x))))
            d := or(d, shl(5, lt(0xffffffff, shr(d, x))))
            d := or(d, shl(4, lt(0xffff, shr(d, x))))
            d := or(d, shl(3, lt(0xff, shr(d, x))))
            d := or(d, shl(2, lt(0xf, shr(d, x))))
            d := or(d, shl(1, lt(0x3, shr(d, x))))
            d := add(or(d, lt(0x1, shr(d, x))), 1)
        }
    }

    /// @notice C = min(CAP_LEVELS, d): the levels of a tree of depth `d` carried by the cap.
    function capLevels(uint256 d) internal pure returns (uint256) {
        return d < CAP_LEVELS ? d : CAP_LEVELS;
    }

    /// @notice The exact length of a proof for a shard of `n` segments:
    ///         20 * 2^C + 5 * (128 + 20 * (D - C)).
    function proofLength(uint256 n) internal pure returns (uint256) {
        uint256 d = depth(n);
        uint256 c = capLevels(d);
        return (NODE << c) + SEGMENTS * (SEGMENT + NODE * (d - c));
    }

    /// @notice Index of challenged segment `j` among `n`.
    function index(bytes32 seed, uint256 j, uint256 n) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, j))) % n;
    }

    /// @notice The SEGMENTS indices a challenge with `seed` asks among `n` segments.
    function indices(bytes32 seed, uint256 n) internal pure returns (uint256[SEGMENTS] memory idx) {
        for (uint256 j; j < SEGMENTS; ++j) {
            idx[j] = index(seed, j, n);
        }
    }

    /// @notice Whether `proof` answers the challenge `seed` for a shard of `n` segments under `root`.
    /// @dev The hot path of fills and proofs, in assembly: calldata reads, hashing in the scratch
    ///      space (0x00-0x3f) and, for the cap and the 128-byte leaf, in free memory that is
    ///      never allocated. Nodes stay unmasked while hashed: a node is always written as a
    ///      full word and only its first 20 bytes are ever part of a hash input, so the mask is
    ///      applied once per comparison.
    function verify(bytes calldata proof, bytes32 root, bytes32 seed, uint256 n) internal pure returns (bool ok) {
        uint256 d = depth(n);
        uint256 c = capLevels(d);
        uint256 h = d - c; // levels each segment climbs to reach the cap
        if (proof.length != (NODE << c) + SEGMENTS * (SEGMENT + NODE * h)) return false;
        assembly ("memory-safe") {
            let cap := proof.offset
            let m := mload(0x40)
            // 1. The cap hashes up to the root: copy its 2^C packed nodes to memory and reduce
            //    them in place, level by level. Node i of the next level goes to m + 20 i: it
            //    overwrites only pairs already hashed (its 32-byte store ends at m + 20 i + 32
            //    <= m + 40 (i + 1), where pair i + 1 starts).
            calldatacopy(m, cap, shl(c, NODE))
            for { let width := shl(c, 1) } gt(width, 1) { width := shr(1, width) } {
                for { let i := 0 } lt(i, shr(1, width)) { i := add(i, 1) } {
                    mstore(add(m, mul(i, NODE)), keccak256(add(m, mul(i, 0x28)), 0x28))
                }
            }
            ok := eq(and(mload(m), _NODE_MASK), root)
            // 2. Each segment climbs h levels to the cap node above it.
            let p := add(cap, shl(c, NODE))
            for { let j := 0 } and(ok, lt(j, SEGMENTS)) { j := add(j, 1) } {
                // idx = uint256(keccak256(abi.encode(seed, j))) % n
                mstore(0x00, seed)
                mstore(0x20, j)
                let idx := mod(keccak256(0x00, 0x40), n)
                // leaf = H(segment)
                calldatacopy(m, p, SEGMENT)
                let node := keccak256(m, SEGMENT)
                p := add(p, SEGMENT)
                let end := add(p, mul(h, NODE))
                // One level: sib = the 20 bytes at p (calldataload reads 32); bit 0 of idx set
                // means we are the right child, swapped branch-free through x; H(left || right)
                // with left at 0x00 and right at 0x14 (overwriting left's last 12 bytes), bytes
                // 0x28.. (right's last 12) not hashed. An odd h climbs one level first, then
                // two levels per iteration (the loop's jump and counters cost as much as a hash).
                if and(h, 1) {
                    let sib := calldataload(p)
                    let x := mul(xor(node, sib), and(idx, 1))
                    mstore(0x00, xor(node, x))
                    mstore(0x14, xor(sib, x))
                    node := keccak256(0x00, 0x28)
                    idx := shr(1, idx)
                    p := add(p, NODE)
                }
                for {} lt(p, end) { p := add(p, 0x28) } {
                    let sib := calldataload(p)
                    let x := mul(xor(node, sib), and(idx, 1))
                    mstore(0x00, xor(node, x))
                    mstore(0x14, xor(sib, x))
                    node := keccak256(0x00, 0x28)
                    sib := calldataload(add(p, NODE))
                    x := mul(xor(node, sib), and(shr(1, idx), 1))
                    mstore(0x00, xor(node, x))
                    mstore(0x14, xor(sib, x))
                    node := keccak256(0x00, 0x28)
                    idx := shr(2, idx)
                }
                // idx is now the segment's index >> h: its node in the cap.
                ok := iszero(and(xor(node, calldataload(add(cap, mul(idx, NODE)))), _NODE_MASK))
            }
        }
    }
}
