"""Risk-band cut-offs hold their target shares when scores tie, and say so when they cannot."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from riskml.bands import assign_bands, band_shares, band_thresholds


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
