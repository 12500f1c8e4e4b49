"""The investigators' workspace pages (CONTRACT.md section 4), served under ``/ui``.

Server-rendered Jinja2, no JavaScript build, nothing from a CDN. A login with an API key sets
a signed, HttpOnly, SameSite session cookie (Starlette's ``SessionMiddleware``); every form
carries a CSRF token bound to the session; every page and form checks the role; every view of a
claim's personal data and every change goes to the append-only audit log. No page denies,
suspends or recovers a payment: decisions are findings that people record.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from riskml.bands import BANDS, FLAGGED_BANDS
from riskml.contract import BENEFIT_TYPES, REGION_CODE_PATTERN, TYPOLOGIES
from riskml.evaluate import shown_fairness_groups
from riskml.security import PERMISSIONS, Principal, hash_api_key, pseudonymise
from riskml.store import AuditEntry, Store, casefile, decisions, workspace
from riskml.store.workspace_schema import STATUSES
from serve.web import forms
from serve.web.charts import contribution_chart
from serve.web.i18n import LANGUAGES, environment, negotiate
from serve.web.ratelimit import RateLimiter
from serve.web.settings import WorkspaceSettings

log = logging.getLogger(__name__)

PREFIX = "/ui"
#: Who may do what in the workspace (the JSON routes' permissions, plus supervising).
WEB_PERMISSIONS: dict[str, frozenset[str]] = {
    "view": PERMISSIONS["read_queue"],
    "decide": PERMISSIONS["decide"],
    "supervise": frozenset({"supervisor", "admin"}),
}
QUEUE_PAGE = 100


class LoginRequired(Exception):
    """No valid session: go to the login page."""


class Forbidden(Exception):
    """A valid session without the role for this page or form."""

    def __init__(self, user: Principal, what: str) -> None:
        super().__init__(what)
        self.user = user
        self.what = what


class PageNotFound(Exception):
    pass


class BadForm(Exception):
    """A form post that cannot be taken (bad CSRF token, rate limit)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _derive(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, f"workspace:{purpose}".encode(), hashlib.sha256).digest()


class Workspace:
    """The state the pages share: the parent app (its store, secret, model) and the settings."""

    def __init__(self, parent: FastAPI, settings: WorkspaceSettings) -> None:
        self.parent = parent
        self.settings = settings
        self.secret: bytes = parent.state.secret
        self.csrf_secret = _derive(self.secret, "csrf")
        self.writes = RateLimiter(settings.write_rate_limit)
        self.logins = RateLimiter(settings.login_rate_limit)

    @property
    def store(self) -> Store:
        store: Store = self.parent.state.store
        return store

    def model_info(self) -> dict[str, Any] | None:
        current = self.parent.state.models.current
        return None if current is None else dict(current.model_info())

    def subject(self, person_id: str) -> str:
        return pseudonymise(person_id, self.secret)


def _ws(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


def language_of(request: Request) -> str:
    chosen = request.session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    return negotiate(request.headers.get("accept-language"))


def session_user(request: Request) -> Principal | None:
    """The session's key holder, checked against the store on every request (a revoked key or a
    changed role ends the session)."""
    name, role = request.session.get("user"), request.session.get("role")
    if not name or not role:
        return None
    k = _ws(request).store.tables["api_keys"]
    with _ws(request).store.engine.connect() as conn:
        row = conn.execute(sa.select(k.c.role, k.c.revoked).where(k.c.name == name)).first()
    if row is None or row.revoked or row.role != role:
        request.session.clear()
        return None
    return Principal(name=str(name), role=str(role))


def guard(request: Request, permission: str) -> Principal:
    user = session_user(request)
    if user is None:
        raise LoginRequired()
    if user.role not in WEB_PERMISSIONS[permission]:
        raise Forbidden(user, permission)
    return user


def _audit(
    request: Request,
    user: Principal | None,
    action: str,
    outcome: str,
    claim_id: str | None = None,
    subject: str | None = None,
    model_version: str | None = None,
) -> None:
    ws = _ws(request)
    ws.store.audit(
        [
            AuditEntry(
                user.name if user else "anonymous",
                user.role if user else "-",
                action,
                outcome,
                claim_id=claim_id,
                subject=subject,
                model_version=model_version,
            )
        ]
    )


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    status: int = 200,
    user: Principal | None = None,
) -> HTMLResponse:
    language = language_of(request)
    ws = _ws(request)
    logout = forms.make_form(forms.LogoutForm, request.session, ws.csrf_secret, language)
    flash = request.session.pop("flash", None)
    html = (
        environment(language)
        .get_template(template)
        .render(
            prefix=PREFIX,
            user=user,
            logout_form=logout,
            flash=flash,
            may=lambda p: user is not None and user.role in WEB_PERMISSIONS[p],
            path=request.url.path,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def _post(
    request: Request, cls: type[forms.F], user: Principal | None, limit: bool = True
) -> forms.F:
    """The posted form, CSRF-checked and (for a user) rate-limited per key."""
    ws = _ws(request)
    if limit and user is not None and not ws.writes.hit(f"key:{user.name}"):
        raise BadForm(429, "too many changes in a short time; wait a minute")
    if not forms.csrf_ready(request.session):
        raise BadForm(403, "the form has expired or did not come from this site; reload it")
    form = forms.make_form(
        cls, request.session, ws.csrf_secret, language_of(request), await request.form()
    )
    form.validate()
    if form.csrf_token.errors:
        raise BadForm(403, "the form has expired or did not come from this site; reload it")
    return form


def create_web_app(parent: FastAPI, settings: WorkspaceSettings | None = None) -> FastAPI:
    """The workspace as an ASGI app to mount at ``/ui`` of the service ``parent``."""
    settings = settings or WorkspaceSettings()
    web = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    ws = Workspace(parent, settings)
    web.state.workspace = ws
    web.add_middleware(
        SessionMiddleware,
        secret_key=_derive(ws.secret, "session").hex(),
        session_cookie="riskml_session",
        max_age=settings.session_max_age,
        path=PREFIX,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    web.mount("/static", StaticFiles(directory=str(_static_dir())), name="static")

    @web.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
            "frame-ancestors 'none'",
        )
        return response

    @web.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        return _redirect(f"{PREFIX}/login")

    @web.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        _audit(request, exc.user, f"denied {request.url.path}", "403")
        return render(
            request,
            "error.html",
            {"status": 403, "message": f"role {exc.user.role} may not {exc.what} here"},
            status=403,
            user=exc.user,
        )

    @web.exception_handler(PageNotFound)
    async def _not_found(request: Request, _exc: PageNotFound) -> Response:
        return render(
            request,
            "error.html",
            {"status": 404, "message": "no such claim in the store"},
            404,
            session_user(request),
        )

    @web.exception_handler(BadForm)
    async def _bad_form(request: Request, exc: BadForm) -> Response:
        return render(
            request,
            "error.html",
            {"status": exc.status, "message": exc.message},
            exc.status,
            session_user(request),
        )

    _routes(web)
    return web


def _static_dir() -> Any:
    from serve.web.i18n import HERE

    return HERE / "static"


def _choice(value: str | None, allowed: tuple[str, ...] | list[str]) -> str | None:
    return value if value in allowed else None


def _routes(web: FastAPI) -> None:
    @web.get("/", include_in_schema=False)
    def root() -> Response:
        return _redirect(f"{PREFIX}/queue")

    @web.get("/lang/{language}", include_in_schema=False)
    def set_language(request: Request, language: str) -> Response:
        if language in LANGUAGES:
            request.session["lang"] = language
        back = request.query_params.get("next") or f"{PREFIX}/queue"
        return _redirect(back if back.startswith(f"{PREFIX}/") else f"{PREFIX}/queue")

    @web.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> Response:
        if session_user(request) is not None:
            return _redirect(f"{PREFIX}/queue")
        ws = _ws(request)
        form = forms.make_form(
            forms.LoginForm, request.session, ws.csrf_secret, language_of(request)
        )
        return render(request, "login.html", {"form": form, "error": None})

    @web.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        ws = _ws(request)
        client = request.client.host if request.client else "unknown"
        if not ws.logins.hit(f"login:{client}"):
            raise BadForm(429, "too many login attempts; wait a minute")
        form = await _post(request, forms.LoginForm, None, limit=False)
        found = None
        if form.api_key.data:
            found = ws.store.principal_for(hash_api_key(form.api_key.data.strip(), ws.secret))
        if found is None:
            _audit(request, None, "login", "refused: unknown or revoked key")
            fresh = forms.make_form(
                forms.LoginForm, request.session, ws.csrf_secret, language_of(request)
            )
            return render(
                request, "login.html", {"form": fresh, "error": "unknown or revoked key"}, 401
            )
        user = Principal(name=found[0], role=found[1])
        if user.role not in WEB_PERMISSIONS["view"]:
            _audit(request, user, "login", "refused: role has no workspace")
            fresh = forms.make_form(
                forms.LoginForm, request.session, ws.csrf_secret, language_of(request)
            )
            return render(
                request,
                "login.html",
                {"form": fresh, "error": f"role {user.role} may not use the workspace"},
                403,
            )
        language = request.session.get("lang")
        request.session.clear()  # a new session for a new login (no fixation)
        request.session.update({"user": user.name, "role": user.role})
        if language in LANGUAGES:
            request.session["lang"] = language
        _audit(request, user, "login", "ok")
        return _redirect(f"{PREFIX}/queue")

    @web.post("/logout")
    async def logout(request: Request) -> Response:
        user = session_user(request)
        if user is not None:
            await _post(request, forms.LogoutForm, user, limit=False)
            _audit(request, user, "logout", "ok")
        request.session.clear()
        return _redirect(f"{PREFIX}/login")

    @web.get("/queue", response_class=HTMLResponse)
    def queue_page(request: Request) -> Response:
        user = guard(request, "view")
        ws = _ws(request)
        q = request.query_params
        region = q.get("region") or None
        if region is not None and not re.fullmatch(REGION_CODE_PATTERN.strip("^$"), region):
            region = None
        filters = workspace.QueueFilters(
            region=region,
            benefit_type=_choice(q.get("benefit_type"), BENEFIT_TYPES),
            band=_choice(q.get("band"), FLAGGED_BANDS),
            typology=_choice(q.get("typology"), TYPOLOGIES),
            provider_id=(q.get("provider_id") or "").strip()[:128] or None,
            assignment=_choice(q.get("assignment"), ("mine", "unassigned", "all")) or "all",
            status=_choice(q.get("status"), STATUSES),
        )
        rows, total = workspace.queue(ws.store, user.name, filters, limit=QUEUE_PAGE)
        audits = workspace.audit_queue(ws.store, user.name, filters)
        _audit(request, user, "read_queue", f"{len(rows)} of {total} claims, {len(audits)} audits")
        kill = workspace.kill_switch_state(ws.store)
        assign_form = forms.make_form(
            forms.AssignForm, request.session, ws.csrf_secret, language_of(request)
        )
        return render(
            request,
            "queue.html",
            {
                "rows": rows,
                "total": total,
                "audits": audits,
                "filters": filters,
                "capacity": ws.settings.capacity,
                "kill": kill,
                "benefit_types": BENEFIT_TYPES,
                "bands": FLAGGED_BANDS,
                "typologies": TYPOLOGIES,
                "statuses": STATUSES,
                "assign_form": assign_form,
                "query": urlencode({k: v for k, v in q.items() if v}),
            },
            user=user,
        )

    def claim_page(
        request: Request,
        user: Principal,
        claim_id: str,
        form: forms.DecisionForm | None = None,
        errors: Mapping[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        ws = _ws(request)
        case = casefile.case_file(ws.store, claim_id)
        if case is None:
            raise PageNotFound()
        audited = case["random_audit"] is not None
        score = case["score"]
        model_version = (
            case["random_audit"]["model_version"] if audited else (score or {}).get("model_version")
        )
        _audit(
            request,
            user,
            "view_claim",
            "random audit (score hidden)" if audited else "ok",
            claim_id=claim_id,
            subject=ws.subject(str(case["claim"]["person_id"])),
            model_version=model_version,
        )
        language = language_of(request)
        final = case["decisions"][-1] if case["decisions"] else None
        if form is None:
            form = forms.make_form(forms.DecisionForm, request.session, ws.csrf_secret, language)
            if final is not None:
                form.kind.data = "review"
                form.review_of.data = final["decision_id"]
        reasons = [] if audited or score is None else list(score["reasons"] or [])
        return render(
            request,
            "claim.html",
            {
                "case": case,
                "claim": case["claim"],
                "person": ws.subject(str(case["claim"]["person_id"])),
                "score": None if audited else score,
                "audited": audited,
                "reasons": reasons,
                "chart": contribution_chart(reasons),
                "form": form,
                "errors": errors or {},
                "final": final,
                "assign_form": forms.make_form(
                    forms.AssignForm, request.session, ws.csrf_secret, language
                ),
                "typologies": TYPOLOGIES,
                "bands": BANDS,
            },
            status=status,
            user=user,
        )

    @web.get("/claims/{claim_id}", response_class=HTMLResponse)
    def claim_view(request: Request, claim_id: str) -> Response:
        user = guard(request, "view")
        return claim_page(request, user, claim_id)

    @web.post("/claims/{claim_id}/decision", response_class=HTMLResponse)
    async def decide(request: Request, claim_id: str) -> Response:
        user = guard(request, "decide")
        ws = _ws(request)
        form = await _post(request, forms.DecisionForm, user)
        errors = {name: "; ".join(errs) for name, errs in form.errors.items()}
        if not errors:
            try:
                decisions.record(
                    ws.store,
                    claim_id,
                    decisions.DecisionInput(
                        outcome=str(form.outcome.data),
                        note=str(form.note.data or ""),
                        typology=form.typology.data or None,
                        improper_amount=form.improper_amount.data,
                        kind=str(form.kind.data or "decision"),
                        review_of=form.review_of.data,
                    ),
                    decided_by=user.name,
                    decided_role=user.role,
                    subject=ws.subject,
                )
            except decisions.DecisionInvalid as exc:
                errors[exc.field] = exc.message
            except decisions.ClaimUnknown as exc:
                raise PageNotFound() from exc
            except decisions.DecisionConflict as exc:
                errors["kind"] = str(exc)
        if errors:
            return claim_page(request, user, claim_id, form=form, errors=errors, status=422)
        request.session["flash"] = "decision recorded"
        return _redirect(f"{PREFIX}/claims/{claim_id}")

    @web.post("/claims/{claim_id}/assign")
    async def assign(request: Request, claim_id: str) -> Response:
        user = guard(request, "decide")
        ws = _ws(request)
        form = await _post(request, forms.AssignForm, user)
        if form.errors:
            raise BadForm(422, "unknown action")
        action = form.action.data
        assignee = None if action == "release" else user.name
        status = "in_review" if action == "in_review" else "new"
        try:
            workspace.set_assignment(ws.store, claim_id, user.name, user.role, assignee, status)
        except workspace.WorkspaceError as exc:
            raise BadForm(404, str(exc)) from exc
        back = request.query_params.get("next") or ""
        return _redirect(back if back.startswith(f"{PREFIX}/") else f"{PREFIX}/claims/{claim_id}")

    @web.get("/dashboard", response_class=HTMLResponse)
    def dashboard_page(request: Request) -> Response:
        user = guard(request, "supervise")
        return _dashboard(request, user)

    def _dashboard(
        request: Request, user: Principal, error: str | None = None, status: int = 200
    ) -> Response:
        ws = _ws(request)
        language = language_of(request)
        info = ws.model_info()
        figures = casefile.dashboard(ws.store, ws.settings.capacity, workspace.now())
        # small groups (most regions) folded into "other (k groups)"; the gate used them all
        groups = shown_fairness_groups((info or {}).get("metrics") or {})
        fpr_ratio = ((info or {}).get("metrics") or {}).get("fairness", {}).get("fpr_ratio", {})
        _audit(request, user, "view_dashboard", "ok")

        def form(cls: type[forms.F]) -> forms.F:
            return forms.make_form(cls, request.session, ws.csrf_secret, language)

        return render(
            request,
            "dashboard.html",
            {
                "figures": figures,
                "info": info,
                "fairness": groups,
                "fpr_ratio": fpr_ratio,
                "kill": workspace.kill_switch_state(ws.store),
                "proposals": workspace.proposals(ws.store),
                "promotions": workspace.promotions(ws.store),
                "kill_form": form(forms.KillSwitchForm),
                "proposal_form": form(forms.ProposalForm),
                "decision_form": form(forms.ProposalDecisionForm),
                "draw_form": form(forms.DrawForm),
                "audit_count": workspace.random_audit_count(
                    ws.settings.capacity, ws.settings.random_audit_share
                ),
                "audit_share": ws.settings.random_audit_share,
                "error": error,
            },
            status=status,
            user=user,
        )

    @web.post("/dashboard/kill-switch")
    async def kill_switch(request: Request) -> Response:
        user = guard(request, "supervise")
        form = await _post(request, forms.KillSwitchForm, user)
        if form.errors:
            return _dashboard(request, user, "say why the kill switch is changed", 422)
        workspace.set_kill_switch(
            _ws(request).store, form.engaged.data == "on", user.name, user.role, form.reason.data
        )
        return _redirect(f"{PREFIX}/dashboard")

    @web.post("/dashboard/proposals")
    async def propose(request: Request) -> Response:
        user = guard(request, "supervise")
        form = await _post(request, forms.ProposalForm, user)
        info = _ws(request).model_info()
        if form.errors or info is None:
            return _dashboard(request, user, "cut-offs in [0, 1] and a reason are needed", 422)
        try:
            workspace.propose_cutoffs(
                _ws(request).store,
                str(info["version"]),
                float(form.high.data or 0),
                float(form.medium.data or 0),
                str(form.reason.data),
                user.name,
                user.role,
            )
        except workspace.WorkspaceError as exc:
            return _dashboard(request, user, str(exc), 422)
        return _redirect(f"{PREFIX}/dashboard")

    @web.post("/dashboard/proposals/{proposal_id}")
    async def decide_proposal(request: Request, proposal_id: int) -> Response:
        user = guard(request, "supervise")
        form = await _post(request, forms.ProposalDecisionForm, user)
        if form.errors:
            return _dashboard(request, user, "approve or reject", 422)
        try:
            workspace.decide_proposal(
                _ws(request).store,
                proposal_id,
                form.decision.data == "approve",
                user.name,
                user.role,
            )
        except workspace.NotAllowed as exc:
            return _dashboard(request, user, str(exc), 403)
        except workspace.WorkspaceError as exc:
            return _dashboard(request, user, str(exc), 409)
        return _redirect(f"{PREFIX}/dashboard")

    @web.post("/dashboard/random-audits")
    async def draw(request: Request) -> Response:
        user = guard(request, "supervise")
        await _post(request, forms.DrawForm, user)
        ws = _ws(request)
        n = workspace.random_audit_count(ws.settings.capacity, ws.settings.random_audit_share)
        try:
            picked = workspace.draw_random_audits(
                ws.store, workspace.scored_population(ws.store), n, user.name, user.role
            )
        except workspace.WorkspaceError as exc:
            return _dashboard(request, user, str(exc), 409)
        request.session["flash"] = f"{len(picked)} claims drawn for random audit"
        return _redirect(f"{PREFIX}/dashboard")


def install(app: FastAPI, settings: WorkspaceSettings | None = None) -> None:
    """Mount the workspace at ``/ui`` of ``app`` (after ``app.state.secret`` is set), send ``/``
    to it, and give the JSON decision route the same per-key write limiter."""
    web = create_web_app(app, settings)
    app.state.write_limiter = web.state.workspace.writes
    app.mount(PREFIX, web)

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return _redirect(f"{PREFIX}/queue")


__all__ = ["create_web_app", "install"]
