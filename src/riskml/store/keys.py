"""API keys: only a keyed hash of each key is stored (:mod:`riskml.security` makes the hash)."""

from __future__ import annotations

import sqlalchemy as sa

from riskml.clock import local_now
from riskml.errors import ConfigError
from riskml.store.core import StoreCore


class KeyStore(StoreCore):
    """The ``api_keys`` table."""

    def add_api_key(self, name: str, role: str, key_hash: str) -> None:
        """Store a new key's hash; refuses a name that is already taken."""
        k = self.tables["api_keys"]
        with self._write() as conn:
            if conn.execute(sa.select(k.c.name).where(k.c.name == name)).first() is not None:
                raise ConfigError(f"an API key named {name!r} already exists")
            conn.execute(
                sa.insert(k),
                {
                    "name": name,
                    "role": role,
                    "key_hash": key_hash,
                    "created_at": local_now().replace(microsecond=0),
                    "revoked": False,
                },
            )

    def revoke_api_key(self, name: str) -> bool:
        """Mark a key revoked; True if it existed."""
        k = self.tables["api_keys"]
        with self._write() as conn:
            res = conn.execute(sa.update(k).where(k.c.name == name).values(revoked=True))
            return bool(res.rowcount)

    def principal_for(self, key_hash: str) -> tuple[str, str] | None:
        """(name, role) of the non-revoked key with this hash, or None."""
        k = self.tables["api_keys"]
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(k.c.name, k.c.role).where(
                    k.c.key_hash == key_hash, k.c.revoked.is_(False)
                )
            ).first()
        return None if row is None else (str(row.name), str(row.role))
