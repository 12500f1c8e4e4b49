"""The builder records the values its training window showed, so scoring can say which are new."""

from __future__ import annotations

from riskml.data import ClaimsData
from riskml.features import FeatureBuilder


def test_the_builder_records_what_its_window_showed(tiny_data: ClaimsData) -> None:
    late = tiny_data.claims["submitted_at"].max()
    b = FeatureBuilder(min_peers=1, fit_end=late).fit(tiny_data)
    kinds = set(b.known_values_)
    assert kinds == {"benefit_type", "diagnosis_group", "provider_type"}
    last = tiny_data.claims.loc[tiny_data.claims["submitted_at"] == late]
    in_window = tiny_data.claims.loc[tiny_data.claims["submitted_at"] < late]
    unseen = b.unseen(tiny_data, last)
    new_types = set(last["benefit_type"]) - set(in_window["benefit_type"])
    assert set(unseen.loc[unseen["kind"] == "benefit_type", "value"]) == new_types
    assert b.unseen(tiny_data, in_window).empty
