"""Batch scoring: every claim exactly once, chunking changes nothing, a killed run resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskml.batch import CheckpointMismatchError, score_backlog
from riskml.data import ClaimsData
from riskml.errors import DataContractError, RiskmlError
from riskml.scoring import load_scorer
from tests.conftest import Trained, write_claimant_subset

URI = "models:/riskml-claims@champion"


@pytest.fixture(scope="module")
def backlog_dir(synth_data: ClaimsData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A quarter of the synthetic claimants with all their claims: a small, valid backlog."""
    assert synth_data.labels is not None
    return write_claimant_subset(synth_data, tmp_path_factory.mktemp("backlog") / "data", 4)


@pytest.fixture(scope="module")
def full_run(
    trained: Trained,
    backlog_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> pd.DataFrame:
    """One uninterrupted run in a single chunk: the reference every other run must equal."""
    out = tmp_path_factory.mktemp("batch") / "scores.parquet"
    summary = score_backlog(backlog_dir, out, URI, chunk_size=10**9, show_progress=False)
    assert summary["chunks"] == 1
    return pd.read_parquet(out)


def test_every_claim_scored_exactly_once(full_run: pd.DataFrame, backlog_dir: Path) -> None:
    assert full_run["claim_id"].is_unique
    claims = pd.read_parquet(backlog_dir / "claims.parquet", columns=["claim_id"])
    assert set(full_run["claim_id"]) == set(claims["claim_id"])
    assert full_run["risk_score"].between(0, 1).all()


def test_bands_follow_the_cut_offs_fixed_at_training(
    full_run: pd.DataFrame,
    trained: Trained,
) -> None:
    cut = load_scorer(URI).bundle.band_thresholds
    expected = np.where(
        full_run["risk_score"] >= cut["high"],
        "high",
        np.where(full_run["risk_score"] >= cut["medium"], "medium", "low"),
    )
    assert (full_run["risk_band"].to_numpy() == expected).all()
    assert full_run["model_version"].eq(trained.registered.version).all()
    # the bands hold roughly the capacity they were cut for (1% high, 4% medium per month)
    share = full_run["risk_band"].value_counts(normalize=True)
    assert 0.002 < share.get("high", 0) < 0.05
    assert 0.01 < share.get("medium", 0) < 0.15


def test_reasons_for_flagged_claims_only(full_run: pd.DataFrame) -> None:
    reasons = full_run["reasons"].map(json.loads)
    flagged = full_run["risk_band"] != "low"
    assert reasons[~flagged].map(len).eq(0).all()
    assert reasons[flagged].map(len).gt(0).all()
    first = reasons[flagged].iloc[0]
    assert set(first[0]) == {"feature", "value", "contribution", "text"}
    contribs = [r["contribution"] for r in first]
    assert contribs == sorted(contribs, reverse=True) and contribs[0] > 0
    assert all(isinstance(r["text"], str) and len(r["text"]) > 10 for r in first)


def test_chunking_changes_nothing(
    full_run: pd.DataFrame, backlog_dir: Path, tmp_path: Path
) -> None:
    """Each chunk sees the history it needs: scores equal the single-chunk run to 1e-9."""
    out = tmp_path / "chunked.parquet"
    summary = score_backlog(backlog_dir, out, URI, chunk_size=2_000, show_progress=False)
    assert summary["chunks"] > 3
    chunked = pd.read_parquet(out)
    assert list(chunked["claim_id"]) == list(full_run["claim_id"])
    np.testing.assert_allclose(chunked["risk_score"], full_run["risk_score"], rtol=0, atol=1e-9)
    assert (chunked["risk_band"] == full_run["risk_band"]).all()


def test_since_scores_the_later_claims_against_all_history(
    full_run: pd.DataFrame, backlog_dir: Path, tmp_path: Path
) -> None:
    """``since``: only later claims are scored, each as in the full run (history still whole)."""
    claims = pd.read_parquet(backlog_dir / "claims.parquet", columns=["claim_id", "submitted_at"])
    since = pd.Timestamp(claims["submitted_at"].quantile(0.8)).normalize()
    out = tmp_path / "since.parquet"
    summary = score_backlog(backlog_dir, out, URI, chunk_size=700, show_progress=False, since=since)
    later = set(claims.loc[claims["submitted_at"] >= since, "claim_id"])
    got = pd.read_parquet(out)
    assert summary["chunks"] > 1 and set(got["claim_id"]) == later and len(got) == len(later)
    ref = full_run.set_index("claim_id").loc[got["claim_id"]]
    np.testing.assert_allclose(got["risk_score"], ref["risk_score"], rtol=0, atol=1e-9)
    assert (got["risk_band"].to_numpy() == ref["risk_band"].to_numpy()).all()


def test_killed_run_resumes_and_scores_every_claim_once(
    full_run: pd.DataFrame, backlog_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scores.parquet"
    work = tmp_path / ".scores.parquet.parts"
    cmd = [
        sys.executable,
        "-m",
        "riskml",
        "score",
        "--data",
        str(backlog_dir),
        "--out",
        str(out),
        "--chunk-size",
        "1500",
        "--threads",
        "1",
    ]
    env = {**os.environ, "OMP_WAIT_POLICY": "passive"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list(work.glob("part-*.parquet"))) < 2:
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(work.glob("part-*.parquet")))
    assert done_before >= 2 and not out.exists()

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    assert summary["resumed_chunks"] >= done_before
    assert not work.exists()
    resumed = pd.read_parquet(out)
    assert resumed["claim_id"].is_unique
    assert list(resumed["claim_id"]) == list(full_run["claim_id"])
    np.testing.assert_allclose(resumed["risk_score"], full_run["risk_score"], rtol=0, atol=1e-9)


def test_resume_refuses_different_settings(
    full_run: pd.DataFrame, backlog_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scores.parquet"
    work = tmp_path / ".scores.parquet.parts"
    work.mkdir()
    (work / "checkpoint.json").write_text(
        json.dumps(
            {
                "model_version": "0",
                "data_fingerprint": "x",
                "chunk_size": 1,
                "n_claims": 1,
                "explain": "flagged",
            }
        )
    )
    with pytest.raises(CheckpointMismatchError, match="model_version"):
        score_backlog(backlog_dir, out, URI, show_progress=False)
    assert not out.exists()


def test_bad_input_is_refused_without_output(synth_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.parquet"
    with pytest.raises(RiskmlError, match="--explain"):
        score_backlog(synth_dir, out, URI, explain="some", show_progress=False)  # type: ignore[arg-type]
    with pytest.raises(DataContractError, match="does not exist"):
        score_backlog(tmp_path / "missing", out, URI, show_progress=False)
    assert list(tmp_path.iterdir()) == []


def test_batch_scores_fill_the_triage_queue(
    full_run: pd.DataFrame, backlog_dir: Path, tmp_path: Path
) -> None:
    from riskml.data import load_data_dir
    from riskml.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    store.ingest(load_data_dir(backlog_dir))
    stored = store.record_batch_scores(full_run)
    flagged = full_run.loc[full_run["risk_band"] != "low"]
    assert stored == len(flagged) > 0
    queue = store.queue(limit=10_000)
    assert {q["claim_id"] for q in queue} == set(flagged["claim_id"])
    scores = [q["risk_score"] for q in queue]
    assert scores == sorted(scores, reverse=True)
    assert store.record_batch_scores(full_run) == stored  # reloading upserts, never duplicates
    assert len(store.queue(limit=10_000)) == len(queue)
    assert "load_batch_scores" in set(store.audit_log()["action"])
