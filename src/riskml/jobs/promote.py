"""``riskml promote``: move an alias to a registered version, by the gate or by a supervisor.

``champion`` moves only to a version that passed the promotion gate, unless a supervisor records
why it should serve anyway (DESIGN principle 6): the justification is kept on the version (tags
and description), beside its model card in the run's artifacts, and in the log. ``challenger``
marks a version to be scored in shadow beside the champion; it reaches no investigator, so it
needs no gate.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException

from riskml.defaults import CHALLENGER, CHAMPION, MODEL_NAME
from riskml.errors import ConfigError, RiskmlError
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
        _record_override(mc, mv, str(supervisor).strip(), text, gate)
        out["override"] = {"supervisor": str(supervisor).strip(), "justification": text}
    mc.set_registered_model_alias(model_name, alias, version)
    out["previous"] = previous
    log.info("alias %s of %s: version %s (was %s)", alias, model_name, version, previous)
    return out


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
