"""The MLflow pyfunc face of a bundle: a feature matrix in, calibrated risk score and band out.

Raw claims need their history to become features; that is the Scorer's job
(``riskml.scoring.load_scorer``). This face serves tools that hold a feature matrix
(``mlflow models predict``, notebooks, ``mlflow.evaluate``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.pyfunc.model import PythonModel

from riskml.bundle import BUNDLE_DIR, read_bundle


class RiskmlModel(PythonModel):
    """pyfunc face of a bundle: a feature matrix in, calibrated risk score and band out.

    Raw claims need their history to become features; that is the Scorer's job
    (``riskml.scoring.load_scorer``). This face serves tools that hold a feature matrix
    (``mlflow models predict``, notebooks, ``mlflow.evaluate``).
    """

    def load_context(self, context: Any) -> None:
        self.bundle = read_bundle(Path(context.artifacts[BUNDLE_DIR]))

    # a DataFrame hint is one MLflow infers no schema from and does not validate against (the
    # signature is given explicitly when the model is logged); without hints it warns on import
    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        scores = self.bundle.predict_risk(frame)
        return pd.DataFrame({"risk_score": scores, "risk_band": self.bundle.band(scores)})
