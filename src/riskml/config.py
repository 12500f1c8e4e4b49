"""Typed, validated run configurations for training (``pipelines/train.yaml``, ``models/*.yaml``).

A run configuration is plain data: pydantic models with defaults that equal the YAML files in the
repository, so ``riskml train`` without ``--config`` behaves exactly like it with
``--config pipelines/train.yaml``. Unknown keys are refused (a typo must not silently fall back to
a default) and every bad value raises :class:`~riskml.errors.ConfigError` naming the file, the
field path and the value. Nothing here reads files or the environment at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from riskml.defaults import DEFAULT_FEATURE_SET, MODEL_NAME
from riskml.errors import ConfigError

ImbalanceMethod = Literal["none", "scale_pos_weight", "sqrt_scale_pos_weight", "is_unbalance"]
CalibrationMethod = Literal["platt", "isotonic"]
FairnessAttribute = Literal["sex", "age_band", "hukou_type", "region"]

_DEFAULT_IMBALANCE: list[ImbalanceMethod] = ["none", "sqrt_scale_pos_weight", "scale_pos_weight"]
_DEFAULT_ATTRIBUTES: list[FairnessAttribute] = ["sex", "age_band", "hukou_type", "region"]
_DEFAULT_GATED: list[FairnessAttribute] = ["sex", "hukou_type", "age_band", "region"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitConfig(_Strict):
    """Out-of-time windows, in whole calendar months of ``claims.submitted_at``.

    Counted back from the **label horizon**, the last month whose labels have matured by the
    training date ``as_of`` (``--as-of``, default: the latest ``submitted_at`` or ``decided_at``
    in the data): a month is mature when its share of claims with a label decided before
    ``as_of`` is at least ``label_maturity`` times the median share of the months that have
    labels. Later months are history: their features are computed and they are scored, but their
    claims are never taken as "not fraud". Back from the horizon, the last ``test_months`` are
    the test window, the ``calibration_months`` before them calibrate the score and fix the risk
    bands, the ``validation_months`` before those drive early stopping and model selection, and
    the rest after ``warmup_months`` (months that only serve as history for features) is the
    train window. For selection the model is taken to be trained at the start of the test
    window: a label counts for train, validation and calibration only if its ``decided_at`` is
    before that instant (label delay), and for the test window only if it is before ``as_of``.
    """

    label_maturity: float = Field(default=0.8, gt=0, le=1)

    warmup_months: int = Field(default=1, ge=0, le=24)
    validation_months: int = Field(default=2, ge=1, le=12)
    calibration_months: int = Field(default=2, ge=1, le=12)
    test_months: int = Field(default=4, ge=1, le=24)
    min_train_months: int = Field(default=3, ge=1)


class ModelSize(_Strict):
    """One candidate size of the booster; TreeSHAP cost grows with leaves, depth and trees.

    ``min_child_samples`` (the fewest training rows a leaf may hold) overrides the section's value
    for this candidate: a small leaf lets a typology with few labelled cases get leaves of its
    own, at the risk of fitting noise, so it is a candidate the validation window decides on like
    the size, not a fixed setting.
    """

    num_leaves: int = Field(ge=2, le=1024)
    max_depth: int = Field(default=-1, ge=-1, le=64)
    max_trees: int = Field(ge=1, le=10_000)
    min_child_samples: int | None = Field(default=None, ge=1)

    @property
    def label(self) -> str:
        depth = "" if self.max_depth < 0 else f"_d{self.max_depth}"
        leaf = "" if self.min_child_samples is None else f"_m{self.min_child_samples}"
        return f"l{self.num_leaves}{depth}_t{self.max_trees}{leaf}"


class LightGBMConfig(_Strict):
    """The booster: fixed hyper-parameters, imbalance treatments and sizes to compare.

    Every ``imbalance`` candidate is trained at ``sizes[default_size]`` and the one with the best
    validation AUC-PR is kept. Then every size is trained with it, and the size cheapest to explain
    (exact TreeSHAP work: leaves x depth² summed over trees) whose validation AUC-PR is within
    ``size_tolerance`` of the best is chosen: quality given up for cheaper explanations is bounded
    and logged (``explain_rows`` rows are explained per size to
    measure the cost). ``min_child_samples`` is the leaf size of every candidate that does not
    set its own (:class:`ModelSize`).

    The choice rests on that count, never on the timing, so ``explain_rows`` only sets how
    precise the logged rows-per-second of ``predict`` and TreeSHAP are: 200 rows of exact
    TreeSHAP take about a second for the largest size, where 2,000 took 9 s on 528,219 claims
    (35 s of a training run for the four sizes), for the same per-row figure within noise.
    """

    learning_rate: float = Field(default=0.05, gt=0, le=1)
    min_child_samples: int = Field(default=40, ge=1)
    feature_fraction: float = Field(default=0.8, gt=0, le=1)
    bagging_fraction: float = Field(default=0.8, gt=0, le=1)
    bagging_freq: int = Field(default=1, ge=0)
    lambda_l2: float = Field(default=1.0, ge=0)
    early_stopping_rounds: int = Field(default=30, ge=1)
    num_threads: int = Field(default=2, ge=1, le=256)
    seed: int = Field(default=7, ge=0)
    imbalance: list[ImbalanceMethod] = Field(
        default_factory=lambda: _DEFAULT_IMBALANCE.copy(), min_length=1
    )
    sizes: list[ModelSize] = Field(
        default_factory=lambda: [
            ModelSize(num_leaves=15, max_trees=100),
            ModelSize(num_leaves=31, max_trees=200),
            ModelSize(num_leaves=63, max_trees=400),
            ModelSize(num_leaves=31, max_depth=8, max_trees=300),
        ],
        min_length=1,
    )
    default_size: int = Field(default=1, ge=0)
    size_tolerance: float = Field(default=0.02, ge=0, le=1)
    explain_rows: int = Field(default=200, ge=10)

    def leaf_min_rows(self, size: ModelSize) -> int:
        """``min_child_samples`` of a candidate size: its own, or this section's."""
        return self.min_child_samples if size.min_child_samples is None else size.min_child_samples

    @model_validator(mode="after")
    def _default_size_exists(self) -> LightGBMConfig:
        if self.default_size >= len(self.sizes):
            raise ValueError(
                f"default_size = {self.default_size} but only {len(self.sizes)} sizes are listed"
            )
        return self


class CalibrationConfig(_Strict):
    """Map the booster's raw score to a probability, fitted on the calibration window.

    Platt scaling is the default: strictly monotone, so the capacity-based band cut-offs split
    claims exactly; isotonic fits better with many labels but ties many claims on one value.
    """

    method: CalibrationMethod = "platt"


class BandsConfig(_Strict):
    """Risk bands from investigator capacity: shares of claims per month, fixed at training."""

    high_share: float = Field(default=0.01, gt=0, lt=1)
    medium_share: float = Field(default=0.04, gt=0, lt=1)

    @model_validator(mode="after")
    def _shares_fit(self) -> BandsConfig:
        if self.high_share + self.medium_share >= 1:
            raise ValueError("high_share + medium_share must be below 1")
        return self


class EvaluationConfig(_Strict):
    """How quality is measured: capacity = share of claims per month investigators can open."""

    capacity: float = Field(default=0.01, gt=0, lt=1)
    ece_bins: int = Field(default=10, ge=2, le=100)


class FairnessConfig(_Strict):
    """Groups reported in every run; only groups with enough support enter the gate.

    ``drop_features`` and ``reweigh`` are mitigations, off by default; ``python -m benchmarks
    --only fairness`` measures what each does to the gate's verdicts and costs in recall.
    """

    attributes: list[FairnessAttribute] = Field(
        default_factory=lambda: _DEFAULT_ATTRIBUTES.copy(), min_length=1
    )
    min_group_negatives: int = Field(default=500, ge=1)
    min_group_flagged: int = Field(default=20, ge=1)
    drop_features: list[str] = Field(default_factory=list)
    """Mitigation: features of the feature set left out of the model, e.g. proxies of age or
    region (:data:`riskml.features.sets.AGE_REGION_PROXIES`). The model's features are the set
    minus these (the bundle's ``feature_names``); the run's parameters record them."""
    reweigh: list[FairnessAttribute] = Field(default_factory=list)
    """Mitigation: Kamiran and Calders' reweighing of the training labels over the joint groups
    of these attributes (:func:`riskml.train.reweighing_weights`), so that in the weighted
    training data the fraud label is independent of the groups. Empty: every label weighs 1."""


class GateConfig(_Strict):
    """The promotion gate (DESIGN principle 6).

    ``attributes`` are the groups the fairness bounds apply to: by DESIGN principle 6 sex, hukou
    type, age band and region alike. Where the counts cannot decide whether a bound holds (fewer
    than two groups with enough support, or a point ratio beyond the bound that the test cannot
    show), the gate passes but says "not enough evidence", with the point ratios
    (:func:`riskml.evaluate.fairness_evidence`). A version the gate refuses can be promoted only
    with a supervisor's recorded justification (``riskml promote``).

    Quality may not drop by more than the tolerances against the champion on the same test
    window; the false-positive-rate ratio between supported groups of every attribute must stay
    within ``max_fpr_ratio``; every supported group's precision must be at least
    ``min_group_precision_ratio`` times the overall precision at capacity. False positives and
    referrals per group are few, so both bounds count as broken only when the counts show it
    at significance level ``alpha`` (exact one-sided tests, Bonferroni over the pairs/groups).
    """

    attributes: list[FairnessAttribute] = Field(
        default_factory=lambda: _DEFAULT_GATED.copy(), min_length=1
    )
    auc_pr_tolerance: float = Field(default=0.01, ge=0, le=1)
    recall_tolerance: float = Field(default=0.02, ge=0, le=1)
    max_fpr_ratio: float = Field(default=1.25, ge=1)
    min_group_precision_ratio: float = Field(default=0.5, ge=0, le=1)
    alpha: float = Field(default=0.05, gt=0, le=1)


class BaselinesConfig(_Strict):
    """Baselines trained and evaluated in the same run, on the same windows."""

    rules: bool = True
    logistic_regression: bool = True
    isolation_forest: bool = True
    raw_lightgbm: bool = True
    max_train_rows: int = Field(default=200_000, ge=100)


class RefitConfig(_Strict):
    """The version that is registered learns from every label mature at the training date.

    After model selection and the windowed evaluation, the chosen booster's parameters are refit
    on every labelled claim from the train window to the label horizon, with the number of trees
    early stopping found scaled by the number of labelled rows (at most ``max_tree_scale`` times
    it). The refit model has no later window of its own, so it is calibrated and banded on
    time-ordered out-of-fold scores: the last ``oof_months`` months before the end of its data
    are cut into ``folds`` blocks, and each block is scored by the same procedure fitted on the
    labelled claims before the block. A backtest, the same procedure as of the start of the test
    window, scored on the test window, gives the metrics the version carries and the gate
    compares. With ``enabled: false`` the booster of the train window is registered, as before.
    """

    enabled: bool = True
    folds: int = Field(default=2, ge=1, le=12)
    oof_months: int = Field(default=4, ge=1, le=24)
    max_tree_scale: float = Field(default=3.0, ge=1.0, le=20.0)


class TrainConfig(_Strict):
    """Everything a training run depends on besides the data."""

    model_name: str = Field(default=MODEL_NAME, min_length=1)
    experiment: str = Field(default="riskml", min_length=1)
    feature_set: str = Field(default=DEFAULT_FEATURE_SET, min_length=1)
    split: SplitConfig = Field(default_factory=SplitConfig)
    lightgbm: LightGBMConfig = Field(default_factory=LightGBMConfig)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)
    bands: BandsConfig = Field(default_factory=BandsConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    fairness: FairnessConfig = Field(default_factory=FairnessConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    refit: RefitConfig = Field(default_factory=RefitConfig)
    baselines: BaselinesConfig = Field(default_factory=BaselinesConfig)
    log_plots: bool = True

    def with_overrides(self, overrides: dict[str, Any]) -> TrainConfig:
        """A validated copy with nested ``overrides`` merged in (used by tests and notebooks)."""
        return _validate(_deep_merge(self.model_dump(), overrides), "overrides")


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


class MonitorConfig(_Strict):
    """``riskml monitor``: when drift of a scoring period raises an alert.

    ``psi_alert`` is the population stability index from which an input or the score counts as
    a changed population (``psi_warn``: a shift to watch); a risk band whose share of claims is
    more than ``band_share_tolerance`` times its target (or less than the target divided by it)
    raises an alert; a period of fewer than ``min_claims`` claims gets a warning that its PSI is
    noisy. ``experiment`` is the MLflow experiment the reports are logged to.
    """

    psi_warn: float = Field(default=0.1, gt=0)
    psi_alert: float = Field(default=0.25, gt=0)
    band_share_tolerance: float = Field(default=2.0, gt=1)
    min_claims: int = Field(default=500, ge=1)
    experiment: str = Field(default="riskml-monitor", min_length=1)
    log_to_mlflow: bool = True


_Config = TypeVar("_Config", bound=BaseModel)


def load_monitor_config(path: Path | str | None = None) -> MonitorConfig:
    """Read a monitoring config (e.g. ``pipelines/monitor.yaml``); ``None`` gives the defaults."""
    if path is None:
        return MonitorConfig()
    return _validate(_read_yaml(Path(path)), str(path), MonitorConfig)


def _validate(
    raw: object,
    source: str,
    model: type[_Config] = TrainConfig,  # type: ignore[assignment]
) -> _Config:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of settings, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise ConfigError(f"{source}: {field}: {err['msg']} (got {err.get('input')!r})") from None


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def load_train_config(path: Path | str | None = None) -> TrainConfig:
    """Read a training pipeline config; ``None`` gives the defaults (equal to the repo's files).

    The pipeline file may name a model file with ``lightgbm_config: <path>`` (relative to the
    pipeline file), whose content becomes the ``lightgbm`` section; keys given inline win.
    """
    if path is None:
        return TrainConfig()
    path = Path(path)
    raw = _read_yaml(path)
    if isinstance(raw, dict) and "lightgbm_config" in raw:
        raw = dict(raw)
        ref = raw.pop("lightgbm_config")
        if not isinstance(ref, str):
            raise ConfigError(f"{path}: lightgbm_config: expected a file path (got {ref!r})")
        model_path = (path.parent / ref).resolve()
        model_raw = _read_yaml(model_path)
        if not isinstance(model_raw, dict):
            raise ConfigError(f"{model_path}: expected a mapping of LightGBM settings")
        inline = raw.get("lightgbm") or {}
        if not isinstance(inline, dict):
            raise ConfigError(f"{path}: lightgbm: expected a mapping (got {inline!r})")
        raw["lightgbm"] = _deep_merge(model_raw, inline)
        try:
            LightGBMConfig.model_validate(raw["lightgbm"])
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            raise ConfigError(
                f"{model_path}: {field}: {err['msg']} (got {err.get('input')!r})"
            ) from None
    return _validate(raw, str(path))
