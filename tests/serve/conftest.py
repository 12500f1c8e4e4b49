"""A real service: uvicorn on a free port, a real store (SQLite and PostgreSQL), keys per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from serve.app import create_app
from serve.settings import Settings

from riskml.security import ROLES, hash_api_key, load_secret, new_api_key
from riskml.store import Store, open_store
from tests.serve.support import StandInScorer, running_server, shared_postgres, tiny_world


@dataclass
class Service:
    url: str
    store: Store
    secret: bytes
    scorer: StandInScorer
    keys: dict[str, str] = field(default_factory=dict)

    def client(self, role: str | None = None, key: str | None = None) -> httpx.Client:
        token = key if key is not None else (self.keys[role] if role else None)
        headers = {}
        if token is not None:
            headers["Authorization"] = token if " " in token else f"Bearer {token}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def start_service(store_url: str, workdir: Path) -> Iterator[Service]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("RISKML_SECRET", raising=False)
        secret_file = workdir / "secret.key"
        store = open_store(store_url)
        store.ingest(tiny_world())
        secret = load_secret(secret_file)
        keys = {}
        for role in ROLES:
            keys[role] = new_api_key()
            store.add_api_key(f"{role}-1", role, hash_api_key(keys[role], secret))
        settings = Settings(
            store_url=store_url,
            secret_file=str(secret_file),
            model_poll_seconds=0,
            max_batch_claims=20,
            max_body_bytes=100_000,
        )
        scorer = StandInScorer()
        with running_server(create_app(settings, scorer=scorer)) as url:
            yield Service(url=url, store=store, secret=secret, scorer=scorer, keys=keys)
        store.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("service")
    if request.param == "sqlite":
        url = f"sqlite:///{workdir / 'store.db'}"
    else:
        url = shared_postgres().new_database()
    yield from start_service(url, workdir)
