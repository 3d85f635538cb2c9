"""`xlt-predict MODEL INPUT [OUTPUT]`: a trained model applied to a file of texts in any language.

MODEL: `models:/NAME@champion`, `models:/m-ID`, `runs:/ID/model`, a run id, a model folder or a
checkpoint. INPUT: JSONL, CSV, TSV, Parquet or plain text (one text per line); OUTPUT (default
INPUT's name + `.predictions`, same format) gets the input's id and the prediction per row.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from xlt.errors import XltError
from xlt.tracking.store import default_tracking_uri

PROGRESS_FROM = 512  # rows: shorter inputs get no progress bar


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="xlt-predict", description=__doc__)
    parser.add_argument("model", help="models:/NAME@champion, runs:/ID/model, a run id, a "
                        "model folder or a .ckpt file")  # fmt: skip
    parser.add_argument("input", type=Path, help="a .jsonl, .csv, .tsv, .parquet or .txt file")
    parser.add_argument("output", type=Path, nargs="?", help="where predictions go")
    parser.add_argument("--tracking-uri", default=default_tracking_uri())
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lang", help="the texts' language, where a model has language heads")
    parser.add_argument("--precision", choices=("run", "auto", "bf16", "fp32"), default="run",
                        help="run (default): as the run evaluated, so its test predictions are "
                        "reproduced (in bf16, up to rows on a tie that the batch's shape can "
                        "tip); auto: bf16 autocast where the CPU has bf16 units (AMX, "
                        "AVX512-BF16), fp32 elsewhere")  # fmt: skip
    parser.add_argument("--engine", choices=("torch", "onnx", "onnx_int8"), default=None,
                        help="what runs the encoder: torch, or onnxruntime in fp32 (onnx) or "
                        "with int8 matrix products (onnx_int8; fastest where the CPU has no bf16 "
                        "units, labels may move: docs/benchmarks.md); default: the model's own "
                        "(torch unless logged with logger.model_engine)")  # fmt: skip
    return parser.parse_args(argv)


def default_output(path: Path) -> Path:
    return path.with_name(f"{path.stem}.predictions{path.suffix}")


def predict_file(model, frame, args: argparse.Namespace, output: Path) -> int:
    """Predicts (batches sorted by length) and writes; returns the row count."""
    from rich.progress import Progress

    from xlt.data.table_files import write_rows

    if args.lang and "lang" not in frame.columns:
        frame["lang"] = args.lang
    model.check_columns(frame)
    if "id" not in frame.columns:
        frame.insert(0, "id", [str(i) for i in range(len(frame))])
    with Progress(transient=True, disable=len(frame) < PROGRESS_FROM) as bar:
        total = None if model.meta.task == "qa" else len(frame)  # QA counts context windows
        task = bar.add_task("predicting", total=total)
        out = model.predict(frame, batch_size=args.batch_size, precision=args.precision,
                            progress=lambda n: bar.advance(task, n))  # fmt: skip
    write_rows(out, output, lines=frame.attrs.get("lines"))
    return len(out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # torch and MLflow after the arguments: a wrong one is answered at once
    from xlt.tracking.trained_models import load_model
    from xlt_serving.runtime import MissingColumn

    output = args.output or default_output(args.input)
    try:
        from xlt.data.table_files import read_rows, table_format

        table_format(output)
        frame = read_rows(args.input)  # bad input fails before the model loads
        model = load_model(args.model, args.tracking_uri, args.engine)
        start = time.perf_counter()
        rows = predict_file(model, frame, args, output)
    except (XltError, MissingColumn) as err:
        print(f"xlt-predict: error: {err}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    print(f"{rows} predictions in {seconds:.1f} s ({rows / seconds:.0f} rows/s) -> {output}")
    if skipped := frame.attrs.get("empty_lines"):
        print(f"{skipped} empty line(s) left empty: predictions stay on their texts' lines "
              "(other formats: each prediction's id is its line number)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
