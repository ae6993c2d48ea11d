// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Registry of owners' encrypted file metadata
/// @notice The ciphertext of each entry lives in the event log; storage keeps its
///         keccak256 commitment and the block of the latest event, so a reader
///         finds and checks it with one eth_getLogs. Only an entry's owner may
///         replace, remove or transfer it.
interface IFileRegistry {
    struct Entry {
        address owner;
        uint64 updatedBlock; // block of the event holding the current ciphertext
        uint32 version; // 1 on add, +1 on every replace or transfer
        bytes32 commitment; // keccak256 of the current ciphertext
    }

    error EmptyMetadata();
    error MetadataTooLarge(uint256 size, uint256 max);
    error UnknownFile(uint256 fileId);
    error NotOwner(uint256 fileId, address caller, address owner);
    error InvalidRecipient(address to);

    event FileAdded(address indexed owner, uint256 indexed fileId, bytes metadata);
    event FileReplaced(address indexed owner, uint256 indexed fileId, uint32 version, bytes metadata);
    event FileRemoved(address indexed owner, uint256 indexed fileId);
    event FileTransferred(uint256 indexed fileId, address indexed from, address indexed to, uint32 version, bytes metadata);

    /// @notice Add an entry owned by the caller; returns its id (ids start at 1).
    function add(bytes calldata metadata) external returns (uint256 fileId);

    /// @notice Owner: replace an entry's ciphertext.
    function replace(uint256 fileId, bytes calldata metadata) external;

    /// @notice Owner: delete an entry.
    function remove(uint256 fileId) external;

    /// @notice Owner: give an entry to `to`, with a ciphertext the recipient can read.
    function transfer(uint256 fileId, address to, bytes calldata metadata) external;

    function entry(uint256 fileId) external view returns (Entry memory);
    function fileCount() external view returns (uint256);
    function MAX_METADATA_BYTES() external view returns (uint256);
}
