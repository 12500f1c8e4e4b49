"""Entity risk for targeted audits: does ``riskml entities`` find the corrupt units?

Generates a synthetic scheme, trains and registers a champion (in a temporary MLflow store), ranks
providers and employers by ``riskml entities`` on the claims of the last four months, and measures
the share of corrupt units found in the top 2% (and 10%) of entities, against ranking by claim
count and by the sum of claim scores. Corrupt units come from the ground truth: the providers of
phantom stays and collusion rings (the typologies whose unit is the provider), providers whose
share of upcoding and unbundling claims is at least three times the share across providers, and
employers of fictitious employment. The old definition (three or more improper claims of any
provider typology, which marks the largest hospitals) is printed beside it.

    python -m benchmarks --only entities            # 16,000 persons
    python -m benchmarks --only entities --quick    # 4,000 persons
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import pandas as pd

from riskml.entities import PRIOR_CLAIMS

PROVIDER_TYPOLOGIES = ("phantom_hospitalization", "upcoding", "unbundling", "collusion_ring")
EMPLOYER_TYPOLOGIES = ("fictitious_employment",)
SHARES = (0.02, 0.10)


#: Typologies whose unit is the provider itself (the injector corrupts a hospital or clinic);
#: upcoding and unbundling are claim-level here (a unit is one claim at any hospital).
PROVIDER_UNITS = ("phantom_hospitalization", "collusion_ring")
#: A provider is corrupt through claim-level typologies when its share of such claims is at
#: least this many times the share across all providers (and it has at least 3).
SHARE_MULTIPLE = 3.0


def _corrupt_providers(truth: pd.DataFrame, claims: pd.DataFrame) -> tuple[set[str], set[str]]:
    """The corrupt providers of the period, and the old size-driven definition beside them.

    Corrupt: a provider that is the unit of a provider-level typology (phantom stays, a ring),
    or whose share of upcoding and unbundling claims is at least :data:`SHARE_MULTIPLE` times
    the share across all providers. Counting providers with 3 or more improper claims of any
    provider typology instead (the old definition) marks the largest hospitals, whose claim-level
    frauds add up by size alone: claim count then ranks them best by construction.
    """
    provider_truth = truth.loc[truth["typology"].isin(PROVIDER_TYPOLOGIES)]
    counts = provider_truth.groupby("provider_id").size()
    by_size = set(counts.index[counts >= 3].astype(str))
    units = set(
        truth.loc[truth["typology"].isin(PROVIDER_UNITS), "provider_id"].dropna().astype(str)
    )
    claim_level = provider_truth.loc[~provider_truth["typology"].isin(PROVIDER_UNITS)]
    n = claims["provider_id"].dropna().astype(str).value_counts()
    k = claim_level["provider_id"].dropna().astype(str).value_counts().reindex(n.index).fillna(0)
    overall = k.sum() / n.sum() if n.sum() else 0.0
    high = set(n.index[(k >= 3) & (k / n >= SHARE_MULTIPLE * overall)])
    return units | high, by_size


def _recall(ranked_ids: list[str], corrupt: set[str], share: float) -> float:
    k = max(1, round(share * len(ranked_ids)))
    return len(set(ranked_ids[:k]) & corrupt) / len(corrupt) if corrupt else float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_entities", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--persons", type=int)
    args, _ = parser.parse_known_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    persons = args.persons or (4_000 if args.quick else 16_000)
    with tempfile.TemporaryDirectory(prefix="riskml-entities-") as tmp:
        root = Path(tmp)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
        from riskml.config import TrainConfig
        from riskml.data import load_data_dir
        from riskml.jobs.entities import run_entities
        from riskml.registry import log_and_register
        from riskml.synth import SynthConfig, generate, write_result
        from riskml.train import train_model

        data_dir = root / "data"
        write_result(generate(SynthConfig(persons=persons, seed=7)), data_dir)
        data = load_data_dir(data_dir)
        config = TrainConfig().with_overrides(
            {"baselines": {k: False for k in ("rules", "logistic_regression",
                                               "isolation_forest", "raw_lightgbm")},
             "log_plots": False}
        )  # fmt: skip
        registered = log_and_register(train_model(data, config))
        since = (data.claims["submitted_at"].dt.to_period("M").max() - 3).start_time
        claims = data.claims.loc[data.claims["submitted_at"] >= since]
        truth = pd.read_parquet(data_dir / "ground_truth.parquet")
        truth = truth.merge(
            data.claims[["claim_id", "employer_id", "submitted_at"]], on="claim_id", how="inner"
        )
        truth = truth.loc[truth["submitted_at"] >= since]
        corrupt_providers, by_size = _corrupt_providers(truth, claims)
        corrupt = {
            "provider": corrupt_providers,
            "employer": set(
                truth.loc[truth["typology"].isin(EMPLOYER_TYPOLOGIES), "employer_id"]
                .dropna()
                .astype(str)
            ),
        }
        print(
            f"{len(data.claims):,} claims; period from {since.date()} ({len(claims):,} claims); "
            f"model version {registered.version}\n"
        )
        header = " | ".join(f"top {s:.0%}" for s in SHARES)
        print(f"| kind | ranking | entities | corrupt | {header} |")
        print("|---|---|---:|---:|" + "---:|" * len(SHARES))
        for kind, column in (("provider", "provider_id"), ("employer", "employer_id")):
            out = root / f"{kind}.parquet"
            run_entities(data_dir, out, kind, model_uri=registered.uri, since=str(since.date()))
            ranked = pd.read_parquet(out)
            by_count = claims[column].dropna().astype(str).value_counts().sort_index(kind="stable")
            by_count = by_count.sort_values(ascending=False, kind="stable")
            # risk = (score sum + m * mean) / (claims + m), so the score sum ranks as risk * (n + m)
            score_sum = ranked["risk_score"] * (ranked["claims"] + PRIOR_CLAIMS)
            by_sum = ranked.assign(s=score_sum).sort_values("s", ascending=False, kind="stable")
            rankings = {
                "riskml entities": list(ranked["entity_id"]),
                "claim count": list(by_count.index),
                "sum of claim scores": list(by_sum["entity_id"]),
            }
            for name, ids in rankings.items():
                cells = " | ".join(f"{_recall(ids, corrupt[kind], s):.2f}" for s in SHARES)
                print(f"| {kind} | {name} | {len(ids):,} | {len(corrupt[kind])} | {cells} |")
            if kind == "provider":  # the old, size-driven definition, for comparison
                for name, ids in rankings.items():
                    cells = " | ".join(f"{_recall(ids, by_size, s):.2f}" for s in SHARES)
                    print(f"| provider (3+ improper claims) | {name} | {len(ids):,} | "
                          f"{len(by_size)} | {cells} |")  # fmt: skip


if __name__ == "__main__":
    main()
