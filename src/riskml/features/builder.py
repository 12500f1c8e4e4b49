"""FeatureBuilder: the scikit-learn-style object that fits peer norms and builds feature matrices.

``fit`` learns population statistics (peer medians by diagnosis, tier and region, item-diagnosis
profiles) from the claims submitted inside the training window ``[fit_start, fit_end)`` only (for
the older ``claims_v1`` set also provider profiles and the provider-patient graph), and keeps
them as plain frames (trailing-underscore attributes) so the fitted builder pickles inside an
MLflow model. ``transform`` computes, for each requested claim, only what was known at its
``submitted_at``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from riskml.data import ClaimsData
from riskml.defaults import DEFAULT_FEATURE_SET
from riskml.errors import ConfigError, DataContractError
from riskml.features import claim, claimant, employer, network, provider
from riskml.features.context import Context, build_context, dx3
from riskml.features.registry import FAMILIES, FEATURES
from riskml.features.sets import FEATURE_SETS, FROZEN_ENTITY_FEATURES


def _as_timestamp(value: object, name: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(str(value)) if not isinstance(value, pd.Timestamp) else value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"FeatureBuilder {name}={value!r} is not a timestamp") from exc
    if ts is pd.NaT:
        raise ConfigError(f"FeatureBuilder {name}={value!r} is not a timestamp")
    return ts


class FeatureBuilder(TransformerMixin, BaseEstimator):
    """Point-in-time claim features of a named feature set.

    Parameters
    ----------
    feature_set:
        Name of a versioned feature set in :data:`FEATURE_SETS` (default ``claims_v2``).
    fit_start, fit_end:
        The training window: claims with ``submitted_at`` in ``[fit_start, fit_end)``; ``None``
        leaves that side open. Norms and profiles are learned from this window only.
    network_seed:
        Seed of the Louvain community detection (deterministic fits).
    min_peers:
        Smallest peer group whose median is used as a norm (smaller groups back off).
    """

    def __init__(
        self,
        feature_set: str = DEFAULT_FEATURE_SET,
        fit_start: object = None,
        fit_end: object = None,
        network_seed: int = 0,
        min_peers: int = 5,
    ) -> None:
        self.feature_set = feature_set
        self.fit_start = fit_start
        self.fit_end = fit_end
        self.network_seed = network_seed
        self.min_peers = min_peers

    # -- fitting ----------------------------------------------------------------------------

    def _names(self) -> list[str]:
        if self.feature_set not in FEATURE_SETS:
            raise ConfigError(
                f"unknown feature set {self.feature_set!r}; known: {sorted(FEATURE_SETS)}"
            )
        return list(FEATURE_SETS[self.feature_set])

    def fit(self, data: ClaimsData, y: object = None) -> FeatureBuilder:
        """Learn peer norms, provider profiles and the graph from the training window."""
        return self._fit(data, build_context(data, None))

    def fit_transform(self, data: ClaimsData, y: object = None, **_: object) -> pd.DataFrame:
        """:meth:`fit`, then :meth:`transform` of every claim of ``data``, on one context.

        The same features as ``fit(data).transform(data)``, bit for bit (the context is read,
        never changed, by fitting and by the families), without building the history order,
        the line-item index and the static tables' key indexes twice: on 528,219 claims about
        9 s of the 60 s a training run spends on features.
        """
        ctx = build_context(data, None)
        self._fit(data, ctx)
        return self._transform(ctx, {})

    def _fit(self, data: ClaimsData, ctx: Context) -> FeatureBuilder:
        names = self._names()
        start = _as_timestamp(self.fit_start, "fit_start")
        end = _as_timestamp(self.fit_end, "fit_end")
        sub = pd.to_datetime(data.claims["submitted_at"])
        lo = sub.min() if start is None else start
        hi = sub.max() + pd.Timedelta(seconds=1) if end is None else end
        sub_sorted = ctx.claims["sub_s"].to_numpy()
        lo_s = int(lo.value // 10**9) if lo is not pd.NaT else np.iinfo("int64").min
        hi_s = int(hi.value // 10**9) if hi is not pd.NaT else np.iinfo("int64").max
        rows = np.flatnonzero((sub_sorted >= lo_s) & (sub_sorted < hi_s))
        if len(rows) == 0:
            raise ConfigError(
                f"the training window [{self.fit_start}, {self.fit_end}) holds no claims "
                f"(claims.submitted_at spans {sub.min()} .. {sub.max()})"
            )
        # the window's claims are its own history: fit on the data cut at the window's end
        window_days = max((hi - lo).total_seconds() / 86_400.0, 1.0)
        base = claim.claim_base(ctx, rows)
        mp = int(self.min_peers)
        claim_norms = claim.fit(base, mp)
        claim_norms["item_dx"] = claim.fit_item_typicality(ctx, rows, mp)
        start_month = float(pd.Timestamp(lo).to_period("M").ordinal) if start is not None else None
        end_month = float(pd.Timestamp(hi).to_period("M").ordinal) if end is not None else None
        frozen = set(names) & set(FROZEN_ENTITY_FEATURES)
        provider_norms = provider.fit(ctx, rows, claim_norms, window_days, mp)
        if not frozen:  # only the peer medians: nothing about one provider is fitted
            del provider_norms["provider_profile"]
        self.norms_: dict[str, dict[str, pd.DataFrame]] = {
            "claim": claim_norms,
            "claimant": claimant.fit(ctx, rows, mp),
            "employer": employer.fit(ctx, start_month, end_month, mp),
            "provider": provider_norms,
            "network": network.fit(ctx, rows, seed=self.network_seed) if frozen else {},
        }
        self.fit_window_ = (pd.Timestamp(lo), pd.Timestamp(hi))
        self.n_fit_claims_ = len(rows)
        self.feature_names_ = names
        in_window = data.claims.loc[(sub >= lo) & (sub < hi)]
        self.known_values_ = {
            kind: sorted(str(v) for v in values.dropna().unique())
            for kind, values in _vocabulary(in_window, data.providers).items()
        }
        return self

    def unseen(self, data: ClaimsData, claims: pd.DataFrame) -> pd.DataFrame:
        """The values of ``claims`` the training window never showed (cold start).

        One row per claim and kind (``benefit_type``, ``diagnosis_group``, ``provider_type``):
        ``claim_id``, ``kind``, ``value``. Peer norms and profiles keyed by such a value do not
        exist, so features that rest on them are missing; the score then rests on the rest, and
        the claim should say so rather than fall silently into one band. Empty for a builder
        fitted before this was recorded.
        """
        check_is_fitted(self, "feature_names_")
        known = getattr(self, "known_values_", None)
        parts = []
        if known:
            for kind, values in _vocabulary(claims, data.providers).items():
                new = values.notna() & ~values.astype("str").isin(known.get(kind, []))
                if new.any():
                    parts.append(
                        pd.DataFrame(
                            {
                                "claim_id": claims["claim_id"].to_numpy()[new.to_numpy()],
                                "kind": kind,
                                "value": values[new].astype(str).to_numpy(),
                            }
                        )
                    )
        if not parts:
            return pd.DataFrame({"claim_id": [], "kind": [], "value": []}, dtype=object)
        return pd.concat(parts, ignore_index=True)

    # -- transforming -----------------------------------------------------------------------

    def transform(self, data: ClaimsData, claims: pd.DataFrame | None = None) -> pd.DataFrame:
        """Features of ``claims`` (default ``data.claims``), index ``claim_id`` in input order."""
        return self.transform_timed(data, claims)[0]

    def transform_family(
        self, family: str, data: ClaimsData, claims: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """The columns of one feature family only (in :attr:`feature_names_` order): what the
        Spark engine computes per entity bucket (:mod:`riskml.features.partitions`)."""
        if family not in FAMILIES:
            raise ConfigError(f"unknown feature family {family!r}; known: {list(FAMILIES)}")
        return self.transform_timed(data, claims, families=(family,))[0]

    def family_names(self, family: str) -> list[str]:
        """The features of ``family`` in this builder's set, in column order."""
        check_is_fitted(self, "feature_names_")
        return [n for n in self.feature_names_ if FEATURES[n].family == family]

    def transform_timed(
        self,
        data: ClaimsData,
        claims: pd.DataFrame | None = None,
        families: tuple[str, ...] | None = None,
    ) -> tuple[pd.DataFrame, dict[str, float]]:
        """:meth:`transform` plus the seconds spent per feature family (for benchmarks);
        ``families`` keeps only those families' columns."""
        check_is_fitted(self, "norms_")
        if claims is not None and "claim_id" not in claims.columns:
            raise DataContractError("claims", "claim_id", "required column is missing")
        t0 = time.perf_counter()
        ctx = build_context(data, claims)
        timings: dict[str, float] = {"context": time.perf_counter() - t0}
        return self._transform(ctx, timings, families), timings

    def _transform(
        self, ctx: Context, timings: dict[str, float], families: tuple[str, ...] | None = None
    ) -> pd.DataFrame:
        """The feature matrix of ``ctx``'s targets (only ``families``' columns when given);
        seconds per family added to ``timings``."""
        names = [
            n for n in self.feature_names_ if families is None or FEATURES[n].family in families
        ]
        wanted = {FEATURES[n].family for n in names}
        frames: dict[str, pd.DataFrame] = {}
        for family in FAMILIES:
            if family not in wanted:
                continue
            t0 = time.perf_counter()
            frames[family] = self._prepare(family, ctx)
            timings[family] = time.perf_counter() - t0
        t0 = time.perf_counter()
        # column-major: each feature fills contiguous memory, and the frame takes the block as
        # it is (a row-major matrix cost a second copy of it, 0.6 GB at 1M claims)
        matrix = np.empty((len(ctx.targets), len(names)), dtype="float64", order="F")
        for j, name in enumerate(names):
            spec = FEATURES[name]
            matrix[:, j] = np.asarray(spec.fn(frames[spec.family]), dtype="float64")
        matrix[~np.isfinite(matrix)] = np.nan
        ids = ctx.claims["claim_id"].to_numpy()[ctx.targets]
        # one float block handed over without a copy, not a frame assembled column by column
        out = pd.DataFrame(
            matrix,
            index=pd.Index(ids, name="claim_id", dtype="str"),
            columns=pd.Index(names, dtype="str"),
            copy=False,  # the matrix is ours: pandas would copy an ndarray by default
        )
        timings["assemble"] = time.perf_counter() - t0
        return out

    def _prepare(self, family: str, ctx: Context) -> pd.DataFrame:
        norms = self.norms_
        if family == "claim":
            return claim.prepare(ctx, norms["claim"])
        if family == "claimant":
            return claimant.prepare(ctx, norms["claimant"])
        if family == "employer":
            return employer.prepare(ctx, norms["employer"])
        if family == "provider":
            return provider.prepare(ctx, norms["provider"], norms["claim"])
        if family == "network":
            return network.prepare(ctx, norms["network"])
        raise AssertionError(family)  # pragma: no cover

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The feature names in column order (scikit-learn convention)."""
        check_is_fitted(self, "norms_")
        return np.asarray(self.feature_names_, dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        return tags


def _vocabulary(claims: pd.DataFrame, providers: pd.DataFrame) -> dict[str, pd.Series]:
    """The categorical values peer norms are keyed by, per claim (aligned with ``claims``)."""
    provider_type = providers.set_index("provider_id")["provider_type"]
    return {
        "benefit_type": claims["benefit_type"].reset_index(drop=True),
        "diagnosis_group": dx3(claims["diagnosis_code"]).reset_index(drop=True),
        "provider_type": claims["provider_id"].map(provider_type).reset_index(drop=True),
    }


DEFAULT_TRAIN_SHARE = 0.6


def default_fit_end(data: ClaimsData, share: float = DEFAULT_TRAIN_SHARE) -> pd.Timestamp:
    """End of the default training window: the first ``share`` of months by ``submitted_at``."""
    months = pd.to_datetime(data.claims["submitted_at"]).dt.to_period("M").unique()
    if len(months) == 0:
        raise ConfigError("claims table is empty: no training window to fit features on")
    ordered = sorted(months)
    k = min(max(math.ceil(share * len(ordered)), 1), len(ordered))
    if k >= len(ordered):
        return pd.Timestamp(ordered[-1].end_time).floor("D") + pd.Timedelta(days=1)
    return pd.Timestamp(ordered[k].start_time)
