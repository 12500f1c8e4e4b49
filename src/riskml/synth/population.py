"""Insured persons: age, sex, hukou and region mix, enrolment, Gompertz deaths and report lags.

Calibrated to DOMAIN.md section 4: 21.1% aged 60+, a crude death rate of 7.87 per mille (the
Gompertz level is solved for it), deaths known to the administration after a lag that is
usually weeks, sometimes months (genuine late reports, which overpay pensions by mistake) and,
for a few persons without benefits, never.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.synth.reference import REGION_WEIGHTS, WAGE_INDEX
from riskml.synth.world import NO_DAY, Timeline

GOMPERTZ_SLOPE = 0.085  # per year of age
CRUDE_DEATH_RATE = 0.00787
RETIREMENT_AGE = {"M": 60, "F": 55}


def _ages(rng: np.random.Generator, n: int) -> np.ndarray:
    """Ages at the window start: 5% minors, 74% aged 18-59, 21% aged 60+."""
    band = rng.choice(3, size=n, p=[0.05, 0.74, 0.21])
    young = rng.uniform(0, 18, n)
    adult = rng.uniform(18, 60, n)
    old = 60 + rng.exponential(11.0, n)
    return np.where(band == 0, young, np.where(band == 1, adult, np.minimum(old, 102.0)))


def gompertz_death_day(rng: np.random.Generator, age_years: np.ndarray, n_days: int) -> np.ndarray:
    """Day of death within the window (``NO_DAY`` if the person survives it).

    Hazard ``a * exp(b * age)`` with ``a`` chosen so the population's crude rate is 7.87 per mille;
    death times are drawn by inverting the Gompertz survival function from the current age.
    """
    b = GOMPERTZ_SLOPE
    a = CRUDE_DEATH_RATE / float(np.mean(np.exp(b * age_years)))
    e = rng.exponential(1.0, len(age_years))
    # cumulative hazard from age x over t years: a/b * e^{bx} (e^{bt} - 1) = E
    t_years = np.log1p(e * b / (a * np.exp(b * age_years))) / b
    days = np.floor(t_years * 365.25).astype(np.int64)
    return np.where(days < n_days, days, NO_DAY)


def report_lag_days(rng: np.random.Generator, n: int) -> np.ndarray:
    """Days from death to the administration learning of it: weeks usually, months for 10%."""
    late = rng.random(n) < 0.10
    usual = rng.lognormal(np.log(18), 0.6, n)
    slow = rng.uniform(60, 300, n)
    return np.ceil(np.where(late, slow, usual)).astype(np.int64)


def make_persons(rng: np.random.Generator, n: int, timeline: Timeline) -> pd.DataFrame:
    """The insured population with hidden helper columns (``wage``, ``retiree``, ...)."""
    n_days = timeline.n_days
    age = _ages(rng, n)
    sex = np.where(rng.random(n) < 0.51, "M", "F")
    region = rng.choice(len(REGION_WEIGHTS), size=n, p=REGION_WEIGHTS)
    urban_p = np.clip(0.35 + 0.3 * WAGE_INDEX[region], 0.3, 0.95)
    hukou = np.where(rng.random(n) < urban_p, "urban", "rural")
    birth = -np.floor(age * 365.25).astype(np.int64) - rng.integers(0, 1, n)
    # first enrolment: at 18-25, not before 1995 (day offsets relative to the window start)
    since_1995 = int((np.datetime64("1995-01-01") - timeline.start).astype(np.int64))
    enrol_age = rng.uniform(18, 26, n)
    enrolled = birth + np.floor(enrol_age * 365.25).astype(np.int64)
    enrolled = np.maximum(enrolled, since_1995 + rng.integers(0, 3650, n))
    minors = age < 18
    enrolled = np.where(minors, birth + rng.integers(30, 400, n), enrolled)
    # about 6% enrol during the window (new entrants); never after the window ends
    new = (rng.random(n) < 0.06) & (age >= 18) & (age < 45)
    enrolled = np.where(new, rng.integers(0, max(1, n_days - 30), n), enrolled)
    enrolled = np.minimum(enrolled, n_days - 1)
    death = gompertz_death_day(rng, age, n_days)
    death = np.where(death <= np.maximum(enrolled, 0), NO_DAY, death)
    reported = np.where(death < NO_DAY, death + report_lag_days(rng, n), NO_DAY)
    # a few deaths of people drawing no benefit never reach the administration
    age_at_death = age + np.minimum(death, n_days) / 365.25
    never = (death < NO_DAY) & (age_at_death < 50) & (rng.random(n) < 0.3)
    reported = np.where(never, NO_DAY, reported)
    wage = (
        7_500.0
        * WAGE_INDEX[region]
        * rng.lognormal(-0.18, 0.6, n)
        * np.where(hukou == "urban", 1.0, 0.75)
    )
    retire_age = np.where(sex == "M", RETIREMENT_AGE["M"], RETIREMENT_AGE["F"])
    return pd.DataFrame(
        {
            "pid": np.arange(n, dtype=np.int64),
            "birth": birth,
            "sex": sex,
            "region": region.astype(np.int64),
            "hukou": hukou,
            "enrolled": enrolled.astype(np.int64),
            "death": death.astype(np.int64),
            "reported": reported.astype(np.int64),
            "wage": wage,
            "retire_age": retire_age.astype(np.int64),
            "age0": age,
        }
    )
