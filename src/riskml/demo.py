"""The README's demo: the main job end to end on embedded defaults.

Generates a synthetic population, trains and promotes a champion (MLflow store in the demo
folder), loads the data into the service store, scores the last months as a backlog with reasons,
puts the flagged claims in the triage queue, draws the random audits, writes one API key per role
to a 0600 file (never to the output, which people redirect to logs), and serves the API and the
investigators' workspace. Its last lines work as pasted: ``curl`` commands that read the key
files, the MLflow UI, the command that starts the service again, and the workspace's URL with the
key file to paste from. Each step is skipped when its result is already there, so running the
demo again is quick.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import sys
from pathlib import Path

import pandas as pd
import typer

BACKLOG_MONTHS = 2


def run_demo(
    workdir: Path,
    persons: int,
    seed: int,
    serve: bool = True,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Set everything up in ``workdir`` and (unless ``serve`` is false) start the service."""
    from riskml.synth import run_synth

    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    # embedded stores live in the demo folder unless the environment says otherwise
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{workdir / 'mlflow.db'}")
    os.environ.setdefault("RISKML_STORE_URL", f"sqlite:///{workdir / 'riskml-store.db'}")
    os.environ.setdefault("RISKML_SECRET_FILE", str(workdir / "riskml-secret.key"))

    data_dir = workdir / "data"
    _step("1/5 synthetic data")
    if not (data_dir / "manifest.json").is_file():
        run_synth(
            out=data_dir, persons=persons, seed=seed, fraud_rate=None, preset="stress", months=24
        )
    manifest = json.loads((data_dir / "manifest.json").read_text())
    typer.echo(f"data directory: {data_dir}")
    typer.echo("rows: " + ", ".join(f"{k} {v:,}" for k, v in manifest["rows"].items()))

    _step("2/5 train and promote a champion")
    _train_champion(data_dir)

    _step("3/5 load the data into the service store")
    from riskml.store.ingest import run_ingest

    counts = run_ingest(data_dir)
    typer.echo(f"store: {os.environ['RISKML_STORE_URL']} ({counts.get('claims', 0):,} claims)")

    _step(f"4/5 score the backlog of the last {BACKLOG_MONTHS} months, with reasons")
    scores_path, example = _score_backlog(data_dir, workdir)

    _step("5/5 random audits, API keys and the service")
    _draw_random_audits()
    keys = _demo_keys(workdir / "keys")
    example_file = workdir / "example-claim.json"
    example_file.write_text(json.dumps({"claims": [example]}, indent=2, ensure_ascii=False))
    url = f"http://{host}:{port}"
    bin_dir = Path(sys.executable).parent
    env = " ".join(
        f"{name}={shlex.quote(os.environ[name])}"
        for name in ("MLFLOW_TRACKING_URI", "RISKML_STORE_URL", "RISKML_SECRET_FILE")
    )
    bearer = {
        role: f'"Authorization: Bearer $(cat {shlex.quote(str(path))})"'
        for role, path in keys.items()
    }
    here = shlex.quote(str(Path.cwd()))
    typer.echo(f"batch scores: {scores_path}")
    typer.echo(f"API keys: {keys['scorer'].parent}/ (one file per role, mode 0600; never printed)")
    typer.echo("the MLflow UI (runs, metrics, model cards), then open http://127.0.0.1:5000:")
    typer.echo(
        f"  cd {here} && {shlex.quote(str(bin_dir / 'mlflow'))} ui --backend-store-uri "
        f"{shlex.quote(os.environ['MLFLOW_TRACKING_URI'])} --port 5000"
    )
    typer.echo(f"\nservice: {url}   (OpenAPI docs at {url}/docs)")
    typer.echo("score a claim:")
    typer.echo(
        f"  curl -s -X POST {url}/v1/claims/score -H {bearer['scorer']} "
        f"-H 'Content-Type: application/json' -d @{shlex.quote(str(example_file))}"
    )
    typer.echo("the triage queue as JSON:")
    typer.echo(f"  curl -s '{url}/v1/queue?limit=5' -H {bearer['investigator']}")
    typer.echo("start the service again (after Ctrl-C):")
    typer.echo(
        f"  cd {here} && {env} "
        f"{shlex.quote(str(bin_dir / 'riskml'))} serve --host {host} --port {port}"
    )
    typer.echo(f"\nthe investigators' workspace: open {url}/ui/login")
    typer.echo(f"  and paste the investigator key from {keys['investigator']}")
    typer.echo(f"  (the supervisor's dashboard: the key in {keys['supervisor']})")
    if serve:
        from serve.app import run
        from serve.settings import Settings

        run(host=host, port=port, settings=Settings())


DEMO_ROLES = ("scorer", "investigator", "supervisor")


def _demo_keys(folder: Path) -> dict[str, Path]:
    """One API key per role in ``folder/<role>.key`` (folder 0700, files 0600): a key still valid
    in the store is kept, otherwise a new one is made. Keys are never printed (people redirect
    the demo's output to log files)."""
    from riskml.security import create_api_key, hash_api_key, load_secret
    from riskml.store import open_store

    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    secret = load_secret()
    store = open_store()
    try:
        paths = {}
        for role in DEMO_ROLES:
            path = folder / f"{role}.key"
            known = path.read_text().strip() if path.is_file() else ""
            found = store.principal_for(hash_api_key(known, secret)) if known else None
            if found is None or found[1] != role:
                key = create_api_key(role, name=f"demo-{role}-{secrets.token_hex(3)}")
                fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(key + "\n")
                os.replace(path.with_suffix(".tmp"), path)
            path.chmod(0o600)
            paths[role] = path
        return paths
    finally:
        store.close()


def _draw_random_audits() -> None:
    """Draw the random audits of DOMAIN R11 (3% of the capacity) uniformly from every scored
    claim of the backlog, flagged or not, as the dashboard's button does; once (a re-run keeps
    the earlier draw)."""
    from riskml.store import open_store, workspace

    store = open_store()
    try:
        if store.count("random_audits"):
            typer.echo(f"random audits: {store.count('random_audits')} drawn before")
            return
        from serve.web.settings import WorkspaceSettings

        settings = WorkspaceSettings()
        population = workspace.scored_population(store)
        n = workspace.random_audit_count(settings.capacity, settings.random_audit_share)
        picked = workspace.draw_random_audits(store, population, n, actor="demo", role="admin")
        typer.echo(
            f"random audits: {len(picked)} of {len(population):,} scored claims drawn uniformly "
            f"(selection probability {len(picked) / len(population):.5f}); shown without score"
        )
    finally:
        store.close()


def _step(title: str) -> None:
    typer.secho(f"\n== {title}", bold=True, err=True)


def _train_champion(data_dir: Path) -> None:
    """Train, register and promote a champion (skipped when it was trained on this data)."""
    from riskml.defaults import CHAMPION, MODEL_NAME
    from riskml.fingerprint import data_fingerprint
    from riskml.jobs.train import run_train
    from riskml.registry import client

    try:
        mv = client().get_model_version_by_alias(MODEL_NAME, CHAMPION)
        trained_on = mv.tags.get("data_fingerprint")
    except Exception:  # no registered model or no champion yet
        trained_on = None
    if trained_on is not None and trained_on == data_fingerprint(data_dir):
        typer.echo(f"champion: version {mv.version}, already trained on this data")
        return
    summary = run_train(data_dir, promote=True)
    typer.echo(json.dumps(summary, indent=2, default=str))
    if not summary.get("promoted"):
        _override_for_the_demo(summary)


DEMO_SUPERVISOR = "riskml demo"
DEMO_JUSTIFICATION = (
    "Synthetic demonstration data only: the version serves so that the demo can show the queue "
    "and the workspace. Not a decision about a real scheme; a real supervisor must decide."
)


def _override_for_the_demo(summary: dict[str, object]) -> None:
    """The gate refused the demo's version: promote it by the recorded supervisor override, and
    say so loudly, so that the rest of the demo has a model to serve (DESIGN principle 6)."""
    from riskml.jobs.promote import run_promote

    gate = summary.get("gate")
    reasons = [str(r) for r in gate] if isinstance(gate, list) else []
    typer.echo(f"\nThe promotion gate REFUSED version {summary['version']}: " + "; ".join(reasons))
    typer.echo(
        f"The demo promotes it anyway with a recorded override by '{DEMO_SUPERVISOR}' (see the "
        "version's tags and promotion_override.md in MLflow). In production only a supervisor "
        "may do this: riskml promote --version N --supervisor NAME --justification TEXT\n"
    )
    run_promote(
        str(summary["version"]), justification=DEMO_JUSTIFICATION, supervisor=DEMO_SUPERVISOR
    )


def _score_backlog(data_dir: Path, workdir: Path) -> tuple[Path, dict[str, object]]:
    """Score the last months with reasons, fill the triage queue; one flagged claim as example."""
    from serve.schemas import request_claims

    from riskml.batch import score_backlog
    from riskml.data import load_data_dir
    from riskml.store import open_store, workspace

    claims = pd.read_parquet(data_dir / "claims.parquet", columns=["submitted_at"])
    last = claims["submitted_at"].max()
    since = (last - pd.DateOffset(months=BACKLOG_MONTHS)).normalize()
    out = workdir / "scores.parquet"
    summary = score_backlog(data_dir, out, since=since)
    typer.echo(json.dumps(summary))
    scores = pd.read_parquet(out)
    store = open_store()
    loaded = store.record_batch_scores(scores)
    workspace.record_unflagged_scores(store, scores)  # random audits draw from every claim
    store.close()
    typer.echo(f"triage queue: {loaded:,} flagged claims")
    flagged = scores.loc[scores["risk_band"] == "high"].sort_values("risk_score")
    data = load_data_dir(data_dir, tables=["claims", "claim_items"])
    claim_id = flagged["claim_id"].iloc[-1] if len(flagged) else scores["claim_id"].iloc[-1]
    example = request_claims(data.claims.loc[data.claims["claim_id"] == claim_id], data.claim_items)
    return out, example[0]
