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
        """`params`: `lang`, the texts' language (it picks the head where a model has one per
        language; MLflow passes only the signature's columns, so it is a request parameter, not
        a column), and `batch_size`."""
        params = params or {}
        frame = pd.DataFrame(model_input)
        if params.get("lang"):
            frame["lang"] = params["lang"]
        return self.model.predict(frame, batch_size=int(params.get("batch_size") or 32))


mlflow.models.set_model(XltTextModel())
