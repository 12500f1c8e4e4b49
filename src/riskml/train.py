"""Training: out-of-time split with label delay, LightGBM, imbalance, size, calibration, bands.

The steps are plain functions (``plan_windows``, ``claim_frame``, ``select_imbalance``,
``select_size``, ``band_thresholds``...) wired by :func:`train_model`, which returns a
:class:`TrainResult` holding the self-contained model parts and everything measured on the way.
``riskml.jobs.train`` adds the MLflow side (:mod:`riskml.registry`, :mod:`riskml.gate`).

Time (DESIGN principle 3): the training date ``as_of`` (``--as-of``, default: the latest
timestamp in the data) fixes what is known: claims submitted and labels decided before it. The
months are cut, back from the label horizon (the last month whose labels have matured, see
:func:`label_horizon`), into test, calibration, validation and train windows (``SplitConfig``);
months after the horizon are history, scored but never labelled. Selection and the windowed
evaluation take the model to be trained at the start of the test window, so labels count for
fitting only if decided before that instant; claims without a label (or whose label was not known
yet) are never used as "not fraud".

The version that is registered is then refit on every label mature at ``as_of``
(:func:`refit_procedure`, ``RefitConfig``), calibrated and banded on time-ordered out-of-fold
scores, so the champion is never months staler than its data; its metrics come from a backtest
of the same procedure as of the start of the test window, tested on that window.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from riskml import baselines
from riskml.bands import assign_bands, band_thresholds, tie_shortfalls
from riskml.bundle import raw_score
from riskml.calibration import Calibrator, fit_calibrator
from riskml.config import ImbalanceMethod, ModelSize, SplitConfig, TrainConfig
from riskml.data import ClaimsData
from riskml.errors import ConfigError, RiskmlError
from riskml.evaluate import (
    age_band,
    auc_pr,
    evaluate_scores,
    fairness_evidence,
    fairness_frame,
)
from riskml.features import FeatureBuilder
from riskml.monitor import Reference, fit_reference

log = logging.getLogger(__name__)

WINDOWS = ("warmup", "train", "validation", "calibration", "test", "history")
"""``history``: claims after the label horizon, features and scores only, never labels."""


@dataclass(frozen=True)
class Windows:
    """Window boundaries (each ``[start, next start)``) and the label cut-offs."""

    warmup_start: pd.Timestamp
    train_start: pd.Timestamp
    validation_start: pd.Timestamp
    calibration_start: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    as_of: pd.Timestamp | None = None
    """The training date: labels decided at or after it are unknown (None: every label counts)."""

    @property
    def training_cutoff(self) -> pd.Timestamp:
        """Labels decided at or after this instant are unknown to train/validation/calibration."""
        return self.test_start

    def assign(self, submitted_at: pd.Series) -> np.ndarray:
        """The window name of every timestamp (``warmup`` .. ``test``)."""
        edges = np.array(
            [
                self.train_start,
                self.validation_start,
                self.calibration_start,
                self.test_start,
                self.test_end,
            ],
            dtype="datetime64[ns]",
        )
        idx = np.searchsorted(edges, submitted_at.to_numpy(dtype="datetime64[ns]"), side="right")
        return np.asarray(WINDOWS, dtype=object)[idx]

    def to_dict(self) -> dict[str, str]:
        out = {
            "warmup_start": str(self.warmup_start.date()),
            "train_start": str(self.train_start.date()),
            "validation_start": str(self.validation_start.date()),
            "calibration_start": str(self.calibration_start.date()),
            "test_start": str(self.test_start.date()),
            "test_end": str(self.test_end.date()),
        }
        if self.as_of is not None:
            out["as_of"] = self.as_of.isoformat()
        return out


def default_as_of(data: ClaimsData) -> pd.Timestamp:
    """Just after the latest ``submitted_at`` or ``decided_at`` in the data: everything known."""
    latest = data.claims["submitted_at"].max()
    if data.labels is not None and len(data.labels) and data.labels["decided_at"].notna().any():
        latest = max(latest, data.labels["decided_at"].max())
    if pd.isna(latest):
        raise RiskmlError("claims: no claims to train on")
    return pd.Timestamp(latest) + pd.Timedelta(seconds=1)


def data_as_of(data: ClaimsData, as_of: pd.Timestamp) -> ClaimsData:
    """The data as the administration knew it at ``as_of``: claims (and their items) submitted
    before it, labels decided before it. Other tables are read point in time by the features."""
    claims = data.claims.loc[data.claims["submitted_at"] < as_of]
    if len(claims) == len(data.claims) and (
        data.labels is None or not (data.labels["decided_at"] >= as_of).any()
    ):
        return data
    ids = claims["claim_id"]
    items = data.claim_items.loc[data.claim_items["claim_id"].isin(ids)]
    labels = None
    if data.labels is not None:
        lab = data.labels
        labels = lab.loc[lab["claim_id"].isin(ids) & ~(lab["decided_at"] >= as_of)]
        labels = labels.reset_index(drop=True)
    return dataclasses.replace(
        data,
        claims=claims.reset_index(drop=True),
        claim_items=items.reset_index(drop=True),
        labels=labels,
    )


def label_coverage(data: ClaimsData, as_of: pd.Timestamp) -> pd.Series:
    """Share of each month's claims (by ``submitted_at``) with a label decided before ``as_of``."""
    c = data.claims
    known = np.zeros(len(c), dtype=bool)
    if data.labels is not None and len(data.labels):
        lab = data.labels
        in_time = lab.loc[~(lab["decided_at"] >= as_of) & lab["is_fraud"].notna(), "claim_id"]
        # a hash lookup: Series.isin of Arrow strings converts the wanted values one by one
        known = pd.Index(in_time).unique().get_indexer(c["claim_id"]) >= 0
    # months as integers, not Period objects (grouping 1M Periods took seconds); the means
    # are counts over counts, so the same floats as a groupby's
    months, month = np.unique(c["submitted_at"].dt.to_period("M").array.asi8, return_inverse=True)
    share = np.bincount(month, weights=known, minlength=len(months)) / np.bincount(month)
    return pd.Series(share, index=pd.PeriodIndex.from_ordinals(months, freq="M"))  # type: ignore[attr-defined]


def label_horizon(coverage: pd.Series, maturity: float) -> pd.Period:
    """The last month whose labels have matured: its labelled share is at least ``maturity``
    times the median share of the months that have any labels.

    Investigations take months, so a real data directory ends in months with few or no labels;
    they are history (scored), never "not fraud". The median of the labelled months is the
    reference because the share of claims investigated differs between schemes, not over time.
    """
    labelled = coverage[coverage > 0]
    if labelled.empty:
        raise RiskmlError(
            "labels: no claim has a label decided before the training date; "
            "nothing to train on (check labels.decided_at, or --as-of)"
        )
    mature = coverage[coverage >= maturity * float(labelled.median())]
    return pd.Period(mature.index.max(), freq="M")


def plan_windows(
    submitted_at: pd.Series,
    split: SplitConfig,
    horizon: pd.Period | None = None,
    as_of: pd.Timestamp | None = None,
) -> Windows:
    """Cut the calendar months of ``submitted_at`` into windows, back from ``horizon`` (the last
    month with mature labels; default: the last month of the data)."""
    if submitted_at.empty:
        raise RiskmlError("claims: no claims to train on")
    months = submitted_at.dt.to_period("M")
    first = months.min()
    last = months.max() if horizon is None else min(horizon, months.max())
    n_months = (last - first).n + 1
    need = (
        split.warmup_months
        + split.min_train_months
        + split.validation_months
        + split.calibration_months
        + split.test_months
    )
    if n_months < need:
        matured = "" if horizon is None else " up to the label horizon"
        raise ConfigError(
            f"split: the data spans {n_months} months of claims.submitted_at{matured} "
            f"({first}..{last}) but warmup + min_train + validation + calibration + test "
            f"months = {need}"
        )
    test_end = (last + 1).start_time
    test_start = (last + 1 - split.test_months).start_time
    cal_start = (last + 1 - split.test_months - split.calibration_months).start_time
    val_start = (
        last + 1 - split.test_months - split.calibration_months - split.validation_months
    ).start_time
    return Windows(
        warmup_start=first.start_time,
        train_start=(first + split.warmup_months).start_time,
        validation_start=val_start,
        calibration_start=cal_start,
        test_start=test_start,
        test_end=test_end,
        as_of=as_of,
    )


def claim_frame(data: ClaimsData, windows: Windows | None) -> pd.DataFrame:
    """One row per claim (index ``claim_id``): window, month, label, typology, amount, groups.

    ``label`` is 1.0 fraud, 0.0 not fraud, NaN when there is no label or (with ``windows``) when
    it was decided only after the cut-off of the claim's window (the test window's is ``as_of``;
    the history window has none). ``label_as_of`` is every label decided before ``as_of``, in
    every window but history: what the refit learns from. Without ``windows`` every label counts
    and every claim is in the ``test`` window (evaluation of a given data directory).
    """
    c = data.claims
    frame = pd.DataFrame(
        {
            "submitted_at": c["submitted_at"].to_numpy(),
            "month": c["submitted_at"].dt.to_period("M").astype(str).to_numpy(),
            "amount": c["amount_claimed"].to_numpy(dtype=np.float64),
        },
        index=pd.Index(c["claim_id"].astype(str).to_numpy(), name="claim_id"),
    )
    frame["window"] = windows.assign(c["submitted_at"]) if windows is not None else "test"
    label = pd.Series(np.nan, index=frame.index)
    label_as_of = label
    typology = pd.Series(None, index=frame.index, dtype=object)
    source = pd.Series(None, index=frame.index, dtype=object)
    probability = pd.Series(np.nan, index=frame.index)
    if data.labels is not None and len(data.labels):
        lab = data.labels.drop_duplicates("claim_id", keep="last").set_index("claim_id")
        lab = lab.reindex(frame.index)
        fraud = lab["is_fraud"].astype("boolean")
        known = fraud.notna().to_numpy().copy()
        known_now = known.copy()
        if windows is not None:
            decided = lab["decided_at"]
            window = frame["window"].to_numpy()
            if windows.as_of is not None:
                known_now &= ~(decided >= windows.as_of).to_numpy()
            known_now &= window != "history"
            in_time = (decided.isna() | (decided < windows.training_cutoff)).to_numpy()
            known &= np.where(window == "test", known_now, in_time & (window != "history"))
        values = fraud.fillna(False).to_numpy(dtype=np.float64)
        label = pd.Series(np.where(known, values, np.nan), index=frame.index)
        label_as_of = pd.Series(np.where(known_now, values, np.nan), index=frame.index)
        typology = lab["typology"].astype(object).where(lab["typology"].notna(), None)
        source = lab["source"].astype(object).where(lab["source"].notna(), None)
        if "selection_probability" in lab.columns:
            probability = lab["selection_probability"].astype(np.float64)
    frame["label"] = label.to_numpy()
    frame["label_as_of"] = label_as_of.to_numpy()
    frame["typology"] = typology.to_numpy()
    frame["source"] = source.to_numpy()
    frame["selection_probability"] = probability.to_numpy()
    persons = data.persons.set_index("person_id")
    pid = c["person_id"]
    frame["sex"] = pid.map(persons["sex"]).astype(object).to_numpy()
    frame["hukou_type"] = pid.map(persons["hukou_type"]).astype(object).to_numpy()
    frame["region"] = pid.map(persons["region_code"]).astype(object).to_numpy()
    frame["age_band"] = age_band(pid.map(persons["birth_date"]), c["submitted_at"])
    return frame


def reweighing_weights(groups: pd.DataFrame, y: np.ndarray) -> np.ndarray:
    """Kamiran and Calders' reweighing: each labelled row weighs ``P(g) P(y) / P(g, y)``.

    ``g`` is the row's joint group over the columns of ``groups`` (e.g. age band x region), ``y``
    its 0/1 label. In the weighted data the label is independent of the group (every group has
    the overall fraud rate) and the groups keep their size; the weights average exactly 1. A
    group whose labels are all of one class gets weight 1 (there is no other class to balance).
    Pre-processing for fairness (Kamiran & Calders, Knowledge and Information Systems, 2012).
    """
    y = np.asarray(y, dtype=np.float64)
    if np.isnan(y).any():
        raise ValueError("reweighing: every row needs a label (0 or 1)")
    if len(groups) != len(y):
        raise ValueError(f"reweighing: {len(groups)} group rows for {len(y)} labels")
    if not len(y):
        return np.ones(0)
    key = groups.astype(str).agg("|".join, axis=1).to_numpy()
    frame = pd.DataFrame({"g": key, "y": y, "row": 1.0})
    n_g = frame.groupby("g")["row"].transform("sum").to_numpy()
    n_gy = frame.groupby(["g", "y"])["row"].transform("sum").to_numpy()
    n_y = frame.groupby("y")["row"].transform("sum").to_numpy()
    weight = n_g * n_y / (len(y) * n_gy)
    one_class = frame.groupby("g")["y"].transform("nunique").to_numpy() < 2
    weight[one_class] = 1.0
    return weight


def sample_weights(frame: pd.DataFrame, y: np.ndarray, config: TrainConfig) -> np.ndarray | None:
    """The training weights of the rows of ``frame`` (labels ``y``): reweighing over
    ``fairness.reweigh`` (None when it is empty: every row weighs 1)."""
    attributes = list(config.fairness.reweigh)
    if not attributes:
        return None
    return reweighing_weights(frame[attributes].reset_index(drop=True), y)


def model_features(names: list[str], config: TrainConfig) -> list[str]:
    """The feature set's ``names`` without ``fairness.drop_features`` (unknown names refused)."""
    drop = list(config.fairness.drop_features)
    unknown = sorted(set(drop) - set(names))
    if unknown:
        raise ConfigError(
            f"fairness.drop_features: {unknown[0]!r} is not a feature of {config.feature_set} "
            f"(got {drop!r})"
        )
    kept = [n for n in names if n not in drop]
    if not kept:
        raise ConfigError(f"fairness.drop_features: drops every feature of {config.feature_set}")
    return kept


def imbalance_params(method: ImbalanceMethod, y: np.ndarray) -> dict[str, Any]:
    """LightGBM parameters for one treatment of the class imbalance."""
    pos = float((y == 1).sum())
    neg = float((y == 0).sum())
    if method == "scale_pos_weight":
        return {"scale_pos_weight": neg / max(pos, 1.0)}
    if method == "sqrt_scale_pos_weight":
        return {"scale_pos_weight": math.sqrt(neg / max(pos, 1.0))}
    if method == "is_unbalance":
        return {"is_unbalance": True}
    return {}


def booster_params(config: TrainConfig, size: ModelSize, extra: dict[str, Any]) -> dict[str, Any]:
    """The full LightGBM parameter set for one size and imbalance treatment."""
    lc = config.lightgbm
    return {
        "objective": "binary",
        "metric": "average_precision",
        "learning_rate": lc.learning_rate,
        "num_leaves": size.num_leaves,
        "max_depth": size.max_depth,
        "min_child_samples": lc.leaf_min_rows(size),
        "feature_fraction": lc.feature_fraction,
        "bagging_fraction": lc.bagging_fraction,
        "bagging_freq": lc.bagging_freq,
        "lambda_l2": lc.lambda_l2,
        "num_threads": lc.num_threads,
        "seed": lc.seed,
        "deterministic": True,
        "force_col_wise": True,
        "verbose": -1,
        **extra,
    }


def fit_booster(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    params: dict[str, Any],
    max_trees: int,
    early_stopping_rounds: int,
    feature_names: list[str],
    weight: np.ndarray | None = None,
    sets: tuple[lgb.Dataset, lgb.Dataset] | None = None,
) -> lgb.Booster:
    """Train with early stopping on the validation window; keep only the best iteration's trees.

    ``weight`` weighs the training rows (reweighing, :func:`reweighing_weights`); the validation
    window that stops the boosting is never weighted, so it measures the claims as they come.
    ``sets``: the :func:`training_sets` of these same arrays, binned once for several fits.
    """
    train_set, val_set = sets or training_sets(
        x_train, y_train, x_val, y_val, feature_names, weight
    )
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=max_trees,
        valid_sets=[val_set],
        callbacks=[lgb.early_stopping(early_stopping_rounds, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best))


def training_sets(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    feature_names: list[str],
    weight: np.ndarray | None = None,
) -> tuple[lgb.Dataset, lgb.Dataset]:
    """The LightGBM training and validation sets of :func:`fit_booster`.

    LightGBM bins them at the first fit and keeps the bins, so the imbalance and size candidates
    (the same rows, labels and weights, and the same binning parameters: only the tree and
    imbalance parameters differ between them) share one pair instead of binning the matrix
    five times; the boosters are the same, bit for bit (``tests/model/test_train_registry.py``).
    """
    train_set = lgb.Dataset(x_train, label=y_train, weight=weight, feature_name=feature_names)
    return train_set, lgb.Dataset(x_val, label=y_val, reference=train_set)


def explain_cost(booster: lgb.Booster, x: np.ndarray, num_threads: int) -> dict[str, float]:
    """Measured rows per second of ``predict`` and of exact TreeSHAP (``pred_contrib``) on ``x``."""
    t0 = time.perf_counter()
    booster.predict(x, raw_score=True, num_threads=num_threads)
    t1 = time.perf_counter()
    booster.predict(x, pred_contrib=True, num_threads=num_threads)
    t2 = time.perf_counter()
    n = max(len(x), 1)
    return {
        "predict_rows_per_s": n / max(t1 - t0, 1e-9),
        "shap_rows_per_s": n / max(t2 - t1, 1e-9),
        "shap_ms_per_row": 1000 * (t2 - t1) / n,
        "treeshap_work": treeshap_work(booster),
    }


def treeshap_work(booster: lgb.Booster) -> float:
    """Exact TreeSHAP's work per explained row, up to a constant: sum over trees of leaves x depth².

    Path-dependent TreeSHAP costs O(leaves x depth²) per tree, so this ranks model sizes by what
    explaining them costs, deterministically (a timing on a shared machine does not); a
    depth-limited model with the same leaves explains faster.
    """
    trees = booster.trees_to_dataframe()
    leaves = trees.loc[trees["left_child"].isna()]
    per_tree = leaves.groupby("tree_index")["node_depth"].agg(["size", "max"])
    splits_deep = (per_tree["max"] - 1).clip(lower=1)  # LightGBM counts the root as depth 1
    return float((per_tree["size"] * splits_deep**2).sum())


@dataclass
class Refit:
    """A booster refit on every label known at its end, with its out-of-fold calibration."""

    booster: lgb.Booster
    calibrator: Calibrator
    band_thresholds: dict[str, float]
    trees: int
    rows: int
    end: pd.Timestamp
    oof: pd.DataFrame
    """``label`` and calibrated ``score`` of the out-of-fold claims (index ``claim_id``)."""

    def describe(self) -> dict[str, Any]:
        return {
            "end": str(self.end.date()),
            "trees": self.trees,
            "labelled_rows": self.rows,
            "oof_claims": len(self.oof),
            "oof_labelled": int(self.oof["label"].notna().sum()),
        }


def scaled_trees(base_trees: int, base_rows: int, rows: int, max_scale: float) -> int:
    """Trees for ``rows`` labelled claims when early stopping chose ``base_trees`` on
    ``base_rows``: proportional to the rows (at a fixed learning rate more data supports more
    boosting rounds before overfitting), between one and ``max_scale`` times ``base_trees``."""
    scale = min(max(rows / max(base_rows, 1), 1.0), max_scale)
    return max(1, round(base_trees * scale))


def refit_procedure(
    x: np.ndarray,
    frame: pd.DataFrame,
    label: np.ndarray,
    end: pd.Timestamp,
    params: dict[str, Any],
    base: tuple[int, int],
    config: TrainConfig,
    feature_names: list[str],
) -> Refit:
    """Fit ``params`` on every labelled claim of the train window up to ``end``, and calibrate and
    band it on time-ordered out-of-fold scores (``RefitConfig``).

    ``label`` holds the labels as known at the refit's training date (NaN: unknown); ``base`` is
    (trees, labelled rows) of the early-stopped booster. The last ``oof_months`` before ``end``
    are cut into ``folds`` blocks of whole months; the same procedure fitted on the labelled claims
    submitted before a block scores that block, so each out-of-fold score comes from a model that
    had not seen the claim, as the refit will not have seen the claims it scores. This is
    scikit-learn's ``CalibratedClassifierCV(ensemble=False)`` idea with forward-chaining folds.
    """
    rc, lc = config.refit, config.lightgbm
    submitted = frame["submitted_at"].to_numpy(dtype="datetime64[ns]")
    window = frame["window"].to_numpy()
    fit_window = np.isin(window, ("train", "validation", "calibration", "test"))
    before_end = fit_window & (submitted < np.datetime64(end, "ns"))
    labelled = ~np.isnan(label)

    def fit(rows: np.ndarray) -> tuple[lgb.Booster, int]:
        trees = scaled_trees(base[0], base[1], int(rows.sum()), rc.max_tree_scale)
        weight = sample_weights(frame.iloc[np.flatnonzero(rows)], label[rows], config)
        data = lgb.Dataset(x[rows], label=label[rows], weight=weight, feature_name=feature_names)
        return lgb.train(params, data, num_boost_round=trees), trees

    end_month = pd.Period(end - pd.Timedelta(seconds=1), freq="M")
    months = pd.period_range(end=end_month, periods=rc.oof_months, freq="M")
    blocks = [b for b in np.array_split(np.arange(len(months)), rc.folds) if len(b)]
    raw = np.full(len(frame), np.nan)
    for block in blocks:
        start = np.datetime64(months[block[0]].start_time, "ns")
        stop = np.datetime64((months[block[-1]] + 1).start_time, "ns")
        train_rows = before_end & labelled & (submitted < start)
        _need_both(label[train_rows], f"refit fold before {months[block[0]]}")
        booster, _ = fit(train_rows)
        rows = np.flatnonzero(before_end & (submitted >= start) & (submitted < stop))
        raw[rows] = raw_score(booster, x[rows], lc.num_threads)
    oof = np.isfinite(raw)
    oof_labelled = oof & labelled
    calibrator = fit_calibrator(raw[oof_labelled], label[oof_labelled], config.calibration.method)
    scores = calibrator(raw[oof])
    bands = band_thresholds(scores, config.bands.high_share, config.bands.medium_share)
    final_rows = before_end & labelled
    _need_both(label[final_rows], f"refit up to {end.date()}")
    booster, trees = fit(final_rows)
    oof_frame = pd.DataFrame({"label": label[oof], "score": scores}, index=frame.index[oof])
    return Refit(booster, calibrator, bands, trees, int(final_rows.sum()), end, oof_frame)


def _need_both(y: np.ndarray, what: str) -> None:
    n_fraud = int((y == 1).sum())
    if n_fraud == 0 or n_fraud == len(y):
        raise RiskmlError(
            f"labels: the {what} has {len(y)} labelled claims of which {n_fraud} fraud; "
            "need both fraud and non-fraud labels decided before the training cut-off"
        )


@dataclass
class Candidate:
    """One trained booster and what it measured on the validation window."""

    name: str
    booster: lgb.Booster
    val_auc_pr: float
    trees: int
    params: dict[str, Any]
    cost: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainResult:
    """Everything one training run produced: the model parts, its metrics and its measurements."""

    config: TrainConfig
    windows: Windows
    feature_builder: Any
    feature_names: list[str]
    feature_set: str
    feature_set_version: str
    booster: lgb.Booster
    calibrator: Calibrator
    band_thresholds: dict[str, float]
    imbalance: str
    size: ModelSize
    metrics: dict[str, Any]
    baselines: dict[str, dict[str, Any]]
    imbalance_table: list[dict[str, Any]]
    size_table: list[dict[str, Any]]
    window_counts: dict[str, dict[str, int]]
    timings: dict[str, float]
    trained_at: str
    fingerprint: str = ""
    test_frame: pd.DataFrame = field(default_factory=pd.DataFrame)
    test_matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    calibration_frame: pd.DataFrame = field(default_factory=pd.DataFrame)
    baseline_test_scores: dict[str, np.ndarray] = field(default_factory=dict)
    windowed_metrics: dict[str, Any] = field(default_factory=dict)
    """The booster of the train window on the test window; ``metrics`` is the backtest's when
    the registered booster is refit (``refit``), the windowed one's otherwise."""
    refit: dict[str, dict[str, Any]] = field(default_factory=dict)
    label_coverage: dict[str, float] = field(default_factory=dict)
    reference: Reference | None = None
    """Inputs and scores of the registered model on the latest months (``riskml monitor``)."""
    windowed_model: tuple[lgb.Booster, Calibrator] | None = None
    """The booster of the train window and its calibrator (kept for comparisons; not registered
    when the refit is enabled)."""
    band_notes: list[str] = field(default_factory=list)
    """Bands that tied scores leave well short of their share on the claims their cut-offs were
    placed on (:func:`riskml.bands.tie_shortfalls`): for the model card and the summary."""

    def band_summary(self) -> dict[str, Any]:
        """The risk bands as the training summary shows them: cut-offs, the target shares, the
        shares achieved where the cut-offs were placed and on the test window, the notes."""
        cal = self.calibration_frame
        placed = (
            band_shares(cal["score"].to_numpy(), self.band_thresholds) if "score" in cal else {}
        )
        return {
            "thresholds": self.band_thresholds,
            "target_share": {
                "high": self.config.bands.high_share,
                "medium": self.config.bands.medium_share,
            },
            "calibration_share": {k.removeprefix("band_share_"): v for k, v in placed.items()},
            "test_share": {
                "high": self.metrics.get("band_share_high"),
                "medium": self.metrics.get("band_share_medium"),
            },
            "notes": self.band_notes,
        }


def band_shares(scores: np.ndarray, bands: dict[str, float]) -> dict[str, float | None]:
    """The share of ``scores`` in the high and medium bands (None for no scores)."""
    if not len(scores):
        return {"band_share_high": None, "band_share_medium": None}
    high = scores >= bands["high"]
    return {
        "band_share_high": float(high.mean()),
        "band_share_medium": float(((scores >= bands["medium"]) & ~high).mean()),
    }


def _rows(frame: pd.DataFrame, window: str, labelled: bool) -> np.ndarray:
    mask = (frame["window"] == window).to_numpy()
    if labelled:
        mask = mask & frame["label"].notna().to_numpy()
    return np.flatnonzero(mask)


def _need_both_classes(frame: pd.DataFrame, rows: np.ndarray, window: str) -> None:
    _need_both(frame["label"].to_numpy()[rows], f"{window} window")


def _fairness_attributes(frame: pd.DataFrame, config: TrainConfig) -> pd.DataFrame:
    return frame[list(config.fairness.attributes)].reset_index(drop=True)


def score_window(
    frame: pd.DataFrame,
    scores: np.ndarray,
    config: TrainConfig,
    probability: bool,
    fairness: bool = True,
) -> dict[str, Any]:
    """The metrics JSON of one scored window frame (rows aligned with ``scores``); without
    ``fairness`` no group table (the baselines report none)."""
    metrics = evaluate_scores(
        frame["label"].to_numpy(),
        scores,
        month=frame["month"].to_numpy(),
        amount=frame["amount"].to_numpy(),
        typology=frame["typology"].to_numpy(),
        attributes=_fairness_attributes(frame, config) if fairness else None,
        capacity=config.evaluation.capacity,
        is_probability=probability,
        ece_bins=config.evaluation.ece_bins,
        min_group_negatives=config.fairness.min_group_negatives,
        source=frame["source"].to_numpy(),
        selection_probability=frame["selection_probability"].to_numpy(),
    )
    if "fairness" in metrics:
        metrics["fairness"]["evidence"] = fairness_evidence(
            fairness_frame(metrics),
            config.gate.attributes,
            min_group_negatives=config.fairness.min_group_negatives,
            max_fpr_ratio=config.gate.max_fpr_ratio,
            alpha=config.gate.alpha,
        )
    return metrics


def train_model(
    data: ClaimsData,
    config: TrainConfig,
    fingerprint: str = "",
    as_of: pd.Timestamp | str | None = None,
) -> TrainResult:
    """Fit the whole model on one data directory's contents as known at ``as_of``; no MLflow here.

    Without ``as_of`` everything in the data is known (:func:`default_as_of`); with it, claims
    submitted and labels decided from ``as_of`` on are dropped first (:func:`data_as_of`).
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    lc = config.lightgbm
    if as_of is None:
        cutoff = default_as_of(data)
    else:
        cutoff = pd.Timestamp(as_of)
        data = data_as_of(data, cutoff)
    coverage = label_coverage(data, cutoff)
    horizon = label_horizon(coverage, config.split.label_maturity)
    windows = plan_windows(data.claims["submitted_at"], config.split, horizon, cutoff)
    frame = claim_frame(data, windows)
    log.info(
        "training as of %s: label horizon %s; windows %s",
        cutoff,
        horizon,
        ", ".join(f"{k} {v}" for k, v in windows.to_dict().items() if k != "as_of"),
    )

    t0 = time.perf_counter()
    builder = FeatureBuilder(
        feature_set=config.feature_set,
        fit_start=windows.train_start,
        fit_end=windows.validation_start,
    )
    features = builder.fit_transform(data)  # fit(data).transform(data) on one context
    timings["features_s"] = time.perf_counter() - t0
    names = model_features([str(n) for n in builder.feature_names_], config)
    features = features.reindex(frame.index)
    x = features[names].to_numpy(dtype=np.float64)
    y_all = frame["label"].to_numpy()
    log.info("features: %d claims x %d features in %.1fs", *x.shape, timings["features_s"])

    tr, va = _rows(frame, "train", True), _rows(frame, "validation", True)
    ca = _rows(frame, "calibration", True)
    for rows, window in ((tr, "train"), (va, "validation"), (ca, "calibration")):
        _need_both_classes(frame, rows, window)
    w_tr = sample_weights(frame.iloc[tr], y_all[tr], config)
    counts = {
        w: {
            "claims": int((frame["window"] == w).sum()),
            "labelled": int(((frame["window"] == w) & frame["label"].notna()).sum()),
            "fraud": int(((frame["window"] == w) & (frame["label"] == 1)).sum()),
            "labelled_as_of": int(((frame["window"] == w) & frame["label_as_of"].notna()).sum()),
            "fraud_as_of": int(((frame["window"] == w) & (frame["label_as_of"] == 1)).sum()),
        }
        for w in WINDOWS
    }
    for window, c in counts.items():
        if c["claims"]:
            log.info(
                "window %-11s %8d claims, %7d labelled (%d fraud) for selection, "
                "%d labelled (%d fraud) as of the training date",
                window, c["claims"], c["labelled"], c["fraud"], c["labelled_as_of"],
                c["fraud_as_of"],
            )  # fmt: skip

    # 1. imbalance treatment, at the default size
    t0 = time.perf_counter()
    default = lc.sizes[lc.default_size]
    sets = training_sets(x[tr], y_all[tr], x[va], y_all[va], names, w_tr)  # binned once
    imb_cands: list[Candidate] = []
    for method in lc.imbalance:
        params = booster_params(config, default, imbalance_params(method, y_all[tr]))
        booster = fit_booster(
            x[tr], y_all[tr], x[va], y_all[va], params, default.max_trees,
            lc.early_stopping_rounds, names, w_tr, sets,
        )  # fmt: skip
        ap = auc_pr(y_all[va], raw_score(booster, x[va], lc.num_threads))
        imb_cands.append(Candidate(method, booster, ap, booster.num_trees(), params))
        log.info(
            "imbalance %-22s validation AUC-PR %.4f (%d trees)", method, ap, booster.num_trees()
        )
    best_imb = max(imb_cands, key=lambda c: np.nan_to_num(c.val_auc_pr, nan=-1.0))
    timings["imbalance_s"] = time.perf_counter() - t0

    # 2. model size against the cost of explaining it
    t0 = time.perf_counter()
    explain_x = x[va][: lc.explain_rows]
    size_cands: list[tuple[ModelSize, Candidate]] = []
    for i, size in enumerate(lc.sizes):
        if i == lc.default_size:
            cand = best_imb
        else:
            params = booster_params(config, size, imbalance_params(best_imb.name, y_all[tr]))  # type: ignore[arg-type]
            booster = fit_booster(
                x[tr], y_all[tr], x[va], y_all[va], params, size.max_trees,
                lc.early_stopping_rounds, names, w_tr, sets,
            )  # fmt: skip
            ap = auc_pr(y_all[va], raw_score(booster, x[va], lc.num_threads))
            cand = Candidate(best_imb.name, booster, ap, booster.num_trees(), params)
        cand.cost = explain_cost(cand.booster, explain_x, lc.num_threads)
        size_cands.append((size, cand))
    best_ap = max(np.nan_to_num(c.val_auc_pr, nan=-1.0) for _, c in size_cands)
    eligible = [
        (s, c)
        for s, c in size_cands
        if np.nan_to_num(c.val_auc_pr, nan=-1.0) >= best_ap - lc.size_tolerance
    ]
    size, chosen = min(eligible, key=lambda sc: sc[1].cost["treeshap_work"])
    timings["size_s"] = time.perf_counter() - t0
    booster = chosen.booster

    # 3. calibration and bands on the calibration window
    calibrator = fit_calibrator(
        raw_score(booster, x[ca], lc.num_threads), y_all[ca], config.calibration.method
    )
    cal_all = _rows(frame, "calibration", False)
    cal_scores = calibrator(raw_score(booster, x[cal_all], lc.num_threads))
    bands = band_thresholds(cal_scores, config.bands.high_share, config.bands.medium_share)

    # 4. out-of-time test
    te = _rows(frame, "test", False)
    test_frame = frame.iloc[te].copy()
    test_scores = calibrator(raw_score(booster, x[te], lc.num_threads))
    test_frame["score"] = test_scores
    metrics = score_window(test_frame, test_scores, config, probability=True)
    metrics.update(band_shares(test_scores, bands))
    cal_frame = frame.iloc[cal_all][["label"]].copy()
    cal_frame["score"] = cal_scores

    # 4b. the version that is registered learns from every mature label (RefitConfig)
    windowed_metrics = metrics
    windowed_model = (booster, calibrator)
    refits: dict[str, dict[str, Any]] = {}
    if config.refit.enabled:
        t0 = time.perf_counter()
        base = (chosen.trees, len(tr))
        backtest = refit_procedure(
            x, frame, y_all, windows.test_start, chosen.params, base, config, names
        )
        test_scores = backtest.calibrator(raw_score(backtest.booster, x[te], lc.num_threads))
        test_frame["score"] = test_scores
        metrics = score_window(test_frame, test_scores, config, probability=True)
        metrics.update(band_shares(test_scores, backtest.band_thresholds))
        champion = refit_procedure(
            x, frame, frame["label_as_of"].to_numpy(), windows.test_end, chosen.params, base,
            config, names,
        )  # fmt: skip
        booster, calibrator, bands = champion.booster, champion.calibrator, champion.band_thresholds
        cal_frame = champion.oof
        refits = {"backtest": backtest.describe(), "registered": champion.describe()}
        timings["refit_s"] = time.perf_counter() - t0
        log.info(
            "refit: backtest as of %s AUC-PR %.4f (windowed %.4f); registered booster %d trees "
            "on %d labelled claims up to %s",
            windows.test_start.date(), np.nan_to_num(metrics.get("auc_pr") or np.nan),
            np.nan_to_num(windowed_metrics.get("auc_pr") or np.nan), champion.trees,
            champion.rows, windows.test_end.date(),
        )  # fmt: skip

    reference = _reference(x, frame, names, booster, calibrator, bands, windows, config)

    # 5. baselines, same windows
    t0 = time.perf_counter()
    base_metrics, base_scores = _run_baselines(data, config, frame, x, tr, va, te, best_imb)
    timings["baselines_s"] = time.perf_counter() - t0
    timings["train_total_s"] = time.perf_counter() - started

    imbalance_table = [
        {"imbalance": c.name, "val_auc_pr": c.val_auc_pr, "trees": c.trees} for c in imb_cands
    ]
    size_table = [
        {
            "size": s.label,
            "num_leaves": s.num_leaves,
            "max_depth": s.max_depth,
            "min_child_samples": lc.leaf_min_rows(s),
            "trees": c.trees,
            "val_auc_pr": c.val_auc_pr,
            "chosen": s == size,
            **c.cost,
        }
        for s, c in size_cands
    ]
    return TrainResult(
        config=config,
        windows=windows,
        feature_builder=builder,
        feature_names=names,
        feature_set=config.feature_set,
        feature_set_version=config.feature_set,
        booster=booster,
        calibrator=calibrator,
        band_thresholds=bands,
        imbalance=best_imb.name,
        size=size,
        metrics=metrics,
        baselines=base_metrics,
        imbalance_table=imbalance_table,
        size_table=size_table,
        window_counts=counts,
        timings=timings,
        trained_at=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        fingerprint=fingerprint,
        test_frame=test_frame,
        test_matrix=x[te],
        calibration_frame=cal_frame,
        baseline_test_scores=base_scores,
        windowed_metrics=windowed_metrics,
        windowed_model=windowed_model,
        reference=reference,
        refit=refits,
        label_coverage={str(k): float(v) for k, v in coverage.items()},
        band_notes=tie_shortfalls(
            cal_frame["score"].to_numpy(),
            bands,
            config.bands.high_share,
            config.bands.medium_share,
        ),
    )


def _reference(
    x: np.ndarray,
    frame: pd.DataFrame,
    names: list[str],
    booster: lgb.Booster,
    calibrator: Calibrator,
    bands: dict[str, float],
    windows: Windows,
    config: TrainConfig,
) -> Reference:
    """The registered model's inputs and scores on the latest months of its data: the last
    ``refit.oof_months`` before the horizon when refit, the test window otherwise."""
    end = windows.test_end
    start = windows.test_start
    if config.refit.enabled:
        start = (pd.Period(end, freq="M") - config.refit.oof_months).start_time
    submitted = frame["submitted_at"].to_numpy(dtype="datetime64[ns]")
    rows = np.flatnonzero(
        (submitted >= np.datetime64(start, "ns")) & (submitted < np.datetime64(end, "ns"))
    )
    scores = calibrator(raw_score(booster, x[rows], config.lightgbm.num_threads))
    columns = {name: x[rows, j] for j, name in enumerate(names)}
    columns["amount_claimed"] = frame["amount"].to_numpy()[rows]
    period = (str(start.date()), str(end.date()))
    targets = (config.bands.high_share, config.bands.medium_share)
    return fit_reference(columns, scores, assign_bands(scores, bands), period, targets)


def _run_baselines(
    data: ClaimsData,
    config: TrainConfig,
    frame: pd.DataFrame,
    x: np.ndarray,
    tr: np.ndarray,
    va: np.ndarray,
    te: np.ndarray,
    best: Candidate,
) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """Train and score every enabled baseline; metrics on the same test window."""
    bc, lc = config.baselines, config.lightgbm
    y = frame["label"].to_numpy()
    test_frame = frame.iloc[te]
    out: dict[str, dict[str, Any]] = {}
    scores: dict[str, np.ndarray] = {}
    claim_pos = pd.Index(data.claims["claim_id"].astype(str)).get_indexer(frame.index)
    if bc.rules:
        train_mask = np.zeros(len(data.claims), dtype=bool)
        train_mask[claim_pos[(frame["window"] == "train").to_numpy()]] = True
        hits = baselines.rule_hits(data, train_mask).iloc[claim_pos]
        scores["rules"] = baselines.rules_score(hits.iloc[te], test_frame["amount"].to_numpy())
    if bc.logistic_regression:
        model = baselines.fit_logistic(x[tr], y[tr], bc.max_train_rows, lc.seed)
        scores["logistic_regression"] = baselines.logistic_score(model, x[te])
    if bc.isolation_forest:
        train_all = _rows(frame, "train", False)
        model = baselines.fit_isolation_forest(x[train_all], bc.max_train_rows, lc.seed)
        scores["isolation_forest"] = baselines.isolation_score(model, x[te])
    if bc.raw_lightgbm:
        raw = baselines.raw_claim_matrix(data).iloc[claim_pos].to_numpy(dtype=np.float64)
        size = lc.sizes[lc.default_size]
        params = booster_params(config, size, imbalance_params(best.name, y[tr]))  # type: ignore[arg-type]
        booster = fit_booster(
            raw[tr], y[tr], raw[va], y[va], params, size.max_trees,
            lc.early_stopping_rounds, list(baselines.RAW_COLUMNS),
        )  # fmt: skip
        scores["raw_lightgbm"] = raw_score(booster, raw[te], lc.num_threads)
    for name, s in scores.items():
        out[name] = score_window(test_frame, s, config, probability=False, fairness=False)
    return out, scores
