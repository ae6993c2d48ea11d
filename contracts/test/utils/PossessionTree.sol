// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @dev Test-only builder of possession trees (docs/trust.md "Possession tree", format version 2:
///      20-byte nodes, a cap of the C = min(3, D) levels under the root) that never holds
///      the whole shard: the data is periodic (segment i = f(salt, i mod 2^k)) for i < n and the
///      zero segment beyond, so any node is a node of one period's subtree, a full periodic
///      subtree (identical at each level >= k), an all-zero subtree, or the one node per level
///      that straddles n (recomputed). This builds trees of up to 2^25+ segments cheaply.
library PossessionTree {
    uint256 internal constant SEGMENT = 128;
    uint256 internal constant NODE = 20;
    uint256 internal constant CAP_LEVELS = 3;
    uint256 internal constant MASK = 0xffffffffffffffffffffffffffffffffffffffff000000000000000000000000;

    struct Tree {
        uint256 n; // segments
        uint256 d; // depth
        uint256 k; // the data repeats every 2^k segments
        bytes32 salt;
        bytes32[][] sub; // sub[l][i]: level-l nodes of one period's subtree, l <= k
        bytes32[] zero; // zero[l]: root of an all-zero subtree of height l
        bytes32[] top; // top[l], l >= k: root of a full periodic subtree of height l
    }

    function depth(uint256 n) internal pure returns (uint256 d) {
        d = 1;
        while ((uint256(1) << d) < n) ++d;
    }

    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes20(a), bytes20(b))) & bytes32(MASK);
    }

    function hashSegment(bytes memory seg) internal pure returns (bytes32) {
        return keccak256(seg) & bytes32(MASK);
    }

    /// @dev Raw segment j of the period (non-zero bytes, as real data would be).
    function periodSegment(bytes32 salt, uint256 j) internal pure returns (bytes memory seg) {
        seg = abi.encodePacked(
            keccak256(abi.encode(salt, j, 0)),
            keccak256(abi.encode(salt, j, 1)),
            keccak256(abi.encode(salt, j, 2)),
            keccak256(abi.encode(salt, j, 3))
        );
    }

    function segment(Tree memory t, uint256 i) internal pure returns (bytes memory) {
        if (i >= t.n) return new bytes(SEGMENT);
        return periodSegment(t.salt, i & ((uint256(1) << t.k) - 1));
    }

    function build(bytes32 salt, uint256 n, uint256 k) internal pure returns (Tree memory t) {
        t.n = n;
        t.d = depth(n);
        if (k > t.d) k = t.d;
        t.k = k;
        t.salt = salt;
        t.zero = new bytes32[](t.d + 1);
        t.zero[0] = hashSegment(new bytes(SEGMENT));
        for (uint256 l; l < t.d; ++l) {
            t.zero[l + 1] = hashPair(t.zero[l], t.zero[l]);
        }
        t.sub = new bytes32[][](k + 1);
        t.sub[0] = new bytes32[](uint256(1) << k);
        for (uint256 j; j < t.sub[0].length; ++j) {
            t.sub[0][j] = hashSegment(periodSegment(salt, j));
        }
        for (uint256 l = 1; l <= k; ++l) {
            t.sub[l] = new bytes32[](uint256(1) << (k - l));
            for (uint256 j; j < t.sub[l].length; ++j) {
                t.sub[l][j] = hashPair(t.sub[l - 1][2 * j], t.sub[l - 1][2 * j + 1]);
            }
        }
        t.top = new bytes32[](t.d + 1);
        t.top[k] = t.sub[k][0];
        for (uint256 l = k; l < t.d; ++l) {
            t.top[l + 1] = hashPair(t.top[l], t.top[l]);
        }
    }

    function node(Tree memory t, uint256 l, uint256 p) internal pure returns (bytes32) {
        uint256 start = p << l;
        uint256 end = (p + 1) << l;
        if (start >= t.n) return t.zero[l];
        if (end <= t.n) {
            if (l >= t.k) return t.top[l];
            return t.sub[l][p & ((uint256(1) << (t.k - l)) - 1)];
        }
        return hashPair(node(t, l - 1, 2 * p), node(t, l - 1, 2 * p + 1));
    }

    function root(Tree memory t) internal pure returns (bytes32) {
        return node(t, t.d, 0);
    }

    function index(bytes32 seed, uint256 j, uint256 n) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, j))) % n;
    }

    /// @dev C = min(3, d): the levels under the root that the cap carries.
    function capLevels(Tree memory t) internal pure returns (uint256) {
        return t.d < CAP_LEVELS ? t.d : CAP_LEVELS;
    }

    /// @dev The cap: the 2^C nodes at height d - C, left to right, 20 bytes each.
    function cap(Tree memory t) internal pure returns (bytes memory out) {
        uint256 c = capLevels(t);
        for (uint256 i; i < (uint256(1) << c); ++i) {
            out = bytes.concat(out, bytes20(node(t, t.d - c, i)));
        }
    }

    /// @dev The item of leaf `idx`: its segment then its d - C siblings, leaf level first.
    function path(Tree memory t, uint256 idx) internal pure returns (bytes memory out) {
        out = segment(t, idx);
        for (uint256 l; l < t.d - capLevels(t); ++l) {
            out = bytes.concat(out, bytes20(node(t, l, (idx >> l) ^ 1)));
        }
    }

    /// @dev The proof answering challenge `seed`: the cap, then the item of each challenged leaf.
    function proof(Tree memory t, bytes32 seed) internal pure returns (bytes memory out) {
        out = cap(t);
        for (uint256 j; j < 5; ++j) {
            out = bytes.concat(out, path(t, index(seed, j, t.n)));
        }
    }

    /// @dev Bytes of the cap, and of one item (segment + siblings): the proof's layout.
    function layout(Tree memory t) internal pure returns (uint256 capBytes, uint256 itemBytes) {
        uint256 c = capLevels(t);
        capBytes = NODE << c;
        itemBytes = SEGMENT + NODE * (t.d - c);
    }

    /// @dev Root of arbitrary data (small sizes only): the reference for the shared vectors.
    function rootOf(bytes memory data) internal pure returns (bytes32) {
        uint256 n = (data.length + SEGMENT - 1) / SEGMENT;
        uint256 d = depth(n);
        bytes32[] memory level = new bytes32[](uint256(1) << d);
        for (uint256 i; i < level.length; ++i) {
            bytes memory seg = new bytes(SEGMENT);
            for (uint256 b; b < SEGMENT && i * SEGMENT + b < data.length; ++b) {
                seg[b] = data[i * SEGMENT + b];
            }
            level[i] = hashSegment(seg);
        }
        for (uint256 width = level.length; width > 1; width /= 2) {
            for (uint256 i; i < width / 2; ++i) {
                level[i] = hashPair(level[2 * i], level[2 * i + 1]);
            }
        }
        return level[0];
    }
}
