"""One injector per fraud typology of ``contract.TYPOLOGIES``.

An injector takes the honest world and returns a new one in which a share of the typology's
candidate units (``knobs.prevalence``) commit it, starting after ``knobs.onset`` of the window,
as far as ``knobs.intensity`` says and as discreetly as ``knobs.camouflage`` says. Every claim it
makes or changes carries the hidden ground-truth columns (typology, class, unit, improper share).
"""

from __future__ import annotations

from riskml.synth.injectors._common import Injector
from riskml.synth.injectors.benefits import (
    duplicate_benefit,
    pension_after_death,
    unemployment_while_employed,
)
from riskml.synth.injectors.claims import duplicate_claim, identity_impersonation
from riskml.synth.injectors.employment import (
    fictitious_employment,
    work_injury_fabricated,
)
from riskml.synth.injectors.hospital import (
    phantom_hospitalization,
    split_hospitalization,
    unbundling,
    upcoding,
)
from riskml.synth.injectors.networks import collusion_ring, drug_reselling

INJECTORS: dict[str, Injector] = {
    "pension_after_death": pension_after_death,
    "duplicate_benefit": duplicate_benefit,
    "unemployment_while_employed": unemployment_while_employed,
    "fictitious_employment": fictitious_employment,
    "work_injury_fabricated": work_injury_fabricated,
    "phantom_hospitalization": phantom_hospitalization,
    "split_hospitalization": split_hospitalization,
    "upcoding": upcoding,
    "unbundling": unbundling,
    "duplicate_claim": duplicate_claim,
    "identity_impersonation": identity_impersonation,
    "drug_reselling": drug_reselling,
    "collusion_ring": collusion_ring,
}
