"""A model registered before the person graph was keyed by hash still scores, identically."""

from __future__ import annotations

import copy

import pandas as pd

from riskml.data import ClaimsData
from riskml.features import FeatureBuilder
from riskml.features.network import person_keys


def test_a_builder_with_the_old_clear_id_graph_gives_the_same_features(
    random_claims: ClaimsData,
) -> None:
    fitted = FeatureBuilder(feature_set="claims_v1", fit_end="2024-06-01").fit(random_claims)
    network = fitted.norms_["network"]
    key = str(network["person_graph_key"]["hash_key"].iloc[0])
    ids = random_claims.persons["person_id"].astype(str).to_numpy()
    by_key = pd.Series(ids, index=person_keys(ids, key))
    old = copy.deepcopy(fitted)
    graph = network["person_graph"]
    assert len(graph) > 0  # some claimants have co-visit partners, or the test shows nothing
    old_graph = graph.drop(columns="person_key").assign(
        person_id=by_key.reindex(graph["person_key"].to_numpy()).to_numpy()
    )
    old.norms_["network"] = {"person_graph": old_graph, "provider_graph": network["provider_graph"]}
    pd.testing.assert_frame_equal(old.transform(random_claims), fitted.transform(random_claims))
