"""Fixtures of the feature tests: validated hand-built and random data sets."""

from __future__ import annotations

import pytest

from riskml.data import ClaimsData, check_references, validate_frame

from .factory import random_data, tiny


def validated(data: ClaimsData) -> ClaimsData:
    """Pass every table through the contract, as the loader does (dtypes included)."""
    tables = {name: validate_frame(frame, name) for name, frame in data.tables().items()}
    check_references(tables)
    return ClaimsData(**tables)


@pytest.fixture(scope="session")
def tiny_data() -> ClaimsData:
    return validated(tiny())


@pytest.fixture(scope="session")
def random_claims() -> ClaimsData:
    return validated(random_data(seed=3))
