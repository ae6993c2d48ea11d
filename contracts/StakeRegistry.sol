// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IStakeRegistry} from "./interfaces/IStakeRegistry.sol";

/// @title Stake registry of Scatter hosters and validators
/// @notice Registration, stake and exit of nodes, one registration per (role, address).
///         Stakes never leave this contract directly: `exit` credits them to the
///         pull-payment ledger of the inheriting contract (`_credit`), which also
///         holds the ETH.
/// @dev Storage of the registry is part of the market's layout (see MarketBase): the Market
///      and its MarketExtension both inherit it first-hand through MarketBase.
///      Abstract: the inheriting market supplies the minimum stakes, the exit delay
///      and the ledger. Collateral is locked and slashed through `_lock`, `_unlock`
///      and `_slash`.
abstract contract StakeRegistry is IStakeRegistry {
    /*//////////////////////////////////////////////////////////////
                               CONSTANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Longest endpoint URL accepted, in bytes.
    uint256 public constant MAX_ENDPOINT_BYTES = 256;

    /*//////////////////////////////////////////////////////////////
                                STORAGE
    //////////////////////////////////////////////////////////////*/

    mapping(Role role => mapping(address account => Node)) private _nodes;
    /// @dev Append-only discovery list: an address is pushed the first time it joins a role.
    mapping(Role role => address[]) private _nodeList;
    mapping(Role role => mapping(address account => bool)) private _listed;
    /// @dev Σ stake of Active validators with stake >= the minimum (see `_counted`).
    uint256 private _validatorStake;

    /*//////////////////////////////////////////////////////////////
                               OPERATIONS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IStakeRegistry
    function join(Role role, string calldata endpoint, uint64 capacity) external payable virtual {
        _onlyViaMarket();
        Node storage n = _nodes[role][msg.sender];
        if (n.status != NodeStatus.None) revert AlreadyRegistered(msg.sender, role);
        _checkEndpoint(endpoint);
        uint256 minimum = _minStake(role);
        if (msg.value < minimum) revert InsufficientStake(msg.value, minimum);

        n.stake = uint128(msg.value); // msg.value cannot exceed the ETH supply (< 2^128)
        n.capacity = capacity;
        n.status = NodeStatus.Active;
        n.joinedAt = uint64(block.timestamp);
        n.endpoint = endpoint;
        if (role == Role.Validator) _validatorStake += msg.value;
        if (!_listed[role][msg.sender]) {
            _listed[role][msg.sender] = true;
            _nodeList[role].push(msg.sender);
        }
        emit NodeJoined(msg.sender, role, msg.value, capacity, endpoint);
    }

    /// @inheritdoc IStakeRegistry
    function updateNode(Role role, string calldata endpoint, uint64 capacity) external virtual {
        _onlyViaMarket();
        Node storage n = _registered(role, msg.sender);
        _checkEndpoint(endpoint);
        n.capacity = capacity;
        n.endpoint = endpoint;
        emit NodeUpdated(msg.sender, role, capacity, endpoint);
    }

    /// @inheritdoc IStakeRegistry
    function topUp(Role role) external payable virtual {
        _onlyViaMarket();
        if (msg.value == 0) revert ZeroValue();
        Node storage n = _registered(role, msg.sender);
        uint128 stake = n.stake + uint128(msg.value);
        if (role == Role.Validator && n.status == NodeStatus.Active) _recount(n, stake);
        n.stake = stake;
        emit StakeAdded(msg.sender, role, msg.value, stake);
    }

    /// @inheritdoc IStakeRegistry
    function announceExit(Role role) external virtual {
        _onlyViaMarket();
        Node storage n = _registered(role, msg.sender);
        if (n.status != NodeStatus.Active) revert NotActive(msg.sender, role);
        if (role == Role.Validator && _counted(n.stake)) _validatorStake -= n.stake;
        uint64 exitAt = uint64(block.timestamp) + _exitDelay();
        n.exitAt = exitAt;
        n.status = NodeStatus.Exiting;
        emit ExitAnnounced(msg.sender, role, exitAt);
    }

    /// @inheritdoc IStakeRegistry
    function exit(Role role) external virtual {
        _onlyViaMarket();
        Node storage n = _registered(role, msg.sender);
        if (n.status != NodeStatus.Exiting) revert ExitNotAnnounced(msg.sender, role);
        // forge-lint: disable-next-line(block-timestamp) -- a delay of hours/days; seconds of drift do not matter
        if (block.timestamp < n.exitAt) revert ExitDelayNotOver(block.timestamp, n.exitAt);
        if (n.locked != 0) revert StakeLocked(n.locked);

        uint256 stake = n.stake;
        delete _nodes[role][msg.sender];
        emit NodeExited(msg.sender, role, stake);
        _credit(msg.sender, stake);
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IStakeRegistry
    function node(Role role, address account) external view virtual returns (Node memory) {
        return _nodes[role][account];
    }

    /// @inheritdoc IStakeRegistry
    function freeStake(Role role, address account) public view returns (uint256) {
        Node storage n = _nodes[role][account];
        if (n.status != NodeStatus.Active) return 0;
        return n.stake - n.locked;
    }

    /// @inheritdoc IStakeRegistry
    function isEligibleValidator(address account) public view returns (bool) {
        Node storage n = _nodes[Role.Validator][account];
        return n.status == NodeStatus.Active && n.stake >= _minStake(Role.Validator)
            // forge-lint: disable-next-line(block-timestamp) -- a bonding period of days; seconds do not matter
            && block.timestamp >= uint256(n.joinedAt) + _bondingSeconds();
    }

    /// @inheritdoc IStakeRegistry
    function totalValidatorStake() public view returns (uint256) {
        return _validatorStake;
    }

    /// @inheritdoc IStakeRegistry
    function nodeCount(Role role) external view virtual returns (uint256) {
        return _nodeList[role].length;
    }

    /// @inheritdoc IStakeRegistry
    function nodesPage(Role role, uint256 offset, uint256 limit) external view virtual returns (address[] memory page) {
        address[] storage list = _nodeList[role];
        uint256 len = list.length;
        if (offset >= len) return new address[](0);
        uint256 end = len - offset < limit ? len : offset + limit;
        page = new address[](end - offset);
        for (uint256 i; i < page.length; ++i) {
            page[i] = list[offset + i];
        }
    }

    /*//////////////////////////////////////////////////////////////
                          INTERNAL OPERATIONS
    //////////////////////////////////////////////////////////////*/

    /// @dev Lock `amount` of an Active hoster's free stake as deal collateral; returns it as uint128.
    function _lock(address hoster, uint256 amount) internal returns (uint128 locked) {
        Node storage n = _nodes[Role.Hoster][hoster];
        if (n.status == NodeStatus.None) revert NotRegistered(hoster, Role.Hoster);
        if (n.status != NodeStatus.Active) revert NotActive(hoster, Role.Hoster);
        uint256 free = n.stake - n.locked;
        if (amount > free) revert InsufficientStake(free, amount);
        // forge-lint: disable-next-line(unsafe-typecast) -- amount <= free stake < 2^128
        locked = uint128(amount);
        n.locked += locked;
    }

    /// @dev Release collateral of a finished deal.
    function _unlock(address hoster, uint128 amount) internal {
        _nodes[Role.Hoster][hoster].locked -= amount;
    }

    /// @dev Burn locked collateral out of a hoster's stake; the caller credits it elsewhere.
    function _slash(address hoster, uint128 amount) internal {
        Node storage n = _nodes[Role.Hoster][hoster];
        n.stake -= amount;
        n.locked -= amount;
    }

    /// @dev Stake of a node (0 if unregistered).
    function _nodeStake(Role role, address account) internal view returns (uint256) {
        return _nodes[role][account].stake;
    }

    /// @dev Whether `account` is registered and Active in `role`.
    function _isActive(Role role, address account) internal view returns (bool) {
        return _nodes[role][account].status == NodeStatus.Active;
    }

    /// @dev Take up to `amount` of a validator's stake (any status); returns what was taken.
    ///      The caller credits it elsewhere.
    function _slashValidator(address validator, uint256 amount) internal returns (uint128 taken) {
        Node storage n = _nodes[Role.Validator][validator];
        uint128 stake = n.stake;
        // forge-lint: disable-next-line(unsafe-typecast) -- bounded by stake (uint128)
        taken = amount < stake ? uint128(amount) : stake;
        if (n.status == NodeStatus.Active) _recount(n, stake - taken);
        n.stake = stake - taken;
    }

    /// @dev The validator's stake changes to `stake` while Active: keep `_validatorStake` exact.
    function _recount(Node storage n, uint128 stake) private {
        uint256 total = _validatorStake;
        if (_counted(n.stake)) total -= n.stake;
        if (_counted(stake)) total += stake;
        _validatorStake = total;
    }

    /// @dev Whether an Active validator's `stake` counts in the sortition total.
    function _counted(uint256 stake) private view returns (bool) {
        return stake >= _minStake(Role.Validator);
    }

    /*//////////////////////////////////////////////////////////////
                             HOOKS (MARKET)
    //////////////////////////////////////////////////////////////*/

    /// @dev Minimum stake to join `role`.
    function _minStake(Role role) internal view virtual returns (uint256);

    /// @dev Seconds after `join` before a validator is eligible.
    function _bondingSeconds() internal view virtual returns (uint64);

    /// @dev Seconds between `announceExit` and `exit`.
    function _exitDelay() internal view virtual returns (uint64);

    /// @dev Credit `amount` wei to `account` in the pull-payment ledger.
    function _credit(address account, uint256 amount) internal virtual;

    /// @dev Called first by every operation above. The deployed Market overrides the operations
    ///      with forwarders to its MarketExtension, whose override of this hook refuses calls
    ///      that do not come through the Market (delegatecall).
    function _onlyViaMarket() internal view virtual;

    /*//////////////////////////////////////////////////////////////
                            PRIVATE HELPERS
    //////////////////////////////////////////////////////////////*/

    function _registered(Role role, address account) private view returns (Node storage n) {
        n = _nodes[role][account];
        if (n.status == NodeStatus.None) revert NotRegistered(account, role);
    }

    function _checkEndpoint(string calldata endpoint) private pure {
        uint256 len = bytes(endpoint).length;
        if (len == 0 || len > MAX_ENDPOINT_BYTES) revert InvalidEndpoint();
    }
}
