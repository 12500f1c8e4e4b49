"""A scheme that pays only medical benefits: no ``employers.parquet``, no
``contributions.parquet`` (CONTRACT.md: both optional). Every verb works on it through the CLI,
the employer features are missing, never a crash; a zero-row claims table scores to an empty
output."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from riskml.cli import app
from riskml.contract import MEDICAL_BENEFITS, TABLES
from riskml.data import ClaimsData
from tests.conftest import SMALL


@pytest.fixture(scope="module")
def medical_dir(synth_data: ClaimsData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = synth_data
    claims = d.claims.loc[d.claims["benefit_type"].isin(MEDICAL_BENEFITS)]
    claims = claims.assign(employer_id=pd.Series(None, index=claims.index, dtype="str"))
    assert d.labels is not None
    out = tmp_path_factory.mktemp("medical") / "data"
    ClaimsData(
        persons=d.persons,
        employers=d.employers,
        providers=d.providers,
        contributions=d.contributions,
        claims=claims.reset_index(drop=True),
        claim_items=d.claim_items.loc[d.claim_items["claim_id"].isin(claims["claim_id"])],
        labels=d.labels.loc[d.labels["claim_id"].isin(claims["claim_id"])],
    ).write(out, extra_files={"manifest.json": {"generator": "riskml.synth"}})
    (out / "employers.parquet").unlink()
    (out / "contributions.parquet").unlink()
    return out


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _last_json(output: str) -> dict[str, object]:
    """The JSON object a verb prints last (possibly over several lines, after its logs)."""
    lines = output.splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("{"))
    obj, _ = json.JSONDecoder().raw_decode("\n".join(lines[start:]))
    return dict(obj)


def test_every_verb_works_without_employers_and_contributions(
    medical_dir: Path, tmp_path: Path, own_mlflow_store: Path
) -> None:
    out = _run("validate", "--data", str(medical_dir))
    assert "employers                 0 rows" in out and "(0 warnings, 0 errors)" in out
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(SMALL))
    summary = _last_json(_run("train", "--data", str(medical_dir), "--config", str(config)))
    bands = summary["bands"]
    assert isinstance(bands, dict) and set(bands["target_share"]) == {"high", "medium"}
    uri = str(summary["model_uri"])
    scores_file, features_file = tmp_path / "s.parquet", tmp_path / "f.parquet"
    _run("score", "--data", str(medical_dir), "--out", str(scores_file), "--model", uri)
    assert (
        len(pd.read_parquet(scores_file))
        == pq.read_metadata(medical_dir / "claims.parquet").num_rows
    )
    _run("features", "--data", str(medical_dir), "--out", str(features_file), "--model", uri)
    assert pd.read_parquet(features_file)["employer_members"].isna().all()  # not known, not 0

    # a zero-row claims table (pandas writes the columns of an empty frame as double) is
    # accepted and typed; the batch run writes an empty scores file instead of failing
    empty = tmp_path / "empty"
    empty.mkdir()
    for name in ("persons.parquet", "providers.parquet", "manifest.json"):
        (empty / name).write_bytes((medical_dir / name).read_bytes())
    for name in ("claims", "claim_items"):
        cols = [c.name for c in TABLES[name].columns if not c.optional]
        pd.DataFrame({c: pd.Series([], dtype="float64") for c in cols}).to_parquet(
            empty / f"{name}.parquet", index=False
        )
    _run("validate", "--data", str(empty))
    summary = _last_json(
        _run("score", "--data", str(empty), "--out", str(tmp_path / "e.parquet"), "--model", uri)
    )
    assert summary["claims"] == 0 and summary["chunks"] == 0
    assert pd.read_parquet(tmp_path / "e.parquet").empty
