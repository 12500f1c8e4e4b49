"""The model slot: which :class:`riskml.online.ScoringModel` answers now, swapped atomically.

In production the model is a :class:`riskml.scoring.Scorer` from
:func:`riskml.scoring.load_scorer` (one thread per call, which the service wants: requests run
side by side); tests inject stand-ins.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from riskml.online import ScoringModel
from riskml.scoring import load_scorer

log = logging.getLogger(__name__)

ModelLoader = Callable[[str], ScoringModel]


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
        scorer: ScoringModel | None = None,
        uri: str | None = None,
        resolver: Callable[[str], str | None] | None = None,
        optional: bool = False,
    ) -> None:
        self._scorer = scorer
        self.uri = uri
        self.resolver = resolver or alias_version
        self.optional = optional
        """An optional model (the shadow challenger): its alias may not exist, which is logged
        quietly, and when the alias is gone the slot empties instead of keeping the old one."""
        self.last_error: str | None = None
        self._lock = threading.Lock()

    @property
    def current(self) -> ScoringModel | None:
        return self._scorer

    def swap(self, scorer: ScoringModel) -> ScoringModel | None:
        """Make ``scorer`` answer from now on; returns the previous one."""
        with self._lock:
            previous, self._scorer = self._scorer, scorer
        log.info("model version %s now answers", scorer.model_version)
        return previous

    def clear(self) -> ScoringModel | None:
        """Empty the slot (an optional model whose alias is gone); returns what it held."""
        with self._lock:
            previous, self._scorer = self._scorer, None
        if previous is not None:
            log.info("model version %s no longer answers", previous.model_version)
        return previous

    def refresh(self, loader: ModelLoader = load_scorer) -> bool:
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
                if self.optional:  # ... unless it is only a shadow: then stop shadowing
                    self.clear()
                    return True
                return False
            if moved_to is not None and moved_to == current.model_version:
                return False
        try:
            scorer = loader(self.uri)
            if current is not None and scorer.model_version == current.model_version:
                return False
        except Exception as exc:  # any loading failure must leave the service answering
            self.last_error = f"{type(exc).__name__}: {exc}"
            level = logging.INFO if self.optional else logging.WARNING
            log.log(level, "could not load model %s: %s", self.uri, self.last_error)
            return False
        self.last_error = None
        self.swap(scorer)
        return True
