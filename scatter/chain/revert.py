"""Turn revert data into one readable line naming the contract's custom error."""

from __future__ import annotations

from functools import cache

from eth_abi.abi import decode as abi_decode
from eth_utils.abi import function_signature_to_4byte_selector

from scatter.chain._abi import abi_type
from scatter.chain.artifacts import DEPLOYABLE, load_artifact
from scatter.errors import ContractError

_ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
_PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)

# What to do next, for the errors a user meets most.
HINTS: dict[str, str] = {
    "WrongEscrow": "send exactly price x slots x epochs",
    "InsufficientStake": "top up the stake (scatter stake top-up) or take a smaller deal",
    "NotRegistered": "join the registry first",
    "SlotNotOpen": "the slot was taken or cancelled; pick another",
    "SlotIsReserved": "another hoster holds the slot until its reservation expires",
    "HosterAlreadyInBid": "one hoster may hold one live slot of a bid",
    "CollateralTooHigh": "the slot's terms changed since you looked; read them again",
    "InvalidSeedBlock": "prove over a block of the last 128, mined before this transaction",
    "InvalidProof": "the proof does not match the slot's possession root: check the content",
    "RangeCrossesPeriod": "settle each committee period separately",
    "NotInCommittee": "only validators drawn into the deal's committee for that period may sign",
    "ChallengePending": "answer the open challenge first; epochs from its epoch on wait for it",
    "ChallengeNotOverdue": "the hoster may still answer until the end of the due epoch",
    "NothingToWithdraw": "the balance is zero",
    "DealNotOver": "the deal is still running or within its proof window",
    "EpochNotOver": "settle epochs only after they end",
    "NotOwner": "only the entry's owner may change it",
}


@cache
def _errors_by_selector() -> dict[bytes, tuple[str, list[str], list[str]]]:
    table: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for name in DEPLOYABLE:
        for item in load_artifact(name).abi:
            if item.get("type") != "error":
                continue
            types = [abi_type(p) for p in item["inputs"]]
            selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
            table[selector] = (item["name"], [p["name"] for p in item["inputs"]], types)
    return table


def decode_revert(data: bytes | str | None, *, context: str = "transaction") -> ContractError:
    """A :class:`ContractError` for raw revert data (custom error, Error(string) or Panic)."""
    raw = (
        bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else (data or b"")
    )
    selector, body = raw[:4], raw[4:]
    if not raw:
        return ContractError(f"{context} reverted without a reason")
    if selector == _ERROR_STRING:
        (reason,) = abi_decode(["string"], body)
        return ContractError(f"{context} reverted: {reason}")
    if selector == _PANIC:
        (code,) = abi_decode(["uint256"], body)
        return ContractError(f"{context} reverted: panic 0x{code:02x}", error_name="Panic", args_=(code,))
    known = _errors_by_selector().get(selector)
    if known is None:
        return ContractError(f"{context} reverted with unknown error 0x{raw[:4].hex()}")
    name, arg_names, types = known
    values = abi_decode(types, body) if types else ()
    shown = ", ".join(f"{n}={_show(v)}" for n, v in zip(arg_names, values, strict=True))
    hint = HINTS.get(name)
    message = f"{context} reverted: {name}({shown})" + (f" — {hint}" if hint else "")
    return ContractError(message, error_name=name, args_=tuple(values))


def _show(value: object) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)
