"""Liveness, readiness and Prometheus metrics (no credentials: they carry no personal data)."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response, status
from prometheus_client import CONTENT_TYPE_LATEST

from serve.deps import MetricsDep, StoreDep
from serve.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "no model loaded, or the store is down"}},
)
def readyz(request: Request, store: StoreDep, response: Response) -> dict[str, object]:
    """200 only when a model is loaded and the store answers; 503 says which is missing."""
    scorer = request.app.state.models.current
    store_ok = store.ping()
    ready = scorer is not None and store_ok
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return {
        "ready": ready,
        "worker_pid": os.getpid(),
        "model_version": None if scorer is None else scorer.model_version,
        "model_error": request.app.state.models.last_error,
        "store": "ok" if store_ok else "unreachable",
    }


@router.get("/metrics", include_in_schema=False)
def metrics(m: MetricsDep) -> Response:
    """Prometheus exposition: the service's registry, summed over every worker process when
    there are several (:mod:`serve.metrics`)."""
    return Response(m.exposition(), media_type=CONTENT_TYPE_LATEST)
