"""Metrics that fit fraud work, as pure functions, and the metrics JSON of CONTRACT.md.

Labels are a float array: 1.0 fraud, 0.0 not fraud, NaN unlabelled (never investigated, or decided
after the evaluation date). Unlabelled claims are never taken as "not fraud": ranking metrics use
the labelled claims only. Capacity metrics follow how a fraud unit works: the top ``capacity``
share of *all* claims of each month (labelled or not) is referred, then precision and recall are
counted on the labelled claims among them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from riskml.contract import TYPOLOGIES

AGE_BANDS = ((0, 30, "<30"), (30, 45, "30-44"), (45, 60, "45-59"), (60, 75, "60-74"))
OLDEST_BAND = "75+"


def _arrays(y_true: Any, score: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=np.float64)
    s = np.asarray(score, dtype=np.float64)
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length: {y.shape} vs {s.shape}")
    return y, s


def _known(y: np.ndarray) -> np.ndarray:
    return ~np.isnan(y)


def auc_pr(y_true: Any, score: Any) -> float:
    """Area under the precision-recall curve (average precision) on the labelled claims."""
    y, s = _arrays(y_true, score)
    m = _known(y)
    if not (y[m] == 1).any():
        return math.nan
    return float(average_precision_score(y[m], s[m]))


def roc_auc(y_true: Any, score: Any) -> float:
    """Area under the ROC curve on the labelled claims (NaN when only one class is present)."""
    y, s = _arrays(y_true, score)
    m = _known(y)
    if len(np.unique(y[m])) < 2:
        return math.nan
    return float(roc_auc_score(y[m], s[m]))


def brier(y_true: Any, prob: Any) -> float:
    """Mean squared error of the probability against the 0/1 outcome (labelled claims)."""
    y, p = _arrays(y_true, prob)
    m = _known(y)
    if not m.any():
        return math.nan
    return float(np.mean((p[m] - y[m]) ** 2))


def expected_calibration_error(y_true: Any, prob: Any, n_bins: int = 10) -> float:
    """Expected calibration error over ``n_bins`` equal-width probability bins.

    ``sum_b n_b / n * |fraud rate in b - mean probability in b|`` on the labelled claims; a
    probability of exactly 1 falls in the last bin.
    """
    y, p = _arrays(y_true, prob)
    m = _known(y)
    y, p = y[m], p[m]
    if y.size == 0:
        return math.nan
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    gap = np.abs(
        np.bincount(bins, weights=y, minlength=n_bins)
        - np.bincount(bins, weights=p, minlength=n_bins)
    )
    return float(gap.sum() / count.sum())


def flag_top(score: Any, capacity: float, groups: Any = None) -> np.ndarray:
    """True for the top ``ceil(capacity * n)`` claims by score within each group (e.g. month).

    Ties keep the order of the input, so the result is deterministic.
    """
    s = pd.Series(np.asarray(score, dtype=np.float64))
    if s.empty:
        return np.zeros(0, dtype=bool)
    if groups is None:
        g = pd.Series(np.zeros(len(s), dtype=np.int64))
    else:
        g = pd.Series(np.asarray(groups))
        if len(g) != len(s):
            raise ValueError(f"groups and scores differ in length: {len(g)} vs {len(s)}")
    rank = s.fillna(-np.inf).groupby(g.to_numpy()).rank(method="first", ascending=False)
    size = g.map(g.value_counts())
    k = np.ceil(capacity * size.to_numpy(dtype=np.float64) - 1e-9)
    return np.asarray(rank.to_numpy() <= k, dtype=bool)


def precision_at_capacity(
    y_true: Any, score: Any, capacity: float = 0.01, groups: Any = None
) -> float:
    """Share of fraud among the labelled referred claims (top ``capacity`` per group)."""
    y, s = _arrays(y_true, score)
    flagged = flag_top(s, capacity, groups) & _known(y)
    if not flagged.any():
        return math.nan
    return float(y[flagged].mean())


def recall_at_capacity(
    y_true: Any, score: Any, capacity: float = 0.01, groups: Any = None
) -> float:
    """Share of the labelled fraud that falls in the top ``capacity`` per group."""
    y, s = _arrays(y_true, score)
    fraud = y == 1
    if not fraud.any():
        return math.nan
    return float((flag_top(s, capacity, groups) & fraud).sum() / fraud.sum())


def amount_recall_at_capacity(
    y_true: Any, score: Any, amount: Any, capacity: float = 0.01, groups: Any = None
) -> float:
    """Share of the labelled fraudulent *amount* claimed that falls in the top ``capacity``."""
    y, s = _arrays(y_true, score)
    a = np.asarray(amount, dtype=np.float64)
    fraud = y == 1
    total = a[fraud].sum()
    if total <= 0:
        return math.nan
    return float(a[flag_top(s, capacity, groups) & fraud].sum() / total)


def per_typology_recall(y_true: Any, typology: Any, flagged: Any) -> dict[str, float]:
    """Recall of the referred set per typology of the labelled fraud present in the data.

    Keys follow ``contract.TYPOLOGIES`` order, then any other typology found, alphabetically;
    fraud with no typology is counted under ``"unknown"``.
    """
    y = np.asarray(y_true, dtype=np.float64)
    f = np.asarray(flagged, dtype=bool)
    t = pd.Series(np.asarray(typology, dtype=object)).where(lambda x: x.notna(), "unknown")
    fraud = y == 1
    frame = pd.DataFrame({"typology": t[fraud].astype(str).to_numpy(), "hit": f[fraud]})
    rates = frame.groupby("typology")["hit"].mean()
    known = [name for name in TYPOLOGIES if name in rates.index]
    others = sorted(set(rates.index) - set(known))
    return {name: float(rates[name]) for name in known + others}


def age_band(birth_date: Any, at: Any) -> np.ndarray:
    """Age bands (``<30``, ``30-44``, ``45-59``, ``60-74``, ``75+``) at the instant ``at``."""
    born = pd.to_datetime(pd.Series(np.asarray(birth_date)))
    when = pd.to_datetime(pd.Series(np.asarray(at)))
    years = (when - born).dt.days.to_numpy(dtype=np.float64) / 365.25
    out = np.full(len(years), OLDEST_BAND, dtype=object)
    for lo, hi, name in reversed(AGE_BANDS):
        out[(years >= lo) & (years < hi)] = name
    out[np.isnan(years)] = "unknown"
    return out


def fairness_table(y_true: Any, flagged: Any, attributes: pd.DataFrame) -> pd.DataFrame:
    """Referral rate, precision and false-positive rate per group of every attribute column.

    ``referral_rate`` is over all claims of the group, ``precision`` over its labelled referred
    claims, ``false_positive_rate`` = referred non-fraud / labelled non-fraud.
    """
    y = np.asarray(y_true, dtype=np.float64)
    f = np.asarray(flagged, dtype=bool)
    base = pd.DataFrame(
        {
            "claims": 1,
            "flagged": f.astype(np.int64),
            "labelled": _known(y).astype(np.int64),
            "negatives": (y == 0).astype(np.int64),
            "flagged_labelled": (f & _known(y)).astype(np.int64),
            "true_positives": (f & (y == 1)).astype(np.int64),
            "false_positives": (f & (y == 0)).astype(np.int64),
        }
    )
    parts = []
    for attr in attributes.columns:
        key = attributes[attr].astype(object).where(attributes[attr].notna(), "unknown")
        agg = base.groupby(key.astype(str).to_numpy()).sum()
        agg.insert(0, "group", agg.index.astype(str))
        agg.insert(0, "attribute", attr)
        parts.append(agg.reset_index(drop=True))
    cols = ["attribute", "group", *base.columns]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    return _with_rates(table)


_GROUP_COUNTS = (
    "claims",
    "flagged",
    "labelled",
    "negatives",
    "flagged_labelled",
    "true_positives",
    "false_positives",
)
#: What a fairness table shows people per attribute (model card, dashboard): the groups with the
#: most claims, at most this many ...
SHOWN_GROUPS = 15
#: ... and each with at least this many claims; the others are one "other (k groups)" row.
MIN_SHOWN_CLAIMS = 100


def _with_rates(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the rates of its counts (see :func:`fairness_table`)."""
    table = table.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        table["referral_rate"] = table["flagged"] / table["claims"].where(table["claims"] > 0)
        table["precision"] = table["true_positives"] / table["flagged_labelled"].where(
            table["flagged_labelled"] > 0
        )
        table["false_positive_rate"] = table["false_positives"] / table["negatives"].where(
            table["negatives"] > 0
        )
    return table


def fold_small_groups(
    table: pd.DataFrame, top: int = SHOWN_GROUPS, min_claims: int = MIN_SHOWN_CLAIMS
) -> pd.DataFrame:
    """A fairness group table for people to read: per attribute, the ``top`` groups with most
    claims among those with at least ``min_claims``, and the others summed into one row
    ``other (k groups)`` with its rates computed from the summed counts (a scheme has thousands
    of regions, most with a handful of claims), the groups shown largest first. Only for
    display: the gate's tests take every real group (:func:`fairness_evidence`). An attribute
    with at most one group to fold is shown whole, in its own order."""
    if table.empty or not set(_GROUP_COUNTS) <= set(table.columns):
        return table
    parts = []
    for attr, unsorted in table.groupby("attribute", sort=False):
        rows = unsorted.sort_values("claims", ascending=False, kind="stable")
        keep = (rows["claims"] >= min_claims).to_numpy() & (np.arange(len(rows)) < top)
        if (~keep).sum() < 2:
            parts.append(unsorted)  # nothing to fold: the groups in their own order (age bands)
            continue
        rest = rows.loc[~keep]
        other = rest[list(_GROUP_COUNTS)].sum().to_frame().T.astype(np.int64)
        other.insert(0, "group", f"other ({len(rest):,d} groups)")
        other.insert(0, "attribute", attr)
        parts.append(pd.concat([rows.loc[keep], _with_rates(other)], ignore_index=True))
    return pd.concat(parts, ignore_index=True)[table.columns]


def fpr_ratios(table: pd.DataFrame, min_group_negatives: int) -> dict[str, float]:
    """Per attribute: highest over lowest false-positive rate among groups with enough support.

    Attributes with fewer than two supported groups are left out; a zero lowest rate beside a
    positive highest rate gives ``inf``.
    """
    out: dict[str, float] = {}
    supported = table[table["negatives"] >= min_group_negatives]
    for attr, rows in supported.groupby("attribute", sort=False):
        if len(rows) < 2:
            continue
        hi, lo = float(rows["false_positive_rate"].max()), float(rows["false_positive_rate"].min())
        out[str(attr)] = 1.0 if hi == 0 else (math.inf if lo == 0 else hi / lo)
    return out


def fpr_disparities(
    table: pd.DataFrame, min_group_negatives: int, max_ratio: float, alpha: float
) -> list[dict[str, Any]]:
    """Pairs of groups whose false-positive-rate ratio is *shown* to exceed ``max_ratio``.

    False positives are few (a 1% referral rate leaves a handful per group), so a raw ratio of
    two small counts is mostly noise. For every pair of supported groups of an attribute the
    exact conditional test of two Poisson rates is used: given ``m = fp_hi + fp_lo``, under a
    true ratio of ``max_ratio`` the count ``fp_hi`` is Binomial(m, r n_hi / (r n_hi + n_lo)).
    A pair is a violation when the one-sided p-value is below ``alpha`` divided by the number
    of pairs of that attribute (Bonferroni).
    """
    from scipy.stats import binom

    out: list[dict[str, Any]] = []
    supported = table[table["negatives"] >= min_group_negatives]
    for attr, rows in supported.groupby("attribute", sort=False):
        if len(rows) < 2:
            continue
        fp = rows["false_positives"].to_numpy(dtype=np.float64)
        neg = rows["negatives"].to_numpy(dtype=np.float64)
        groups = rows["group"].astype(str).to_numpy()
        hi, lo = np.meshgrid(np.arange(len(rows)), np.arange(len(rows)), indexing="ij")
        pairs = (fp[hi] / neg[hi]) > (fp[lo] / neg[lo])
        hi, lo = hi[pairs], lo[pairs]
        n_pairs = len(rows) * (len(rows) - 1) / 2
        m = fp[hi] + fp[lo]
        p0 = max_ratio * neg[hi] / (max_ratio * neg[hi] + neg[lo])
        pval = binom.sf(fp[hi] - 1, m, p0)
        for i in np.flatnonzero(pval < alpha / n_pairs):
            h, low = hi[i], lo[i]
            ratio = math.inf if fp[low] == 0 else (fp[h] / neg[h]) / (fp[low] / neg[low])
            out.append(
                {
                    "attribute": str(attr),
                    "high_group": groups[h],
                    "low_group": groups[low],
                    "ratio": ratio,
                    "p_value": float(pval[i]),
                }
            )
    return out


def fairness_evidence(
    table: pd.DataFrame,
    attributes: Sequence[str],
    *,
    min_group_negatives: int,
    max_fpr_ratio: float,
    alpha: float,
) -> dict[str, dict[str, Any]]:
    """What the counts say about the false-positive-rate bound of each gated attribute.

    ``exceeds``: a pair of groups is shown beyond ``max_fpr_ratio`` (:func:`fpr_disparities`);
    ``within``: at least two groups have enough support and the point ratio is within the bound;
    ``not enough evidence``: fewer than two supported groups, or a point ratio beyond the bound
    that the counts cannot show. A gate that cannot see must say so rather than pass silently.
    """
    shown = {
        d["attribute"] for d in fpr_disparities(table, min_group_negatives, max_fpr_ratio, alpha)
    }
    ratios = fpr_ratios(table, min_group_negatives)
    out: dict[str, dict[str, Any]] = {}
    for attr in attributes:
        rows = table[table["attribute"] == attr]
        supported = int((rows["negatives"] >= min_group_negatives).sum())
        ratio = ratios.get(attr)
        if attr in shown:
            status = "exceeds"
        elif ratio is not None and ratio <= max_fpr_ratio:
            status = "within"
        else:
            status = "not enough evidence"
        out[attr] = {
            "status": status,
            "point_ratio": _clean(ratio) if ratio is not None else None,
            "groups": len(rows),
            "supported_groups": supported,
        }
    return out


def fairness_violations(
    table: pd.DataFrame,
    overall_precision: float,
    *,
    max_fpr_ratio: float,
    min_group_precision_ratio: float,
    min_group_negatives: int,
    min_group_flagged: int,
    alpha: float = 0.05,
) -> list[str]:
    """Why a model fails the fairness bounds of the promotion gate (empty list: it passes).

    A false-positive-rate ratio beyond ``max_fpr_ratio`` (see :func:`fpr_disparities`) and a
    group precision below ``min_group_precision_ratio`` x the overall precision both count only
    when the counts show it at level ``alpha`` (one-sided exact binomial tests), so that a
    handful of referrals cannot block or pass a model by chance.
    """
    from scipy.stats import binom

    problems = [
        f"false-positive-rate ratio by {d['attribute']}: {d['high_group']} against "
        f"{d['low_group']} is {d['ratio']:.2f} > {max_fpr_ratio:.2f} (p = {d['p_value']:.2g})"
        for d in fpr_disparities(table, min_group_negatives, max_fpr_ratio, alpha)
    ]
    if not math.isnan(overall_precision):
        floor = min_group_precision_ratio * overall_precision
        cand = table[
            (table["flagged_labelled"] >= min_group_flagged) & (table["precision"] < floor)
        ]
        pval = binom.cdf(
            cand["true_positives"].to_numpy(), cand["flagged_labelled"].to_numpy(), floor
        )
        n_tests = max(int((table["flagged_labelled"] >= min_group_flagged).sum()), 1)
        problems += [
            f"precision of {r.attribute}={r.group} is {r.precision:.3f} < floor {floor:.3f} "
            f"(p = {p:.2g})"
            for r, p in zip(cand.itertuples(), pval, strict=True)
            if p < alpha / n_tests
        ]
    return problems


def _clean(value: float) -> float | None:
    return None if value is None or math.isnan(value) or math.isinf(value) else float(value)


def evaluate_scores(
    y_true: Any,
    score: Any,
    *,
    month: Any,
    amount: Any,
    typology: Any,
    attributes: pd.DataFrame | None = None,
    capacity: float = 0.01,
    is_probability: bool = True,
    ece_bins: int = 10,
    min_group_negatives: int = 500,
    source: Any = None,
    selection_probability: Any = None,
) -> dict[str, Any]:
    """The metrics JSON for one scored set of claims (one row per claim, all claims of a window).

    Keys: ``auc_pr``, ``roc_auc``, ``brier`` and ``ece`` (probabilities only),
    ``precision_at_capacity``, ``recall_at_capacity``, ``amount_recall_at_capacity``,
    ``per_typology_recall``, counts, and ``fairness`` (``fpr_ratio`` per attribute and the group
    table) when ``attributes`` are given. Undefined values are ``None``. These count the labels
    as they are, chosen by investigators; with the labels' ``source`` and
    ``selection_probability``, ``random_audit`` holds the unbiased estimates of
    :func:`audit_estimates` beside them (None without random audits).
    """
    y, s = _arrays(y_true, score)
    flagged = flag_top(s, capacity, month)
    out: dict[str, Any] = {
        "auc_pr": _clean(auc_pr(y, s)),
        "roc_auc": _clean(roc_auc(y, s)),
        "brier": _clean(brier(y, s)) if is_probability else None,
        "ece": _clean(expected_calibration_error(y, s, ece_bins)) if is_probability else None,
        "capacity": capacity,
        "precision_at_capacity": _clean(precision_at_capacity(y, s, capacity, month)),
        "recall_at_capacity": _clean(recall_at_capacity(y, s, capacity, month)),
        "amount_recall_at_capacity": _clean(
            amount_recall_at_capacity(y, s, amount, capacity, month)
        ),
        "per_typology_recall": per_typology_recall(y, typology, flagged),
        "n_claims": len(y),
        "n_labelled": int(_known(y).sum()),
        "n_fraud": int((y == 1).sum()),
        "n_flagged": int(flagged.sum()),
    }
    if source is not None and selection_probability is not None:
        out["random_audit"] = audit_estimates(y, source, selection_probability, flagged)
    if attributes is not None:
        table = fairness_table(y, flagged, attributes)
        out["fairness"] = {
            "fpr_ratio": {k: _clean(v) for k, v in fpr_ratios(table, min_group_negatives).items()},
            "groups": _records(table),
        }
    return out


RANDOM_AUDIT = "random_audit"


def audit_estimates(
    y_true: Any,
    source: Any,
    selection_probability: Any,
    flagged: Any,
    *,
    level: float = 0.95,
) -> dict[str, Any] | None:
    """Prevalence, precision and recall at capacity that do not inherit the investigators' choice.

    Investigation labels are selective: precision and recall on them say how the model ranks the
    claims someone chose to open. Random audits say what the rest holds. The design: the claims
    with an investigation label are a census of what was investigated (weight 1); the claims
    labelled by a random audit stand for the claims that were not investigated, each with weight
    1 / its ``selection_probability`` (Horvitz-Thompson). Over all ``n`` claims, with ``C`` the
    census's fraud and ``A`` the audits' weighted fraud, among the flagged (``f``) or not (``o``):

        prevalence = (C_f + C_o + A_f + A_o) / n
        precision  = (C_f + A_f) / flagged
        recall     = (C_f + A_f) / (C_f + C_o + A_f + A_o)

    Audited frauds are few (a 5% audit of the unflagged rest finds a handful per month), so the
    intervals are Fay and Feuer's gamma intervals for weighted Poisson counts, which keep their
    coverage at small counts where a bootstrap does not; the recall interval combines the bounds
    of ``A_f`` and ``A_o`` (conservative). None when no claim carries a random-audit label.
    """
    y = np.asarray(y_true, dtype=np.float64)
    src = np.asarray(source, dtype=object)
    p = np.asarray(selection_probability, dtype=np.float64)
    f = np.asarray(flagged, dtype=bool)
    known = _known(y)
    audited = known & (src == RANDOM_AUDIT) & np.isfinite(p) & (p > 0)
    census = known & ~audited & (src != RANDOM_AUDIT)
    if not audited.any():
        return None
    fraud = y == 1
    alpha = 1 - level
    c_f = float((census & fraud & f).sum())
    c_o = float((census & fraud & ~f).sum())
    w = np.where(audited, 1.0 / np.where(audited, p, 1.0), 0.0)
    w_max = float(w[audited].max())
    a_f, a_f_lo, a_f_hi = _weighted_poisson(w[audited & fraud & f], w_max, alpha)
    a_o, a_o_lo, a_o_hi = _weighted_poisson(w[audited & fraud & ~f], w_max, alpha)
    n, n_flagged = len(y), int(f.sum())
    total = c_f + c_o + a_f + a_o

    def ratio(num: float, den: float) -> float:
        return num / den if den > 0 else math.nan

    estimates = {
        "prevalence": (
            total / n,
            (c_f + c_o + a_f_lo + a_o_lo) / n,
            (c_f + c_o + a_f_hi + a_o_hi) / n,
        ),
        "precision_at_capacity": (
            ratio(c_f + a_f, n_flagged),
            ratio(c_f + a_f_lo, n_flagged),
            ratio(c_f + a_f_hi, n_flagged),
        ),
        "recall_at_capacity": (
            ratio(c_f + a_f, total),
            ratio(c_f + a_f_lo, c_f + c_o + a_f_lo + a_o_hi),
            ratio(c_f + a_f_hi, c_f + c_o + a_f_hi + a_o_lo),
        ),
    }
    out: dict[str, Any] = {
        "audited_claims": int(audited.sum()),
        "audited_fraud": int((audited & fraud).sum()),
        "investigated_claims": int(census.sum()),
        "level": level,
        "design": "investigation labels as a census, random audits weighted by 1 / selection "
        "probability; Fay-Feuer gamma intervals",
    }
    for name, (est, lo, hi) in estimates.items():  # each is a share: the bounds stay in [0, 1]
        out[name] = {
            "estimate": _clean(est),
            "ci_low": _clean(min(max(lo, 0.0), 1.0)),
            "ci_high": _clean(min(max(hi, 0.0), 1.0)),
        }
    return out


def _weighted_poisson(
    weights: np.ndarray, w_max: float, alpha: float
) -> tuple[float, float, float]:
    """A weighted count ``sum(weights)`` of Poisson events and its Fay-Feuer interval."""
    from scipy.stats import chi2

    total = float(weights.sum())
    var = float((weights**2).sum())
    lo = 0.0 if total == 0 else var / (2 * total) * chi2.ppf(alpha / 2, 2 * total**2 / var)
    v_hi, t_hi = var + w_max**2, total + w_max
    hi = v_hi / (2 * t_hi) * chi2.ppf(1 - alpha / 2, 2 * t_hi**2 / v_hi)
    return total, float(lo), float(hi)


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for rec in table.to_dict(orient="records"):
        rows.append(
            {
                str(k): (
                    _clean(v)
                    if isinstance(v, float)
                    else (int(v) if isinstance(v, np.integer | int) else v)
                )
                for k, v in rec.items()
            }
        )
    return rows


def fairness_frame(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """The fairness group table of a metrics JSON back as a frame (for gates and model cards)."""
    groups: Sequence[Mapping[str, Any]] = metrics.get("fairness", {}).get("groups", [])
    frame = pd.DataFrame(list(groups))
    for col in ("precision", "false_positive_rate", "referral_rate"):
        if col in frame:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(np.float64)
    return frame


def shown_fairness_groups(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The fairness groups of a metrics JSON as people see them (model card, dashboard): small
    groups folded by :func:`fold_small_groups`; the metrics keep every group for the gate."""
    return _records(fold_small_groups(fairness_frame(metrics)))
