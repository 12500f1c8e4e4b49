"""The Spark engine against a real local Spark session: the pandas engine's features exactly,
its scores to 1e-9 with the same reasons, a killed run resumed, and one-line errors.

The session (``local[1]``, UI off) is started once per test session (:func:`spark` in
``tests/conftest.py``); the data are the session's synthetic directory and model.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from riskml.batch import CheckpointMismatchError, score_backlog
from riskml.cli import app
from riskml.data import ClaimsData
from riskml.features import FeatureBuilder, default_fit_end
from riskml.spark.session import (
    SparkUnavailableError,
    check_available,
    spark_session,
    under_spark_submit,
)
from riskml.spark.verbs import features_spark, score_backlog_spark
from tests.conftest import Trained, write_claimant_subset
from tests.object_store import NoRenameHandler, no_rename_location

URI = "models:/riskml-claims@champion"
CHUNK = 2_000  # several chunks and waves on the small session data


@pytest.fixture(scope="module")
def backlog_dir(synth_data: ClaimsData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A third of the synthetic claimants with all their claims: a small, valid backlog."""
    out = tmp_path_factory.mktemp("spark-backlog") / "data"
    return write_claimant_subset(synth_data, out, 3, with_labels=False)


@pytest.fixture(scope="module")
def pandas_scores(trained: Trained, backlog_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The pandas engine in one chunk, and in the chunks the Spark runs use."""
    root = tmp_path_factory.mktemp("spark-ref")
    whole = score_backlog(
        backlog_dir,
        root / "whole.parquet",
        URI,
        chunk_size=10**9,
        show_progress=False,
        num_threads=1,
    )
    assert whole["chunks"] == 1
    chunked = score_backlog(
        backlog_dir,
        root / "chunked.parquet",
        URI,
        chunk_size=CHUNK,
        show_progress=False,
        num_threads=1,
    )
    assert chunked["chunks"] > 3
    return pd.read_parquet(root / "whole.parquet"), pd.read_parquet(root / "chunked.parquet")


def _by_claim(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("claim_id").reset_index(drop=True)


def test_features_equal_the_pandas_engine_exactly(
    spark, synth_dir: Path, synth_data: ClaimsData, tmp_path: Path
) -> None:
    """``riskml features --engine spark`` (the verb, on the running session) against the pandas
    engine's matrix of the same builder, fitted on the directory's own training window."""
    out = tmp_path / "spark-features.parquet"
    result = CliRunner().invoke(
        app,
        [
            "features",
            "--data",
            str(synth_dir),
            "--out",
            str(out),
            "--engine",
            "spark",
            "--chunk-size",
            "6000",
        ],
    )
    assert result.exit_code == 0, result.output
    got = pd.read_parquet(out)
    builder = FeatureBuilder(fit_end=default_fit_end(synth_data)).fit(synth_data)
    expected = builder.transform(synth_data).reset_index()
    assert len(got) == len(synth_data.claims) > 6000 * 3  # several chunks, every claim once
    # rows in (submitted_at, claim_id) order
    order = synth_data.claims.sort_values(["submitted_at", "claim_id"])["claim_id"]
    assert list(got["claim_id"]) == list(order)
    pd.testing.assert_frame_equal(_by_claim(got), _by_claim(expected), check_exact=True)
    assert expected.drop(columns="claim_id").notna().to_numpy().mean() > 0.3  # not all missing


def test_features_with_a_model_use_its_builder(
    spark, trained: Trained, backlog_dir: Path, tmp_path: Path
) -> None:
    from riskml.scoring import load_scorer

    scorer = load_scorer(URI)
    out = tmp_path / "f.parquet"
    summary = features_spark(
        backlog_dir,
        out,
        scorer.bundle.feature_builder,
        scorer.model_version,
        chunk_size=CHUNK,
        spark=spark,
        chunks_per_wave=3,
        partition_by="time",
    )
    assert summary["waves"] > 1
    from riskml.data import load_data_dir

    data = load_data_dir(backlog_dir)
    expected = scorer.features(data).reset_index()
    pd.testing.assert_frame_equal(
        _by_claim(pd.read_parquet(out)), _by_claim(expected), check_exact=True
    )


def test_scores_and_reasons_equal_the_pandas_engine(
    spark, trained: Trained, backlog_dir: Path, pandas_scores, tmp_path: Path
) -> None:
    whole, chunked = pandas_scores
    out = tmp_path / "spark-scores.parquet"
    summary = score_backlog_spark(
        backlog_dir, out, URI, chunk_size=CHUNK, spark=spark, chunks_per_wave=3, partition_by="time"
    )
    got = pd.read_parquet(out)
    assert summary["chunks"] == -(-len(whole) // CHUNK) and summary["waves"] > 1
    assert got["claim_id"].is_unique and set(got["claim_id"]) == set(whole["claim_id"])
    assert (
        summary["bands"]
        == whole["risk_band"]
        .value_counts()
        .reindex(["high", "medium", "low"], fill_value=0)
        .to_dict()
    )
    # the same chunks as the pandas engine: the same bytes, reasons included
    pd.testing.assert_frame_equal(_by_claim(got), _by_claim(chunked), check_exact=True)
    # and the one-pass run to 1e-9, the same bands and reasons
    g, w = _by_claim(got), _by_claim(whole)
    np.testing.assert_allclose(g["risk_score"], w["risk_score"], rtol=0, atol=1e-9)
    assert (g["risk_band"] == w["risk_band"]).all()
    flagged = w["risk_band"] != "low"
    assert flagged.sum() > 10
    for ours, theirs in zip(g["reasons"], w["reasons"], strict=True):
        a, b = json.loads(ours), json.loads(theirs)
        assert [(r["feature"], r["text"]) for r in a] == [(r["feature"], r["text"]) for r in b]
        np.testing.assert_allclose(
            [r["contribution"] for r in a], [r["contribution"] for r in b], rtol=0, atol=1e-9
        )


def test_per_entity_buckets_score_exactly_as_the_pandas_engine(
    spark, trained: Trained, backlog_dir: Path, pandas_scores, tmp_path: Path
) -> None:
    """Each family per bucket of its entity key: the features are the whole data set's bit for
    bit, so scores, bands and reasons are the one-pass pandas run's exactly, in claim order."""
    whole, _ = pandas_scores
    out = tmp_path / "entity-scores.parquet"
    summary = score_backlog_spark(backlog_dir, out, URI, chunk_size=CHUNK, spark=spark)
    assert summary["partition_by"] == "entity" and summary["buckets"] == -(-len(whole) // CHUNK)
    got = pd.read_parquet(out)
    claims = pd.read_parquet(backlog_dir / "claims.parquet", columns=["claim_id", "submitted_at"])
    order = claims.sort_values(["submitted_at", "claim_id"])["claim_id"]
    assert list(got["claim_id"]) == list(order)
    pd.testing.assert_frame_equal(_by_claim(got), _by_claim(whole), check_exact=True)
    assert (
        summary["bands"]
        == whole["risk_band"]
        .value_counts()
        .reindex(["high", "medium", "low"], fill_value=0)
        .to_dict()
    )


def test_a_killed_entity_run_resumes_from_its_committed_stages(
    spark, trained: Trained, backlog_dir: Path, pandas_scores, tmp_path: Path
) -> None:
    whole, _ = pandas_scores
    out = tmp_path / "scores.parquet"
    work = tmp_path / ".scores.parquet.parts"

    def kill_after_first(done: int, total: int) -> None:
        assert total > 2
        raise _Killed

    with pytest.raises(_Killed):
        score_backlog_spark(
            backlog_dir, out, URI, chunk_size=CHUNK, spark=spark, on_wave=kill_after_first
        )
    assert not out.exists() and (work / "checkpoint.json").is_file()
    committed = sorted(p.parent.name for p in work.glob("*/_SUCCESS"))
    assert committed == ["family-claim"]
    with pytest.raises(CheckpointMismatchError, match="chunk_size"):
        score_backlog_spark(backlog_dir, out, URI, chunk_size=CHUNK + 1, spark=spark)
    stages: list[int] = []
    summary = score_backlog_spark(
        backlog_dir, out, URI, chunk_size=CHUNK, spark=spark, on_wave=lambda d, t: stages.append(d)
    )
    assert summary["resumed_stages"] == 1 and stages[0] == 2  # the first family was kept
    assert not work.exists()
    pd.testing.assert_frame_equal(
        _by_claim(pd.read_parquet(out)), _by_claim(whole), check_exact=True
    )


@pytest.mark.parametrize("partition_by", ["entity", "time"])
def test_since_scores_the_later_claims_against_all_history(
    spark, trained: Trained, backlog_dir: Path, pandas_scores, tmp_path: Path, partition_by: str
) -> None:
    whole, _ = pandas_scores
    claims = pd.read_parquet(backlog_dir / "claims.parquet", columns=["claim_id", "submitted_at"])
    since = pd.Timestamp(claims["submitted_at"].quantile(0.75)).normalize()
    out = tmp_path / "since.parquet"
    summary = score_backlog_spark(
        backlog_dir,
        out,
        URI,
        chunk_size=900,
        since=since,
        spark=spark,
        partition_by=partition_by,  # type: ignore[arg-type]
    )
    got = pd.read_parquet(out)
    later = set(claims.loc[claims["submitted_at"] >= since, "claim_id"])
    assert summary.get("chunks", summary.get("buckets")) > 1  # type: ignore[operator]
    assert set(got["claim_id"]) == later and len(got) == len(later)
    ref = whole.set_index("claim_id").loc[got["claim_id"]]
    np.testing.assert_allclose(got["risk_score"], ref["risk_score"], rtol=0, atol=1e-9)
    assert (got["risk_band"].to_numpy() == ref["risk_band"].to_numpy()).all()


class _Killed(Exception):
    pass


def test_a_killed_run_resumes_from_its_committed_waves(
    spark, trained: Trained, backlog_dir: Path, pandas_scores, tmp_path: Path
) -> None:
    _, chunked = pandas_scores
    out = tmp_path / "scores.parquet"
    work = tmp_path / ".scores.parquet.parts"

    def kill_after_first(done: int, total: int) -> None:
        assert total > 2
        raise _Killed

    with pytest.raises(_Killed):
        score_backlog_spark(
            backlog_dir,
            out,
            URI,
            chunk_size=CHUNK,
            spark=spark,
            chunks_per_wave=2,
            on_wave=kill_after_first,
            partition_by="time",
        )
    assert not out.exists()
    assert (work / "checkpoint.json").is_file() and (work / "wave-00000" / "_SUCCESS").is_file()
    assert not (work / "wave-00001").exists()
    # other settings are refused, the work kept
    with pytest.raises(CheckpointMismatchError, match="chunk_size"):
        score_backlog_spark(
            backlog_dir,
            out,
            URI,
            chunk_size=CHUNK + 1,
            spark=spark,
            chunks_per_wave=2,
            partition_by="time",
        )
    waves: list[int] = []
    summary = score_backlog_spark(
        backlog_dir,
        out,
        URI,
        chunk_size=CHUNK,
        spark=spark,
        chunks_per_wave=2,
        on_wave=lambda d, t: waves.append(d),
        partition_by="time",
    )
    assert summary["resumed_waves"] == 1 and waves[0] == 2  # the first wave was not run again
    assert not work.exists()
    pd.testing.assert_frame_equal(
        _by_claim(pd.read_parquet(out)), _by_claim(chunked), check_exact=True
    )


def test_a_missing_java_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing runnable on it
    with pytest.raises(SparkUnavailableError, match="needs a Java runtime") as err:
        check_available("local[*]")
    assert "\n" not in str(err.value)
    check_available("sc://localhost:15002")  # a Connect client runs no JVM


def test_the_cli_refuses_what_it_cannot_run(
    monkeypatch: pytest.MonkeyPatch, backlog_dir: Path, tmp_path: Path
) -> None:
    out = str(tmp_path / "s.parquet")
    runner = CliRunner()
    bad = runner.invoke(
        app,
        [
            "score",
            "--data",
            str(backlog_dir),
            "--out",
            out,
            "--engine",
            "spark",
            "--spark-master",
            "mesos://x",
        ],
    )
    assert bad.exit_code == 2 and "is not a Spark master" in bad.output
    other = runner.invoke(
        app, ["score", "--data", str(backlog_dir), "--out", out, "--engine", "dask"]
    )
    assert other.exit_code == 2 and "pandas or spark" in other.output
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    nojava = runner.invoke(
        app,
        ["features", "--data", str(backlog_dir), "--out", out, "--engine", "spark", "--model", URI],
    )
    assert nojava.exit_code == 2
    assert nojava.output.strip().splitlines()[-1].startswith("error: --engine spark needs a Java")


def test_urls_spark_cannot_use_are_refused_in_one_line_and_nothing_is_written(
    backlog_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown scheme, ``hdfs://`` without libhdfs, a ``--data`` that does not exist, and any
    URL for the pandas engine: one line naming the option and the value (credentials withheld),
    exit 2, before a model or any data is read, and no folder named after the scheme (the
    command line once folded ``s3a://b/x`` into the local path ``s3a:/b/x``)."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    local_out = str(tmp_path / "s.parquet")
    cases = [
        ("score", str(backlog_dir), "gs://bucket/scores.parquet", "spark", "--out", "unknown"),
        ("score", "hdfs://namenode/backlog", local_out, "spark", "--data", "needs libhdfs"),
        ("features", f"file://{tmp_path}/none", local_out, "spark", "--data", "no such data"),
        ("score", str(backlog_dir), "s3a://KEY:SECRET@b/s.parquet", "pandas", "--out", "pandas"),
        ("features", f"file://{backlog_dir}", local_out, "pandas", "--data", "pandas engine"),
    ]
    for verb, data, out, engine, option, expected in cases:
        args = [verb, "--data", data, "--out", out, "--engine", engine, "--model", URI]
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        last = result.output.strip().splitlines()[-1]
        assert last.startswith(f"error: {option} ") and expected in last, last
        assert "SECRET" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_cli_scores_file_urls_as_it_scores_paths(
    spark, trained: Trained, backlog_dir: Path, pandas_scores, tmp_path: Path
) -> None:
    """``riskml score --engine spark --data file://... --out file://...``: the driver reads
    through pyarrow's file system, Spark the URLs; the same bytes as the local-path run (which
    equals the pandas engine's chunked run, test_scores_and_reasons_equal_the_pandas_engine)."""
    _, chunked = pandas_scores
    out = tmp_path / "by url" / "scores.parquet"  # a space, %20 in the URL, ' ' for Spark
    args = ["score", "--data", f"file://{backlog_dir}", "--out", f"file://{quote(str(out))}"]
    spark_args = ["--engine", "spark", "--partition-by", "time", "--chunk-size", str(CHUNK)]
    spark_args += ["--chunks-per-wave", "4"]
    result = CliRunner().invoke(app, [*args, *spark_args])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["chunks"] == -(-len(chunked) // CHUNK) and summary["resumed_waves"] == 0
    assert summary["waves"] == -(-summary["chunks"] // 4) > 1  # --chunks-per-wave taken
    pd.testing.assert_frame_equal(
        _by_claim(pd.read_parquet(out)), _by_claim(chunked), check_exact=True
    )
    assert sorted(p.name for p in out.parent.iterdir()) == ["scores.parquet"]  # work removed


def test_a_store_without_rename_resumes_and_never_shows_a_half_written_output(
    spark, trained: Trained, backlog_dir: Path, pandas_scores, tmp_path: Path
) -> None:
    """The run (per entity, the default) on a file system that refuses rename (an object
    store's semantics, :mod:`tests.object_store`; Spark writes the same files through
    ``file://``): killed after its first stage, then its output upload cut off half-way, then
    run to the end. The checkpoint, the stage markers and the output's parts are read through
    that file system, the output is written under the work folder and copied to ``--out``; no
    rename is ever tried."""
    whole, _ = pandas_scores
    handler = NoRenameHandler()
    data = no_rename_location(str(backlog_dir), handler)
    out = no_rename_location(f"{tmp_path}/scores.parquet", handler)
    work = tmp_path / ".scores.parquet.parts"

    def kill_after_first(done: int, total: int) -> None:
        raise _Killed

    run = functools.partial(score_backlog_spark, data, out, URI, chunk_size=CHUNK, spark=spark)
    with pytest.raises(_Killed):
        run(on_wave=kill_after_first)
    assert (work / "checkpoint.json").is_file() and (work / "family-claim" / "_SUCCESS").is_file()
    assert not (work / "output").exists() and not (tmp_path / "scores.parquet").exists()
    with pytest.raises(CheckpointMismatchError, match="chunk_size"):
        score_backlog_spark(data, out, URI, chunk_size=CHUNK + 1, spark=spark)
    handler.fail_writes_ending = "output.parquet"  # the upload of the output is cut off
    stages: list[int] = []
    with pytest.raises(OSError, match="injected"):
        run(on_wave=lambda d, t: stages.append(d))
    assert stages[0] == 2  # the committed first stage was not run again
    assert sorted(p.name for p in tmp_path.iterdir()) == [".scores.parquet.parts"]  # no output
    assert not (work / "output.parquet").exists()
    handler.fail_writes_ending = None
    handler.calls.clear()
    summary = run()
    assert summary["resumed_stages"] == summary["families"] + 1  # all committed before
    pd.testing.assert_frame_equal(
        _by_claim(pd.read_parquet(tmp_path / "scores.parquet")),
        _by_claim(whole),
        check_exact=True,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet"]
    ops = [(op, Path(path).name) for op, path in handler.calls]
    assert ("copy_file", "scores.parquet") in ops and not [c for c in ops if c[0] == "move"]


def test_under_spark_submit_its_master_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A driver program started by spark-submit (the gateway in its environment) runs where
    spark-submit's --master says; a --spark-master of its own is refused, not ignored."""
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "1")
    assert under_spark_submit()
    with pytest.raises(SparkUnavailableError, match="under spark-submit the master is"):
        check_available("spark://elsewhere:7077")
    check_available()  # the default: spark-submit's


def test_the_session_keeps_timestamps_and_runs_one_thread_per_task(spark) -> None:
    assert not under_spark_submit()  # a session started here announces no gateway
    assert spark_session() is spark  # the running session is reused, never a second JVM
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.parquet.outputTimestampType") == "TIMESTAMP_MICROS"
