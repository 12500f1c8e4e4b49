"""Cold start: a claim of a benefit type, diagnosis group or provider type the model never saw
says so in its reasons, and ``riskml score`` counts such claims in its summary."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd

from riskml.batch import score_backlog
from riskml.data import ClaimsData
from riskml.scoring import Scorer, load_scorer
from tests.conftest import Trained

URI = "models:/riskml-claims@champion"


def _forgetting(scorer: Scorer, kind: str, value: str) -> Scorer:
    """The same model as if its training window had never shown ``value`` of ``kind``."""
    bundle = copy.copy(scorer.bundle)
    builder = copy.deepcopy(bundle.feature_builder)
    builder.known_values_[kind] = [v for v in builder.known_values_[kind] if v != value]
    bundle.feature_builder = builder
    return Scorer(bundle, num_threads=1)


def test_unseen_values_give_a_reason_and_a_count(
    trained: Trained, synth_dir: Path, synth_data: ClaimsData, tmp_path: Path
) -> None:
    scorer = _forgetting(load_scorer(URI), "benefit_type", "maternity")
    claims = synth_data.claims
    maternity = claims.loc[claims["benefit_type"] == "maternity"].head(20)
    other = claims.loc[claims["benefit_type"] == "outpatient"].head(5)
    results = scorer.score(synth_data, pd.concat([maternity, other]), explain="all")
    texts = [[r.text for r in res.reasons if r.feature == "unseen_benefit_type"] for res in results]
    assert all(t and "benefit type 'maternity' was not in the model's training data" in t[0]
               for t in texts[:20])  # fmt: skip
    assert not any(texts[20:])
    # the batch summary counts them, resumable chunk by chunk
    out = tmp_path / "scores.parquet"
    summary = score_backlog(synth_dir, out, scorer=scorer, chunk_size=4_000, show_progress=False)
    n_maternity = int((claims["benefit_type"] == "maternity").sum())
    assert summary["cold_start"] == {"benefit_type": {"maternity": n_maternity}}
    scored = pd.read_parquet(out).set_index("claim_id")
    ids = claims.loc[claims["benefit_type"] == "maternity", "claim_id"]
    reasons = scored.loc[ids, "reasons"].map(json.loads)
    assert reasons.map(lambda rs: any(r["feature"] == "unseen_benefit_type" for r in rs)).all()
    # the real model saw every benefit type of its data: nothing to report
    plain = score_backlog(synth_dir, tmp_path / "plain.parquet", model_uri=URI,
                          show_progress=False)  # fmt: skip
    assert plain["cold_start"] == {}
