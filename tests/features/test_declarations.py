"""Every feature declares its entity, window, aggregate and fitted norms, and the declarations
agree with the feature names and with what the feature sets say about them."""

from __future__ import annotations

import re

import pytest

from riskml.data import ClaimsData
from riskml.features import FeatureBuilder
from riskml.features.registry import FEATURES, NORMS, Aggregate, Entity, Window
from riskml.features.sets import CLAIMS_V1, CLAIMS_V2, FEATURE_SETS, FROZEN_ENTITY_FEATURES

#: A window in a feature's name ("_30d", "_48h", "_12m") and the declaration it asks for.
_WINDOW_IN_NAME = re.compile(r"_(\d+)([hdm])$")
_UNITS = {"h": "hours", "d": "days", "m": "months"}


def _reads_entity_profile(name: str) -> bool:
    return any(NORMS[norm].per_entity for norm in FEATURES[name].norms)


def test_every_feature_declares_entity_window_aggregate_and_norms() -> None:
    for name, spec in FEATURES.items():
        assert isinstance(spec.entity, Entity), name
        assert isinstance(spec.aggregate, Aggregate), name
        assert spec.window is None or isinstance(spec.window, Window), name
        assert all(norm in NORMS for norm in spec.norms), name
        assert spec.key[0] == spec.entity.value
        if spec.window is not None:
            assert spec.window.length > 0, name


def test_a_window_in_the_name_is_the_declared_window() -> None:
    for name, spec in FEATURES.items():
        match = _WINDOW_IN_NAME.search(name)
        if match:
            assert spec.window == Window(int(match.group(1)), _UNITS[match.group(2)]), name  # type: ignore[arg-type]


def test_aggregates_agree_with_the_names() -> None:
    for name, spec in FEATURES.items():
        if name.endswith("_vs_own_past"):
            assert spec.aggregate is Aggregate.RATIO_TO_OWN_PAST, name
            assert spec.window is not None, name
        if re.search(r"_vs_(peers?|.*norm|.*median)", name):
            assert spec.norms, f"{name} compares with a norm but declares none"
        if spec.aggregate is Aggregate.RATIO_TO_PEER_NORM:
            assert spec.norms, name
        if spec.entity is Entity.CLAIM:
            assert spec.window is None, f"{name}: the claim itself has no history window"


def test_frozen_entity_features_are_those_reading_a_fitted_entity_profile() -> None:
    """sets.py: claims_v1's frozen features rest on entity profiles fitted on the training
    window; claims_v2 fits only population statistics."""
    frozen = {name for name in FEATURES if _reads_entity_profile(name)}
    assert frozen == set(FROZEN_ENTITY_FEATURES)
    assert frozen == {n for n, s in FEATURES.items() if s.aggregate is Aggregate.FITTED_PROFILE}
    assert frozen <= set(CLAIMS_V1)
    assert not frozen & set(CLAIMS_V2)


def test_claims_v2_says_how_much_is_known_about_each_rolling_entity() -> None:
    """sets.py: in claims_v2 each provider and doctor says how much is known about it: the
    claims of its past year and the days since its first one."""
    for entity in (Entity.PROVIDER, Entity.DOCTOR):
        declared = {
            (FEATURES[n].aggregate, FEATURES[n].window)
            for n in CLAIMS_V2
            if FEATURES[n].entity is entity and not FEATURES[n].by
        }
        assert (Aggregate.COUNT, Window(365, "days")) in declared, entity
        assert (Aggregate.FIRST, Window(365, "days")) in declared, entity


@pytest.mark.parametrize("feature_set", sorted(FEATURE_SETS))
def test_declared_norms_are_fitted(tiny_data: ClaimsData, feature_set: str) -> None:
    """The norms a feature declares are tables its family's fit learns for the set."""
    fitted = FeatureBuilder(feature_set=feature_set, min_peers=1).fit(tiny_data).norms_
    for name in FEATURE_SETS[feature_set]:
        for norm in FEATURES[name].norms:
            for table in NORMS[norm].tables:
                assert table in fitted[NORMS[norm].family], (name, norm, table)
