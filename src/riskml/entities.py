"""Entity risk for targeted audits (DOMAIN.md R10): providers, employers and doctors ranked.

An audit of a unit (a hospital, an employer, a doctor) is worth more than a thousand claim
referrals when the unit itself is corrupt, and targeting units instead of the population keeps
suspicion where the evidence is. An entity's ``risk_score`` is the expected share of its claims
that are fraud, from the calibrated scores of its claims, shrunk towards the mean of all entities
of its kind by :data:`PRIOR_CLAIMS` pseudo-claims:

    risk = (sum of its claims' scores + PRIOR_CLAIMS * mean score of the kind)
           / (its claims + PRIOR_CLAIMS)

so a unit with two odd claims does not outrank one with two hundred, and a unit first seen last
month is still ranked by its own evidence. The reasons say how many of its claims were flagged
against the share for its kind, and which claim-level reasons recur among them.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pandas as pd

from riskml.bands import FLAGGED_BANDS

KINDS: dict[str, str] = {
    "provider": "provider_id",
    "employer": "employer_id",
    "doctor": "doctor_id",
}
PRIOR_CLAIMS = 20.0
TOP_REASONS = 3


def rank_entities(claims: pd.DataFrame, kind: str) -> pd.DataFrame:
    """One row per entity of ``kind``, riskiest first.

    ``claims`` has one row per scored claim: the entity column of ``kind`` (see :data:`KINDS`),
    ``amount_claimed``, ``risk_score``, ``risk_band`` and ``reasons`` (the JSON list of a batch
    run). Claims without such an entity are left out.
    """
    column = KINDS[kind]
    c = claims.loc[claims[column].notna()]
    if c.empty:
        return pd.DataFrame(
            columns=["entity_id", "kind", "risk_score", "claims", "flagged_claims",
                     "amount_claimed", "amount_flagged", "reasons"]
        )  # fmt: skip
    flagged = c["risk_band"].isin(FLAGGED_BANDS).to_numpy()
    amount = c["amount_claimed"].to_numpy(dtype=np.float64)
    frame = pd.DataFrame(
        {
            "entity_id": c[column].astype(str).to_numpy(),
            "score": c["risk_score"].to_numpy(dtype=np.float64),
            "flagged": flagged.astype(np.int64),
            "amount": amount,
            "amount_flagged": np.where(flagged, amount, 0.0),
        }
    )
    g = frame.groupby("entity_id", sort=False)
    agg = g.agg(
        score_sum=("score", "sum"),
        claims=("score", "size"),
        flagged_claims=("flagged", "sum"),
        amount_claimed=("amount", "sum"),
        amount_flagged=("amount_flagged", "sum"),
    )
    prior = float(frame["score"].mean())
    agg["risk_score"] = (agg["score_sum"] + PRIOR_CLAIMS * prior) / (agg["claims"] + PRIOR_CLAIMS)
    share_all = float(flagged.mean())
    recurring = _recurring_reasons(c[column].astype(str).to_numpy()[flagged], c["reasons"][flagged])
    agg["reasons"] = [
        json.dumps(_reasons(kind, n, k, share_all, recurring.get(eid)), ensure_ascii=False)
        for eid, n, k in zip(
            agg.index, agg["claims"].to_numpy(), agg["flagged_claims"].to_numpy(), strict=True
        )
    ]
    agg = agg.reset_index().sort_values(
        ["risk_score", "amount_flagged", "entity_id"], ascending=[False, False, True]
    )
    agg.insert(1, "kind", kind)
    cols = ["entity_id", "kind", "risk_score", "claims", "flagged_claims", "amount_claimed",
            "amount_flagged", "reasons"]  # fmt: skip
    out = agg[cols].reset_index(drop=True)
    out["claims"] = out["claims"].astype(np.int64)
    out["flagged_claims"] = out["flagged_claims"].astype(np.int64)
    return out


def _recurring_reasons(
    entity_ids: np.ndarray, reasons: pd.Series
) -> dict[str, list[tuple[str, int, float, float, str]]]:
    """Per entity: (feature, flagged claims citing it, mean value, mean contribution, one text)
    of the claim reasons that recur among its flagged claims, most cited first."""
    cited: dict[str, Counter[str]] = defaultdict(Counter)
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    contributions: dict[tuple[str, str], list[float]] = defaultdict(list)
    texts: dict[tuple[str, str], tuple[float, str]] = {}
    for eid, raw in zip(entity_ids, reasons.to_numpy(), strict=True):
        for r in json.loads(raw) if isinstance(raw, str) and raw else []:
            key = (eid, r["feature"])
            cited[eid][r["feature"]] += 1
            values[key].append(float(r["value"]) if r["value"] is not None else np.nan)
            contributions[key].append(float(r["contribution"]))
            if key not in texts or r["contribution"] > texts[key][0]:
                texts[key] = (float(r["contribution"]), str(r["text"]))
    out: dict[str, list[tuple[str, int, float, float, str]]] = {}
    for eid, counter in cited.items():
        top = sorted(
            counter.items(),
            key=lambda kv: (-kv[1], -float(np.mean(contributions[(eid, kv[0])])), kv[0]),
        )[:TOP_REASONS]
        out[eid] = [
            (
                feature,
                n,
                _mean_of_known(values[(eid, feature)]),
                float(np.mean(contributions[(eid, feature)])),
                texts[(eid, feature)][1],
            )
            for feature, n in top
        ]
    return out


def _mean_of_known(values: list[float]) -> float:
    known = [v for v in values if not np.isnan(v)]
    return float(np.mean(known)) if known else np.nan


def _reasons(
    kind: str,
    claims: int | np.integer,
    flagged: int | np.integer,
    share_all: float,
    recurring: list[tuple[str, int, float, float, str]] | None,
) -> list[dict[str, Any]]:
    share = flagged / claims if claims else 0.0
    noun = "claim" if claims == 1 else "claims"
    out: list[dict[str, Any]] = [
        {
            "feature": "flagged_claim_share",
            "value": share,
            "contribution": share - share_all,
            "text": f"{flagged} of its {claims} {noun} flagged ({share:.0%}; "
            f"{share_all:.0%} across all {kind}s)",
        }
    ]
    for feature, n, value, contribution, text in recurring or []:
        out.append(
            {
                "feature": feature,
                "value": None if np.isnan(value) else value,
                "contribution": contribution,
                "text": f"in {n} of its flagged {'claim' if n == 1 else 'claims'}: {text}",
            }
        )
    return out
