"""Drift and health of a model in service: population stability against its training reference.

A model version stores a :class:`Reference` of its inputs and scores, taken at training on the
latest months of its data (the claims its registered booster was last calibrated for). A scoring
period is compared with it by the population stability index,

    PSI = sum over bins of (share_now - share_ref) * ln(share_now / share_ref),

on the reference's decile bins (plus one bin for missing values), for every model feature, the raw
claim amount and the calibrated score; by the share of claims in each risk band against the
band's target share; and, since the scores are calibrated probabilities, by the label-free
estimate of the fraud rate and of the precision in the flagged bands. PSI below 0.1 is usually
read as stable, 0.1-0.25 as a shift to watch and above 0.25 as a change of population; the
thresholds come from :class:`riskml.config.MonitorConfig`.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskml.bands import BANDS, FLAGGED_BANDS

BINS = 10
EPS = 1e-4
"""Floor of a bin's share in the PSI, so an empty bin gives a large, finite term."""


@dataclass(frozen=True)
class Distribution:
    """Bin edges (inner cut points of the reference deciles) and the reference's bin shares.

    ``shares[0]`` is the missing-value bin; then one share per interval of ``edges``.
    """

    edges: list[float]
    shares: list[float]

    def to_dict(self) -> dict[str, Any]:
        return {"edges": self.edges, "shares": self.shares}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Distribution:
        return cls([float(e) for e in raw["edges"]], [float(s) for s in raw["shares"]])


def fit_distribution(values: np.ndarray, bins: int = BINS) -> Distribution:
    """Quantile bins of ``values`` (ties collapse into fewer bins) and their shares."""
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    if finite.size:
        qs = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1], method="linear")
        edges = [float(e) for e in np.unique(qs)]
    else:
        edges = []
    return Distribution(edges, bin_shares(v, edges))


def bin_shares(values: np.ndarray, edges: list[float]) -> list[float]:
    """Shares of ``values`` in the missing bin and in each interval ``(-inf, e0], (e0, e1] ...``."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return [0.0] * (len(edges) + 2)
    missing = ~np.isfinite(v)
    idx = np.searchsorted(np.asarray(edges, dtype=np.float64), v[~missing], side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(np.float64)
    return [float(missing.mean()), *(counts / v.size).tolist()]


def psi(reference: Distribution, values: np.ndarray) -> float:
    """Population stability index of ``values`` against ``reference`` (0: the same shares)."""
    expected = np.maximum(np.asarray(reference.shares, dtype=np.float64), EPS)
    actual = np.maximum(np.asarray(bin_shares(values, reference.edges), dtype=np.float64), EPS)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


@dataclass(frozen=True)
class Reference:
    """What a model saw at training: the distribution of each input and of its scores."""

    claims: int
    period: tuple[str, str]
    features: dict[str, Distribution]
    score: Distribution
    band_shares: dict[str, float]
    band_targets: dict[str, float]
    """The shares the band cut-offs were fixed for (``high``, ``medium``, ``low``)."""
    mean_score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "claims": self.claims,
            "period": list(self.period),
            "features": {k: d.to_dict() for k, d in self.features.items()},
            "score": self.score.to_dict(),
            "band_shares": self.band_shares,
            "band_targets": self.band_targets,
            "mean_score": self.mean_score,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Reference:
        return cls(
            claims=int(raw["claims"]),
            period=(str(raw["period"][0]), str(raw["period"][1])),
            features={k: Distribution.from_dict(d) for k, d in raw["features"].items()},
            score=Distribution.from_dict(raw["score"]),
            band_shares={k: float(v) for k, v in raw["band_shares"].items()},
            band_targets={k: float(v) for k, v in raw["band_targets"].items()},
            mean_score=float(raw["mean_score"]),
        )


def fit_reference(
    columns: dict[str, np.ndarray],
    scores: np.ndarray,
    bands: np.ndarray,
    period: tuple[str, str],
    targets: tuple[float, float],
) -> Reference:
    """The reference of a model: ``columns`` are its inputs (features, raw amount) by name;
    ``targets`` the shares of the high and medium bands its cut-offs were fixed for."""
    high, medium = targets
    return Reference(
        claims=len(scores),
        period=period,
        features={name: fit_distribution(v) for name, v in columns.items()},
        score=fit_distribution(scores),
        band_shares=_band_shares(bands),
        band_targets={"high": high, "medium": medium, "low": 1.0 - high - medium},
        mean_score=float(np.mean(scores)) if len(scores) else math.nan,
    )


def _band_shares(bands: np.ndarray) -> dict[str, float]:
    b = np.asarray(bands).astype(str)
    return {band: float((b == band).mean()) if b.size else 0.0 for band in BANDS}


def compare(
    reference: Reference,
    columns: dict[str, np.ndarray],
    scores: np.ndarray,
    bands: np.ndarray,
    *,
    psi_warn: float,
    psi_alert: float,
    band_share_tolerance: float,
    min_claims: int,
) -> dict[str, Any]:
    """The monitoring report of a scoring period against ``reference`` (see the module doc).

    A band whose share is more than ``band_share_tolerance`` times its target, or less than its
    target divided by it, raises an alert.
    """
    n = len(scores)
    features: dict[str, dict[str, Any]] = {}
    for name, dist in reference.features.items():
        if name in columns:
            value = psi(dist, columns[name])
            features[name] = {"psi": value, "status": _status(value, psi_warn, psi_alert)}
    score_psi = psi(reference.score, scores)
    shares = _band_shares(bands)
    flagged = np.isin(np.asarray(bands).astype(str), FLAGGED_BANDS)
    s = np.asarray(scores, dtype=np.float64)
    estimates = {
        "fraud_rate": float(s.mean()) if n else None,
        "fraud_rate_reference": reference.mean_score,
        "precision_flagged": float(s[flagged].mean()) if flagged.any() else None,
        "expected_frauds_flagged": float(s[flagged].sum()),
    }
    alerts: list[dict[str, Any]] = []
    if n < min_claims:
        alerts.append(
            {
                "kind": "too_few_claims",
                "message": f"{n} claims in the period, fewer than {min_claims}: PSI is noisy",
            }
        )
    for name, row in sorted(features.items(), key=lambda kv: -kv[1]["psi"]):
        if row["psi"] >= psi_alert:
            alerts.append(
                {
                    "kind": "feature_drift",
                    "feature": name,
                    "psi": row["psi"],
                    "message": f"{name}: PSI {row['psi']:.2f} >= {psi_alert:g}",
                }
            )
    if score_psi >= psi_alert:
        alerts.append(
            {
                "kind": "score_drift",
                "psi": score_psi,
                "message": f"risk score: PSI {score_psi:.2f} >= {psi_alert:g}",
            }
        )
    bands_out: dict[str, dict[str, float | None]] = {}
    for band in BANDS:
        target = reference.band_targets.get(band)
        bands_out[band] = {
            "share": shares[band],
            "target": target,
            "reference": reference.band_shares.get(band),
        }
        if target and n >= min_claims:
            ratio = shares[band] / target
            if ratio > band_share_tolerance or ratio < 1 / band_share_tolerance:
                alerts.append(
                    {
                        "kind": "band_share",
                        "band": band,
                        "share": shares[band],
                        "target": target,
                        "message": f"{band} band holds {shares[band]:.2%} of the claims "
                        f"against a target of {target:.2%}",
                    }
                )
    return {
        "claims": n,
        "reference": {"claims": reference.claims, "period": list(reference.period)},
        "features": features,
        "score": {"psi": score_psi, "status": _status(score_psi, psi_warn, psi_alert)},
        "bands": bands_out,
        "estimates": estimates,
        "alerts": alerts,
    }


def _status(value: float, warn: float, alert: float) -> str:
    return "alert" if value >= alert else ("watch" if value >= warn else "stable")


def render_html(report: dict[str, Any], title: str) -> str:
    """A self-contained HTML page of a monitoring report (no scripts, no external assets)."""
    esc = html.escape
    alerts = report["alerts"]
    rows = "".join(
        f"<tr class='{esc(r['status'])}'><td>{esc(name)}</td><td>{r['psi']:.3f}</td>"
        f"<td>{esc(r['status'])}</td></tr>"
        for name, r in sorted(report["features"].items(), key=lambda kv: -kv[1]["psi"])
    )
    band_rows = "".join(
        f"<tr><td>{esc(b)}</td><td>{_pct(v['share'])}</td><td>{_pct(v['target'])}</td>"
        f"<td>{_pct(v['reference'])}</td></tr>"
        for b, v in report["bands"].items()
    )
    est = report["estimates"]
    alert_items = "".join(f"<li>{esc(a['message'])}</li>" for a in alerts) or "<li>none</li>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; max-width: 60rem; }}
table {{ border-collapse: collapse; margin-bottom: 1.5rem; }}
td, th {{ border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
tr.alert td {{ background: #fdd; }} tr.watch td {{ background: #ffd; }}
</style></head><body>
<h1>{esc(title)}</h1>
<p>{report["claims"]:,} claims scored, against a training reference of
{report["reference"]["claims"]:,} claims ({esc(" .. ".join(report["reference"]["period"]))}).</p>
<h2>Alerts</h2><ul>{alert_items}</ul>
<h2>Risk score</h2><p>PSI {report["score"]["psi"]:.3f} ({esc(report["score"]["status"])}).
Label-free estimates from the calibrated scores: fraud rate {_pct(est["fraud_rate"])}
(reference {_pct(est["fraud_rate_reference"])}), precision in the flagged bands
{_pct(est["precision_flagged"])}.</p>
<h2>Risk bands</h2>
<table><tr><th>band</th><th>share</th><th>target</th><th>reference</th></tr>{band_rows}</table>
<h2>Inputs (population stability index)</h2>
<table><tr><th>input</th><th>PSI</th><th>status</th></tr>{rows}</table>
</body></html>
"""


def _pct(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.2%}"
