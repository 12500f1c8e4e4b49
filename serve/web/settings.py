"""The workspace's settings, read from ``RISKML_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from riskml.store.workspace import DEFAULT_RANDOM_AUDIT_SHARE


class WorkspaceSettings(BaseSettings):
    """Typed configuration of the investigators' workspace; nothing is read at import time."""

    model_config = SettingsConfigDict(env_prefix="RISKML_", extra="ignore")

    capacity: int = Field(
        default=200, gt=0, description="claims the fraud unit can review a month (the queue's bar)"
    )
    random_audit_share: float = Field(
        default=DEFAULT_RANDOM_AUDIT_SHARE,
        gt=0,
        le=1,
        description="share of the capacity given to claims drawn uniformly at random (DOMAIN R11)",
    )
    write_rate_limit: str = Field(
        default="60/minute", description="writes (decisions, workspace forms) per API key"
    )
    login_rate_limit: str = Field(default="20/minute", description="login attempts per client")
    session_max_age: int = Field(
        default=8 * 3600, gt=0, description="seconds a workspace session lasts"
    )
    secure_cookies: bool = Field(
        default=False, description="mark the session cookie Secure (set behind HTTPS)"
    )
