"""Sampled probes on a live market: two validators probing about one epoch in three attest to every
epoch between their ok probes, the hoster settles the whole range, and a loss is probed every epoch
from the first failed probe on, with nothing carried over it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from scatter.ipfs.gateway.server import GatewayServer, create_gateway_app
from scatter.protocol.attestations import from_json, range_path
from tests.integration.validator.conftest import LiveMarket, wait_until
from tests.integration.validator.helpers import LyingStore, make_shard

pytestmark = pytest.mark.integration

CLIENT, HOSTER = 1, 2
V1, V2 = 5, 6
EVERY = 3


def ledger_rows(live: LiveMarket, account: int, deal_id: int) -> dict[int, tuple[bool, bool]]:
    """epoch -> (ok, carried) from the validator's own ledger (read-only)."""
    path = Path(live.tmp / f"validator-{account}" / "validator.db")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT epoch, ok, detail FROM verdicts WHERE deal_id = ?", (deal_id,)).fetchall()
    return {e: (bool(ok), "carried" in json.loads(detail)) for e, ok, detail in rows}


def common_window(live: LiveMarket, deal_id: int, span: int) -> int | None:
    """The first epoch of ``span`` consecutive epochs both validators attest ok (a slow epoch
    on a loaded machine leaves a gap: the window may start after the deal's first epoch)."""
    rows = [ledger_rows(live, v, deal_id) for v in (V1, V2)]
    ok = sorted(e for e in rows[0] if rows[0][e][0] and rows[1].get(e, (False, False))[0])
    for i in range(len(ok) - span + 1):
        if ok[i + span - 1] - ok[i] == span - 1:
            return ok[i]
    return None


@pytest.mark.parametrize("live", [{"epoch_seconds": 3, "period_epochs": 100}], indirect=True)
def test_sampled_probes_attest_every_epoch_between_ok_probes_and_a_loss_is_never_carried(
    live: LiveMarket,
) -> None:
    shard = make_shard(64 * 1024)
    lying = LyingStore(shard.store())
    with GatewayServer(create_gateway_app(lying)) as gw:
        deal_id = live.deal(HOSTER, CLIENT, shard, gw.url, duration=60)
        start = live.market().get_deal(deal_id).start_epoch
        for account in (V1, V2):
            live.start_validator(account, probe_every=EVERY)

        span = 9
        first = wait_until(lambda: common_window(live, deal_id, span), timeout=300,
                           what=f"{span} consecutive epochs attested by both validators")  # fmt: skip
        assert first >= start
        for v in (V1, V2):
            rows = ledger_rows(live, v, deal_id)
            assert any(carried for _, carried in rows.values()), "every epoch was probed"
        last = first + span - 1
        # validators sign an epoch's ok as soon as its probe passed; the market settles it once over
        wait_until(lambda: live.epoch() > last, timeout=60, what=f"epoch {last} to end")
        sigs = []
        for node in live.validators:
            resp = httpx.post(node.url + range_path(deal_id), json={"fromEpoch": first, "toEpoch": last})
            assert resp.status_code == 200, resp.text
            d = live.deployment
            sigs.append(from_json(resp.json(), chain_id=d.chain_id, market=d.market))
        live.market(HOSTER).settle(deal_id, first, last, sigs)  # earlier epochs skipped: the hoster may
        assert live.market().get_deal(deal_id).paid_through == last

        # The hoster loses every leaf: the first probe after that fails, and from then on the deal
        # is probed every epoch; no ok is carried over a failed epoch.
        lying.lose(b.cid for b in shard.blocks if b.cid != shard.root)
        lost_at = live.epoch()

        def fails_in_a_row() -> int | None:
            rows = ledger_rows(live, V1, deal_id)
            failed = sorted(e for e, (ok, _) in rows.items() if e > lost_at and not ok)
            return failed[0] if len(failed) >= 3 else None

        first_fail = wait_until(fails_in_a_row, timeout=180, what="three failed probes after the loss")
        rows = ledger_rows(live, V1, deal_id)
        assert not any(ok for e, (ok, _) in rows.items() if e >= first_fail)
        assert all(e in rows for e in range(first_fail, first_fail + 3)), "an epoch after a fail unprobed"
        resp = httpx.post(live.validators[0].url + range_path(deal_id),
                          json={"fromEpoch": last + 1, "toEpoch": first_fail})  # fmt: skip
        assert resp.status_code == 409, resp.text
