"""``riskml promote``: move an alias to a registered version, by the gate or by a supervisor.

``champion`` moves only to a version that passed the promotion gate, unless a supervisor records
why it should serve anyway (DESIGN principle 6): the justification is kept on the version (tags
and description), beside its model card in the run's artifacts, and in the log. ``challenger``
marks a version to be scored in shadow beside the champion; it reaches no investigator, so it
needs no gate.

Every promotion is also written to the service store's audit log (an ``AuditEntry`` with action
``promote``, or ``promote_override`` with the supervisor as actor and the gate's verdict and the
justification in ``detail``) when a store is configured: ``store_url`` (``--store``), else
``RISKML_STORE_URL``, else the default SQLite store if it exists (a promotion never creates a
store). The row is written before the alias moves, so no override serves unrecorded.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException

from riskml.defaults import CHALLENGER, CHAMPION, MODEL_NAME
from riskml.errors import ConfigError, RiskmlError
from riskml.store import AuditEntry, open_store
from riskml.store.core import DEFAULT_STORE_FILE, default_store_url
from riskml.tracking import client

log = logging.getLogger(__name__)

MIN_JUSTIFICATION = 20
"""A justification shorter than this many characters of text is not a justification."""


def run_promote(
    version: str,
    alias: str = CHAMPION,
    justification: str | None = None,
    supervisor: str | None = None,
    model_name: str = MODEL_NAME,
    store_url: str | None = None,
) -> dict[str, Any]:
    if alias not in (CHAMPION, CHALLENGER):
        raise ConfigError(f"--alias {alias!r}: expected {CHAMPION} or {CHALLENGER}")
    mc = client()
    try:
        mv = mc.get_model_version(model_name, version)
    except MlflowException:
        raise RiskmlError(f"model {model_name!r} has no version {version!r}") from None
    try:
        previous = str(mc.get_model_version_by_alias(model_name, alias).version)
    except MlflowException:
        previous = None
    out: dict[str, Any] = {"model": model_name, "version": version, "alias": alias}
    gate = mv.tags.get("gate", "not run")
    if alias == CHAMPION and gate != "passed":
        text = re.sub(r"\s+", " ", justification or "").strip()
        if len(re.sub(r"[\W_]", "", text)) < MIN_JUSTIFICATION or not (supervisor or "").strip():
            raise RiskmlError(
                f"version {version} has not passed the promotion gate (gate: {gate}"
                f"{'; ' + mv.tags['gate_reasons'] if mv.tags.get('gate_reasons') else ''}): "
                "promote it with a supervisor's --supervisor NAME and --justification TEXT "
                f"(at least {MIN_JUSTIFICATION} characters), or train a version that passes"
            )
        out["override"] = {"supervisor": str(supervisor).strip(), "justification": text}
    audited = _audit_in_store(
        store_url, model_name, version, alias, previous, gate, mv.tags.get("gate_reasons"), out
    )
    if "override" in out:
        who, why = out["override"]["supervisor"], out["override"]["justification"]
        _record_override(mc, mv, who, why, gate)
    mc.set_registered_model_alias(model_name, alias, version)
    out["previous"] = previous
    out["audited_in_store"] = audited
    log.info("alias %s of %s: version %s (was %s)", alias, model_name, version, previous)
    return out


def configured_store_url(store_url: str | None) -> str | None:
    """The store a promotion is audited in: ``store_url``, else ``RISKML_STORE_URL``, else the
    default SQLite file if it exists; None when there is none."""
    if store_url:
        return store_url
    if os.environ.get("RISKML_STORE_URL"):
        return default_store_url()
    path = Path.cwd() / DEFAULT_STORE_FILE
    return default_store_url() if path.exists() else None


def _audit_in_store(
    store_url: str | None,
    model_name: str,
    version: str,
    alias: str,
    previous: str | None,
    gate: str,
    gate_reasons: str | None,
    out: dict[str, Any],
) -> str | None:
    """Append the promotion to the configured store's audit log; the store's URL, or None."""
    url = configured_store_url(store_url)
    if url is None:
        return None
    override = out.get("override")
    if override:
        entry = AuditEntry(
            actor=override["supervisor"],
            role="supervisor",
            action="promote_override",
            outcome=f"{model_name} {alias} -> {version} (was {previous}); gate: {gate}",
            model_version=version,
            detail=f"justification: {override['justification']}"
            + (f" | gate reasons: {gate_reasons}" if gate_reasons else ""),
        )
    else:
        entry = AuditEntry(
            actor=getpass.getuser(),
            role="operator",
            action="promote",
            outcome=f"{model_name} {alias} -> {version} (was {previous}); gate: {gate}",
            model_version=version,
        )
    try:
        store = open_store(url)
    except Exception as exc:
        shown = url.split("@")[-1] if "@" in url else url  # never a password in a message
        raise RiskmlError(
            f"store {shown}: cannot record the promotion in its audit log "
            f"({type(exc).__name__}); the alias was not moved"
        ) from None
    try:
        store.audit([entry])
        return store.describe()
    finally:
        store.close()


def _record_override(mc: Any, mv: Any, supervisor: str, justification: str, gate: str) -> None:
    at = dt.datetime.now().replace(microsecond=0).isoformat()
    tags = {
        "override_by": supervisor,
        "override_at": at,
        "override_justification": justification[:4000],
        "override_gate": gate,
    }
    for key, value in tags.items():
        mc.set_model_version_tag(mv.name, mv.version, key, value)
    note = (
        f"Promoted to {CHAMPION} on {at} by {supervisor} although the promotion gate said "
        f"'{gate}'. Justification: {justification}"
    )
    description = f"{mv.description}\n\n{note}" if mv.description else note
    mc.update_model_version(mv.name, mv.version, description=description[:5000])
    if mv.run_id:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "promotion_override.md"
            path.write_text(
                f"# Promotion override\n\n{note}\n\nGate reasons: "
                f"{mv.tags.get('gate_reasons') or 'n/a'}\n",
                encoding="utf-8",
            )
            mc.log_artifact(mv.run_id, str(path))
    log.warning("version %s promoted by supervisor override: %s", mv.version, justification)
