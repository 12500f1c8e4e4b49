"""API keys, roles and pseudonyms: the service's access control and personal-data minimisation.

One server secret (``RISKML_SECRET``, or a random key kept in a file beside the default store, see
:func:`load_secret`) keys two things: the hash under which API keys are stored (a leaked store
does not reveal usable keys) and the pseudonyms that stand for person ids in logs and the audit
log (a keyed hash, so a pseudonym cannot be reversed by hashing every plausible id).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from riskml.errors import ConfigError

Role = Literal["scorer", "investigator", "supervisor", "admin"]
ROLES: tuple[Role, ...] = ("scorer", "investigator", "supervisor", "admin")

#: Which roles may do what. Scores advise, people decide: the scorer role can never decide.
PERMISSIONS: dict[str, frozenset[str]] = {
    "score": frozenset({"scorer", "admin"}),
    "read_model": frozenset(ROLES),
    "read_queue": frozenset({"investigator", "supervisor", "admin"}),
    "decide": frozenset({"investigator", "supervisor", "admin"}),
    # a stored claim is history: only an administrator may replace it (keeping the old version)
    "correct": frozenset({"admin"}),
}

KEY_PREFIX = "rk_"
DEFAULT_SECRET_FILE = "riskml-secret.key"


@dataclass(frozen=True)
class Principal:
    """The holder of a valid API key: its name (who) and role (what they may do)."""

    name: str
    role: str

    def may(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]


def load_secret(secret_file: Path | str | None = None) -> bytes:
    """The server secret: ``RISKML_SECRET`` if set, else a random 32-byte key kept in a file.

    The file (default ``riskml-secret.key`` in the working directory, like the default SQLite
    store; ``RISKML_SECRET_FILE`` overrides) is created with mode 0600 on first use. Losing it
    invalidates every API key and changes every pseudonym, so production sets ``RISKML_SECRET``.
    """
    env = os.environ.get("RISKML_SECRET")
    if env:
        if len(env) < 16:
            raise ConfigError("RISKML_SECRET must be at least 16 characters")
        return env.encode()
    path = Path(secret_file or os.environ.get("RISKML_SECRET_FILE") or DEFAULT_SECRET_FILE)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # created concurrently by another process: read theirs
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    text = path.read_text().strip()
    if len(text) < 32:
        raise ConfigError(f"secret file {str(path)!r} is empty or too short")
    return text.encode()


def new_api_key() -> str:
    """A fresh API key: 256 random bits, URL-safe, with a recognisable prefix."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str, secret: bytes) -> str:
    """The keyed hash under which an API key is stored and looked up."""
    return hmac.new(secret, b"api-key:" + key.encode(), hashlib.sha256).hexdigest()


def pseudonymise(identifier: str, secret: bytes, kind: str = "person") -> str:
    """A stable pseudonym for an identifier (keyed hash), safe for logs and the audit log."""
    digest = hmac.new(secret, f"{kind}:{identifier}".encode(), hashlib.sha256).hexdigest()
    return f"{kind[0]}_{digest[:20]}"


def check_role(role: str) -> str:
    """Return ``role`` if it is one of :data:`ROLES`, else raise a :class:`ConfigError`."""
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return role


def create_api_key(role: str, name: str | None = None, store_url: str | None = None) -> str:
    """Create a key with ``role`` in the store and return it; only its hash is kept."""
    from riskml.store import open_store

    check_role(role)
    key = new_api_key()
    name = name or f"{role}-{secrets.token_hex(4)}"
    store = open_store(store_url)
    try:
        store.add_api_key(name=name, role=role, key_hash=hash_api_key(key, load_secret()))
    finally:
        store.close()
    return key
