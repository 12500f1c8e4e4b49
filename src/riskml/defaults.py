"""Names every part of riskml shares: the registered model, its aliases and the feature set.

One home for each, so the CLI, the registry, batch scoring and the service cannot drift apart.
"""

from __future__ import annotations

MODEL_NAME = "riskml-claims"
"""The registered model every training run adds a version to."""

CHAMPION = "champion"
"""The alias of the version that scores (batch and service) after the promotion gate."""

CHALLENGER = "challenger"
"""The alias of a version scored in shadow beside the champion (never shown to investigators)."""

DEFAULT_MODEL_URI = f"models:/{MODEL_NAME}@{CHAMPION}"
"""What ``--model`` and the service load when nothing else is said."""

DEFAULT_FEATURE_SET = "claims_v2"
"""The named, versioned feature set a model is trained on unless its run config says otherwise."""
