"""Prometheus metrics of the validator, in their own registry (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ValidatorMetrics:
    """Every metric the validator exports; one instance per daemon (tests make their own)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.checks = Counter(
            "scatter_validator_checks",
            "Deal check attempts by result (ok, missing, wrong, retry, unknown)",
            ["result"], registry=r,
        )  # fmt: skip
        self.check_seconds = Histogram(
            "scatter_validator_check_seconds", "Wall time of one deal check",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=r,
        )  # fmt: skip
        self.fetched_bytes = Counter(
            "scatter_validator_fetched_bytes", "Bytes fetched from hosters' gateways", registry=r
        )
        self.attestations = Counter(
            "scatter_validator_attestations", "Attestations signed, by outcome and kind (epoch, range)",
            ["ok", "kind"], registry=r,
        )  # fmt: skip
        self.attestation_requests = Counter(
            "scatter_validator_attestation_requests", "Publishing API requests by route and status",
            ["route", "status"], registry=r,
        )  # fmt: skip
        self.reports = Counter(
            "scatter_validator_reports",
            "Report transactions by kind (request_proof, missed_proof, missed_quorum, audit) and outcome",
            ["kind", "outcome"], registry=r,
        )  # fmt: skip
        self.report_rewards = Counter(
            "scatter_validator_report_rewards_wei", "Wei credited to this validator by its reports",
            registry=r,
        )  # fmt: skip
        self.audit_draws = Counter(
            "scatter_validator_audit_draws", "Deal lotteries computed off chain at audit seed blocks",
            registry=r,
        )  # fmt: skip
        self.unknown = Counter(
            "scatter_validator_unknown_epochs", "Deal epochs that ended without a verdict, by why",
            ["label"], registry=r,
        )  # fmt: skip
        self.balance = Gauge(
            "scatter_validator_balance_wei", "Withdrawable balance (fees + report rewards) on the Market",
            registry=r,
        )  # fmt: skip
        self.epoch = Gauge("scatter_validator_epoch", "Epoch the validator is checking", registry=r)
        self.deals_due = Gauge("scatter_validator_deals_due", "Deals to check this epoch", registry=r)
        self.deals_done = Gauge("scatter_validator_deals_done", "Deals with a verdict this epoch", registry=r)
        self.chain_block = Gauge("scatter_validator_chain_block", "Last confirmed block indexed", registry=r)
        self.rpc_errors = Counter("scatter_validator_rpc_errors", "RPC calls that failed", registry=r)
        self.cpu_throttle_seconds = Counter(
            "scatter_validator_throttle_seconds", "Seconds slept to respect the CPU and bandwidth caps",
            ["cap"], registry=r,
        )  # fmt: skip
