"""Damaged, truncated and unreadable Parquet files: every verb answers one line and exit 2.

The bytes of ``claims.parquet`` (and of other tables) are overwritten at offsets spread over the
whole file, in compressed and uncompressed files, and the file is truncated; whatever Arrow makes
of the damage (a thrift error, a bad page, invalid UTF-8, timestamps of year -288619), the loader
and the streaming reader of batch scoring raise a :class:`DataContractError` naming the table,
on one line, and the CLI verbs exit 2 with that line.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from riskml.backlog import DataDirReader
from riskml.data import load_data_dir
from riskml.errors import DataContractError
from riskml.synth import run_synth

Damage = Callable[[bytes], bytes]


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corrupt") / "data"
    run_synth(out=out, persons=300, seed=11, fraud_rate=None, preset="stress", months=12)
    return out


def _xor(offset: int, width: int = 8) -> Damage:
    def damage(raw: bytes) -> bytes:
        b = bytearray(raw)
        for i in range(offset, min(offset + width, len(b))):
            b[i] ^= 0xA5
        return bytes(b)

    return damage


def _truncate(length: int) -> Damage:
    return lambda raw: raw[:length]


def _variants(size: int, steps: int) -> list[tuple[str, Damage]]:
    out: list[tuple[str, Damage]] = []
    for off in sorted({*range(0, size, max(1, size // steps)), size - 12, size - 8, size - 1}):
        out.append((f"xor@{off}", _xor(off)))
    for length in (0, 4, size // 3, size // 2, size - 8, size - 1):
        out.append((f"truncated to {length}", _truncate(length)))
    return out


def _copy(src: Path, dst: Path, compression: str) -> Path:
    shutil.copytree(src, dst)
    for table in ("claims", "claim_items", "persons"):
        path = dst / f"{table}.parquet"
        pq.write_table(pq.read_table(path), path, compression=compression)
    return dst


@pytest.mark.parametrize("compression", ["zstd", "none"])
@pytest.mark.parametrize("table", ["claims", "claim_items", "persons"])
def test_every_damage_is_a_one_line_contract_error(
    synth_dir: Path, tmp_path: Path, compression: str, table: str
) -> None:
    """Each damaged file either still reads as valid data (a flipped byte inside a value may
    leave a valid file) or is refused with one line naming the table; never another exception."""
    data = _copy(synth_dir, tmp_path / "d", compression)
    path = data / f"{table}.parquet"
    clean = path.read_bytes()
    refused = 0
    variants = _variants(len(clean), steps=25)
    for name, damage in variants:
        path.write_bytes(damage(clean))
        for loader in (load_data_dir, DataDirReader):
            try:
                loader(data)
            except DataContractError as exc:
                message = str(exc)
                assert "\n" not in message, (name, message)
                assert message.startswith(f"{table}"), (name, message)
                refused += 1
    path.write_bytes(clean)
    load_data_dir(data)  # the clean file still loads
    # every truncation and most flips are refused
    assert refused >= len(variants)


def _write_out_of_range(data: Path) -> None:
    """``submitted_at`` of one claim stored as microseconds that pandas cannot hold (year
    30000), as a damaged page or a column written in nanoseconds but declared microseconds."""
    path = data / "claims.parquet"
    table = pq.read_table(path)
    idx = table.schema.get_field_index("submitted_at")
    raw = table.column(idx).cast(pa.int64()).to_numpy().copy()
    raw[3] = 900_000_000_000_000_000  # us: year 30489
    table = table.set_column(idx, "submitted_at", pa.array(raw).cast(pa.timestamp("us")))
    pq.write_table(table, path)


def test_out_of_range_timestamp_names_table_column_and_value(
    synth_dir: Path, tmp_path: Path
) -> None:
    data = _copy(synth_dir, tmp_path / "d", "zstd")
    _write_out_of_range(data)
    for loader in (load_data_dir, DataDirReader):
        outside = r"^claims\.submitted_at: timestamp outside"
        with pytest.raises(DataContractError, match=outside) as e:
            loader(data)
        assert "30489-11-11" in str(e.value) and "hint" in str(e.value)


def test_out_of_range_date(synth_dir: Path, tmp_path: Path) -> None:
    data = _copy(synth_dir, tmp_path / "d", "zstd")
    path = data / "persons.parquet"
    table = pq.read_table(path)
    idx = table.schema.get_field_index("birth_date")
    days = table.column(idx).cast(pa.int32()).to_numpy().copy()
    days[0] = 2_000_000  # about year 7445
    table = table.set_column(idx, "birth_date", pa.array(days, pa.int32()).cast(pa.date32()))
    pq.write_table(table, path)
    with pytest.raises(DataContractError, match=r"^persons\.birth_date: date outside"):
        load_data_dir(data)


VERBS: dict[str, Callable[[Path, Path], list[str]]] = {
    "validate": lambda d, w: ["validate", "--data", str(d)],
    "features": lambda d, w: ["features", "--data", str(d), "--out", str(w / "f.parquet")],
    "ingest": lambda d, w: ["ingest", "--data", str(d)],
    "train": lambda d, w: ["train", "--data", str(d)],
    "score": lambda d, w: [
        "score",
        "--data",
        str(d),
        "--out",
        str(w / "s.parquet"),
        "--model",
        "models:/riskml-claims/1",
    ],
}


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_every_verb_answers_one_line_and_exit_2(
    verb: str, synth_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from riskml.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RISKML_STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("OMP_WAIT_POLICY", "passive")
    data = tmp_path / "d"
    shutil.copytree(synth_dir, data)
    path = data / "claims.parquet"
    clean = path.read_bytes()
    size = len(clean)
    cases: list[tuple[str, Callable[[], None]]] = [
        (f"xor@{off}", lambda off=off: path.write_bytes(_xor(off, 64)(clean)))
        for off in (0, size // 4, size // 2, 3 * size // 4, size - 8)
    ]
    cases += [
        ("truncated", lambda: path.write_bytes(clean[: size // 2])),
        ("empty file", lambda: path.write_bytes(b"")),
        ("out-of-range timestamp", lambda: (path.write_bytes(clean), _write_out_of_range(data))),
    ]
    runner = CliRunner()
    for name, damage in cases:
        damage()
        result = runner.invoke(app, VERBS[verb](data, tmp_path))
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert result.exit_code == 2, (verb, name, result.output[-2000:])
        assert "Traceback" not in result.output, (verb, name)
        assert len(errors) == 1, (verb, name, result.output[-2000:])
        assert errors[0].startswith("error: claims"), (verb, name, errors[0])
        if "cannot read" in errors[0] or "outside the range" in errors[0]:
            assert "hint:" in errors[0], (verb, name, errors[0])


def test_spark_style_folder_and_broken_link(synth_dir: Path, tmp_path: Path) -> None:
    """``claims.parquet/`` as a folder of parts (as Spark writes a table) reads as the table; a
    ``claims.parquet`` that is a broken link is a one-line error naming the table."""
    data = _copy(synth_dir, tmp_path / "d", "zstd")
    path = data / "claims.parquet"
    table = pq.read_table(path)
    path.unlink()
    path.mkdir()
    pq.write_table(table.slice(0, 1000), path / "part-00000.parquet")
    pq.write_table(table.slice(1000), path / "part-00001.parquet")
    assert len(load_data_dir(data).claims) == table.num_rows
    shutil.rmtree(path)
    path.symlink_to(tmp_path / "nowhere.parquet")
    for loader in (load_data_dir, DataDirReader):
        with pytest.raises(DataContractError, match=r"^claims: .*broken link") as e:
            loader(data)
        assert "\n" not in str(e.value)
