"""``riskml synth``: a realistic synthetic social-insurance population with labelled fraud.

``generate(config)`` returns a :class:`SynthResult` (contract tables with labels, the ground
truth, the manifest); ``run_synth(...)`` is the CLI verb that writes a data directory.
"""

from __future__ import annotations

from riskml.synth.config import PRESETS, SynthConfig, TypologyKnobs, preset_knobs
from riskml.synth.generate import SynthResult, generate, run_synth, write_result

__all__ = [
    "PRESETS",
    "SynthConfig",
    "SynthResult",
    "TypologyKnobs",
    "generate",
    "preset_knobs",
    "run_synth",
    "write_result",
]
