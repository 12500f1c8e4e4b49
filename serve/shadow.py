"""The challenger in shadow: scored beside the champion on the same live claims, shown to nobody.

When the registry has a ``challenger`` alias, the service keeps it in a second
:class:`serve.scoring.ModelSlot` (the champion's refresh mechanics: polled, loaded in a worker
thread, swapped atomically) and, once the champion's answer is computed and persisted, hands the
request's :class:`riskml.online.RequestWorld` to :class:`ShadowScorer`: one background thread
with a bounded queue that scores it with the challenger and stores the result in
``shadow_scores`` beside the champion's score. The response never waits for it and never carries
it; a full queue drops the work (counted), and a shadow failure is logged and counted, never
raised: the champion's request has been answered already.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from riskml.clock import local_now
from riskml.online import RequestWorld, ScoringModel
from riskml.scoring import Scorer
from riskml.store import Store
from serve.metrics import ServiceMetrics
from serve.scoring import ModelSlot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShadowJob:
    """One scored request: its world and what the champion said of each claim, in order."""

    world: RequestWorld
    champion_version: str
    champion: list[dict[str, Any]]


class ShadowScorer:
    """A bounded queue and one daemon thread scoring :class:`ShadowJob` s with the slot's model.

    ``capacity`` bounds the requests waiting (their worlds are held in memory); past it, new
    work is dropped and counted in ``riskml_shadow_dropped``.
    """

    def __init__(
        self, slot: ModelSlot, store: Store, metrics: ServiceMetrics, capacity: int = 64
    ) -> None:
        self.slot = slot
        self.store = store
        self.metrics = metrics
        self._jobs: queue.Queue[ShadowJob | None] = queue.Queue(maxsize=capacity)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="riskml-shadow", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the queued work (up to ``timeout`` seconds) and end the thread."""
        if self._thread is None:
            return
        try:
            self._jobs.put(None, timeout=timeout)
        except queue.Full:
            log.warning("shadow queue still full at shutdown; queued shadow work is dropped")
            return
        self._thread.join(timeout)
        self._thread = None

    def submit(self, job: ShadowJob) -> bool:
        """Queue ``job`` if a challenger answers; False if there is none or the queue is full."""
        model = self.slot.current
        if model is None or model.model_version == job.champion_version:
            return False
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            self.metrics.shadow_dropped.inc(len(job.champion))
            return False
        return True

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until the queued work is done (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._jobs.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                self.score(job)
            finally:
                self._jobs.task_done()

    def score(self, job: ShadowJob) -> None:
        """Score one job with the challenger answering now and store it; never raises."""
        model = self.slot.current
        if model is None:
            return
        version = str(model.model_version)
        started = time.perf_counter()
        try:
            results = job.world.score(model, **_no_reasons(model))
            now = local_now()
            self.store.record_shadow_scores(
                [
                    {
                        "claim_id": c["claim_id"],
                        "model_version": version,
                        "risk_score": float(r.risk_score),
                        "risk_band": str(r.risk_band),
                        "champion_version": job.champion_version,
                        "champion_score": float(c["risk_score"]),
                        "champion_band": str(c["risk_band"]),
                        "scored_at": now,
                    }
                    for c, r in zip(job.champion, results, strict=True)
                ]
            )
        except Exception as exc:  # a shadow must never hurt the service: log, count, go on
            self.metrics.shadow_failures.labels(version).inc(len(job.champion))
            log.warning(
                "shadow scoring of %d claims with challenger %s failed: %s: %s",
                len(job.champion),
                version,
                type(exc).__name__,
                exc,
            )
            return
        self.metrics.shadow_seconds.observe(time.perf_counter() - started)
        for r in results:
            self.metrics.shadow_scored.labels(version, str(r.risk_band)).inc()


def _no_reasons(model: ScoringModel) -> dict[str, Any]:
    """Nobody reads a shadow's reasons: a real Scorer is asked for none (SHAP is its costliest
    step); stand-ins take no options."""
    return {"explain": "none"} if isinstance(model, Scorer) else {}
