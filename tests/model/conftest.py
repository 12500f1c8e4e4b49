"""The model tests use the session's model: ``trained``, ``mlflow_store`` and ``small_config`` are
defined in ``tests/conftest.py`` (one model per test session, shared with scoring and serve).
"""

from tests.conftest import SMALL, Trained

__all__ = ["SMALL", "Trained"]
