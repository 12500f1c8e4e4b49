"""Unbiased estimates from random audits (DOMAIN R11): the selective labels of investigations
do not say how much fraud there is, a uniform sample of the rest does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from riskml.cli import app
from riskml.evaluate import audit_estimates, precision_at_capacity

from ..conftest import Trained


def _population(rng: np.random.Generator, n: int = 40_000) -> dict[str, np.ndarray]:
    """Claims with known truth; investigators open mostly the suspicious ones (biased), then a
    5% random audit is drawn from the rest."""
    score = rng.random(n)
    fraud = rng.random(n) < 0.02 + 0.10 * score**4  # fraud rises with the score
    investigated = rng.random(n) < np.where(fraud, 0.6, 0.05) * (0.5 + score)
    audited = ~investigated & (rng.random(n) < 0.05)
    y = np.where(investigated | audited, fraud.astype(float), np.nan)
    source = np.where(audited, "random_audit", np.where(investigated, "investigation", None))
    p = np.where(audited, 0.05, np.nan)
    flagged = score >= np.quantile(score, 0.95)
    return {"fraud": fraud, "y": y, "source": source, "p": p, "flagged": flagged}


def test_estimates_are_unbiased_and_their_intervals_cover_the_truth() -> None:
    rng = np.random.default_rng(42)
    runs, covered, naive = [], 0, []
    for _ in range(40):
        pop = _population(rng)
        est = audit_estimates(pop["y"], pop["source"], pop["p"], pop["flagged"])
        assert est is not None
        truth = {
            "prevalence": pop["fraud"].mean(),
            "precision_at_capacity": pop["fraud"][pop["flagged"]].mean(),
            "recall_at_capacity": pop["fraud"][pop["flagged"]].sum() / pop["fraud"].sum(),
        }
        runs.append({k: est[k]["estimate"] - v for k, v in truth.items()})
        covered += all(est[k]["ci_low"] <= v <= est[k]["ci_high"] for k, v in truth.items())
        naive.append(np.nanmean(pop["y"]) - truth["prevalence"])
    bias = pd.DataFrame(runs).mean()
    assert abs(bias["prevalence"]) < 0.001
    assert abs(bias["precision_at_capacity"]) < 0.01
    assert abs(bias["recall_at_capacity"]) < 0.01
    assert covered >= 30  # all three intervals at once, about 0.95^3 of the runs
    # the share of fraud among the labels, what one would read without the weights, is far off
    assert np.mean(naive) > 0.05


def test_no_random_audit_no_estimate() -> None:
    y = np.array([1.0, 0.0, np.nan])
    src = np.array(["investigation", "investigation", None], dtype=object)
    assert audit_estimates(y, src, np.full(3, np.nan), np.array([True, False, False])) is None
    # and the labels' own precision is what it is
    assert precision_at_capacity(y, np.array([0.9, 0.1, 0.2]), 0.34, None) == 1.0


def test_evaluate_reports_audit_estimates_with_intervals(trained: Trained, synth_dir: Path) -> None:
    res = CliRunner().invoke(app, ["evaluate", "--data", str(synth_dir)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    audit = out["random_audit"]
    assert audit["audited_claims"] > 100
    truth = pd.read_parquet(synth_dir / "ground_truth.parquet")
    claims = pd.read_parquet(synth_dir / "claims.parquet", columns=["claim_id"])
    improper = truth.loc[truth["class"] != "error", "claim_id"].nunique() / len(claims)
    prevalence = audit["prevalence"]
    assert prevalence["ci_low"] <= prevalence["estimate"] <= prevalence["ci_high"]
    # investigators miss about a tenth of the fraud they open, so the labels' prevalence is a
    # little below the truth, but of its size; the unweighted labels overstate it many times
    assert 0.6 * improper < prevalence["estimate"] < 1.3 * improper
    labels = pd.read_parquet(synth_dir / "labels.parquet")
    assert labels["is_fraud"].mean() > 2 * improper
