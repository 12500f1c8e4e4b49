"""The scikit-learn estimator contract, and the ``riskml features`` command end to end.

scikit-learn's estimator checks that apply to a transformer whose input is a ``ClaimsData`` (not
an array) are run: default-constructible parameters, no attributes set in ``__init__``,
``get_params``/``set_params`` invariance, ``clone``, and ``NotFittedError`` before ``fit``. The
array-based checks (fit on random ``X``/``y`` matrices, dtype handling, n_features_in_) do not
apply: the builder's input is a set of related tables, so they are not run.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from riskml.data import ClaimsData, load_data_dir
from riskml.defaults import DEFAULT_FEATURE_SET
from riskml.errors import ConfigError, RiskmlError
from riskml.features import FEATURE_SETS, FeatureBuilder, default_fit_end
from riskml.jobs.features import run_features

from ..conftest import Trained


@pytest.mark.parametrize(
    "check",
    [
        check_parameters_default_constructible,
        check_no_attributes_set_in_init,
        check_get_params_invariance,
        check_set_params,
    ],
)
def test_sklearn_checks_that_apply(check: object) -> None:
    check("FeatureBuilder", FeatureBuilder())  # type: ignore[operator]


def test_get_params_clone_and_not_fitted(tiny_data: ClaimsData) -> None:
    b = FeatureBuilder(fit_end="2024-03-01", min_peers=2)
    assert b.get_params()["fit_end"] == "2024-03-01"
    c = clone(b)
    assert c.get_params() == b.get_params()
    with pytest.raises(NotFittedError):
        b.transform(tiny_data)
    b.fit(tiny_data)
    assert not hasattr(clone(b), "norms_")
    assert list(b.get_feature_names_out()) == list(FEATURE_SETS[DEFAULT_FEATURE_SET])


def test_fitted_builder_pickles(tiny_data: ClaimsData) -> None:
    b = FeatureBuilder(min_peers=1).fit(tiny_data)
    again = pickle.loads(pickle.dumps(b))
    pd.testing.assert_frame_equal(again.transform(tiny_data), b.transform(tiny_data))


def test_bad_configuration_is_refused(tiny_data: ClaimsData) -> None:
    with pytest.raises(ConfigError, match="unknown feature set"):
        FeatureBuilder(feature_set="claims_v0").fit(tiny_data)
    with pytest.raises(ConfigError, match="holds no claims"):
        FeatureBuilder(fit_end="1999-01-01").fit(tiny_data)
    with pytest.raises(ConfigError, match="not a timestamp"):
        FeatureBuilder(fit_end="not a date").fit(tiny_data)


def test_default_window_is_first_60_percent_of_months(random_claims: ClaimsData) -> None:
    # claims are submitted from 2024-01 to 2025-01 (13 months): 8 months -> up to 2024-09-01
    assert default_fit_end(random_claims) == pd.Timestamp("2024-09-01")


def test_run_features_writes_one_row_per_claim(random_claims: ClaimsData, tmp_path: Path) -> None:
    random_claims.write(tmp_path / "data")
    out = tmp_path / "features.parquet"
    run_features(tmp_path / "data", out, None)
    written = pd.read_parquet(out)
    assert list(written.columns) == ["claim_id", *FEATURE_SETS[DEFAULT_FEATURE_SET]]
    assert sorted(written["claim_id"]) == sorted(random_claims.claims["claim_id"])
    loaded = load_data_dir(tmp_path / "data")
    b = FeatureBuilder(fit_end=default_fit_end(loaded)).fit(loaded)
    expected = b.transform(loaded).reset_index()
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)


def test_run_features_with_a_model_uses_its_fitted_builder(
    trained: Trained, synth_dir: Path, tmp_path: Path
) -> None:
    """``--model`` loads the registered version's builder: exactly the features scoring sees."""
    out = tmp_path / "f.parquet"
    run_features(synth_dir, out, trained.registered.uri)
    expected = trained.result.feature_builder.transform(load_data_dir(synth_dir)).reset_index()
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected, check_dtype=False)

    # a model the registry does not know gives a clear error and writes nothing
    with pytest.raises(RiskmlError, match="not found in the registry"):
        run_features(synth_dir, tmp_path / "g.parquet", "models:/riskml-claims/999")
    assert not (tmp_path / "g.parquet").exists()


def test_empty_and_repeated_requests(tiny_data: ClaimsData) -> None:
    b = FeatureBuilder(min_peers=1).fit(tiny_data)
    empty = b.transform(tiny_data, claims=tiny_data.claims.iloc[:0])
    assert empty.shape == (0, len(FEATURE_SETS[DEFAULT_FEATURE_SET]))
    again = b.transform(tiny_data, claims=tiny_data.claims.iloc[[3, 3, 1]])
    assert list(again.index) == ["C04", "C04", "C02"]
    pd.testing.assert_series_equal(again.iloc[0], again.iloc[1], check_names=False)
