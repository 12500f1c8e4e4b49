"""The committed feature catalogue is the one the registry generates."""

from __future__ import annotations

from pathlib import Path

from riskml.features.catalogue import catalogue
from riskml.features.registry import FEATURES
from riskml.features.sets import CLAIMS_V2

CATALOGUE = Path(__file__).resolve().parents[2] / "docs" / "features.md"


def test_the_committed_catalogue_is_up_to_date() -> None:
    assert CATALOGUE.read_text(encoding="utf-8") == catalogue(), (
        "docs/features.md is stale: python -m riskml.features.catalogue > docs/features.md"
    )


def test_the_catalogue_lists_every_feature_of_the_default_set_with_its_meaning() -> None:
    text = catalogue()
    for name in CLAIMS_V2:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
        assert FEATURES[name].description.replace("|", "\\|") in row
