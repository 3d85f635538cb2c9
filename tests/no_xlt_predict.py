"""Loads an MLflow model and predicts where xlt cannot be imported (run by the tests as
`python -S tests/no_xlt_predict.py SITE_PACKAGES URI INPUT.jsonl OUTPUT.jsonl`).

`-S` skips site-packages' .pth files, so xlt's editable install is not on the path; the
site-packages folder is added back by hand and xlt, Lightning and Hydra imports are refused.
"""

import sys

sys.path.append(sys.argv[1])
BLOCKED = ("xlt", "lightning", "pytorch_lightning", "hydra", "omegaconf")


class RefuseImports:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked: the model must load without it")
        return None


sys.meta_path.insert(0, RefuseImports())

import mlflow.pyfunc  # noqa: E402
import pandas as pd  # noqa: E402

model = mlflow.pyfunc.load_model(sys.argv[2])
frame = pd.read_json(sys.argv[3], lines=True, dtype={"id": str})
model.predict(frame).to_json(sys.argv[4], orient="records", lines=True, force_ascii=False)
loaded = sorted(name for name in sys.modules if name.split(".")[0] in ("xlt", "xlt_serving"))
serving = sys.modules["xlt_serving"].__file__
print(f"xlt_serving from {serving}; modules {loaded}")
