"""``--data``/``--out`` URLs (:mod:`riskml.location`): resolved to a pyarrow file system, refused
in one line when they cannot be used, read through by the loader, and written whole on a file
system without rename (:mod:`tests.object_store`, and a real S3 API: moto's server on a local
port). No Spark here (it has no S3A connector): see test_spark.py for runs."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from riskml.backlog import DataDirReader
from riskml.data import ClaimsData, load_data_dir, plausibility_for
from riskml.errors import ConfigError
from riskml.fingerprint import data_fingerprint
from riskml.location import Location, atomic_location, local_path, resolve
from riskml.spark.paths import engine_paths, spark_url, work_folder
from tests.object_store import NoRenameHandler, no_rename_location


def test_a_url_resolves_to_its_file_system_and_keeps_its_scheme_for_spark(tmp_path: Path) -> None:
    loc = resolve("--out", f"file://{tmp_path}/scores.parquet")
    assert isinstance(loc, Location) and loc.path == f"{tmp_path}/scores.parquet"
    assert loc.url == f"file://{tmp_path}/scores.parquet" and loc.name == "scores.parquet"
    assert spark_url(work_folder(loc)) == f"file://{tmp_path}/.scores.parquet.parts"
    assert spark_url(tmp_path / "x") == f"file://{tmp_path}/x"  # a driver path: file: too
    s3 = resolve("--out", "s3a://KEYID:SECRET@bucket/runs/scores.parquet?region=eu-west-1")
    assert isinstance(s3, Location) and s3.path == "bucket/runs/scores.parquet"
    # s3a for Spark (pyarrow read it as s3), and never the credentials or the query
    assert s3.url == "s3a://bucket/runs/scores.parquet" == s3.shown
    assert s3.parent.url == "s3a://bucket/runs" and not s3.renames_atomically
    assert resolve("--data", str(tmp_path)) == tmp_path  # a plain path stays a Path


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ftp://host/backlog", "unknown URL scheme ftp://"),
        ("hdfs://namenode:8020/backlog", "hdfs:// needs libhdfs"),
        ("file://otherhost/backlog", "cannot open its file system"),
        ("file:///no/such/backlog", "no such data directory"),
        (Path("s3a://bucket/backlog"), "with its // folded; pass it as a string"),
    ],
)
def test_a_url_that_cannot_be_used_is_one_line_naming_the_option(
    value: str | Path, expected: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=expected) as err:
        engine_paths(value, tmp_path / "out.parquet")
    text = str(err.value)
    assert text.startswith("--data ") and "\n" not in text
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_an_unreachable_store_or_a_folder_as_output_is_refused(tmp_path: Path) -> None:
    # an S3 endpoint where nothing listens (the client retries for a few seconds)
    url = "s3://KEYID:SECRET@bucket/x.parquet?region=us-east-1&endpoint_override=127.0.0.1:9&scheme=http"
    with pytest.raises(ConfigError, match="cannot be reached") as err:
        engine_paths(tmp_path, url)
    assert str(err.value).startswith("--out s3://bucket/x.parquet: ") and "SECRET" not in str(
        err.value
    )
    with pytest.raises(ConfigError, match="is a folder"):
        engine_paths(tmp_path, f"file://{tmp_path}")


def test_the_pandas_engine_refuses_urls() -> None:
    with pytest.raises(ConfigError, match=r"^--out s3a://b/x: the pandas engine .* --engine spark"):
        local_path("--out", "s3a://KEY:SECRET@b/x")
    with pytest.raises(ConfigError, match="not s3a:// URLs"):
        local_path("--out", Path("s3a://b/x"))  # folded by Path: still a URL
    assert local_path("--data", "data/backlog") == Path("data/backlog")


def test_the_loader_reads_a_directory_through_its_url(
    synth_dir: Path, synth_data: ClaimsData
) -> None:
    loc = resolve("--data", f"file://{synth_dir}")
    assert isinstance(loc, Location)
    assert data_fingerprint(loc) == data_fingerprint(synth_dir)
    assert plausibility_for(loc) == plausibility_for(synth_dir)  # the manifest was read
    assert not plausibility_for(loc).check_future  # synthetic: its own calendar
    loaded = load_data_dir(loc)
    for name, frame in synth_data.tables().items():
        assert frame.equals(loaded.tables()[name]), name
    reader = DataDirReader(loc)
    assert reader.pop_claim_keys()["claim_id"].sort_values().tolist() == sorted(
        synth_data.claims["claim_id"]
    )


def test_an_output_on_a_store_without_rename_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    table = pa.table({"claim_id": [f"c{i}" for i in range(20_000)]})
    handler = NoRenameHandler(fail_writes_ending=".tmp", fail_after=5_000)
    target = no_rename_location(f"{tmp_path}/scores.parquet", handler)
    tmp = target.parent / "work.tmp"
    old = pa.table({"claim_id": ["old"]})
    pq.write_table(old, tmp_path / "scores.parquet")
    # the upload is cut off half-way
    with pytest.raises(OSError, match="injected"), atomic_location(target, tmp=tmp) as where:
        pq.write_table(table, where.path, filesystem=where.filesystem)
    assert pq.read_table(tmp_path / "scores.parquet").equals(old)  # the old output, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet"]  # no temporary left
    handler.fail_writes_ending = None
    handler.calls.clear()
    with atomic_location(target, tmp=tmp) as where:
        pq.write_table(table, where.path, filesystem=where.filesystem)
        assert pq.read_table(tmp_path / "scores.parquet").equals(old)  # not before the commit
    assert pq.read_table(tmp_path / "scores.parquet").equals(table)
    ops = [op for op, _ in handler.calls]
    assert ops == ["write", "copy_file", "delete_file"]  # written aside, copied, no rename tried
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet"]


# -- a real S3 API (moto's server, in this process): what object-store semantics change -------


@pytest.fixture(scope="module")
def s3_base(synth_dir: Path) -> Iterator[str]:
    """An S3 server on a free local port with the bucket ``riskml`` holding ``synth_dir`` under
    ``data/``; yields the URL query that points pyarrow at it (no credentials in it)."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        query = f"region=us-east-1&endpoint_override=127.0.0.1:{port}&scheme=http"
        fs = pafs.S3FileSystem(
            region="us-east-1",
            endpoint_override=f"127.0.0.1:{port}",
            scheme="http",
            allow_bucket_creation=True,
        )
        fs.create_dir("riskml")
        pafs.copy_files(
            str(synth_dir),
            "riskml/data",
            source_filesystem=pafs.LocalFileSystem(),
            destination_filesystem=fs,
        )
        yield query
    server.stop()


def test_the_loader_reads_a_directory_on_s3(
    s3_base: str, synth_dir: Path, synth_data: ClaimsData
) -> None:
    """Folders are key prefixes there: the table lookup, the manifest, the fingerprint and the
    streaming check all go through them."""
    loc = resolve("--data", f"s3a://riskml/data?{s3_base}")
    assert isinstance(loc, Location) and loc.url == "s3a://riskml/data" == loc.shown
    engine_paths(loc, f"s3a://riskml/out/scores.parquet?{s3_base}")  # both accepted
    assert data_fingerprint(loc) == data_fingerprint(synth_dir)
    assert not plausibility_for(loc).check_future  # the manifest was read
    loaded = load_data_dir(loc)
    assert loaded.claims.equals(synth_data.claims) and loaded.persons.equals(synth_data.persons)
    assert len(DataDirReader(loc).pop_claim_keys()) == len(synth_data.claims)
    with pytest.raises(ConfigError, match=r"^--data s3a://riskml/nothing: no such data directory"):
        engine_paths(f"s3a://riskml/nothing?{s3_base}", Path("/tmp/unused.parquet"))
    with pytest.raises(ConfigError, match=r"^--out s3a://elsewhere/s.parquet: no bucket"):
        engine_paths(loc, f"s3a://elsewhere/s.parquet?{s3_base}")


def test_on_s3_the_output_is_copied_into_place_whole_and_the_checkpoint_resumes(
    s3_base: str,
) -> None:
    from riskml.batch import CheckpointMismatchError
    from riskml.spark.engine import SparkPlan, _open_work
    from riskml.spark.paths import remove_tree

    out = resolve("--out", f"s3://riskml/runs/scores.parquet?{s3_base}")
    assert isinstance(out, Location) and not out.renames_atomically
    fs = out.filesystem
    old = pa.table({"claim_id": ["old"]})
    pq.write_table(old, out.path, filesystem=fs)
    table = pa.table({"claim_id": [f"c{i}" for i in range(50_000)]})
    work = work_folder(out)
    # killed half-way through the upload of the output
    with (
        pytest.raises(RuntimeError, match="killed"),
        atomic_location(out, tmp=work / "output.parquet") as tmp,
        fs.open_output_stream(tmp.path) as stream,
    ):
        stream.write(b"PAR1" * 10_000)
        raise RuntimeError("killed")
    assert pq.read_table(out.path, filesystem=fs).equals(old)  # the old object, whole
    assert not (work / "output.parquet").exists()
    with atomic_location(out, tmp=work / "output.parquet") as tmp:
        pq.write_table(table, tmp.path, filesystem=fs)
    assert pq.read_table(out.path, filesystem=fs).equals(table)
    assert not (work / "output.parquet").exists()

    plan = SparkPlan("spark", "score", "m/1", "f" * 64, 100, 2, 1_000, "flagged", None)
    assert _open_work(work, plan) is False and (work / "checkpoint.json").is_file()
    assert _open_work(work, plan) is True  # a re-run resumes from it
    with pytest.raises(CheckpointMismatchError, match="chunk_size"):
        _open_work(
            work, SparkPlan("spark", "score", "m/1", "f" * 64, 101, 2, 1_000, "flagged", None)
        )
    remove_tree(work)
    assert not (work / "checkpoint.json").exists()
