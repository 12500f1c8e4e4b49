"""How the service sees a model: the ``Scorer`` protocol and an atomically swappable slot.

Anything with a ``model_version``, ``model_info()`` and ``score(data, claims)`` answering
:class:`riskml.scoring.ScoreResult` objects in claim order can serve; in production that is
:class:`riskml.scoring.Scorer` from :func:`riskml.scoring.load_scorer`. ``data`` is the world the
claims are scored in (history from the store plus the request's own claims and items, exactly as
a batch run sees a data directory); ``claims`` are the rows of ``data.claims`` to score.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import pandas as pd

from riskml.data import ClaimsData
from riskml.scoring import ScoreResult

log = logging.getLogger(__name__)


class Scorer(Protocol):
    """The one object the service scores with (see :class:`riskml.scoring.Scorer`)."""

    @property
    def model_version(self) -> str: ...

    def model_info(self) -> dict[str, Any]: ...

    def score(self, data: ClaimsData, claims: pd.DataFrame) -> Sequence[ScoreResult]: ...


ScorerLoader = Callable[[str], Scorer]


def load_scorer(uri: str) -> Scorer:
    """Load the model at ``uri`` with :func:`riskml.scoring.load_scorer`, one thread per call."""
    from riskml.scoring import load_scorer as _load

    return _load(uri, num_threads=1)


def alias_version(uri: str) -> str | None:
    """The version an alias URI (``models:/name@alias``) points to now, or None if not an alias.

    Cheap (one registry call), so the service can poll it and load a model only when it moved.
    """
    if not uri.startswith("models:/") or "@" not in uri:
        return None
    from riskml.registry import resolve_version

    return resolve_version(uri)[1]


class ModelSlot:
    """Holds the scorer that answers; a swap is atomic and in-flight requests keep their scorer.

    A request takes :attr:`current` once and scores with that object to the end, so when the
    alias moves, requests already running finish on the old version and the next ones use the new.
    """

    def __init__(
        self,
        scorer: Scorer | None = None,
        uri: str | None = None,
        resolver: Callable[[str], str | None] | None = None,
    ) -> None:
        self._scorer = scorer
        self.uri = uri
        self.resolver = resolver or alias_version
        self.last_error: str | None = None
        self._lock = threading.Lock()

    @property
    def current(self) -> Scorer | None:
        return self._scorer

    def swap(self, scorer: Scorer) -> Scorer | None:
        """Make ``scorer`` answer from now on; returns the previous one."""
        with self._lock:
            previous, self._scorer = self._scorer, scorer
        log.info("model version %s now answers", scorer.model_version)
        return previous

    def refresh(self, loader: ScorerLoader = load_scorer) -> bool:
        """Load the model at :attr:`uri` if it is not the one answering; True if swapped.

        Failures are logged and kept in :attr:`last_error`; the current model keeps answering.
        """
        if self.uri is None:
            return False
        current = self._scorer
        if current is not None:
            try:
                moved_to = self.resolver(self.uri)
            except Exception as exc:  # registry unreachable: keep answering with the current one
                log.warning("could not resolve %s: %s", self.uri, type(exc).__name__)
                return False
            if moved_to is not None and moved_to == current.model_version:
                return False
        try:
            scorer = loader(self.uri)
            if current is not None and scorer.model_version == current.model_version:
                return False
        except Exception as exc:  # any loading failure must leave the service answering
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("could not load model %s: %s", self.uri, self.last_error)
            return False
        self.last_error = None
        self.swap(scorer)
        return True
