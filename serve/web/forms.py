"""The workspace's forms (WTForms), each protected against cross-site request forgery by a
session-bound, time-limited HMAC token (``wtforms.csrf.session.SessionCSRF``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import MutableMapping
from typing import Any, TypeVar

from wtforms import (
    FloatField,
    Form,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.csrf.session import SessionCSRF
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from riskml.contract import OUTCOMES, TYPOLOGIES
from riskml.store.workspace_schema import DECISION_KINDS


class WorkspaceForm(Form):
    class Meta:
        csrf = True
        csrf_class = SessionCSRF
        csrf_time_limit = dt.timedelta(hours=8)


F = TypeVar("F", bound=WorkspaceForm)


def make_form(
    cls: type[F],
    session: MutableMapping[str, Any],
    secret: bytes,
    language: str,
    formdata: Any = None,
) -> F:
    """A form bound to the session's CSRF secret (created in the session on first use)."""
    meta = {
        "csrf_context": session,
        "csrf_secret": secret,
        "locales": ["zh"] if language == "zh" else False,
    }
    return cls(formdata=formdata, meta=meta)


def csrf_ready(session: MutableMapping[str, Any]) -> bool:
    """A posted token can only be valid if this session issued one (else: refuse, no error)."""
    return "csrf" in session


class LoginForm(WorkspaceForm):
    api_key = PasswordField(validators=[DataRequired(), Length(max=200)])


class LogoutForm(WorkspaceForm):
    pass


class DecisionForm(WorkspaceForm):
    outcome = SelectField(choices=list(OUTCOMES), validators=[InputRequired()])
    typology = SelectField(choices=["", *TYPOLOGIES], default="")
    note = TextAreaField(validators=[DataRequired(), Length(max=4000)])
    improper_amount = FloatField(validators=[Optional(), NumberRange(min=0, max=1e9)])
    kind = SelectField(choices=list(DECISION_KINDS), default="decision")
    review_of = IntegerField(validators=[Optional()])


class AssignForm(WorkspaceForm):
    action = SelectField(
        choices=["take", "release", "in_review"],
        validators=[InputRequired()],
    )


class KillSwitchForm(WorkspaceForm):
    engaged = SelectField(choices=["on", "off"], validators=[InputRequired()])
    reason = StringField(validators=[DataRequired(), Length(max=500)])


class ProposalForm(WorkspaceForm):
    high = FloatField(validators=[InputRequired(), NumberRange(min=0, max=1)])
    medium = FloatField(validators=[InputRequired(), NumberRange(min=0, max=1)])
    reason = StringField(validators=[DataRequired(), Length(max=500)])


class ProposalDecisionForm(WorkspaceForm):
    decision = SelectField(choices=["approve", "reject"], validators=[InputRequired()])


class DrawForm(WorkspaceForm):
    confirm = HiddenField(default="draw")
