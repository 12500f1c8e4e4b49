"""Prometheus metrics of the service, in a registry of the app's own (one per app instance)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class ServiceMetrics:
    """Request counts and latencies by route template, claims scored by band, decisions."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

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
        self.model_loaded = Gauge(
            "riskml_model_loaded", "1 if a model answers", ["model_version"], registry=r
        )
        # the challenger in shadow (serve.shadow): never in an answer, only here and in the store
        self.shadow_loaded = Gauge(
            "riskml_shadow_model_loaded",
            "1 if a challenger is scored in shadow",
            ["model_version"],
            registry=r,
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
