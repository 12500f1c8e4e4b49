"""Typed configuration of the synthetic generator: size, seed, window and per-typology knobs.

A :class:`SynthConfig` is all a run depends on; it is written into ``manifest.json`` so a data
directory says how it was made. Presets follow DOMAIN.md section 4: ``low`` puts 0.1-0.5% of a
typology's candidate units under fraud, ``stress`` 2-5%.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from riskml.contract import TYPOLOGIES
from riskml.errors import ConfigError

PRESETS = ("low", "stress")


@dataclass(frozen=True)
class TypologyKnobs:
    """How one typology is injected.

    ``prevalence``: share of the typology's candidate units (pensioners, stays, hospitals,
    employers ...) that are made fraudulent. ``intensity``: how far the fraud goes (extra
    months, amount multiplier, batch size), 1.0 is the typology's typical case. ``onset``:
    fraction of the window before which the typology is absent; units start after it, so a
    late onset is drift. ``camouflage``: 0..1, how hard the fraudster works to look normal
    (smaller excess, fewer tell-tale lines, lower chance of being investigated).
    """

    prevalence: float
    intensity: float = 1.0
    onset: float = 0.0
    camouflage: float = 0.3

    def validate(self, typology: str) -> None:
        checks = (
            ("prevalence", self.prevalence, 0.0, 0.5),
            ("intensity", self.intensity, 0.1, 5.0),
            ("onset", self.onset, 0.0, 0.9),
            ("camouflage", self.camouflage, 0.0, 1.0),
        )
        for name, value, lo, hi in checks:
            if not lo <= value <= hi:
                raise ConfigError(
                    f"synth config: typologies.{typology}.{name} = {value!r} is outside "
                    f"[{lo}, {hi}]"
                )


# Share of candidate units per typology for the "stress" preset (2-5%); "low" divides by 10.
# Onsets > 0 make a typology ramp up late in the window (drift).
_STRESS: dict[str, TypologyKnobs] = {
    "pension_after_death": TypologyKnobs(0.03, onset=0.0, camouflage=0.3),
    "duplicate_benefit": TypologyKnobs(0.025, camouflage=0.3),
    "unemployment_while_employed": TypologyKnobs(0.05, camouflage=0.3),
    "fictitious_employment": TypologyKnobs(0.02, onset=0.2, camouflage=0.2),
    "work_injury_fabricated": TypologyKnobs(0.05, camouflage=0.3),
    "phantom_hospitalization": TypologyKnobs(0.05, onset=0.35, camouflage=0.2),
    "split_hospitalization": TypologyKnobs(0.05, camouflage=0.3),
    "upcoding": TypologyKnobs(0.05, onset=0.2, camouflage=0.3),
    "unbundling": TypologyKnobs(0.03, camouflage=0.3),
    "duplicate_claim": TypologyKnobs(0.02, camouflage=0.3),
    "identity_impersonation": TypologyKnobs(0.02, camouflage=0.3),
    "drug_reselling": TypologyKnobs(0.04, onset=0.25, camouflage=0.3),
    "collusion_ring": TypologyKnobs(0.05, onset=0.3, camouflage=0.3),
}
_LOW_FACTOR = 0.1


def preset_knobs(preset: str) -> dict[str, TypologyKnobs]:
    """The per-typology knobs of a named preset (``low`` or ``stress``)."""
    if preset not in PRESETS:
        raise ConfigError(f"synth: --preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    factor = 1.0 if preset == "stress" else _LOW_FACTOR
    return {
        name: dataclasses.replace(k, prevalence=round(k.prevalence * factor, 6))
        for name, k in _STRESS.items()
    }


@dataclass(frozen=True)
class SynthConfig:
    """Everything one synthetic data set depends on (same config, same bytes).

    ``fraud_rate`` overrides the preset's mean unit prevalence: every typology's prevalence is
    scaled so their mean equals it, keeping the preset's relative weights.
    """

    persons: int = 20_000
    seed: int = 7
    months: int = 24
    start: dt.date = dt.date(2024, 1, 1)
    preset: str = "stress"
    fraud_rate: float | None = None
    typologies: dict[str, TypologyKnobs] = field(default_factory=dict)
    #: The drift setting (:mod:`riskml.synth.drift`): a late cohort of rings and phantom-stay
    #: hospitals at providers designated late, and honest providers designated late too.
    drift: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.persons, bool) or not isinstance(self.persons, int):
            raise ConfigError(f"synth: persons must be an integer, got {self.persons!r}")
        if not 100 <= self.persons <= 5_000_000:
            raise ConfigError(f"synth: persons must be in [100, 5000000], got {self.persons}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"synth: seed must be a non-negative integer, got {self.seed!r}")
        if not 6 <= self.months <= 60:
            raise ConfigError(f"synth: months must be in [6, 60], got {self.months}")
        if self.start.day != 1:
            raise ConfigError(f"synth: start must be the first day of a month, got {self.start}")
        if self.fraud_rate is not None and not 0.0 <= self.fraud_rate <= 0.2:
            raise ConfigError(f"synth: fraud_rate must be in [0, 0.2], got {self.fraud_rate}")
        base = preset_knobs(self.preset)
        unknown = sorted(set(self.typologies) - set(TYPOLOGIES))
        if unknown:
            raise ConfigError(f"synth: unknown typology {unknown[0]!r}; known: {TYPOLOGIES}")
        merged = {name: self.typologies.get(name, base[name]) for name in TYPOLOGIES}
        if self.fraud_rate is not None:
            mean = sum(k.prevalence for k in merged.values()) / len(merged)
            scale = self.fraud_rate / mean if mean > 0 else 0.0
            merged = {
                n: dataclasses.replace(k, prevalence=min(0.5, round(k.prevalence * scale, 6)))
                for n, k in merged.items()
            }
        for name, knobs in merged.items():
            knobs.validate(name)
        object.__setattr__(self, "typologies", merged)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view of the config for the manifest."""
        return {
            "persons": self.persons,
            "seed": self.seed,
            "months": self.months,
            "start": self.start.isoformat(),
            "preset": self.preset,
            "fraud_rate": self.fraud_rate,
            "typologies": {n: dataclasses.asdict(k) for n, k in self.typologies.items()},
        }
