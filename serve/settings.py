"""Service settings, read from ``RISKML_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from riskml.defaults import CHALLENGER, DEFAULT_MODEL_URI, MODEL_NAME


class Settings(BaseSettings):
    """Typed configuration of the HTTP service; nothing is read at import time."""

    model_config = SettingsConfigDict(env_prefix="RISKML_", extra="ignore", protected_namespaces=())

    store_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the store; default an SQLite file in cwd"
    )
    model_uri: str = Field(default=DEFAULT_MODEL_URI, description="MLflow model URI to serve")
    shadow_uri: str | None = Field(
        default=f"models:/{MODEL_NAME}@{CHALLENGER}",
        description="model URI scored in shadow beside the champion when the registry has it "
        "(never shown, never queued); empty: no shadow",
    )
    shadow_queue: int = Field(
        default=64, gt=0, description="requests waiting for shadow scoring; more are dropped"
    )
    drift_window_claims: int = Field(
        default=5000, gt=0, description="recently scored claims the /metrics drift gauges cover"
    )
    monitor_config: str | None = Field(
        default=None, description="monitoring config (PSI thresholds) of the drift gauges"
    )
    model_poll_seconds: float = Field(
        default=30.0, ge=0, description="how often to look for a moved alias; 0 never"
    )
    max_body_bytes: int = Field(default=4 * 1024 * 1024, gt=0, description="request size limit")
    max_batch_claims: int = Field(default=500, gt=0, description="claims per score request")
    max_items_per_claim: int = Field(default=1000, gt=0, description="line items per claim")
    scoring_concurrency: int = Field(
        default=1,
        gt=0,
        description="score requests computed at once (the rest wait their turn); scoring is "
        "GIL-bound Python, so more at once only take turns on the GIL, each one slower",
    )
    workers: int = Field(
        default=0,
        ge=0,
        description="worker processes of `riskml serve` (uvicorn's supervisor restarts one that "
        "dies); 0: one per CPU core this process may use. Each worker loads the model, polls "
        "its alias and swaps on its own, and holds its own store connection pool",
    )
    max_in_flight: int = Field(
        default=0,
        ge=0,
        description="score requests one worker admits at once (computing or waiting their turn "
        "for scoring_concurrency); one more is answered 503 at once with Retry-After, before "
        "its body is read, instead of queueing without bound. Health routes are never refused. "
        "0: half the threads of the worker's threadpool (anyio's default of 40, so 20). Each "
        "admitted request holds a threadpool thread while it waits, so the threadpool is "
        "enlarged when needed to keep at least serve.app.FREE_THREADS threads for every other "
        "route (health, readiness, metrics, queue, workspace)",
    )
    retry_after_seconds: int = Field(
        default=1, ge=0, description="the Retry-After of a 503 answered at the in-flight limit"
    )
    max_queue_limit: int = Field(default=500, gt=0, description="largest ?limit= of the queue")
    secret_file: str | None = Field(
        default=None, description="file of the server secret when RISKML_SECRET is not set"
    )
