"""What an alignment task reads of xlt-align's config, as typed values: the entry point
(xlt/align/cli.py::align_job) makes it, the tasks never see the composed config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xlt.config.schema import DatasetConfig, ModelConfig


@dataclass(frozen=True)
class AlignJob:
    encoder: ModelConfig  # the (multilingual) encoder under study
    source_encoder: ModelConfig  # task=bli: the source language's word-vector space
    dataset: DatasetConfig  # parallel sentences (its TRAIN pairs train)
    output_dir: Path  # this job's folder (plots, aligned encoders, exported vectors)
    cache_dir: str  # converted models and cached word vectors
    seed: int
