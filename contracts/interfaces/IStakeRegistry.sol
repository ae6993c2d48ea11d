// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Stake registry of Scatter hosters and validators
/// @notice Nodes join with an ETH stake and a public endpoint, may top up, announce
///         an exit, and take their stake back after the exit delay once no
///         collateral of theirs is locked in a deal. One address may hold one
///         registration per role. Stakes leave through the pull-payment ledger.
interface IStakeRegistry {
    /*//////////////////////////////////////////////////////////////
                                 TYPES
    //////////////////////////////////////////////////////////////*/

    enum Role {
        Hoster,
        Validator
    }

    enum NodeStatus {
        None,
        Active,
        Exiting
    }

    /// @dev Two storage slots: (stake, locked) and (capacity, exitAt, status, joinedAt); endpoint apart.
    struct Node {
        uint128 stake; // wei staked, including `locked`
        uint128 locked; // wei of `stake` locked as deal collateral (hosters only)
        uint64 capacity; // bytes offered (hosters; informational)
        uint64 exitAt; // unix time after which `exit` may be called; 0 while active
        NodeStatus status;
        uint64 joinedAt; // unix time of join (validators are eligible validatorBondingSeconds later)
        string endpoint; // public URL (hoster: trustless gateway; validator: attestation API)
    }

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    error AlreadyRegistered(address account, Role role);
    error NotRegistered(address account, Role role);
    error NotActive(address account, Role role);
    error InsufficientStake(uint256 have, uint256 need);
    error InvalidEndpoint();
    error ExitNotAnnounced(address account, Role role);
    error ExitDelayNotOver(uint256 nowTime, uint256 exitAt);
    error StakeLocked(uint256 locked);
    error ZeroValue();

    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    event NodeJoined(address indexed account, Role indexed role, uint256 stake, uint64 capacity, string endpoint);
    event NodeUpdated(address indexed account, Role indexed role, uint64 capacity, string endpoint);
    event StakeAdded(address indexed account, Role indexed role, uint256 amount, uint256 stake);
    event ExitAnnounced(address indexed account, Role indexed role, uint64 exitAt);
    event NodeExited(address indexed account, Role indexed role, uint256 stakeReturned);

    /*//////////////////////////////////////////////////////////////
                               OPERATIONS
    //////////////////////////////////////////////////////////////*/

    /// @notice Register the caller in `role` with msg.value as stake (>= the role's minimum).
    function join(Role role, string calldata endpoint, uint64 capacity) external payable;

    /// @notice Change the caller's endpoint and capacity.
    function updateNode(Role role, string calldata endpoint, uint64 capacity) external;

    /// @notice Add msg.value to the caller's stake.
    function topUp(Role role) external payable;

    /// @notice Start the exit: the node takes no new deals (hoster) and its
    ///         signatures stop counting (validator); `exit` is possible after the delay.
    function announceExit(Role role) external;

    /// @notice After the exit delay and with nothing locked, credit the whole stake
    ///         to the caller's withdrawable balance and deregister.
    function exit(Role role) external;

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    function node(Role role, address account) external view returns (Node memory);

    /// @notice Stake not locked as collateral (0 unless Active).
    function freeStake(Role role, address account) external view returns (uint256);

    /// @notice Active validator whose stake is at least the minimum and that joined at least
    ///         the bonding period ago.
    function isEligibleValidator(address account) external view returns (bool);

    /// @notice Σ stake of Active validators whose stake is at least the minimum (bonded or
    ///         not): the denominator of committee sortition.
    function totalValidatorStake() external view returns (uint256);

    /// @notice Number of addresses ever registered in `role` (exited ones included).
    function nodeCount(Role role) external view returns (uint256);

    /// @notice Addresses registered in `role`, `limit` at most from `offset` (discovery).
    function nodesPage(Role role, uint256 offset, uint256 limit) external view returns (address[] memory);
}
