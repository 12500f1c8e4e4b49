"""Alembic migrations of the service store, run programmatically by :func:`riskml.store.migrate`."""
