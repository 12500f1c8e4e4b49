"""The feature registry: every feature's name, family, business meaning, unit and reason template.

A feature is a small named function of its family's prepared frame (Hamilton style): the function
name is the feature name, its docstring the business meaning an investigator reads, and its reason
template turns a value into the sentence shown next to a score. Feature sets
(:mod:`riskml.features.sets`) list which registered features a model uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

FAMILIES = ("claim", "claimant", "provider", "employer", "network")

FeatureFn = Callable[[pd.DataFrame], "pd.Series | np.ndarray"]


@dataclass(frozen=True)
class FeatureSpec:
    """One registered feature.

    ``reason`` is a :meth:`str.format` template with ``{value}`` (and ``{label}`` for coded
    features whose ``labels`` map a code to a word). ``na_reason`` is used when the value is
    missing ("not applicable").
    """

    name: str
    family: str
    description: str
    reason: str
    unit: str
    fn: FeatureFn
    labels: tuple[str, ...] | None = None
    na_reason: str = "not applicable to this claim"


FEATURES: dict[str, FeatureSpec] = {}


def feature(
    family: str,
    *,
    reason: str,
    unit: str,
    labels: tuple[str, ...] | None = None,
) -> Callable[[FeatureFn], FeatureFn]:
    """Register the decorated function as a feature of ``family``; its docstring is its meaning."""
    if family not in FAMILIES:
        raise ValueError(f"unknown feature family {family!r}; expected one of {FAMILIES}")

    def register(fn: FeatureFn) -> FeatureFn:
        name = fn.__name__
        if name in FEATURES:
            raise ValueError(f"feature {name!r} is registered twice")
        doc = " ".join((fn.__doc__ or "").split())
        if not doc:
            raise ValueError(f"feature {name!r} needs a docstring: its business meaning")
        FEATURES[name] = FeatureSpec(
            name=name,
            family=family,
            description=doc,
            reason=reason,
            unit=unit,
            fn=fn,
            labels=labels,
        )
        return fn

    return register


def reason_text(feature: str, value: float) -> str:
    """The plain-language sentence an investigator reads for ``feature`` at ``value``."""
    try:
        spec = FEATURES[feature]
    except KeyError:
        raise KeyError(f"unknown feature {feature!r}") from None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{spec.description.split('.')[0].lower()}: {spec.na_reason}"
    v = float(value)
    label = ""
    if spec.labels is not None:
        code = round(v)
        label = spec.labels[code] if 0 <= code < len(spec.labels) else f"code {code}"
    return spec.reason.format(value=v, label=label)
