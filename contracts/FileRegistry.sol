// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IFileRegistry} from "./interfaces/IFileRegistry.sol";

/// @title Registry of owners' encrypted file metadata
/// @notice Each entry's ciphertext is emitted in an event; storage keeps one packed
///         slot (owner, updatedBlock, version) and the keccak256 commitment.
///         Only an entry's owner may replace, remove or transfer it.
contract FileRegistry is IFileRegistry {
    /*//////////////////////////////////////////////////////////////
                               CONSTANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Version of the registry's storage and event format.
    uint256 public constant VERSION = 1;
    /// @inheritdoc IFileRegistry
    uint256 public constant MAX_METADATA_BYTES = 16_384;

    /*//////////////////////////////////////////////////////////////
                                STORAGE
    //////////////////////////////////////////////////////////////*/

    uint256 private _fileCount;
    mapping(uint256 fileId => Entry) private _entries;

    /*//////////////////////////////////////////////////////////////
                               OPERATIONS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IFileRegistry
    function add(bytes calldata metadata) external returns (uint256 fileId) {
        bytes32 commitment = _commit(metadata);
        fileId = ++_fileCount;
        _entries[fileId] =
            Entry({owner: msg.sender, updatedBlock: uint64(block.number), version: 1, commitment: commitment});
        emit FileAdded(msg.sender, fileId, metadata);
    }

    /// @inheritdoc IFileRegistry
    function replace(uint256 fileId, bytes calldata metadata) external {
        Entry storage e = _owned(fileId);
        bytes32 commitment = _commit(metadata);
        uint32 version = e.version + 1;
        e.updatedBlock = uint64(block.number);
        e.version = version;
        e.commitment = commitment;
        emit FileReplaced(msg.sender, fileId, version, metadata);
    }

    /// @inheritdoc IFileRegistry
    function remove(uint256 fileId) external {
        _owned(fileId);
        delete _entries[fileId];
        emit FileRemoved(msg.sender, fileId);
    }

    /// @inheritdoc IFileRegistry
    function transfer(uint256 fileId, address to, bytes calldata metadata) external {
        Entry storage e = _owned(fileId);
        if (to == address(0) || to == msg.sender) revert InvalidRecipient(to);
        bytes32 commitment = _commit(metadata);
        uint32 version = e.version + 1;
        e.owner = to;
        e.updatedBlock = uint64(block.number);
        e.version = version;
        e.commitment = commitment;
        emit FileTransferred(fileId, msg.sender, to, version, metadata);
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IFileRegistry
    function entry(uint256 fileId) external view returns (Entry memory e) {
        e = _entries[fileId];
        if (e.owner == address(0)) revert UnknownFile(fileId);
    }

    /// @inheritdoc IFileRegistry
    function fileCount() external view returns (uint256) {
        return _fileCount;
    }

    /*//////////////////////////////////////////////////////////////
                            PRIVATE HELPERS
    //////////////////////////////////////////////////////////////*/

    function _owned(uint256 fileId) private view returns (Entry storage e) {
        e = _entries[fileId];
        address owner = e.owner;
        if (owner == address(0)) revert UnknownFile(fileId);
        if (owner != msg.sender) revert NotOwner(fileId, msg.sender, owner);
    }

    function _commit(bytes calldata metadata) private pure returns (bytes32) {
        if (metadata.length == 0) revert EmptyMetadata();
        if (metadata.length > MAX_METADATA_BYTES) revert MetadataTooLarge(metadata.length, MAX_METADATA_BYTES);
        return keccak256(metadata);
    }
}
