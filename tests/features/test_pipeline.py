"""The builder on the synthetic generator's data set (the ``synth_data`` fixture)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.data import ClaimsData
from riskml.defaults import DEFAULT_FEATURE_SET
from riskml.features import FEATURE_SETS, FeatureBuilder, default_fit_end, history_for
from riskml.features.history import contribution_reach_start, reach_start

from .test_point_in_time import as_known_at


def test_synthetic_data_set_end_to_end(synth_data: ClaimsData) -> None:
    fit_end = default_fit_end(synth_data)
    b = FeatureBuilder(fit_end=fit_end).fit(synth_data)
    X = b.transform(synth_data)
    assert list(X.index) == list(synth_data.claims["claim_id"])
    assert list(X.columns) == list(FEATURE_SETS[DEFAULT_FEATURE_SET])
    assert not np.isinf(X.to_numpy()).any()
    # every family produces information on real-looking data
    for name in ("amount_vs_peer_median", "claimant_claims_365d", "provider_volume_vs_own_past"):
        assert X[name].notna().mean() > 0.3, name
        assert X[name].nunique() > 5, name

    # no leakage: the data as known three months before the end gives the same features
    cut = pd.Timestamp(synth_data.claims["submitted_at"].max()).normalize() - pd.DateOffset(
        months=3
    )
    early = as_known_at(synth_data, cut)
    X_early = b.transform(early)
    pd.testing.assert_frame_equal(X_early, X.loc[X_early.index], check_exact=True)

    # batch scoring: random chunks, each with only the history it needs, match the one pass
    rng = np.random.default_rng(1)
    for chunk in np.array_split(rng.permutation(len(synth_data.claims)), 40)[:3]:
        part = synth_data.claims.iloc[np.sort(chunk)]
        history = history_for(synth_data, part)
        assert len(history.claims) < len(synth_data.claims)
        got = b.transform(history, claims=part)
        pd.testing.assert_frame_equal(
            got, X.loc[got.index], check_exact=False, rtol=1e-9, atol=1e-9
        )

    # time-ordered chunks late in the data, as batch scoring cuts them: claims (the claimants'
    # own too) and contributions older than the reach are left out, and the features are still
    # those of the one pass
    ordered = synth_data.claims.sort_values(["submitted_at", "claim_id"])
    for rows in np.array_split(np.arange(len(ordered)), 8)[-2:]:
        part = ordered.iloc[rows]
        history = history_for(synth_data, part)
        start = reach_start(part)
        assert history.claims["submitted_at"].min() >= start
        older = synth_data.claims.loc[synth_data.claims["submitted_at"] < start]
        assert older["person_id"].isin(part["person_id"]).sum() > 100  # a cut that matters
        assert history.contributions["month"].min() >= contribution_reach_start(part)
        assert (synth_data.contributions["month"] < contribution_reach_start(part)).any()
        got = b.transform(history, claims=part)
        pd.testing.assert_frame_equal(
            got, X.loc[got.index], check_exact=False, rtol=1e-9, atol=1e-9
        )
