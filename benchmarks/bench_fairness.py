"""Where the model stands at the fairness gate, and what each mitigation costs in recall.

On one synthetic data set (``riskml.synth``, stress preset) the project's model is trained as
``riskml train`` trains it (model selection, refit, backtest on the 4 test months) and measured
on its test window the way the promotion gate measures it (:func:`riskml.train.score_window`,
:func:`riskml.gate.gate`): for sex, hukou type, age band and region the highest over lowest
false-positive-rate ratio among groups with at least 500 labelled non-fraud claims, the exact
test of the worst pair the counts show beyond 1.25 (Bonferroni over the pairs, alpha 0.05), and
the verdict (exceeds: the gate refuses; within; not enough evidence). Quality: AUC-PR, recall
and precision at capacity (top 1% of each month's claims), on the investigation labels.

Then the mitigations, each measured the same way in the same run:

- **proxies dropped** (``fairness.drop_features``): the features that are direct functions of
  the birth date or of region codes (:data:`riskml.features.sets.AGE_REGION_PROXIES`), and
  those plus the features that exist only for claimants in work
  (:data:`riskml.features.sets.WORKING_AGE_PROXIES`); retrained.
- **reweighing** (``fairness.reweigh``): Kamiran and Calders' weights that make the training
  labels independent of the age band (and of age band x region); retrained.
- **per-group capacity**: the same scores, the top 1% of each month flagged within each age band
  (or each benefit type) instead of over all claims (:func:`riskml.evaluate.flag_top` with
  ``groups``): who is referred changes, the model does not.

Monotone constraints are not tried: no feature of claims_v2 carries the age gap in a direction a
constraint could bound (see the README's fairness section).

    python -m benchmarks --only fairness            # 40,000 persons (about 530,000 claims)
    python -m benchmarks --only fairness --quick    # 12,000 persons
    python -m benchmarks --only fairness --data DIR --persons N --seed S
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from riskml.config import TrainConfig
from riskml.data import ClaimsData, load_data_dir
from riskml.evaluate import (
    AGE_BANDS,
    OLDEST_BAND,
    fairness_frame,
    fpr_disparities,
    fpr_ratios,
)
from riskml.features.sets import AGE_REGION_PROXIES, WORKING_AGE_PROXIES
from riskml.gate import gate
from riskml.synth import SynthConfig, generate, write_result
from riskml.train import TrainResult, score_window, train_model

ATTRIBUTES = ("sex", "hukou_type", "age_band", "region")


@dataclass(frozen=True)
class Mitigation:
    """One row of the table: training overrides (retrained when not empty) and/or the claim
    column within whose groups the monthly capacity is spent (None: over all claims)."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    capacity_within: str | None = None


MITIGATIONS: tuple[Mitigation, ...] = (
    Mitigation("baseline (claims_v2, as trained by riskml train)"),
    Mitigation(
        "a. drop age/region proxies",
        {"fairness": {"drop_features": list(AGE_REGION_PROXIES)}},
    ),
    Mitigation(
        "a. drop age/region and working-age proxies",
        {"fairness": {"drop_features": [*AGE_REGION_PROXIES, *WORKING_AGE_PROXIES]}},
    ),
    Mitigation("b. reweigh by age band", {"fairness": {"reweigh": ["age_band"]}}),
    Mitigation(
        "b. reweigh by age band x region", {"fairness": {"reweigh": ["age_band", "region"]}}
    ),
    Mitigation("c. capacity within each age band", capacity_within="age_band"),
    Mitigation("c. capacity within each benefit type", capacity_within="benefit_type"),
)


@dataclass
class Measured:
    """What one mitigation gives on the test window."""

    mitigation: Mitigation
    result: TrainResult
    """The trained model whose test-window scores were measured (shared by the capacity rows)."""
    metrics: dict[str, Any]
    passes: bool
    reasons: list[str]
    attributes: dict[str, dict[str, Any]]
    train_s: float

    @property
    def verdict(self) -> str:
        if not self.passes:
            return "refused"
        unsure = [a for a, v in self.attributes.items() if v["status"] == "not enough evidence"]
        return f"passes (not enough evidence: {', '.join(unsure)})" if unsure else "passes"


def measure(
    result: TrainResult, config: TrainConfig, capacity_within: np.ndarray | None = None
) -> tuple[dict[str, Any], bool, list[str], dict[str, dict[str, Any]]]:
    """The gate's view of ``result``'s scores on its test window: the metrics JSON, the gate's
    decision and reasons (no champion: the fairness bounds alone), and per gated attribute the
    evidence status, the point false-positive-rate ratio and the worst pair shown beyond the bound.

    ``capacity_within``: a group per test claim; the monthly capacity is then spent within each
    group (month x group), as :func:`riskml.evaluate.flag_top` does with ``groups``.
    """
    frame = result.test_frame
    if capacity_within is not None:
        frame = frame.assign(month=frame["month"].astype(str) + "|" + capacity_within.astype(str))
    metrics = score_window(frame, frame["score"].to_numpy(), config, probability=True)
    passes, reasons = gate(metrics, None, config)
    table = fairness_frame(metrics)
    fc, g = config.fairness, config.gate
    ratios = fpr_ratios(table, fc.min_group_negatives)
    shown = fpr_disparities(table, fc.min_group_negatives, g.max_fpr_ratio, g.alpha)
    attributes: dict[str, dict[str, Any]] = {}
    for attr, evidence in metrics["fairness"]["evidence"].items():
        pairs = sorted((d for d in shown if d["attribute"] == attr), key=lambda d: d["p_value"])
        attributes[attr] = {**evidence, "ratio": ratios.get(attr), "worst": pairs[:1]}
    return metrics, passes, reasons, attributes


def run(
    data: ClaimsData, config: TrainConfig, mitigations: Sequence[Mitigation] = MITIGATIONS
) -> list[Measured]:
    """Train the model once per distinct set of training overrides and measure every mitigation
    on its test window (the first mitigation is the baseline the recall cost is taken against)."""
    trained: dict[str, tuple[TrainResult, TrainConfig, float]] = {}
    benefit = data.claims.set_index(data.claims["claim_id"].astype(str))["benefit_type"]
    out: list[Measured] = []
    for m in mitigations:
        key = repr(sorted(m.overrides.items()))
        if key not in trained:
            cfg = config.with_overrides(m.overrides)
            t0 = time.perf_counter()
            trained[key] = (train_model(data, cfg), cfg, time.perf_counter() - t0)
        result, cfg, secs = trained[key]
        within = None
        if m.capacity_within == "benefit_type":
            within = benefit.reindex(result.test_frame.index).astype(str).to_numpy()
        elif m.capacity_within is not None:
            within = result.test_frame[m.capacity_within].astype(str).to_numpy()
        metrics, passes, reasons, attributes = measure(result, cfg, within)
        out.append(Measured(m, result, metrics, passes, reasons, attributes, secs))
    return out


def _num(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"


def _cell(a: dict[str, Any]) -> str:
    ratio = _num(a["ratio"], 2)
    if a["status"] == "exceeds":
        d = a["worst"][0]
        return (
            f"**exceeds** {ratio} ({d['high_group']} vs {d['low_group']} "
            f"{_num(d['ratio'], 2)}, p = {d['p_value']:.1g})"
        )
    if a["status"] == "within":
        return f"within ({ratio})"
    return f"not enough evidence ({ratio}; {a['supported_groups']}/{a['groups']} groups)"


def table(rows: Sequence[Measured]) -> str:
    """The markdown table: quality, recall cost against the first row, and per attribute the
    largest false-positive-rate ratio among supported groups with the gate's verdict."""
    base = rows[0].metrics.get("recall_at_capacity")
    head = (
        "| model | AUC-PR | referrals | recall@cap | recall cost | precision@cap | "
        + " | ".join(ATTRIBUTES)
        + " | gate |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|" + "---|" * len(ATTRIBUTES) + "---|"]
    for r in rows:
        m = r.metrics
        recall = m.get("recall_at_capacity")
        cost = None if recall is None or base is None else base - recall
        cells = [_cell(r.attributes[a]) if a in r.attributes else "n/a" for a in ATTRIBUTES]
        lines.append(
            f"| {r.mitigation.name} | {_num(m.get('auc_pr'))} | {m['n_flagged']:,} | "
            f"{_num(recall)} | "
            f"{_num(cost)} | {_num(m.get('precision_at_capacity'))} | "
            + " | ".join(cells)
            + f" | {r.verdict} |"
        )
    return "\n".join(lines)


def group_table(rows: Sequence[Measured], attribute: str) -> str:
    """False positives / labelled non-fraud claims per group of ``attribute``, per row."""
    frames = {r.mitigation.name: fairness_frame(r.metrics) for r in rows}
    first = next(iter(frames.values()))
    groups = first.loc[first["attribute"] == attribute, "group"].tolist()
    if attribute == "age_band":
        order = [name for *_, name in AGE_BANDS] + [OLDEST_BAND]
        groups.sort(key=lambda g: order.index(g) if g in order else len(order))
    lines = [
        f"| model | {' | '.join(groups)} |",
        "|---|" + "---:|" * len(groups),
    ]
    for name, f in frames.items():
        part = f[f["attribute"] == attribute].set_index("group")
        cells = [
            f"{int(part.at[g, 'false_positives'])}/{int(part.at[g, 'negatives'])}"
            f" ({_num(float(part.at[g, 'false_positive_rate']) * 100, 2)}%)"
            if g in part.index and part.at[g, "negatives"] > 0
            else "n/a"
            for g in groups
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_fairness", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data", type=Path, help="a data directory (default: synthesise one)")
    parser.add_argument("--persons", type=int)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args, _ = parser.parse_known_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    persons = args.persons or (12_000 if args.quick else 40_000)
    config = TrainConfig().with_overrides(
        {
            "lightgbm": {"num_threads": args.threads},
            "baselines": {k: False for k in ("rules", "logistic_regression",
                                              "isolation_forest", "raw_lightgbm")},
            "log_plots": False,
        }
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="riskml-fairness-") as tmp:
        data_dir = args.data
        if data_dir is None:
            data_dir = Path(tmp) / "data"
            write_result(generate(SynthConfig(persons=persons, seed=args.seed)), data_dir)
        data = load_data_dir(data_dir)
        t0 = time.perf_counter()
        rows = run(data, config)
        elapsed = time.perf_counter() - t0
    m = rows[0].metrics
    source = args.data or f"riskml synth --persons {persons} --seed {args.seed} (stress)"
    print(
        f"{source}: {len(data.claims):,} claims; test window {m['n_claims']:,} claims, "
        f"{m['n_labelled']:,} labelled, {m['n_fraud']:,} fraud; capacity "
        f"{config.evaluation.capacity:.0%} of each month ({m['n_flagged']:,} referrals); "
        f"gate: false-positive-rate ratio <= {config.gate.max_fpr_ratio} between groups with "
        f">= {config.fairness.min_group_negatives} labelled non-fraud claims, exact tests at "
        f"alpha {config.gate.alpha}\n"
    )
    print(table(rows))
    print("\nfalse positives / labelled non-fraud claims (rate) by age band:\n")
    print(group_table(rows, "age_band"))
    refused = [r for r in rows if r.reasons]
    if refused:
        print("\nwhy the gate refuses:\n")
    for r in refused:
        print(f"- {r.mitigation.name}: " + "; ".join(r.reasons))
    trainings = {repr(sorted(r.mitigation.overrides.items())) for r in rows}
    print(f"\n{len(rows)} rows, {len(trainings)} trainings, {elapsed:.0f} s in all")


if __name__ == "__main__":
    main()
