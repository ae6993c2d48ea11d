"""Prometheus metrics of one hoster daemon (its own registry, so several run in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class HosterMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.deals = Gauge(
            "scatter_hoster_deals", "Deals of this hoster by local state", ["state"], registry=r
        )
        self.bytes_pinned = Gauge("scatter_hoster_bytes_pinned", "Bytes of deal content pinned", registry=r)
        self.capacity = Gauge("scatter_hoster_capacity_bytes", "Capacity offered", registry=r)
        self.capacity_used = Gauge(
            "scatter_hoster_capacity_used_bytes", "Capacity taken by deals", registry=r
        )
        self.earned = Gauge("scatter_hoster_earned_wei", "Wei earned by settlements of active and past deals",
                            registry=r)  # fmt: skip
        self.balance = Gauge("scatter_hoster_balance_wei", "Withdrawable balance in the Market", registry=r)
        self.settlement_lag = Gauge(
            "scatter_hoster_settlement_lag_epochs",
            "Max over active deals of over-but-unpaid epochs",
            registry=r,
        )
        self.checkpoint = Gauge("scatter_hoster_checkpoint_block", "Last block whose events are applied",
                                registry=r)  # fmt: skip
        self.epoch = Gauge("scatter_hoster_epoch", "Current market epoch", registry=r)
        self.txs = Counter("scatter_hoster_transactions", "Transactions sent", ["kind"], registry=r)
        self.settlements = Counter("scatter_hoster_settlements", "Settlements sent", registry=r)
        self.prefix_settlements = Counter("scatter_hoster_prefix_settlements",
                                          "Settlements of the ok prefix validators reported (okThrough)",
                                          registry=r)  # fmt: skip
        self.periods_unpaid = Counter("scatter_hoster_periods_unpaid",
                                      "Committee periods of a deal given up: over without a quorum",
                                      registry=r)  # fmt: skip
        self.races_lost = Counter("scatter_hoster_slot_races_lost", "Slots taken by others first",
                                  registry=r)  # fmt: skip
        self.proofs = Counter("scatter_hoster_proofs", "Possession proofs by outcome (sent, dropped, late, "
                              "unbuildable)", ["outcome"], registry=r)  # fmt: skip
        self.reservations = Counter("scatter_hoster_reservations", "Reservations by outcome (made, filled, "
                                    "released, lost)", ["outcome"], registry=r)  # fmt: skip
        self.uploads = Counter("scatter_hoster_uploads", "CAR uploads by outcome", ["outcome"], registry=r)
        self.fee_bumps = Counter("scatter_hoster_fee_bumps", "Stuck transactions replaced with higher fees",
                                 registry=r)  # fmt: skip
        self.errors = Counter("scatter_hoster_errors", "Errors by where they happened", ["where"], registry=r)
        self.store_bytes = Gauge("scatter_hoster_store_bytes", "Bytes of block files in the store, measured "
                                 "after each garbage collection", registry=r)  # fmt: skip
        self.gc_freed = Counter("scatter_hoster_gc_freed_bytes", "Bytes of blocks no pin reached, deleted",
                                registry=r)  # fmt: skip
        self.heals = Counter(
            "scatter_hoster_heals", "Shards rebuilt from other hosters", ["outcome"], registry=r
        )
