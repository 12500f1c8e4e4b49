"""``riskml evaluate``: the metrics JSON of a model version on a data directory's labels."""

from __future__ import annotations

from typing import Any

from riskml.data import load_data_dir
from riskml.defaults import DEFAULT_MODEL_URI
from riskml.errors import RiskmlError
from riskml.evaluate import evaluate_scores
from riskml.registry import load_model_bundle
from riskml.train import claim_frame


def run_evaluate(
    data_dir: Any, model_uri: str = DEFAULT_MODEL_URI, capacity: float = 0.01
) -> dict[str, Any]:
    """``riskml evaluate``: the metrics JSON of a model version on the labelled claims of a
    data directory (every label counts; capacity = top share of all claims per month)."""
    data = load_data_dir(data_dir, require_labels=True)
    bundle = load_model_bundle(model_uri)
    frame = claim_frame(data, None)
    if frame["label"].notna().sum() == 0:
        raise RiskmlError(f"labels: no claim of {data_dir} is labelled; nothing to evaluate")
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
        "model_uri": model_uri,
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
