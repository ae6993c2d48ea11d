// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Bitmaps of a bid's slots
/// @notice A bid has at most 32 slots; slot i is bit i of a uint32.
library SlotBits {
    /// @dev The bit of `slot`; 0 when `slot` is out of range (so no slot bit ever matches).
    function bit(uint256 slot) internal pure returns (uint32) {
        // forge-lint: disable-next-line(incorrect-shift,unsafe-typecast) -- 1 << slot < 2^32 for slot < 32
        return slot < 32 ? uint32(1 << slot) : 0;
    }

    /// @dev The low `slotCount` bits set (`slotCount` <= 32).
    function mask(uint256 slotCount) internal pure returns (uint32) {
        // forge-lint: disable-next-line(incorrect-shift) -- shifts 1 by slotCount, as intended
        return uint32((1 << slotCount) - 1);
    }

    /// @dev Number of bits set (SWAR popcount).
    function count(uint32 bits) internal pure returns (uint256 n) {
        uint256 x = bits;
        x = x - ((x >> 1) & 0x55555555);
        x = (x & 0x33333333) + ((x >> 2) & 0x33333333);
        x = (x + (x >> 4)) & 0x0F0F0F0F;
        n = (x * 0x01010101 >> 24) & 0xFF;
    }
}
