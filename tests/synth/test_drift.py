"""The drift setting: late rings and phantom-stay hospitals at providers designated late."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskml.data import load_data_dir
from riskml.synth import SynthConfig, generate, write_result
from riskml.synth.drift import DRIFT_ONSET


def test_late_cohorts_form_at_providers_first_seen_late(tmp_path: Path) -> None:
    config = SynthConfig(persons=3_000, seed=5, months=24, drift=True)
    result = generate(config)
    write_result(result, tmp_path / "data")
    data = load_data_dir(tmp_path / "data")  # the contract's checks pass
    claims, providers = data.claims, data.providers.set_index("provider_id")
    onset = pd.Timestamp(config.start) + pd.Timedelta(days=int(DRIFT_ONSET * 730))
    first = claims.groupby("provider_id")["submitted_at"].min()
    truth = result.ground_truth
    for typology in ("collusion_ring", "phantom_hospitalization"):
        units = truth.loc[truth["typology"] == typology].groupby("unit_id")["provider_id"].first()
        late = units.loc[units.map(first) >= onset - pd.Timedelta(days=21)]
        assert len(late) >= 1, (typology, units.map(first))
        assert len(units) > len(late), "an early cohort the model can learn from"
        for provider in late:
            # designated shortly before its first claim, with no claim of any kind before
            assert providers.loc[provider, "designated_on"] <= first[provider]
            assert (claims.loc[claims["provider_id"] == provider, "service_start"]
                    >= providers.loc[provider, "designated_on"]).all()  # fmt: skip
    # honest providers are designated late too: being new is not itself the signal
    corrupt = set(truth["provider_id"].dropna())
    late_honest = first.index[(first >= pd.Timestamp("2025-03-01")) & ~first.index.isin(corrupt)]
    assert len(late_honest) >= 2
    # the late rings' members have no co-visits at their provider before it was designated
    ring = truth.loc[truth["typology"] == "collusion_ring"]
    late_ring = ring.loc[ring["provider_id"].map(first) >= onset - pd.Timedelta(days=21)]
    members = claims.loc[claims["person_id"].isin(late_ring["person_id"])]
    at_ring = members.loc[members["provider_id"].isin(late_ring["provider_id"])]
    assert at_ring["submitted_at"].min() >= onset - pd.Timedelta(days=21)


def test_the_stationary_setting_is_unchanged_by_the_drift_option() -> None:
    plain = generate(SynthConfig(persons=300, seed=3, months=12))
    explicit = generate(SynthConfig(persons=300, seed=3, months=12, drift=False))
    pd.testing.assert_frame_equal(plain.data.claims, explicit.data.claims)
    assert SynthConfig().drift is False
