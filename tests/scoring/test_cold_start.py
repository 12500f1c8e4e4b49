"""Cold start: a claim of a benefit type, diagnosis group or provider type the model never saw
says so in its reasons, and ``riskml score`` counts such claims in its summary."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from riskml.batch import score_backlog
from riskml.data import ClaimsData
from riskml.features import FEATURES
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


def _rehomed(data: ClaimsData, provider: str, since: pd.Timestamp) -> tuple[ClaimsData, str]:
    """``data`` where the claims of ``provider`` submitted from ``since`` on belong to a provider
    the scheme designated then: the same patients and bills, no history before."""
    new = f"{provider}-NEW"
    claims = data.claims.copy()
    moved = (claims["provider_id"] == provider) & (claims["submitted_at"] >= since)
    claims.loc[moved, "provider_id"] = new
    row = data.providers.loc[data.providers["provider_id"] == provider].copy()
    row["provider_id"] = new
    row["designated_on"] = claims.loc[moved, "service_start"].min().normalize()
    providers = pd.concat([data.providers, row], ignore_index=True)
    rehomed = ClaimsData(
        data.persons, data.employers, providers, data.contributions, claims, data.claim_items
    )
    return rehomed, new


def test_a_provider_first_seen_after_training_is_ranked_by_its_own_evidence(
    trained: Trained, synth_dir: Path, synth_data: ClaimsData
) -> None:
    """DESIGN principle 2: a provider designated after training gets real provider features from
    its first claims on, so its claims spread as a known provider's do, and its improper ones
    (ordinary care mixed with a typology's claims) rank above its ordinary ones."""
    scorer = load_scorer(URI)
    fit_end = scorer.bundle.feature_builder.fit_window_[1]
    truth = pd.read_parquet(synth_dir / "ground_truth.parquet")
    claims = synth_data.claims
    late = claims.loc[claims["submitted_at"] >= fit_end]
    improper = late["claim_id"].isin(truth["claim_id"])
    per_provider = pd.DataFrame(
        {"claims": late.groupby("provider_id").size(),
         "improper": late.loc[improper].groupby("provider_id").size()}
    ).fillna(0)  # fmt: skip
    busy = per_provider.loc[(per_provider["improper"] >= 8) & (per_provider["claims"] >= 60)]
    assert len(busy), per_provider.sort_values("improper").tail()
    provider = str(busy.sort_values("improper").index[-1])
    rehomed, new = _rehomed(synth_data, provider, fit_end)
    mine = late.loc[late["provider_id"] == provider]
    known = pd.Series({r.claim_id: r.risk_score for r in scorer.score(synth_data, mine, "none")})
    fresh = pd.Series(
        {r.claim_id: r.risk_score for r in scorer.score(rehomed, rehomed.claims.loc[
            rehomed.claims["provider_id"] == new], "none")}
    )  # fmt: skip
    fresh = fresh.loc[known.index]
    bad = known.index.isin(truth["claim_id"])

    def logit(p: pd.Series) -> np.ndarray:
        q = np.clip(p.to_numpy(dtype=float), 1e-6, 1 - 1e-6)
        return np.log(q / (1 - q))

    # its provider and co-visit features are there, as for the known provider: nothing about
    # it was fitted at training (claims_v1's fitted profile left them all missing)
    builder = scorer.bundle.feature_builder
    entity = [n for n in builder.feature_names_ if FEATURES[n].family in ("provider", "network")]
    entity = [n for n in entity if not n.startswith("doctor_")]
    known_x = builder.transform(synth_data, mine)[entity]
    fresh_x = builder.transform(rehomed, rehomed.claims.loc[rehomed.claims["provider_id"] == new])
    fresh_x = fresh_x.loc[known_x.index, entity]
    settled = rehomed.claims.set_index("claim_id").loc[known_x.index, "submitted_at"] >= (
        fit_end + pd.Timedelta(days=60)
    )
    missing_known = known_x.loc[settled.to_numpy()].isna().mean()
    missing_fresh = fresh_x.loc[settled.to_numpy()].isna().mean()
    assert (missing_fresh <= missing_known + 0.05).all(), missing_fresh - missing_known
    assert (fresh_x.loc[settled.to_numpy(), "provider_claims_365d"] > 0).all()
    # as spread as when the provider was known: no collapse to one near-constant score
    assert fresh.nunique() >= 0.8 * known.nunique() > 10  # calibrated scores tie in steps
    assert logit(fresh).std() > 0.7 * logit(known).std()
    # ranked by its own evidence: its improper claims above its ordinary ones
    assert roc_auc_score(bad, fresh) > 0.8, (roc_auc_score(bad, known), roc_auc_score(bad, fresh))
    # the same ranking as the provider's known self, claim by claim
    assert spearmanr(fresh, known).statistic > 0.8
