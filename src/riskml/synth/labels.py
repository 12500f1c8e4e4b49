"""Observed labels: what a capacity-limited fraud unit would have decided, not the truth.

Investigations are triggered by suspicion: most fraud units (less so the well-camouflaged),
many honest look-alikes, a share of expensive or unusual honest claims. A random audit sample
is drawn on top, uniformly from the claims not investigated (``source = random_audit``, with
its ``selection_probability``). Investigators find most of the fraud they look at,
miss some (labelled ``unfounded``, ``is_fraud`` False), keep honest errors apart (``error``)
and make a few mistakes (label noise). Decisions take weeks. The ground truth is written
separately; these labels are what a model can learn from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.contract import TYPOLOGIES
from riskml.synth.config import SynthConfig
from riskml.synth.world import BENEFIT, CLASS

# Base chance that an honest claim is investigated, by benefit.
_HONEST_BASE = {
    "outpatient": 0.05,
    "inpatient": 0.45,
    "pharmacy": 0.06,
    "work_injury": 0.7,
    "maternity": 0.6,
    "unemployment": 0.25,
    "pension": 0.04,
}
HONEST_INVESTIGATED = 0.17  # mean share of honest claims investigated (capacity)
RANDOM_AUDIT = 0.05
DETECTION = 0.9  # chance an investigated fraud is recognised as such
NOISE = 0.003  # honest claims wrongly confirmed as fraud
HONEST_ERROR = 0.02  # honest claims found to hold an administrative error
# typologies a wrongly confirmed honest claim may get, by benefit
_NOISE_TYPOLOGY = {
    "outpatient": ("duplicate_claim", "identity_impersonation", "collusion_ring"),
    "inpatient": ("split_hospitalization", "upcoding", "unbundling", "phantom_hospitalization"),
    "pharmacy": ("drug_reselling", "duplicate_claim", "identity_impersonation"),
    "work_injury": ("work_injury_fabricated",),
    "maternity": ("fictitious_employment",),
    "unemployment": ("unemployment_while_employed", "duplicate_benefit"),
    "pension": ("pension_after_death", "duplicate_benefit"),
}


def simulate_labels(
    rng: np.random.Generator, claims: pd.DataFrame, config: SynthConfig
) -> pd.DataFrame:
    """Labels for the investigated and audited claims (row ``cidx`` of ``claims``).

    Columns: ``cidx``, ``is_fraud``, ``typology`` (index, -1 none), ``outcome``, ``source``,
    ``selection_probability`` (random audits; NaN for investigations), ``decided_s`` (seconds
    after the window start).
    """
    n = len(claims)
    benefit = claims["benefit"].to_numpy()
    typ = claims["typ"].to_numpy()
    tclass = claims["tclass"].to_numpy()
    unit = claims["unit"].to_numpy()
    amount = claims["amount"].to_numpy()
    look = claims["look"].to_numpy() >= 0
    bad = (typ >= 0) & (tclass != CLASS["error"])
    error = (typ >= 0) & (tclass == CLASS["error"])

    # honest suspicion: benefit base, amount against the benefit's median, look-alikes
    base = np.zeros(n)
    median = np.ones(n)
    for name, code in BENEFIT.items():
        sel = benefit == code
        base[sel] = _HONEST_BASE[name]
        if sel.any():
            median[sel] = max(float(np.median(amount[sel])), 1.0)
    rel = np.clip((amount / median) ** 0.35, 0.5, 3.0)
    suspicion = base * rel * np.where(look, 3.0, 1.0)
    honest = ~bad & ~error
    scale = HONEST_INVESTIGATED / max(float(suspicion[honest].mean()), 1e-9)
    p_honest = np.clip(suspicion * scale, 0, 0.9)

    # fraud is investigated per case: a case is looked at or not, and then found or not
    camo = np.array([config.typologies[t].camouflage for t in TYPOLOGIES])
    # a case is a (typology, unit, person): a ring or a phantom hospital is looked into
    # patient by patient, a pensioner's concealed death as one case
    cases = pd.DataFrame({"t": typ, "u": unit, "p": claims["pid"].to_numpy()})
    codes = cases.groupby(["t", "u", "p"], sort=True).ngroup().to_numpy()
    first = pd.Series(np.arange(n)).groupby(codes).first().to_numpy()
    case_typ = np.clip(typ[first], 0, len(TYPOLOGIES) - 1)
    u_look = rng.random(len(first)) < 0.9 * (1 - 0.45 * camo[case_typ])
    u_found = rng.random(len(first)) < DETECTION
    unit_looked = u_look[codes]
    unit_found = u_found[codes]
    per_claim = rng.random(n)
    investigated = np.where(
        bad,
        unit_looked & (per_claim < 0.95),
        np.where(error, per_claim < 0.6, rng.random(n) < p_honest),
    )
    audited = (rng.random(n) < RANDOM_AUDIT) & ~investigated
    labelled = investigated | audited
    source = np.where(audited, "random_audit", "investigation")

    # outcomes
    found = np.where(audited, rng.random(n) < 0.95, unit_found)
    outcome = np.full(n, "unfounded", dtype=object)
    is_fraud = np.zeros(n, dtype=bool)
    typology = np.full(n, -1, dtype=np.int64)
    hit = bad & found
    outcome[hit] = np.where(tclass[hit] == CLASS["abuse"], "abuse", "fraud")
    is_fraud[hit] = True
    typology[hit] = typ[hit]
    err_found = error & (rng.random(n) < 0.9)
    outcome[err_found] = "error"
    u = rng.random(n)
    honest_error = honest & (u < HONEST_ERROR)
    outcome[honest_error] = "error"
    noisy = honest & (u >= HONEST_ERROR) & (u < HONEST_ERROR + NOISE)
    inverse = {code: name for name, code in BENEFIT.items()}
    options = [_NOISE_TYPOLOGY[inverse[b]] for b in range(len(BENEFIT))]
    width = max(len(o) for o in options)
    table = np.array([[TYPOLOGIES.index(o[j % len(o)]) for j in range(width)] for o in options])
    outcome[noisy] = "fraud"
    is_fraud[noisy] = True
    typology[noisy] = table[benefit[noisy], rng.integers(0, width, int(noisy.sum()))]

    weeks = rng.lognormal(np.log(5.0), 0.45, n)
    decided = claims["sub_s"].to_numpy() + (weeks * 7 * 86_400).astype(np.int64)
    idx = np.nonzero(labelled)[0]
    return pd.DataFrame(
        {
            "cidx": idx,
            "is_fraud": is_fraud[idx],
            "typology": typology[idx],
            "outcome": outcome[idx].astype(str),
            "source": source[idx],
            "selection_probability": np.where(audited[idx], RANDOM_AUDIT, np.nan),
            "decided_s": decided[idx],
        }
    )
