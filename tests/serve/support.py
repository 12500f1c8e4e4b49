"""Test support shared by tests/store and tests/serve: a tiny world, a real PostgreSQL server,
a real uvicorn server, and a stand-in for the model.

The stand-in scorer replaces only the trained model (whose training is another module's job);
everything else in these tests is real: the store, migrations, HTTP server, auth and audit.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskml.data import ClaimsData, validate_frame
from riskml.explain import Reason
from riskml.scoring import ScoreResult


def tiny_world() -> ClaimsData:
    """Three persons, two employers, two providers, five claims with items, contributions."""
    d = pd.to_datetime
    frames = {
        "persons": pd.DataFrame(
            {
                "person_id": ["P1", "P2", "P3"],
                "birth_date": d(["1950-03-01", "1988-07-15", "1972-11-30"]),
                "sex": ["F", "M", "F"],
                "region_code": ["110105", "310115", "110105"],
                "hukou_type": ["urban", "rural", "urban"],
                "enrolled_on": d(["1990-01-01", "2010-05-01", "1995-06-01"]),
                "death_date": d([None, None, "2024-01-20"]),
                "death_reported_on": d([None, None, None]),
            }
        ),
        "employers": pd.DataFrame(
            {
                "employer_id": ["E1", "E2"],
                "region_code": ["310115", "110105"],
                "industry": ["C", "F"],
                "size_band": ["small", "micro"],
                "registered_on": d(["2005-01-01", "2023-12-01"]),
            }
        ),
        "providers": pd.DataFrame(
            {
                "provider_id": ["H1", "H2"],
                "provider_type": ["hospital", "pharmacy"],
                "tier": pd.array([2, None], dtype="Int64"),
                "ownership": ["public", "private"],
                "region_code": ["110105", "310115"],
                "designated_on": d(["2001-01-01", "2015-01-01"]),
                "beds": pd.array([300, None], dtype="Int64"),
            }
        ),
        "contributions": pd.DataFrame(
            {
                "person_id": ["P2", "P2", "P2", "P3"],
                "employer_id": ["E1", None, "E1", "E2"],
                "month": d(["2024-01-01", "2024-01-01", "2024-02-01", "2024-01-01"]),
                "contribution_base": [6500.0, 4000.0, 6500.0, 3000.0],
            }
        ),
        "claims": pd.DataFrame(
            {
                "claim_id": ["C1", "C2", "C3", "C4", "C5"],
                "person_id": ["P1", "P1", "P2", "P3", "P2"],
                "benefit_type": ["inpatient", "outpatient", "unemployment", "pension", "pharmacy"],
                "provider_id": ["H1", "H1", None, None, "H2"],
                "employer_id": [None, None, "E1", None, None],
                "region_code": ["110105", "110105", "310115", "110105", "310115"],
                "submitted_at": d(
                    [
                        "2024-02-01 09:00",
                        "2024-03-05 10:30",
                        "2024-03-01 08:00",
                        "2024-03-02 08:00",
                        "2024-04-01 12:00",
                    ]
                ),
                "service_start": d(
                    ["2024-01-20", "2024-03-05", "2024-02-01", "2024-02-01", "2024-04-01"]
                ),
                "service_end": d(
                    ["2024-01-29", "2024-03-05", "2024-02-29", "2024-02-29", "2024-04-01"]
                ),
                "diagnosis_code": ["I21.9", "J06.9", None, None, "E11.9"],
                "amount_claimed": [12000.0, 310.0, 2100.0, 3500.0, 820.0],
                "channel": ["provider_direct", "counter", "online", "counter", "provider_direct"],
            }
        ),
        "claim_items": pd.DataFrame(
            {
                "claim_id": ["C1", "C1", "C2", "C5"],
                "line_no": pd.array([1, 2, 1, 1], dtype="Int64"),
                "item_code": ["B001", "D123", "E010", "D777"],
                "item_category": ["bed", "drug", "exam", "drug"],
                "quantity": [9.0, 2.0, 1.0, 4.0],
                "unit_price": [1000.0, 1500.0, 310.0, 205.0],
                "amount": [9000.0, 3000.0, 310.0, 820.0],
            }
        ),
        "labels": pd.DataFrame(
            {
                "claim_id": ["C1"],
                "is_fraud": [False],
                "typology": [None],
                "decided_at": d(["2024-04-01 10:00"]),
                "source": ["random_audit"],
            }
        ),
    }
    return ClaimsData(**{k: validate_frame(v, k) for k, v in frames.items()})


def claim_json(claim_id: str, person_id: str = "P1", **over: Any) -> dict[str, Any]:
    """One claim as a client sends it (JSON), an outpatient visit at H1 by default."""
    body: dict[str, Any] = {
        "claim_id": claim_id,
        "person_id": person_id,
        "benefit_type": "outpatient",
        "provider_id": "H1",
        "employer_id": None,
        "region_code": "110105",
        "submitted_at": "2024-05-01T09:00:00",
        "service_start": "2024-05-01",
        "service_end": "2024-05-01",
        "diagnosis_code": "J06.9",
        "amount_claimed": 480.0,
        "channel": "provider_direct",
        "items": [
            {
                "line_no": 1,
                "item_code": "E010",
                "item_category": "exam",
                "quantity": 1,
                "unit_price": 480.0,
                "amount": 480.0,
            }
        ],
    }
    body.update(over)
    return body


class StandInScorer:
    """A deterministic stand-in for the trained model (test double for the model only).

    The risk grows with the amount and with the number of the person's claims strictly before
    the claim in ``data`` (CONTRACT history order), so tests can see that history from the store
    reaches the scorer and that a retried claim does not count itself.
    """

    def __init__(self, version: str = "test-1") -> None:
        self.version = version
        self.calls = 0

    @property
    def model_version(self) -> str:
        return self.version

    def model_info(self) -> dict[str, Any]:
        return {
            "name": "stand-in",
            "version": self.version,
            "alias": None,
            "trained_at": "2024-06-01T00:00:00",
            "features": ["prior_claims_of_person", "amount_claimed"],
            "metrics": {"auc_pr": 0.5},
        }

    @staticmethod
    def prior_claims(data: ClaimsData, claims: pd.DataFrame) -> np.ndarray:
        left = claims[["claim_id", "person_id", "submitted_at"]].reset_index(drop=True)
        left["row"] = np.arange(len(left))
        right = data.claims[["claim_id", "person_id", "submitted_at"]]
        pairs = left.merge(right, on="person_id", suffixes=("", "_h"))
        earlier = (pairs["submitted_at_h"] < pairs["submitted_at"]) | (
            (pairs["submitted_at_h"] == pairs["submitted_at"])
            & (pairs["claim_id_h"] < pairs["claim_id"])
        )
        counts = pairs.loc[earlier].groupby("row").size()
        return counts.reindex(np.arange(len(left)), fill_value=0).to_numpy()

    def score(self, data: ClaimsData, claims: pd.DataFrame) -> list[ScoreResult]:
        self.calls += 1
        prior = self.prior_claims(data, claims)
        amount = claims["amount_claimed"].to_numpy(dtype=float)
        raw = amount / 5000.0 + 0.4 * prior
        risk = 1.0 - np.exp(-raw)
        bands = np.where(risk >= 0.8, "high", np.where(risk >= 0.5, "medium", "low"))
        return [
            ScoreResult(
                str(cid),
                float(r),
                str(b),
                [
                    Reason("prior_claims_of_person", float(n), 0.4 * n, f"{n} earlier claims"),
                    Reason("amount_claimed", float(a), a / 5000.0, f"claims {a:.0f} CNY"),
                ],
            )
            for cid, r, b, n, a in zip(claims["claim_id"], risk, bands, prior, amount, strict=True)
        ]


# -- a real PostgreSQL, started once per test session --------------------------------------------


def _pg_bin() -> Path | None:
    for name in ("initdb", "pg_ctl"):
        if shutil.which(name) is None:
            break
    else:
        return Path(shutil.which("initdb") or "").parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """A throwaway PostgreSQL cluster in a temporary directory on a free port."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="riskml-pg-"))
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: run the cluster as nobody
            shutil.chown(self.root, user="nobody")
            self.as_user = ["runuser", "-u", "nobody", "--"]
        self.data = self.root / "data"

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, *args], check=True, capture_output=True, text=True, timeout=120
        )

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "riskml",
            "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts, "-w", "-t", "60",
            "-l", str(self.root / "log"), "start",
        )  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def new_database(self) -> str:
        """A fresh empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"t{time.monotonic_ns()}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=riskml dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://riskml@127.0.0.1:{self.port}/{name}"


_PG: PostgresServer | None = None


def shared_postgres() -> PostgresServer:
    """The session's PostgreSQL; skipped only without binaries outside CI (CI=true fails)."""
    global _PG
    if _PG is None:
        bindir = _pg_bin()
        if bindir is None:
            reason = "no PostgreSQL binaries (initdb, pg_ctl) on this machine"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(reason + " and CI=true: .ci/run must install postgresql")
            pytest.skip(reason)
        server = PostgresServer(bindir)
        server.start()
        atexit.register(server.stop)
        _PG = server
    return _PG


# -- a real HTTP server -------------------------------------------------------------------------


def wait_until_ok(url: str, proc: subprocess.Popen[Any], timeout: float, what: str) -> None:
    """Poll ``url`` until it answers 200, failing with the server's stderr if ``proc`` exits and
    with ``what`` when ``timeout`` seconds pass."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(err.decode()[-3000:] if isinstance(err, bytes) else err)
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@contextlib.contextmanager
def running_server(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free port; yield its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
