"""The shipped Grafana dashboard and Prometheus files (docker/monitoring/) name only metrics and
labels the daemons export: a renamed metric fails here, not on an operator's blank panel."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import yaml  # type: ignore[import-untyped]
from prometheus_client.metrics import MetricWrapperBase

from scatter.hoster.metrics import HosterMetrics
from scatter.validator.metrics import ValidatorMetrics
from tests.integration.toolchain.docker_files import DOCKER

MONITORING = DOCKER / "monitoring"
#: Sample-name suffixes per metric type, as prometheus_client exports them.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
}
#: Labels Prometheus adds to every scraped series (prometheus.yml: job, instance, role).
TARGET_LABELS = {"job", "instance", "role"}


def exported() -> dict[str, set[str]]:
    """Every sample name the daemons export, with the label names it carries."""
    out: dict[str, set[str]] = {}
    for metrics in (HosterMetrics(), ValidatorMetrics()):
        for metric in vars(metrics).values():
            if isinstance(metric, MetricWrapperBase):
                labels = set(metric._labelnames)
                for suffix in SUFFIXES[str(metric._type)]:
                    out[metric._name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return out


def dashboard_queries() -> Iterator[tuple[str, str]]:
    """(PromQL, legend) of every dashboard panel."""
    data = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    for panel in data["panels"]:
        for target in panel.get("targets", []):
            yield target["expr"], target.get("legendFormat", "")


def alert_queries() -> Iterator[tuple[str, str]]:
    rules = yaml.safe_load((MONITORING / "scatter-alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            yield rule["expr"], rule["annotations"]["summary"]


def check_query(expr: str, legend: str, names: dict[str, set[str]]) -> None:
    used = set(re.findall(r"\bscatter_[a-z0-9_]+", expr))
    for name in used:
        assert name in names, f"{name} is not exported (in {expr!r})"
    allowed = set().union(*(names[n] for n in used)) | TARGET_LABELS
    labels = set(re.findall(r"([a-z_]+)\s*=~?", " ".join(re.findall(r"\{([^}]*)\}", expr))))
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        labels |= {g.strip() for g in group.split(",") if g.strip()}
    labels |= set(re.findall(r"\{\{\s*\$?(?:labels\.)?([a-z_]+)\s*\}\}", legend))
    assert labels <= allowed, f"{labels - allowed} not labels of {sorted(used)} (in {expr!r})"


def test_every_dashboard_query_names_exported_metrics_and_labels() -> None:
    names = exported()
    queries = list(dashboard_queries())
    assert len(queries) >= 20
    for expr, legend in queries:
        check_query(expr, legend, names)
    # the dashboard shows both daemons
    text = " ".join(e for e, _ in queries)
    assert "scatter_hoster_" in text and "scatter_validator_" in text


def test_every_alert_names_exported_metrics_and_labels() -> None:
    names = exported()
    for expr, summary in alert_queries():
        check_query(expr, summary, names)


def test_a_renamed_metric_would_be_caught() -> None:
    names = exported()
    with pytest.raises(AssertionError, match="not exported"):
        check_query("scatter_hoster_proofs_sent_total", "", names)
    with pytest.raises(AssertionError, match="not labels"):
        check_query("sum by (kind) (scatter_hoster_proofs_total)", "", names)


def test_prometheus_scrapes_both_daemons_on_their_ports() -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    assert config["rule_files"] == ["scatter-alerts.yml"]
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert targets == {"scatter-hoster": ["hoster:8080"], "scatter-validator": ["validator:8090"]}
    assert all(job["metrics_path"] == "/metrics" for job in config["scrape_configs"])
