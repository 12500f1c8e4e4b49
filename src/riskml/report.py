"""What a training run shows people: plots (matplotlib, Agg) and the markdown model card.

The model card is filled from ``model_card.md`` beside this module (``string.Template``); its
tables are rendered here from the run's metrics so the card and the MLflow metrics never disagree.
"""

from __future__ import annotations

import math
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

import numpy as np

from riskml.evaluate import MIN_SHOWN_CLAIMS, SHOWN_GROUPS, shown_fairness_groups

if TYPE_CHECKING:
    from riskml.train import TrainResult

TEMPLATE = Path(__file__).with_name("model_card.md")
_HEADLINE = (
    ("auc_pr", "AUC-PR"),
    ("roc_auc", "ROC-AUC"),
    ("precision_at_capacity", "precision@cap"),
    ("recall_at_capacity", "recall@cap"),
    ("amount_recall_at_capacity", "amount recall@cap"),
    ("brier", "Brier"),
    ("ece", "ECE"),
)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.{digits}f}"
    return str(value)


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def quality_table(result: TrainResult) -> str:
    """Overall out-of-time quality of the model and every baseline."""
    runs = {"riskml (LightGBM, claims features)": result.metrics, **result.baselines}
    if result.refit:
        runs = {
            "riskml, refit on every mature label (backtest)": result.metrics,
            "riskml, booster of the train window": result.windowed_metrics,
            **result.baselines,
        }
    return md_table(
        ["model", *[label for _, label in _HEADLINE]],
        [[name, *[m.get(k) for k, _ in _HEADLINE]] for name, m in runs.items()],
    )


def typology_table(result: TrainResult) -> str:
    """Recall at capacity per typology: the model beside every baseline, with test fraud counts."""
    test = result.test_frame
    fraud = test[test["label"] == 1]
    counts = fraud["typology"].fillna("unknown").value_counts()
    names = list(result.metrics.get("per_typology_recall", {}))
    base = list(result.baselines)
    rows = [
        [
            typ,
            int(counts.get(typ, 0)),
            result.metrics["per_typology_recall"].get(typ),
            *[result.baselines[b].get("per_typology_recall", {}).get(typ) for b in base],
        ]
        for typ in names
    ]
    return md_table(["typology", "test fraud", "riskml", *base], rows)


def fairness_markdown(result: TrainResult) -> str:
    """The fairness section's tables: the gate's evidence per attribute, then the groups, the
    small ones folded into an "other (k groups)" row (the gate tests every real group)."""
    groups = shown_fairness_groups(result.metrics)
    rows = [
        [
            g["attribute"],
            g["group"],
            g["claims"],
            g["labelled"],
            g.get("referral_rate"),
            g.get("precision"),
            g.get("false_positive_rate"),
        ]
        for g in groups
    ]
    ratios = result.metrics.get("fairness", {}).get("fpr_ratio", {})
    ratio_line = ", ".join(f"{k}: {_fmt(v, 2)}" for k, v in ratios.items()) or "n/a"
    table = md_table(
        ["attribute", "group", "claims", "labelled", "referral rate", "precision", "FPR"], rows
    )
    evidence = result.metrics.get("fairness", {}).get("evidence", {})
    evidence_table = md_table(
        ["gated attribute", "what the counts show", "point FPR ratio", "supported groups"],
        [
            [a, e["status"], e["point_ratio"], f"{e['supported_groups']} of {e['groups']}"]
            for a, e in evidence.items()
        ],
    )
    return (
        f"False-positive-rate ratio (highest / lowest supported group): {ratio_line}\n\n"
        f'The gate\'s bound on it, per gated attribute ("not enough evidence": the counts '
        f"cannot decide; the point ratio is shown):\n\n{evidence_table}\n\n"
        f"Per attribute, the {SHOWN_GROUPS} groups with most claims (at least "
        f'{MIN_SHOWN_CLAIMS:,d} each); the others are summed into one "other (k groups)" row. '
        f"The gate's tests take every group as it is.\n\n{table}"
    )


def bands_markdown(result: TrainResult) -> str:
    """The shares the risk bands achieved, and a warning when tied scores leave one short."""
    summary = result.band_summary()

    def shares(key: str) -> str:
        got = summary[key]
        return ", ".join(
            f"{band} {_pct(got.get(band))}" for band in ("high", "medium") if band in got
        )

    text = (
        f"Achieved shares: {shares('calibration_share')} where the cut-offs were placed; "
        f"{shares('test_share')} on the test window."
    )
    for note in summary["notes"]:
        text += f"\n\n> **Warning:** {note}."
    return text


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def size_markdown(result: TrainResult) -> str:
    rows = [
        [
            r["size"],
            r["trees"],
            r["val_auc_pr"],
            r.get("shap_rows_per_s"),
            r.get("predict_rows_per_s"),
            "yes" if r["chosen"] else "",
        ]
        for r in result.size_table
    ]
    return md_table(
        ["size", "trees", "val AUC-PR", "TreeSHAP rows/s", "predict rows/s", "chosen"], rows
    )


def refit_markdown(result: TrainResult) -> str:
    """How the registered booster was made: refit on every mature label, or the train window's."""
    if not result.refit:
        return (
            "The registered booster is the one trained on the train window (refit disabled): it "
            "has learned nothing from labels after the validation window began."
        )
    reg, bt = result.refit["registered"], result.refit["backtest"]
    rc = result.config.refit
    return (
        f"The registered booster was refit on every label mature at the training date: "
        f"{reg['labelled_rows']:,} labelled claims submitted before {reg['end']}, "
        f"{reg['trees']} trees (early stopping's count scaled by the labelled rows, at most "
        f"{rc.max_tree_scale:g}x). It was calibrated and banded on time-ordered out-of-fold "
        f"scores of the last {rc.oof_months} months ({rc.folds} blocks, each scored by the "
        f"same procedure fitted on the claims before it; {reg['oof_labelled']:,} labelled of "
        f"{reg['oof_claims']:,} claims). It has no later window of its own, so the quality below "
        f"is a **backtest**: the same procedure as of {result.windows.test_start.date()} "
        f"({bt['labelled_rows']:,} labelled claims, {bt['trees']} trees), tested on the test "
        "window. The booster of the train window is shown beside it."
    )


def render_model_card(result: TrainResult, run_id: str = "") -> str:
    """The markdown model card of one training run."""
    try:
        from riskml.features import FEATURES
    except ImportError:  # pragma: no cover - features are part of the package
        FEATURES = {}
    feature_rows = [
        [name, getattr(FEATURES.get(name), "description", "")] for name in result.feature_names
    ]
    counts = result.window_counts
    data_rows = [
        [w, c["claims"], c["labelled"], c["fraud"]] for w, c in counts.items() if c["claims"]
    ]
    w = result.windows
    values = {
        "model_name": result.config.model_name,
        "trained_at": result.trained_at,
        "run_id": run_id,
        "fingerprint": result.fingerprint or "n/a",
        "feature_set": result.feature_set,
        "feature_set_version": result.feature_set_version,
        "n_features": str(len(result.feature_names)),
        "train_window": f"{w.train_start.date()} .. {w.validation_start.date()}",
        "validation_window": f"{w.validation_start.date()} .. {w.calibration_start.date()}",
        "calibration_window": f"{w.calibration_start.date()} .. {w.test_start.date()}",
        "test_window": f"{w.test_start.date()} .. {w.test_end.date()}",
        "label_cutoff": str(w.training_cutoff.date()),
        "data_table": md_table(["window", "claims", "labelled", "fraud"], data_rows),
        "imbalance": result.imbalance,
        "imbalance_table": md_table(
            ["imbalance", "val AUC-PR", "trees"],
            [[r["imbalance"], r["val_auc_pr"], r["trees"]] for r in result.imbalance_table],
        ),
        "size": result.size.label,
        "size_table": size_markdown(result),
        "calibration": result.calibrator.method,
        "high_share": f"{result.config.bands.high_share:.1%}",
        "medium_share": f"{result.config.bands.medium_share:.1%}",
        "high_cut": f"{result.band_thresholds['high']:.4f}",
        "medium_cut": f"{result.band_thresholds['medium']:.4f}",
        "band_shares": bands_markdown(result),
        "capacity": f"{result.config.evaluation.capacity:.1%}",
        "quality_table": quality_table(result),
        "typology_table": typology_table(result),
        "fairness_table": fairness_markdown(result),
        "max_fpr_ratio": f"{result.config.gate.max_fpr_ratio:.2f}",
        "gated_attributes": ", ".join(result.config.gate.attributes),
        "feature_table": md_table(["feature", "meaning"], feature_rows),
        "train_seconds": f"{result.timings.get('train_total_s', 0.0):.0f}",
        "refit_section": refit_markdown(result),
        "as_of": w.as_of.isoformat() if w.as_of is not None else "n/a",
    }
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(values)


def write_plots(result: TrainResult, out: Path, shap_rows: int = 1_000) -> list[Path]:
    """PR curve, calibration curve, SHAP summary, gain importance and the size trade-off."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    test = result.test_frame
    lab = test["label"].notna().to_numpy()
    y = test["label"].to_numpy()[lab]

    fig, ax = plt.subplots(figsize=(6, 4.5))
    curves = {"riskml": test["score"].to_numpy(), **result.baseline_test_scores}
    if (y == 1).any():
        for name, s in curves.items():
            p, r, _ = precision_recall_curve(y, np.asarray(s)[lab])
            ax.plot(r, p, label=name, lw=2 if name == "riskml" else 1)
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall, out-of-time test window")
    ax.legend(fontsize=8)
    paths.append(_save(fig, out / "pr_curve.png"))

    fig, ax = plt.subplots(figsize=(5, 5))
    p = test["score"].to_numpy()[lab]
    if len(p):
        edges = np.unique(np.quantile(p, np.linspace(0, 1, 11)))
        idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
        mean_p = np.bincount(idx, weights=p) / np.maximum(np.bincount(idx), 1)
        rate = np.bincount(idx, weights=y) / np.maximum(np.bincount(idx), 1)
        ax.plot(mean_p, rate, "o-", label="riskml")
    top = float(max(p.max() if len(p) else 0.0, 0.05))
    ax.plot([0, top], [0, top], "k--", lw=1, label="perfect")
    ax.set(xlabel="mean predicted risk", ylabel="observed fraud rate", title="Calibration (test)")
    ax.legend(fontsize=8)
    paths.append(_save(fig, out / "calibration_curve.png"))

    x = result.test_matrix[:shap_rows]
    if len(x):
        import shap

        contrib = np.asarray(result.booster.predict(x, pred_contrib=True), dtype=np.float64)
        plt.figure()
        shap.summary_plot(
            contrib[:, :-1], x, feature_names=result.feature_names, show=False, max_display=20
        )
        paths.append(_save(plt.gcf(), out / "shap_summary.png"))

    gain = result.booster.feature_importance(importance_type="gain")
    order = np.argsort(gain)[::-1][:25][::-1]
    fig, ax = plt.subplots(figsize=(6, 7))
    ax.barh([result.feature_names[i] for i in order], gain[order])
    ax.set(xlabel="total gain", title="Feature importance (gain)")
    paths.append(_save(fig, out / "importance.png"))

    fig, ax = plt.subplots(figsize=(5, 4))
    for r in result.size_table:
        ax.scatter(r.get("shap_ms_per_row", 0.0), r["val_auc_pr"], s=60 if r["chosen"] else 25)
        ax.annotate(r["size"], (r.get("shap_ms_per_row", 0.0), r["val_auc_pr"]), fontsize=8)
    ax.set(xlabel="TreeSHAP ms per claim", ylabel="validation AUC-PR", title="Size trade-off")
    paths.append(_save(fig, out / "size_tradeoff.png"))
    return paths


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
