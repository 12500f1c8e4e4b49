"""``riskml evaluate``: the metrics JSON of a model version on a data directory's labels."""

from __future__ import annotations

from typing import Any

import pandas as pd

from riskml.bundle import ModelBundle
from riskml.data import ClaimsData, load_data_dir
from riskml.defaults import DEFAULT_MODEL_URI
from riskml.errors import RiskmlError
from riskml.evaluate import evaluate_scores
from riskml.registry import load_model_bundle
from riskml.train import claim_frame

COMPARED = ("auc_pr", "roc_auc", "precision_at_capacity", "recall_at_capacity", "brier")


def run_evaluate(
    data_dir: Any,
    model_uri: str = DEFAULT_MODEL_URI,
    capacity: float = 0.01,
    challenger_uri: str | None = None,
) -> dict[str, Any]:
    """``riskml evaluate``: the metrics JSON of a model version on the labelled claims of a
    data directory (every label counts; capacity = top share of all claims per month).

    With ``challenger_uri`` the challenger is measured on the same claims and labels, and
    ``comparison`` gives challenger minus model for the headline metrics.
    """
    data = load_data_dir(data_dir, require_labels=True)
    frame = claim_frame(data, None)
    if frame["label"].notna().sum() == 0:
        raise RiskmlError(f"labels: no claim of {data_dir} is labelled; nothing to evaluate")
    bundle = load_model_bundle(model_uri)
    out: dict[str, Any] = {"model_uri": model_uri, **_measure(bundle, data, frame, capacity)}
    if challenger_uri:
        challenger = load_model_bundle(challenger_uri)
        measured = _measure(challenger, data, frame, capacity)
        out["challenger"] = {"model_uri": challenger_uri, **measured}
        out["comparison"] = {
            k: None if out.get(k) is None or measured.get(k) is None else measured[k] - out[k]
            for k in COMPARED
        }
    return out


def _measure(
    bundle: ModelBundle, data: ClaimsData, frame: pd.DataFrame, capacity: float
) -> dict[str, Any]:
    feats = bundle.feature_builder.transform(data).reindex(frame.index)
    scores = bundle.predict_risk(feats, num_threads=2)
    out = evaluate_scores(
        frame["label"].to_numpy(),
        scores,
        month=frame["month"].to_numpy(),
        amount=frame["amount"].to_numpy(),
        typology=frame["typology"].to_numpy(),
        attributes=frame[["sex", "age_band", "hukou_type", "region"]].reset_index(drop=True),
        capacity=capacity,
        source=frame["source"].to_numpy(),
        selection_probability=frame["selection_probability"].to_numpy(),
    )
    bands = bundle.band(scores)
    return {
        "model_name": bundle.model_name,
        "model_version": bundle.model_version,
        **out,
        "band_share_high": float((bands == "high").mean()) if len(bands) else None,
        "band_share_medium": float((bands == "medium").mean()) if len(bands) else None,
        # what the version was registered with: the backtest of its training procedure (what
        # the promotion gate compared) and the booster of its train window, on its test window
        "recorded": {
            "windows": bundle.windows,
            "backtest": bundle.metrics if bundle.refit else None,
            "windowed": bundle.windowed_metrics or (None if bundle.refit else bundle.metrics),
            "refit": bundle.refit or None,
        },
    }
