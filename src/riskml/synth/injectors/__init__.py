"""One injector per fraud typology of ``contract.TYPOLOGIES``.

An injector takes the honest world and returns a new one in which a share of the typology's
candidate units (``knobs.prevalence``) commit it, starting after ``knobs.onset`` of the window,
as far as ``knobs.intensity`` says and as discreetly as ``knobs.camouflage`` says. Every claim it
makes or changes carries the hidden ground-truth columns (typology, class, unit, improper share).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from riskml.synth.config import TypologyKnobs
from riskml.synth.providers import ProviderChooser
from riskml.synth.world import World

Injector = Callable[[np.random.Generator, World, TypologyKnobs, ProviderChooser], World]

INJECTORS: dict[str, Injector] = {}
