"""Prometheus metrics of the service, in a registry of the app's own (one per app instance).

With several worker processes (``riskml serve --workers N``) each worker counts in its own
process, and a scrape of ``/metrics`` lands on one of them. So that a scrape never shows one
worker's counts as the service's, :func:`serve.app.run` starts the workers in prometheus_client's
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``): every worker writes its values to memory-mapped
files there and :func:`exposition` sums counters and histograms over all workers. Gauges say what
they aggregate: the loaded model version is per worker (``pid`` label, live workers only), the
requests in flight are summed over the live workers. The drift gauges (:mod:`serve.drift`) are
computed at the scrape from the answering worker's own window of recently scored claims.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

#: The environment variable of prometheus_client's multiprocess mode (a directory of value files).
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_mode() -> bool:
    """True when this process counts in prometheus_client's multiprocess mode."""
    return bool(os.environ.get(MULTIPROC_DIR))


@dataclass
class ServiceMetrics:
    """Request counts and latencies by route template, refusals at a limit, claims scored by band,
    decisions, the loaded model versions."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    own_collectors: list[Collector] = field(default_factory=list)
    """Collectors computed at the scrape from this process's state (the drift gauges), exposed
    beside the multiprocess values; they are registered in :attr:`registry` too."""

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "riskml_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "riskml_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.claims_scored = Counter(
            "riskml_claims_scored", "claims scored", ["risk_band"], registry=r
        )
        self.decisions = Counter("riskml_decisions", "decisions recorded", ["outcome"], registry=r)
        self.refused = Counter(
            "riskml_http_refused",
            "requests refused at once because a limit was reached (answered 503 + Retry-After)",
            ["route", "limit"],
            registry=r,
        )
        self.in_flight = Gauge(
            "riskml_score_requests_in_flight",
            "score requests admitted and not yet answered (summed over live workers)",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.model_loaded = Gauge(
            "riskml_model_loaded",
            "1 if a model answers (one series per worker process under several workers)",
            ["model_version"],
            registry=r,
            multiprocess_mode="liveall",
        )
        # the challenger in shadow (serve.shadow): never in an answer, only here and in the store
        self.shadow_loaded = Gauge(
            "riskml_shadow_model_loaded",
            "1 if a challenger is scored in shadow",
            ["model_version"],
            registry=r,
            multiprocess_mode="liveall",
        )
        self.shadow_scored = Counter(
            "riskml_shadow_scored",
            "claims scored in shadow by the challenger",
            ["model_version", "risk_band"],
            registry=r,
        )
        self.shadow_failures = Counter(
            "riskml_shadow_failures",
            "claims the challenger failed to score in shadow (the champion answered them)",
            ["model_version"],
            registry=r,
        )
        self.shadow_dropped = Counter(
            "riskml_shadow_dropped",
            "claims not scored in shadow because the shadow queue was full",
            registry=r,
        )
        self.shadow_seconds = Histogram(
            "riskml_shadow_seconds",
            "time to score one request in shadow and store it (off the response path)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )

    def exposition(self) -> bytes:
        """The Prometheus text of ``/metrics``: this app's registry, or in multiprocess mode the
        values of every worker (from the value files) plus this worker's own collectors (drift)."""
        if not multiprocess_mode():
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged)
        for collector in self.own_collectors:
            merged.register(collector)
        return generate_latest(merged)

    def register_own(self, collector: Collector) -> None:
        """Register a collector computed at the scrape (not a value kept in files)."""
        self.registry.register(collector)
        self.own_collectors.append(collector)


def forget_this_process() -> None:
    """At a worker's shutdown in multiprocess mode: drop its live gauges from the files, so the
    loaded-version and in-flight gauges speak only of live workers."""
    if multiprocess_mode():
        mark_process_dead(os.getpid())
