"""Risk-band cut-offs hold their target shares when scores tie, and say so when they cannot."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from riskml.bands import assign_bands, band_shares, band_thresholds, tie_shortfalls


def test_continuous_scores_get_exact_shares() -> None:
    s = np.random.default_rng(0).random(100_000)
    cut = band_thresholds(s, 0.01, 0.04)
    shares = band_shares(s, cut)
    assert shares["high"] == pytest.approx(0.01, abs=1e-5)
    assert shares["medium"] == pytest.approx(0.04, abs=1e-5)


def test_a_tie_block_at_the_medium_cut_off_stays_out(caplog: pytest.LogCaptureFixture) -> None:
    """The case of a small model: a block of 6% of the claims on one score straddles the medium
    cut-off. A quantile cut-off put all of it in medium (about 9% instead of 4%)."""
    rng = np.random.default_rng(1)
    s = np.r_[rng.uniform(0.0, 0.3, 45_000), np.full(3_000, 0.35), rng.uniform(0.4, 1.0, 2_000)]
    old_medium = np.quantile(s, 0.95, method="higher")
    old_high = np.quantile(s, 0.99, method="higher")
    assert ((s >= old_medium) & (s < old_high)).mean() > 0.08  # the reported failure
    with caplog.at_level(logging.WARNING, logger="riskml.bands"):
        cut = band_thresholds(s, 0.01, 0.04)
    shares = band_shares(s, cut)
    assert shares["high"] == pytest.approx(0.01)
    assert shares["medium"] == pytest.approx(0.03)  # the rest above the block; the block is low
    assert (assign_bands(s, cut)[45_000:48_000] == "low").all()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "'medium' holds 3.00%" in messages[0], messages
    assert "instead of 4.00%" in messages[0]


def test_many_small_ties_come_as_close_as_they_allow() -> None:
    rng = np.random.default_rng(2)
    s = np.round(rng.beta(0.6, 10, 50_000), 2)  # 2-decimal scores: every value is a tie block
    cut = band_thresholds(s, 0.01, 0.04)
    shares = band_shares(s, cut)
    assert shares["high"] <= 0.01 and shares["medium"] <= 0.04
    # the next tie block down would overfill each band
    below_high = s[s < cut["high"]].max()
    assert (
        band_shares(s, dict(cut, high=float(below_high), medium=min(cut["medium"], below_high)))[
            "high"
        ]
        > 0.01
    )
    below_medium = s[s < cut["medium"]].max()
    assert band_shares(s, dict(cut, medium=float(below_medium)))["medium"] > 0.04


def test_a_top_block_larger_than_the_band_leaves_it_empty_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    s = np.r_[np.full(300, 0.9), np.linspace(0.0, 0.5, 9_700)]
    with caplog.at_level(logging.WARNING, logger="riskml.bands"):
        cut = band_thresholds(s, 0.01, 0.04)
    shares = band_shares(s, cut)
    assert shares["high"] == 0.0
    assert shares["medium"] == pytest.approx(0.04, abs=1e-4)  # the block of 3% plus the rest
    assert (assign_bands(s, cut)[:300] == "medium").all()
    assert any("'high' holds 0.00%" in r.getMessage() for r in caplog.records)


def test_no_warning_without_ties(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="riskml.bands"):
        band_thresholds(np.linspace(0, 1, 1_000), 0.01, 0.04)
    assert not caplog.records


def test_all_scores_equal() -> None:
    cut = band_thresholds(np.full(1_000, 0.2), 0.01, 0.04)
    assert band_shares(np.full(1_000, 0.2), cut) == {"high": 0.0, "medium": 0.0, "low": 1.0}


def test_a_small_real_model_keeps_its_bands_and_says_what_ties_cost() -> None:
    """A LightGBM of a few small trees gives a few dozen distinct scores for 20,000 claims:
    whole blocks tie at the cut-offs. The bands stay at or under their shares, and the note for
    the training summary and model card names the band and the share it achieved."""
    import lightgbm as lgb

    rng = np.random.default_rng(3)
    x = rng.normal(size=(20_000, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(size=20_000) > 2.0).astype(int)
    params = {"objective": "binary", "num_leaves": 4, "verbose": -1, "num_threads": 1}
    params["min_data_in_leaf"] = 500
    booster = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=3)
    s = np.asarray(booster.predict(x))
    assert np.unique(s).size < 30
    cut = band_thresholds(s, 0.01, 0.04)
    shares = band_shares(s, cut)
    assert shares["high"] <= 0.01 and shares["medium"] <= 0.04
    notes = tie_shortfalls(s, cut, 0.01, 0.04)
    short = [b for b, want in (("high", 0.01), ("medium", 0.04)) if want - shares[b] > 0.1 * want]
    assert [n.split("'")[1] for n in notes] == short and short
    for note in notes:
        band = note.split("'")[1]
        assert f"holds {100 * shares[band]:.2f}% of the calibration claims" in note


def test_no_notes_when_the_shares_hold() -> None:
    s = np.linspace(0, 1, 10_000)
    assert tie_shortfalls(s, band_thresholds(s, 0.01, 0.04), 0.01, 0.04) == []


def test_the_model_card_warns_with_the_achieved_share() -> None:
    """The notes of :func:`tie_shortfalls` reach the model card (and the training summary,
    ``TrainResult.band_summary``) as warnings beside the shares achieved."""
    from types import SimpleNamespace

    from riskml.report import bands_markdown

    s = np.r_[np.full(300, 0.9), np.linspace(0.0, 0.5, 9_700)]
    cut = band_thresholds(s, 0.01, 0.04)
    shares = band_shares(s, cut)
    summary = {
        "calibration_share": {"high": shares["high"], "medium": shares["medium"]},
        "test_share": {"high": None, "medium": None},
        "notes": tie_shortfalls(s, cut, 0.01, 0.04),
    }
    text = bands_markdown(SimpleNamespace(band_summary=lambda: summary))  # type: ignore[arg-type]
    assert "Achieved shares: high 0.00%, medium 4.00% where the cut-offs were placed" in text
    assert "high n/a, medium n/a on the test window" in text
    assert (
        "> **Warning:** risk band 'high' holds 0.00% of the calibration claims instead of 1.00%"
        in text
    )
