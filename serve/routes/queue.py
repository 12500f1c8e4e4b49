"""``GET /v1/queue``: flagged claims awaiting a decision, highest risk and amount first."""

# No ``from __future__ import annotations``: the limit's bound comes from settings at runtime.
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from riskml.contract import BENEFIT_TYPES, REGION_CODE_PATTERN
from riskml.store import AuditEntry, workspace
from riskml.store.workspace import QueueFilters
from serve.deps import QueueReader, StoreDep
from serve.schemas import QueueResponse, error_responses
from serve.settings import Settings


def make_router(settings: Settings) -> APIRouter:
    """The queue router; ``limit`` is capped by ``settings.max_queue_limit``."""
    router = APIRouter(prefix="/v1", tags=["queue"], responses=error_responses(401, 403))

    @router.get("/queue", response_model=QueueResponse)
    def queue(
        store: StoreDep,
        user: QueueReader,
        limit: Annotated[int, Query(ge=1, le=settings.max_queue_limit)] = 50,
        region: Annotated[str | None, Query(pattern=REGION_CODE_PATTERN)] = None,
        benefit_type: Annotated[Literal[BENEFIT_TYPES] | None, Query()] = None,  # type: ignore[valid-type]
    ) -> QueueResponse:
        """Triage queue for investigators: referrals to review, never automatic decisions."""
        rows, _ = workspace.queue(  # the workspace's queue: kill switch, approved cut-offs
            store, user.name, QueueFilters(region=region, benefit_type=benefit_type), limit, "risk"
        )
        store.audit(
            [AuditEntry(user.name, user.role, action="read_queue", outcome=f"{len(rows)} claims")]
        )
        return QueueResponse.model_validate({"claims": rows})

    return router
