"""Sentence and static word vectors from any encoder config, from any layer.

Batches are sorted by length (little padding); word vectors average the word's own subwords
(prefix and special tokens left out) and are cached on disk, keyed by model, layer and words.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from xlt.config.schema import Pooling
from xlt.models.encoder import EncoderBundle
from xlt.models.pooling import pool


@dataclass
class TextEncoder:
    bundle: EncoderBundle
    prefix: str = ""
    max_length: int = 128
    pooling: Pooling = Pooling.mean
    batch_size: int = 128

    @property
    def num_layers(self) -> int:
        return int(self.bundle.encoder.config.num_hidden_layers)

    def _batches(self, texts: list[str]):
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = self.bundle.tokenizer(
                [self.prefix + texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
                return_offsets_mapping=True,
            )
            yield rows, batch

    @torch.inference_mode()
    def _states(self, batch, layers: list[int] | None):
        encoder = self.bundle.encoder.eval()
        out = encoder(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            output_hidden_states=layers is not None,
        )
        return [out.last_hidden_state] if layers is None else [out.hidden_states[i] for i in layers]

    def sentences(self, texts: list[str], layers: list[int] | None = None) -> torch.Tensor:
        """[n, dim] from the last layer, or [len(layers), n, dim] (0 = the embeddings)."""
        n_out = 1 if layers is None else len(layers)
        out = torch.empty(n_out, len(texts), self.bundle.hidden_size)
        for rows, batch in self._batches(texts):
            for j, states in enumerate(self._states(batch, layers)):
                out[j, rows] = pool(states, batch["attention_mask"], self.pooling).float()
        return out[0] if layers is None else out

    def words(self, words: list[str], layer: int = -1) -> torch.Tensor:
        """[n, dim]: each word encoded alone, the mean of its own subword states at `layer`."""
        out = torch.empty(len(words), self.bundle.hidden_size)
        skip = len(self.prefix)
        for rows, batch in self._batches(words):
            (states,) = self._states(batch, [layer])
            offsets = batch["offset_mapping"]
            own = (offsets[..., 0] >= skip) & (offsets[..., 1] > offsets[..., 0])
            own &= batch["attention_mask"].bool()
            out[rows] = pool(states, own.long(), Pooling.mean).float()
        return out


def cached_word_vectors(
    encoder: TextEncoder, words: list[str], layer: int, cache_dir: str | Path, identity: str
) -> torch.Tensor:
    """`encoder.words` through a file cache; `identity` names the weights (model, checkpoint)."""
    key = json.dumps([identity, encoder.prefix, layer, encoder.max_length, words])
    path = (
        Path(cache_dir).expanduser()
        / "word_vectors"
        / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.pt"
    )
    if path.exists():
        return torch.load(path, weights_only=True)
    vectors = encoder.words(words, layer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(vectors, tmp)
    tmp.replace(path)
    return vectors
