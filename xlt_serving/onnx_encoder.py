"""The encoder's transformer layers as an ONNX graph run by onnxruntime, optionally with
onnxruntime's dynamic int8 quantisation of its matrix products.

The graph takes the word embeddings (looked up in torch, from the same table) and the attention
mask, and returns the last hidden states: the 96 M-row embedding table of a multilingual
encoder stays out of the ONNX file, which then holds only the transformer weights. Pooling and
heads stay in torch, so every task reads the hidden states as before.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn


class _FromEmbeddings(nn.Module):
    """encoder(inputs_embeds, attention_mask) -> last_hidden_state, for export."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.encoder(inputs_embeds=inputs_embeds, attention_mask=attention_mask)
        return out.last_hidden_state


def export_onnx(encoder: nn.Module, path: Path, int8: bool) -> Path:
    """Write the encoder (fp32) to `path`; with `int8`, its dynamically quantised copy (int8
    weights per output channel, activations quantised per batch)."""
    hidden = encoder.config.hidden_size
    example = (torch.randn(2, 7, hidden), torch.ones(2, 7, dtype=torch.long))
    fp32_path = path.with_suffix(".fp32.onnx") if int8 else path
    with warnings.catch_warnings():  # the TorchScript exporter: no onnxscript, 3 s for BERT
        warnings.simplefilter("ignore")
        _export(encoder, example, fp32_path)
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # per output channel: on HSK topic it kept 93% of labels, per tensor 90%
        quantize_dynamic(str(fp32_path), str(path), weight_type=QuantType.QInt8, per_channel=True)
        fp32_path.unlink()
    return path


def _export(encoder: nn.Module, example: tuple, path: Path) -> None:
    torch.onnx.export(
        _FromEmbeddings(encoder).eval(), example, str(path), dynamo=False,
        input_names=["inputs_embeds", "attention_mask"], output_names=["last_hidden_state"],
        dynamic_axes={"inputs_embeds": {0: "batch", 1: "tokens"},
                      "attention_mask": {0: "batch", 1: "tokens"},
                      "last_hidden_state": {0: "batch", 1: "tokens"}},
        opset_version=17,
    )  # fmt: skip


class OnnxEncoder:
    """Called like the torch encoder (input_ids, attention_mask) -> .last_hidden_state."""

    def __init__(self, path: Path, word_embeddings: nn.Embedding, threads: int | None = None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self.word_embeddings = word_embeddings

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        embeds = self.word_embeddings(input_ids).float().numpy()
        (hidden,) = self.session.run(
            None, {"inputs_embeds": embeds, "attention_mask": attention_mask.numpy()}
        )
        return SimpleNamespace(last_hidden_state=torch.from_numpy(np.asarray(hidden)))
