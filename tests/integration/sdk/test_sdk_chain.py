"""The SDK's chain side against the real contracts (Market version 3): bids with possession roots,
resume, cancel and extend around reservations, refunds, file entries and their health."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest

from scatter.chain.market import DealStatus, Role
from scatter.client import FillTimeoutError, HealthWarning, Scatter
from scatter.errors import ScatterNotFoundError, ScatterValueError
from scatter.formats.pipeline import load_manifest
from tests.conftest import Chain
from tests.integration.sdk.conftest import HOSTER_BASE, MAX_COLLATERAL, StoredFile, fault_deals

pytestmark = pytest.mark.integration


def _file(tmp_path: Path, size: int = 300_000) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(size))
    return path


def test_upload_without_hosters_times_out_then_resumes_the_same_bid(sdk: Scatter, tmp_path: Path) -> None:
    src = _file(tmp_path)
    with pytest.raises(FillTimeoutError, match=r"run the same upload again") as first:
        sdk.upload(src, shards="3/6", duration="10m", timeout=0.5)
    bid_id = first.value.bid_id
    assert first.value.open_slots == (0, 1, 2, 3, 4, 5)
    bid = sdk.market.get_bid(bid_id)
    assert (
        bid.client == sdk.address and bid.slot_count == 6 and bid.duration_epochs == 10
    )  # 600s / 60s epochs
    assert bid.escrow == bid.price_per_epoch * 6 * 10
    [pending] = sdk.pending_uploads()
    # The entry needs only the bid id: it is recorded while the shards wait for hosters.
    assert pending.bid_id == bid_id and pending.stage == "recorded" and pending.file_id is not None
    [listed] = sdk.ls()
    assert (listed.file_id, listed.bid_id) == (pending.file_id, bid_id)
    assert listed.health is not None and (listed.health.state, listed.health.label) == (
        "uploading",
        "0/6 uploading",
    )
    # The bid commits to each shard's CID, possession root and exact size.
    manifest = load_manifest(pending.directory)
    info = sdk.bid_info(bid_id)
    assert info.roots == tuple("0x" + r.hex() for r in manifest.roots)
    assert all(r.endswith("0" * 16) for r in info.roots)  # bytes32(bytes24 node)
    assert bid.size == manifest.shards[0].size
    with pytest.raises(FillTimeoutError) as second:
        sdk.upload(src, shards="3/6", duration="10m", timeout=0.5)
    assert second.value.bid_id == bid_id
    assert sdk.market.bid_count() == bid_id  # no second bid was posted
    assert [f.file_id for f in sdk.ls()] == [pending.file_id]  # nor a second entry


def test_resume_after_a_crash_between_sending_the_bid_and_recording_it_adopts_the_bid(
    sdk: Scatter, tmp_path: Path
) -> None:
    src = _file(tmp_path)
    with pytest.raises(FillTimeoutError) as first:
        sdk.upload(src, timeout=0.2)
    [session] = sdk.pending_uploads()
    data = json.loads(session.path.read_text())
    data.update(stage="bidding", bid_id=None)  # what a crash right after the bid transaction leaves
    session.path.write_text(json.dumps(data))
    with pytest.raises(FillTimeoutError) as again:
        sdk.upload(src, timeout=0.2)
    assert again.value.bid_id == first.value.bid_id
    assert sdk.market.bid_count() == first.value.bid_id


def test_abort_refunds_every_open_slot_and_withdraw_pays_it_out(
    sdk: Scatter, chain: Chain, tmp_path: Path
) -> None:
    src = _file(tmp_path)
    with pytest.raises(FillTimeoutError) as info:
        sdk.upload(src, duration="5m", price="2gwei", timeout=0.2)
    bid = sdk.market.get_bid(info.value.bid_id)
    before = sdk.balance()
    assert before.escrow == bid.escrow > 0
    [recorded] = sdk.ls()
    result = sdk.abort_upload(src)
    assert result is not None and result.cancelled_slots == (0, 1, 2, 3, 4, 5)
    assert result.refund == bid.escrow
    assert sdk.pending_uploads() == []
    # The entry recorded for the bid named nothing stored: it went with the bid.
    assert result.withdrawn_file == recorded.file_id and sdk.ls() == []
    after = sdk.balance()
    assert after.escrow == 0 and after.withdrawable == bid.escrow
    wallet_before = chain.balance(sdk.address)
    out = sdk.withdraw()
    assert out.amount == bid.escrow
    assert sdk.balance().withdrawable == 0
    gas = chain.w3.eth.get_transaction_receipt(out.tx_hash)  # type: ignore[arg-type]
    assert (
        chain.balance(sdk.address) == wallet_before + bid.escrow - gas["gasUsed"] * gas["effectiveGasPrice"]
    )
    with pytest.raises(ScatterValueError, match="nothing to withdraw"):
        sdk.withdraw()


def test_cancel_refuses_slots_that_are_not_open_and_other_clients_bids(
    sdk: Scatter, stored_file: StoredFile, chain: Chain, tmp_path: Path
) -> None:
    with pytest.raises(ScatterValueError, match="not open"):
        sdk.cancel(stored_file.bid_id, [0])
    other = Scatter(sdk.network, chain.account(2), state_root=tmp_path)
    with pytest.raises(ScatterValueError, match="belongs to"):
        other.cancel(stored_file.bid_id)
    with pytest.raises(ScatterNotFoundError):
        sdk.cancel(999)


def test_ls_status_share_and_rm_with_health(
    sdk: Scatter, stored_file: StoredFile, chain: Chain, tmp_path: Path
) -> None:
    [f] = sdk.ls()
    assert (f.file_id, f.name, f.size, f.shards, f.bid_id) == (
        stored_file.file_id,
        "report.bin",
        len(stored_file.data),
        "3/6",
        stored_file.bid_id,
    )
    assert f.health is not None and (f.health.label, f.health.state) == ("6/6 live", "healthy")
    # Another account sees none of it, and cannot read the entry.
    assert Scatter(sdk.network, chain.account(3), state_root=tmp_path).ls() == []
    st = sdk.status("report.bin")
    assert st.bid is not None and st.bid.open_slots == () and list(st.bid.cids) == stored_file.cids
    assert [d.slot for d in st.deals] == [0, 1, 2, 3, 4, 5]
    assert all(d.status == "active" and d.live for d in st.deals)
    assert st.healthy_slots == 6 and st.health is not None and st.health.warning is None
    # Plain gateways have no hoster API: the status says so instead of guessing.
    assert all(d.pinned is False for d in st.deals)
    removed = sdk.rm(stored_file.file_id)
    assert removed.cancelled == ()  # every slot is filled: nothing to cancel; deals run to their end
    assert sdk.ls() == []
    assert all(sdk.market.get_deal(d.deal_id).status == DealStatus.ACTIVE for d in st.deals)
    with pytest.raises(ScatterNotFoundError):
        sdk.status(stored_file.file_id)


def test_health_warns_when_live_shards_fall_to_k_and_below(
    sdk: Scatter, stored_file: StoredFile, chain: Chain
) -> None:
    deals = {d.slot: d.deal_id for d in sdk.deals_of_bid(stored_file.bid_id)}
    fault_deals(chain, sdk, [deals[0], deals[1], deals[2]])
    with pytest.warns(HealthWarning, match=r"only 3 of 6 shards .* 3 are needed"):
        [f] = sdk.ls()
    assert f.health is not None and (f.health.label, f.health.state) == ("3/6 AT RISK", "at-risk")
    with pytest.warns(HealthWarning):
        st = sdk.status(stored_file.file_id, ask_hosters=False)
    assert st.healthy_slots == 3 and sorted(d.slot for d in st.deals if d.live) == [3, 4, 5]
    assert st.bid is not None and st.bid.open_slots == (0, 1, 2)  # reopened for healers
    fault_deals(chain, sdk, [deals[3]])
    with pytest.warns(HealthWarning, match="fewer than the 3"):
        [f] = sdk.ls()
    assert f.health is not None and f.health.label == "2/6 LOST"


def test_a_healthy_file_raises_no_warning(sdk: Scatter, stored_file: StoredFile) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", HealthWarning)
        assert sdk.ls()[0].health is not None
        sdk.status(stored_file.file_id, ask_hosters=False)


def test_extend_adds_epochs_to_open_unreserved_slots_only(sdk: Scatter, chain: Chain, tmp_path: Path) -> None:
    with pytest.raises(FillTimeoutError) as info:
        sdk.upload(_file(tmp_path), duration="10m", timeout=0.2)
    bid_id = info.value.bid_id
    hoster = chain.market(HOSTER_BASE)
    hoster.join(Role.HOSTER, "http://127.0.0.1:9", 1 << 30, 10**18)
    hoster.reserve(bid_id, 0, MAX_COLLATERAL)
    ext = sdk.extend(bid_id, "2h")  # 120 epochs of 60 s
    bid = sdk.market.get_bid(bid_id)
    assert ext.extra_epochs == 120 and ext.slots == (1, 2, 3, 4, 5)
    assert ext.paid == bid.price_per_epoch * 5 * 120
    assert sdk.market.slot_epochs(bid_id, 0) == 10 and sdk.market.slot_epochs(bid_id, 1) == 130
    # The reserved slot is left by a plain cancel, and refused by name, until the reservation expires.
    with pytest.raises(ScatterValueError, match=r"slots \[0\] are reserved"):
        sdk.cancel(bid_id, [0])
    cancelled = sdk.cancel(bid_id)
    assert cancelled.cancelled_slots == (1, 2, 3, 4, 5) and cancelled.reserved_slots == (0,)
    assert cancelled.refund == bid.price_per_epoch * 5 * 130


def test_extend_of_a_bid_whose_slots_are_all_filled_says_deals_are_fixed(
    sdk: Scatter, stored_file: StoredFile
) -> None:
    ends = {d.deal_id: d.end_epoch for d in sdk.deals_of_bid(stored_file.bid_id)}
    with pytest.raises(ScatterValueError, match=r"no open, unreserved slot to extend.*hoster's signature"):
        sdk.extend_file(stored_file.file_id, "2h")
    assert {d.deal_id: d.end_epoch for d in sdk.deals_of_bid(stored_file.bid_id)} == ends


def test_finish_after_the_end_refunds_unpaid_epochs(
    sdk: Scatter, stored_file: StoredFile, chain: Chain
) -> None:
    deals = sdk.deals_of_bid(stored_file.bid_id)
    end = max(d.end_epoch for d in deals)
    assert sdk.finish_deals(stored_file.bid_id) == 0  # not over yet
    chain.warp_to_epoch(end + sdk.params.proof_window_epochs + 1)
    escrow = sdk.market.get_bid(stored_file.bid_id).escrow
    assert sdk.finish_deals(stored_file.bid_id) == 6
    assert sdk.market.get_bid(stored_file.bid_id).escrow == 0
    assert sdk.balance().withdrawable == escrow  # nothing was settled: all of it comes back
    [f] = sdk.ls()
    assert f.health is not None and f.health.state == "expired"
