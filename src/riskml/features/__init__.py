"""Point-in-time claim features that carry the signals of every fraud typology.

Public interface (used by training, scoring and the service)::

    from riskml.features import FeatureBuilder, FEATURE_SETS, FEATURES, reason_text
    b = FeatureBuilder(feature_set="claims_v1", fit_start=None, fit_end=None).fit(data)
    X = b.transform(data, claims=None)   # index claim_id, float64 columns b.feature_names_
    history_for(data, chunk)             # the rows a chunk's features read (batch, service)

Features are registered per entity family (modules ``claim``, ``claimant``, ``provider``,
``employer``, ``network``) with a description and a reason template (:data:`FEATURES`,
:func:`reason_text`); :data:`FEATURE_SETS` names the versioned sets a model uses.
"""

from __future__ import annotations

# the family modules register their features on import
from riskml.features import claim, claimant, employer, network, provider  # noqa: F401
from riskml.features.builder import FeatureBuilder, default_fit_end
from riskml.features.history import history_for
from riskml.features.registry import FAMILIES, FEATURES, FeatureSpec, reason_text
from riskml.features.sets import FEATURE_SETS, TYPOLOGY_SIGNALS

__all__ = [
    "FAMILIES",
    "FEATURES",
    "FEATURE_SETS",
    "TYPOLOGY_SIGNALS",
    "FeatureBuilder",
    "FeatureSpec",
    "default_fit_end",
    "history_for",
    "reason_text",
]
