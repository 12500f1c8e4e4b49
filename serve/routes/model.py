"""``GET /v1/model``: which model version answers."""

from __future__ import annotations

from fastapi import APIRouter

from serve.deps import ModelReader, ScorerDep
from serve.schemas import ModelInfo, error_responses

router = APIRouter(prefix="/v1", tags=["model"], responses=error_responses(401, 403, 503))


@router.get("/model", response_model=ModelInfo)
def model_info(_user: ModelReader, scorer: ScorerDep) -> ModelInfo:
    """Name, version, alias, training time, features and metrics of the loaded model."""
    info = dict(scorer.model_info())
    info["version"] = str(info.get("version", scorer.model_version))
    return ModelInfo.model_validate(info)
