"""``riskml entities``: providers, employers and doctors ranked for targeted audits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from riskml.cli import app
from riskml.data import ClaimsData
from riskml.entities import PRIOR_CLAIMS, rank_entities

from ..conftest import Trained


def _claims(rows: list[tuple[str | None, float, str]]) -> pd.DataFrame:
    reason = json.dumps(
        [{"feature": "amount_ratio", "value": 4.0, "contribution": 1.5, "text": "amount 4x"}]
    )
    return pd.DataFrame(
        {
            "provider_id": [r[0] for r in rows],
            "risk_score": [r[1] for r in rows],
            "risk_band": [r[2] for r in rows],
            "amount_claimed": 100.0,
            "reasons": [reason if r[2] != "low" else "[]" for r in rows],
        }
    )


def test_risk_is_the_shrunken_share_of_fraud_and_ranks_evidence_over_luck() -> None:
    rows = (
        [("H_BIG", 0.5, "high")] * 150 + [("H_BIG", 0.05, "low")] * 50  # many suspicious claims
        + [("H_LUCK", 0.9, "high")] * 2  # two odd claims
        + [("H_OK", 0.02, "low")] * 300
        + [(None, 0.99, "high")]  # a cash benefit: no provider
    )  # fmt: skip
    ranked = rank_entities(_claims(rows), "provider")
    assert list(ranked["entity_id"]) == ["H_BIG", "H_LUCK", "H_OK"]
    prior = np.mean([r[1] for r in rows if r[0] is not None])
    big = ranked.iloc[0]
    assert big["risk_score"] == pytest.approx(
        (150 * 0.5 + 50 * 0.05 + PRIOR_CLAIMS * prior) / (200 + PRIOR_CLAIMS)
    )
    assert (big["claims"], big["flagged_claims"], big["amount_flagged"]) == (200, 150, 15_000.0)
    reasons = json.loads(big["reasons"])
    assert reasons[0]["feature"] == "flagged_claim_share"
    assert reasons[0]["text"].startswith("150 of its 200 claims flagged (75%")
    assert reasons[1]["text"] == "in 150 of its flagged claims: amount 4x"
    ok = json.loads(ranked.iloc[2]["reasons"])
    assert len(ok) == 1 and ok[0]["text"].startswith("0 of its 300 claims flagged (0%")


def test_entities_verb_ranks_every_provider_of_the_directory(
    trained: Trained, synth_dir: Path, synth_data: ClaimsData, tmp_path: Path
) -> None:
    out = tmp_path / "providers.parquet"
    res = CliRunner().invoke(
        app, ["entities", "--data", str(synth_dir), "--out", str(out), "--kind", "provider"]
    )
    assert res.exit_code == 0, res.output
    ranked = pd.read_parquet(out)
    assert list(ranked.columns) == [
        "entity_id", "kind", "risk_score", "claims", "flagged_claims", "amount_claimed",
        "amount_flagged", "reasons",
    ]  # fmt: skip
    with_provider = synth_data.claims["provider_id"].notna()
    assert ranked["claims"].sum() == with_provider.sum()
    assert set(ranked["entity_id"]) == set(synth_data.claims.loc[with_provider, "provider_id"])
    assert ranked["risk_score"].between(0, 1).all()
    assert ranked["risk_score"].is_monotonic_decreasing
    assert all(isinstance(json.loads(r), list) and json.loads(r) for r in ranked["reasons"])
    assert (ranked["kind"] == "provider").all()


def test_entities_verb_refuses_an_unknown_kind(trained: Trained, synth_dir: Path, tmp_path: Path):
    out = tmp_path / "x.parquet"
    res = CliRunner().invoke(
        app, ["entities", "--data", str(synth_dir), "--out", str(out), "--kind", "pharmacy"]
    )
    assert res.exit_code == 2 and "--kind 'pharmacy'" in res.output
    assert not out.exists()
