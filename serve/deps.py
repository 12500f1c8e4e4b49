"""FastAPI dependencies as named ``Annotated`` aliases: the store, the scorer, the caller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from riskml.online import ScoringModel
from riskml.security import Principal, hash_api_key
from riskml.store import AuditEntry, Store
from serve.metrics import ServiceMetrics
from serve.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="an API key from `riskml keys create`")


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_metrics(request: Request) -> ServiceMetrics:
    metrics: ServiceMetrics = request.app.state.metrics
    return metrics


def get_scorer(request: Request) -> ScoringModel:
    """The scorer answering now, taken once so the request finishes on it even if it is swapped."""
    scorer: ScoringModel | None = request.app.state.models.current
    if scorer is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no model is loaded")
    return scorer


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
ScorerDep = Annotated[ScoringModel, Depends(get_scorer)]


def current_user(
    request: Request,
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The holder of the request's API key; 401 without a valid, unrevoked key."""
    unauthorized = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "a valid API key is required: Authorization: Bearer <key>",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if credentials is None or not credentials.credentials:
        raise unauthorized
    found = store.principal_for(hash_api_key(credentials.credentials, request.app.state.secret))
    if found is None:
        raise unauthorized
    return Principal(name=found[0], role=found[1])


CurrentUser = Annotated[Principal, Depends(current_user)]


def require(permission: str) -> Callable[[Principal, Store, Request], Principal]:
    """A dependency that lets through only roles with ``permission``; a refusal is 403 and
    audited (who tried which route)."""

    def check(user: CurrentUser, store: StoreDep, request: Request) -> Principal:
        if not user.may(permission):
            route = getattr(request.scope.get("route"), "path", request.url.path)
            store.audit([AuditEntry(user.name, user.role, action=f"denied {route}", outcome="403")])
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role {user.role!r} may not {permission.replace('_', ' ')}",
            )
        return user

    return check


ScoringUser = Annotated[Principal, Depends(require("score"))]
ModelReader = Annotated[Principal, Depends(require("read_model"))]
QueueReader = Annotated[Principal, Depends(require("read_queue"))]
Decider = Annotated[Principal, Depends(require("decide"))]
Corrector = Annotated[Principal, Depends(require("correct"))]
