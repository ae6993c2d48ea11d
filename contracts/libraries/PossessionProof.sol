// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Possession proofs (format version 1, docs/trust.md "Possession tree")
/// @notice A shard of `size` bytes is cut into N = ceil(size / 128) segments (the last one
///         zero-padded); a binary tree of depth D = max(1, ceil(log2 N)) has 2^D leaves, those at
///         index >= N being the zero segment. H(x) = first 24 bytes of keccak256(x);
///         leaf = H(segment), node = H(left || right); the root is stored as bytes32(bytes24).
///         A challenge with seed s asks segments keccak256(abi.encode(s, j)) % N, j = 0..4; a
///         proof is, for each j, the 128-byte segment followed by its D siblings (24 bytes each)
///         from the leaf level up.
library PossessionProof {
    /// @notice Bytes per segment.
    uint256 internal constant SEGMENT = 128;
    /// @notice Segments per challenge.
    uint256 internal constant SEGMENTS = 5;
    /// @notice Bytes per tree node.
    uint256 internal constant NODE = 24;
    /// @dev Keeps the first 24 bytes of a word (a node), zeroes the last 8.
    uint256 private constant _NODE_MASK = 0xffffffffffffffffffffffffffffffffffffffffffffffff0000000000000000;

    /// @notice Whether `root` carries a node: its last 8 bytes are zero.
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
    ///      space (0x00-0x3f) and, for the 128-byte leaf, in free memory that is never allocated.
    function verify(bytes calldata proof, bytes32 root, bytes32 seed, uint256 n) internal pure returns (bool ok) {
        uint256 d = depth(n);
        if (proof.length != SEGMENTS * (SEGMENT + NODE * d)) return false;
        assembly ("memory-safe") {
            let p := proof.offset
            let m := mload(0x40)
            ok := 1
            for { let j := 0 } lt(j, SEGMENTS) { j := add(j, 1) } {
                // idx = uint256(keccak256(abi.encode(seed, j))) % n
                mstore(0x00, seed)
                mstore(0x20, j)
                let idx := mod(keccak256(0x00, 0x40), n)
                // leaf = H(segment). Nodes stay unmasked while climbing: only their first 24
                // bytes are ever hashed (see below), so the mask is applied once, at the root.
                calldatacopy(m, p, SEGMENT)
                let node := keccak256(m, SEGMENT)
                p := add(p, SEGMENT)
                let end := add(p, mul(d, NODE))
                // One level: sib = the 24 bytes at p (calldataload reads 32); bit 0 of idx set
                // means we are the right child, swapped branch-free through x; H(left || right)
                // with left at 0x00 and right at 0x18 (overwriting left's last 8 bytes), bytes
                // 0x30.. (right's last 8) not hashed. An odd depth climbs one level first, then
                // two levels per iteration (the loop's jump and counters cost as much as a hash).
                if and(d, 1) {
                    let sib := calldataload(p)
                    let x := mul(xor(node, sib), and(idx, 1))
                    mstore(0x00, xor(node, x))
                    mstore(0x18, xor(sib, x))
                    node := keccak256(0x00, 0x30)
                    idx := shr(1, idx)
                    p := add(p, NODE)
                }
                for {} lt(p, end) { p := add(p, 0x30) } {
                    let sib := calldataload(p)
                    let x := mul(xor(node, sib), and(idx, 1))
                    mstore(0x00, xor(node, x))
                    mstore(0x18, xor(sib, x))
                    node := keccak256(0x00, 0x30)
                    sib := calldataload(add(p, NODE))
                    x := mul(xor(node, sib), and(shr(1, idx), 1))
                    mstore(0x00, xor(node, x))
                    mstore(0x18, xor(sib, x))
                    node := keccak256(0x00, 0x30)
                    idx := shr(2, idx)
                }
                node := and(node, _NODE_MASK)
                if iszero(eq(node, root)) {
                    ok := 0
                    break
                }
            }
        }
    }
}
