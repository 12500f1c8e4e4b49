"""Shared fixtures: one small synthetic data directory per test session.

``synth_dir`` is generated once (about 2,500 persons, 24 months, stress preset, seed 11) into
a session temporary folder; ``synth_data`` is that directory loaded through the contract
loader. Feature, training and service tests build on them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from riskml.data import ClaimsData, load_data_dir

SYNTH_PERSONS = 2_500
SYNTH_SEED = 11


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic data directory (contract tables, labels, ground truth, manifest)."""
    from riskml.synth import SynthConfig, generate, write_result

    out = tmp_path_factory.mktemp("synth") / "data"
    config = SynthConfig(persons=SYNTH_PERSONS, seed=SYNTH_SEED, months=24, preset="stress")
    write_result(generate(config), out)
    return out


@pytest.fixture(scope="session")
def synth_data(synth_dir: Path) -> ClaimsData:
    """The loaded (validated) tables of ``synth_dir``."""
    return load_data_dir(synth_dir)
