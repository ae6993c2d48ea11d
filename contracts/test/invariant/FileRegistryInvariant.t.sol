// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";

import {FileRegistry} from "../../FileRegistry.sol";
import {IFileRegistry} from "../../interfaces/IFileRegistry.sol";

/// @notice Random callers (owners or not) add, replace, remove and transfer entries; the ghost
///         model changes only on calls by the ghost owner.
contract FileRegistryHandler is Test {
    FileRegistry public immutable files;
    address[] public actors;

    struct Ghost {
        address owner;
        uint32 version;
        bytes32 commitment;
    }

    mapping(uint256 fileId => Ghost) public ghost;
    bool public ghostNonOwnerChanged;

    constructor(FileRegistry files_) {
        files = files_;
        for (uint256 i; i < 4; ++i) {
            actors.push(makeAddr(string.concat("owner", vm.toString(i))));
        }
    }

    function add(uint256 actorSeed, bytes calldata metadata) external {
        if (metadata.length == 0 || metadata.length > 1024) return;
        address a = actors[actorSeed % actors.length];
        vm.prank(a);
        uint256 id = files.add(metadata);
        ghost[id] = Ghost(a, 1, keccak256(metadata));
    }

    function replace(uint256 actorSeed, uint256 fileSeed, bytes calldata metadata) external {
        (address a, uint256 id) = _pick(actorSeed, fileSeed);
        if (id == 0 || metadata.length == 0 || metadata.length > 1024) return;
        vm.prank(a);
        try files.replace(id, metadata) {
            if (a != ghost[id].owner) ghostNonOwnerChanged = true;
            ghost[id].version += 1;
            ghost[id].commitment = keccak256(metadata);
        } catch {}
    }

    function remove(uint256 actorSeed, uint256 fileSeed) external {
        (address a, uint256 id) = _pick(actorSeed, fileSeed);
        if (id == 0) return;
        vm.prank(a);
        try files.remove(id) {
            if (a != ghost[id].owner) ghostNonOwnerChanged = true;
            delete ghost[id];
        } catch {}
    }

    function transfer(uint256 actorSeed, uint256 fileSeed, uint256 toSeed, bytes calldata metadata) external {
        (address a, uint256 id) = _pick(actorSeed, fileSeed);
        if (id == 0 || metadata.length == 0 || metadata.length > 1024) return;
        address to = actors[toSeed % actors.length];
        vm.prank(a);
        try files.transfer(id, to, metadata) {
            if (a != ghost[id].owner) ghostNonOwnerChanged = true;
            ghost[id] = Ghost(to, ghost[id].version + 1, keccak256(metadata));
        } catch {}
    }

    function _pick(uint256 actorSeed, uint256 fileSeed) private view returns (address, uint256) {
        uint256 count = files.fileCount();
        if (count == 0) return (address(0), 0);
        return (actors[actorSeed % actors.length], fileSeed % count + 1);
    }
}

/// @notice PROTOCOL.md invariant 5: only an entry's owner changes file-registry entries.
contract FileRegistryInvariantTest is Test {
    FileRegistry internal files;
    FileRegistryHandler internal handler;

    function setUp() public {
        files = new FileRegistry();
        handler = new FileRegistryHandler(files);
        targetContract(address(handler));
    }

    function invariant_onlyOwnersChangeEntries() public {
        assertFalse(handler.ghostNonOwnerChanged());
        for (uint256 id = 1; id <= files.fileCount(); ++id) {
            (address owner, uint32 version, bytes32 commitment) = handler.ghost(id);
            if (owner == address(0)) {
                vm.expectRevert(abi.encodeWithSelector(IFileRegistry.UnknownFile.selector, id));
                files.entry(id);
                continue;
            }
            IFileRegistry.Entry memory e = files.entry(id);
            assertEq(e.owner, owner);
            assertEq(e.version, version);
            assertEq(e.commitment, commitment);
        }
    }
}
