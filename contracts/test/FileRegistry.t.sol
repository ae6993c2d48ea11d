// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";

import {FileRegistry} from "../FileRegistry.sol";
import {IFileRegistry} from "../interfaces/IFileRegistry.sol";

contract FileRegistryTest is Test {
    FileRegistry internal files;
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");

    function setUp() public {
        vm.roll(10);
        files = new FileRegistry();
    }

    function test_add_storesCommitmentAndEmitsCiphertext() public {
        bytes memory meta = hex"deadbeef";
        vm.expectEmit(address(files));
        emit IFileRegistry.FileAdded(alice, 1, meta);
        vm.prank(alice);
        uint256 id = files.add(meta);
        assertEq(id, 1);
        assertEq(files.fileCount(), 1);
        IFileRegistry.Entry memory e = files.entry(id);
        assertEq(e.owner, alice);
        assertEq(e.updatedBlock, 10);
        assertEq(e.version, 1);
        assertEq(e.commitment, keccak256(meta));
        assertEq(files.MAX_METADATA_BYTES(), 16_384);
        assertEq(files.VERSION(), 1);
    }

    function test_add_idsAreGlobalAndSequential() public {
        vm.prank(alice);
        files.add(hex"01");
        vm.prank(bob);
        assertEq(files.add(hex"02"), 2);
    }

    function test_add_revertsOnEmptyMetadata() public {
        vm.expectRevert(IFileRegistry.EmptyMetadata.selector);
        files.add("");
    }

    function test_add_revertsOnOversizedMetadata() public {
        vm.expectRevert(abi.encodeWithSelector(IFileRegistry.MetadataTooLarge.selector, 16_385, 16_384));
        files.add(new bytes(16_385));
        files.add(new bytes(16_384));
    }

    function test_replace_bumpsVersionAndCommitment() public {
        vm.prank(alice);
        uint256 id = files.add(hex"01");
        vm.roll(20);
        vm.expectEmit(address(files));
        emit IFileRegistry.FileReplaced(alice, id, 2, hex"0202");
        vm.prank(alice);
        files.replace(id, hex"0202");
        IFileRegistry.Entry memory e = files.entry(id);
        assertEq(e.version, 2);
        assertEq(e.updatedBlock, 20);
        assertEq(e.commitment, keccak256(hex"0202"));
    }

    function test_replace_revertsForNonOwner() public {
        vm.prank(alice);
        uint256 id = files.add(hex"01");
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(IFileRegistry.NotOwner.selector, id, bob, alice));
        files.replace(id, hex"02");
    }

    function test_replace_revertsOnUnknownFile() public {
        vm.expectRevert(abi.encodeWithSelector(IFileRegistry.UnknownFile.selector, 1));
        files.replace(1, hex"02");
    }

    function test_replace_revertsOnEmptyMetadata() public {
        vm.startPrank(alice);
        uint256 id = files.add(hex"01");
        vm.expectRevert(IFileRegistry.EmptyMetadata.selector);
        files.replace(id, "");
        vm.stopPrank();
    }

    function test_remove_deletesEntry() public {
        vm.prank(alice);
        uint256 id = files.add(hex"01");
        vm.expectEmit(address(files));
        emit IFileRegistry.FileRemoved(alice, id);
        vm.prank(alice);
        files.remove(id);
        vm.expectRevert(abi.encodeWithSelector(IFileRegistry.UnknownFile.selector, id));
        files.entry(id);
        assertEq(files.fileCount(), 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IFileRegistry.UnknownFile.selector, id));
        files.remove(id);
    }

    function test_remove_revertsForNonOwner() public {
        vm.prank(alice);
        uint256 id = files.add(hex"01");
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(IFileRegistry.NotOwner.selector, id, bob, alice));
        files.remove(id);
    }

    function test_transfer_changesOwnerWithNewCiphertext() public {
        vm.prank(alice);
        uint256 id = files.add(hex"01");
        vm.expectEmit(address(files));
        emit IFileRegistry.FileTransferred(id, alice, bob, 2, hex"b0b0");
        vm.prank(alice);
        files.transfer(id, bob, hex"b0b0");
        IFileRegistry.Entry memory e = files.entry(id);
        assertEq(e.owner, bob);
        assertEq(e.version, 2);
        assertEq(e.commitment, keccak256(hex"b0b0"));
        // the old owner lost control, the new one has it
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IFileRegistry.NotOwner.selector, id, alice, bob));
        files.replace(id, hex"02");
        vm.prank(bob);
        files.replace(id, hex"03");
    }

    function test_transfer_revertsOnZeroOrSelfRecipient() public {
        vm.startPrank(alice);
        uint256 id = files.add(hex"01");
        vm.expectRevert(abi.encodeWithSelector(IFileRegistry.InvalidRecipient.selector, address(0)));
        files.transfer(id, address(0), hex"02");
        vm.expectRevert(abi.encodeWithSelector(IFileRegistry.InvalidRecipient.selector, alice));
        files.transfer(id, alice, hex"02");
        vm.stopPrank();
    }

    function test_transfer_revertsForNonOwnerOrUnknown() public {
        vm.prank(alice);
        uint256 id = files.add(hex"01");
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(IFileRegistry.NotOwner.selector, id, bob, alice));
        files.transfer(id, bob, hex"02");
        vm.expectRevert(abi.encodeWithSelector(IFileRegistry.UnknownFile.selector, 9));
        files.transfer(9, bob, hex"02");
    }

    function test_transfer_revertsOnOversizedMetadata() public {
        vm.startPrank(alice);
        uint256 id = files.add(hex"01");
        vm.expectRevert(abi.encodeWithSelector(IFileRegistry.MetadataTooLarge.selector, 16_385, 16_384));
        files.transfer(id, bob, new bytes(16_385));
        vm.stopPrank();
    }

    function testFuzz_add_commitsToAnyMetadata(address owner, bytes calldata meta) public {
        vm.assume(owner != address(0));
        vm.assume(meta.length > 0 && meta.length <= 16_384);
        vm.prank(owner);
        uint256 id = files.add(meta);
        IFileRegistry.Entry memory e = files.entry(id);
        assertEq(e.owner, owner);
        assertEq(e.commitment, keccak256(meta));
    }

    function testFuzz_onlyOwnerChangesEntry(address owner, address other, bytes calldata meta) public {
        vm.assume(owner != address(0) && other != owner);
        vm.assume(meta.length > 0 && meta.length <= 16_384);
        vm.prank(owner);
        uint256 id = files.add(hex"01");
        vm.startPrank(other);
        vm.expectRevert(abi.encodeWithSelector(IFileRegistry.NotOwner.selector, id, other, owner));
        files.replace(id, meta);
        vm.expectRevert(abi.encodeWithSelector(IFileRegistry.NotOwner.selector, id, other, owner));
        files.transfer(id, other, meta);
        vm.expectRevert(abi.encodeWithSelector(IFileRegistry.NotOwner.selector, id, other, owner));
        files.remove(id);
        vm.stopPrank();
    }
}
