"""The FastAPI application: ``create_app(settings, scorer=None)``, and :func:`run`.

The model is loaded by a task the lifespan starts (never at import) through
``riskml.scoring.load_scorer`` unless a scorer is injected: the service is live at once and ready
once the model is; when the URI is an alias, the task polls it and swaps a new version in
atomically (in-flight requests finish on the old one), and a failed load is retried. The store is
opened and migrated in the lifespan.

:func:`run` serves the app with uvicorn, in several worker processes when ``settings.workers``
says so (uvicorn's own supervisor; :func:`app_from_environment` is the factory each worker
calls). Every worker is a whole service: its own lifespan, model slot and alias poller, store
connection pool and in-flight limit; the Prometheus values are shared through
prometheus_client's multiprocess directory (:mod:`serve.metrics`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from prometheus_client import Gauge
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from riskml.config import load_monitor_config
from riskml.online import ScoringModel
from riskml.scoring import load_scorer
from riskml.security import load_secret
from riskml.store import open_store
from serve.drift import DriftCollector, DriftWindow
from serve.metrics import MULTIPROC_DIR, ServiceMetrics, forget_this_process
from serve.routes import claims, health, model, queue
from serve.scoring import ModelLoader, ModelSlot
from serve.settings import Settings
from serve.shadow import ShadowScorer
from serve.web import install as install_workspace

log = logging.getLogger(__name__)

#: Where the Swagger UI and ReDoc assets of ``/docs`` and ``/redoc`` are served from.
DOCS_ASSETS_URL = "/docs-assets"

#: The route whose requests count against ``max_in_flight`` (method, path).
SCORE_ROUTE = ("POST", "/v1/claims/score")

#: Threads of a worker's threadpool always left to the routes that are never refused (health,
#: readiness, metrics, the queue, the workspace): admitted score requests hold one thread each
#: while they wait for their turn, so at most ``total - FREE_THREADS`` of them may be admitted.
FREE_THREADS = 8


def in_flight_limit(max_in_flight: int, threads: int) -> int:
    """The score requests one worker admits: ``max_in_flight``, or when it is 0 half the
    ``threads`` of the worker's threadpool (at least 1)."""
    return max_in_flight or max(1, threads // 2)


def bound_threadpool(max_in_flight: int) -> tuple[int, int]:
    """Resolve the in-flight limit against this event loop's threadpool (anyio's default
    limiter, which Starlette's sync routes and dependencies run in) and enlarge the threadpool
    when the limit would leave fewer than :data:`FREE_THREADS` threads to the other routes.
    Returns (limit, threads). Call it in the event loop that serves the requests."""
    limiter = anyio.to_thread.current_default_thread_limiter()
    threads = int(limiter.total_tokens)
    limit = in_flight_limit(max_in_flight, threads)
    if threads < limit + FREE_THREADS:
        threads = limit + FREE_THREADS
        limiter.total_tokens = threads
    return limit, threads


#: The environment variable that hands :func:`run`'s settings to each worker process.
SETTINGS_ENV = "RISKML_SERVE_SETTINGS_JSON"


class BodyTooLarge(HTTPException):
    """The request body exceeds ``max_body_bytes`` (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class LimitsAndMetrics:
    """Pure ASGI middleware: refuse oversized bodies (413), refuse a score request beyond
    ``max_in_flight`` admitted ones (503 + ``Retry-After``), count requests by route.

    The in-flight bound is checked here, in the event loop, before the body is read and before
    anything is handed to the threadpool, so a refusal costs microseconds and stores nothing;
    without it, requests beyond what the worker computes would queue in the threadpool without
    bound, each one answered later than the one before. Only the score route is bounded: health,
    metrics, the queue and the workspace are never refused.

    ``max_in_flight`` 0 derives the limit from the worker's threadpool, and any limit enlarges
    the threadpool if needed (:func:`bound_threadpool`), at the first event the middleware sees
    (the lifespan's startup under uvicorn), so the admitted requests waiting for their turn can
    never take the threads the health routes need.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        metrics: ServiceMetrics,
        max_in_flight: int | None = None,
        retry_after_seconds: int = 1,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.configured = max_in_flight
        """The setting: None no limit, 0 derived from the threadpool."""
        self.max_in_flight: int | None = None
        """The limit, resolved against the serving event loop's threadpool (:meth:`_resolve`)."""
        self.retry_after_seconds = retry_after_seconds
        self.in_flight = 0
        """Score requests admitted and not yet answered (only the event loop changes it)."""

    def _overloaded(self) -> dict[str, Any]:
        return {
            "detail": f"this worker is at its limit of {self.max_in_flight} score requests in "
            f"flight; nothing was scored or stored, retry after {self.retry_after_seconds} s",
            "limit": "max_in_flight",
            "max_in_flight": self.max_in_flight,
            "retry_after_seconds": self.retry_after_seconds,
        }

    def _resolve(self) -> None:
        assert self.configured is not None
        self.max_in_flight, threads = bound_threadpool(self.configured)
        log.info(
            "score requests in flight per worker: at most %d (threadpool of %d threads)",
            self.max_in_flight,
            threads,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.configured is not None and (
            scope["type"] == "lifespan" or self.max_in_flight is None
        ):  # each event loop has its own threadpool: resolve at every startup
            self._resolve()
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        code = 500
        limit = self.max_body_bytes

        async def send_counting(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = int(message["status"])
            await send(message)

        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        bounded = (
            self.max_in_flight is not None
            and (scope.get("method"), scope.get("path")) == SCORE_ROUTE
        )
        admitted = False
        refused = False
        try:
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await _send_json(
                    send_counting, 413, {"detail": f"request body larger than {limit} bytes"}
                )
                return
            if bounded:
                assert self.max_in_flight is not None
                if self.in_flight >= self.max_in_flight:
                    refused = True
                    self.metrics.refused.labels(SCORE_ROUTE[1], "max_in_flight").inc()
                    await _send_json(
                        send_counting,
                        503,
                        self._overloaded(),
                        headers=[(b"retry-after", str(self.retry_after_seconds).encode())],
                    )
                    return
                self.in_flight += 1
                admitted = True
                self.metrics.in_flight.inc()
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise BodyTooLarge(limit)
                return message

            await self.app(scope, limited_receive, send_counting)
        finally:
            if admitted:
                self.in_flight -= 1
                self.metrics.in_flight.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or (SCORE_ROUTE[1] if refused else "unmatched")
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(method, template, str(code)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)


async def _send_json(
    send: Callable[[Message], Awaitable[None]],
    code: int,
    body: Any,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _json_safe(value: Any) -> Any:
    """Replace what JSON cannot carry (NaN, infinities) by its name, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """422 naming the bad field; echoed inputs made JSON-safe (a NaN must not become a 500)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": _json_safe(jsonable_encoder(errors))}, status_code=422)


async def _refresh(slot: ModelSlot, gauge: Gauge, loader: ModelLoader) -> None:
    """One load (or alias check and swap) of ``slot``, in a worker thread; ``gauge`` follows."""
    before = slot.current
    if await asyncio.to_thread(slot.refresh, loader):
        if before is not None:
            gauge.labels(before.model_version).set(0)
        if slot.current is not None:
            gauge.labels(slot.current.model_version).set(1)


async def _keep_model(
    slot: ModelSlot,
    gauge: Gauge,
    every: float | None,
    loader: ModelLoader,
    tried: bool = False,
) -> None:
    """Load the model now (unless ``tried``: the first attempt is already made), so the service
    is live (``/healthz``) at once and ready (``/readyz``) when the model is; then, every
    ``every`` seconds, retry a failed load or look for a moved alias and swap the new version
    in. ``every=None``: one attempt only. The champion's slot and the shadow challenger's are
    kept alike; ``gauge`` says which version is loaded.
    """
    while True:
        if not tried:
            await _refresh(slot, gauge, loader)
        tried = False
        pinned = slot.current is not None and "@" not in (slot.uri or "")
        if every is None or pinned:  # a pinned version never moves
            return
        await asyncio.sleep(every)


def create_app(
    settings: Settings | None = None,
    scorer: ScoringModel | None = None,
    loader: ModelLoader = load_scorer,
    resolver: Callable[[str], str | None] | None = None,
    shadow: ScoringModel | None = None,
    shadow_loader: ModelLoader | None = None,
    shadow_resolver: Callable[[str], str | None] | None = None,
    load_first: bool = False,
) -> FastAPI:
    """The service. ``scorer`` injects a model (tests); otherwise ``settings.model_uri`` is
    loaded in the lifespan with ``loader`` and, for an alias, polled for changes: ``resolver``
    (default: ask the MLflow registry) tells which version the alias points to now.

    ``load_first``: make the first load attempt before the app starts (the lifespan waits for
    it). One of several workers sharing a socket sets it, so that a worker still loading takes
    no connection, and a client never meets one worker's 503 "no model is loaded" after another
    worker said ready. A single process starts at once instead and is live while it loads.

    The challenger at ``settings.shadow_uri`` is kept the same way in a second slot and scored in
    shadow (:mod:`serve.shadow`): ``shadow`` injects one, ``shadow_loader`` and
    ``shadow_resolver`` load and poll it; by default it is loaded like the champion only when
    the champion is (an injected scorer or loader gets no shadow unless one is given too).
    """
    settings = settings or Settings()
    metrics = ServiceMetrics()
    slot = ModelSlot(
        scorer, uri=None if scorer is not None else settings.model_uri, resolver=resolver
    )
    if shadow_loader is None and scorer is None and loader is load_scorer:
        shadow_loader = load_scorer
    shadow_uri = settings.shadow_uri or None
    shadow_slot = ModelSlot(
        shadow,
        uri=shadow_uri if shadow is None and shadow_loader is not None else None,
        resolver=shadow_resolver,
        optional=True,
    )
    drift = DriftWindow(settings.drift_window_claims)
    metrics.register_own(DriftCollector(drift, slot, load_monitor_config(settings.monitor_config)))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.store = await asyncio.to_thread(open_store, settings.store_url)
        log.info("store: %s", app.state.store.describe())
        if slot.current is not None:
            metrics.model_loaded.labels(slot.current.model_version).set(1)
        if shadow_slot.current is not None:
            metrics.shadow_loaded.labels(shadow_slot.current.model_version).set(1)
        app.state.shadow = ShadowScorer(
            shadow_slot, app.state.store, metrics, capacity=settings.shadow_queue
        )
        app.state.shadow.start()
        every = settings.model_poll_seconds if settings.model_poll_seconds > 0 else None
        pollers = []
        if slot.uri is not None:
            if load_first:  # this worker takes no connection before its first attempt is over
                await _refresh(slot, metrics.model_loaded, loader)
            champion = _keep_model(slot, metrics.model_loaded, every, loader, tried=load_first)
            pollers.append(asyncio.create_task(champion))
        if shadow_slot.uri is not None and shadow_loader is not None:
            pollers.append(
                asyncio.create_task(
                    _keep_model(shadow_slot, metrics.shadow_loaded, every, shadow_loader)
                )
            )
        try:
            yield
        finally:
            for poller in pollers:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
            await asyncio.to_thread(app.state.shadow.stop)
            app.state.store.close()
            forget_this_process()

    app = FastAPIOffline(  # Swagger UI and ReDoc from the service itself, never from a CDN
        static_url=DOCS_ASSETS_URL,
        title="riskml",
        version="1",
        summary="Fraud and error risk scores with reasons for social insurance claims. "
        "Scores advise investigators; people decide.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.models = slot
    app.state.shadow_models = shadow_slot
    app.state.drift = drift
    app.state.secret = load_secret(settings.secret_file)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.include_router(health.router)
    app.include_router(model.router)
    app.include_router(claims.make_router(settings))
    app.include_router(queue.make_router(settings))
    install_workspace(app)  # the investigators' pages under /ui (CONTRACT.md section 4)
    app.add_middleware(
        LimitsAndMetrics,
        max_body_bytes=settings.max_body_bytes,
        metrics=metrics,
        max_in_flight=settings.max_in_flight,
        retry_after_seconds=settings.retry_after_seconds,
    )
    return app


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_count(settings: Settings) -> int:
    """``settings.workers``, or one per usable core when it is 0."""
    return settings.workers or usable_cores()


def app_from_environment() -> FastAPI:
    """The app factory of each worker process: the settings :func:`run` handed down."""
    text = os.environ.get(SETTINGS_ENV)
    settings = Settings.model_validate_json(text) if text else Settings()
    return create_app(settings, load_first=True)


@contextlib.contextmanager
def _shared_metrics_dir() -> Iterator[Path]:
    """The multiprocess directory of prometheus_client for one run of the service.

    ``PROMETHEUS_MULTIPROC_DIR`` if the operator set it (emptied of an earlier run's values,
    whose counts must not be added to this one's), else a private temporary directory removed
    at the end.
    """
    given = os.environ.get(MULTIPROC_DIR)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="riskml-metrics-") as tmp:
        os.environ[MULTIPROC_DIR] = tmp
        try:
            yield Path(tmp)
        finally:
            os.environ.pop(MULTIPROC_DIR, None)


def run(
    host: str = "127.0.0.1",
    port: int = 8000,
    settings: Settings | None = None,
    workers: int | None = None,
) -> None:
    """``riskml serve``: run the app under uvicorn, in ``workers`` processes (default
    :func:`worker_count` of ``settings``).

    One worker runs in this process. Several are spawned by uvicorn's supervisor, which shares
    the listening socket, restarts a worker that dies and stops them all on SIGINT/SIGTERM; each
    builds its app from ``settings`` (handed down as JSON in the environment). The server secret
    is read (or its file created) and the store migrated once here first, so that workers never
    race to create the one or to migrate the other.
    """
    import uvicorn

    settings = settings or Settings()
    n = workers if workers is not None else worker_count(settings)
    if n <= 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
        return
    load_secret(settings.secret_file)
    open_store(settings.store_url).close()  # migrated once here, never by workers racing
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    with _shared_metrics_dir():
        log.info("starting %d worker processes", n)
        uvicorn.run(
            f"{__name__}:app_from_environment",
            factory=True,
            workers=n,
            host=host,
            port=port,
            log_level="info",
        )
