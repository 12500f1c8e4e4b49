"""A bare FastAPI endpoint: the floor that the scoring service's latency is compared with."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

app = FastAPI()


@app.post("/v1/claims/score")
def score(body: dict[str, Any]) -> dict[str, Any]:
    """Answer a score request with a constant, doing no work at all."""
    claims = body.get("claims", [])
    return {
        "model_version": "bare",
        "results": [
            {"claim_id": c.get("claim_id"), "risk_score": 0.0, "risk_band": "low", "reasons": []}
            for c in claims
        ],
    }
