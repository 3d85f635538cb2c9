"""The MLflow pyfunc model of a trained xlt model ("models from code": MLflow runs this file
when it loads the model; `xlt_serving` travels with the model as its code path)."""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class XltTextModel(PythonModel):
    """`predict(DataFrame)`: one row per input row (labels and probabilities, tags, or answers)."""

    def load_context(self, context) -> None:
        from xlt_serving.runtime import TextModel

        self.model = TextModel(context.artifacts["bundle"])

    def predict(
        self, context, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        batch_size = int((params or {}).get("batch_size", 32))
        return self.model.predict(pd.DataFrame(model_input), batch_size=batch_size)


mlflow.models.set_model(XltTextModel())
