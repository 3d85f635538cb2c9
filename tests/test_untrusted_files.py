"""Files from users are not trusted: a checkpoint whose unpickling would run code is refused in
one line by every loader a user can point at one (`model.init_encoder`, `strategy.init_from`,
`xlt-predict`, a resume's own checkpoint), and the code never runs. Every `torch.load` and
every Lightning checkpoint read in xlt's source asks for weights only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from tests.conftest import compose_train
from xlt.errors import ConfigError

SOURCE = Path(__file__).resolve().parents[1]


class Payload:
    """Unpickling this creates `marker`: a stand-in for any code a downloaded file could run."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def malicious_checkpoint(folder: Path) -> tuple[Path, Path]:
    marker = folder / "code_ran"
    path = folder / "checkpoints" / "best.ckpt"
    path.parent.mkdir(parents=True)
    torch.save({"state_dict": {"net.encoder.embeddings.word_embeddings.weight": Payload(marker)},
                "xlt_architecture": {}}, path)  # fmt: skip
    return path, marker


def test_the_payload_would_run_if_loaded_without_weights_only(tmp_path):
    path, marker = malicious_checkpoint(tmp_path)
    torch.load(path, weights_only=False)  # what a careless loader would do
    assert marker.exists()


def test_every_loader_refuses_a_checkpoint_that_would_run_code(tmp_path):
    from xlt.components import build, prepare
    from xlt.models.init_encoder import load_encoder_weights
    from xlt.predict import main as predict
    from xlt.training.checkpoint_files import resume_point
    from xlt.training.checkpoints import load_weights

    path, marker = malicious_checkpoint(tmp_path / "run")
    parts = prepare(build(compose_train(["model=tiny_random", "dataset.limit=8"], root=tmp_path)))
    with pytest.raises(ConfigError, match="not a loadable checkpoint"):
        load_encoder_weights(parts.net.encoder, path)
    with pytest.raises(ConfigError, match="not a loadable checkpoint"):
        load_weights(parts.net, path)
    with pytest.raises(Exception, match="Unsupported global|weights_only"):
        resume_point(path)
    (tmp_path / "run" / "config.yaml").write_text(
        OmegaConf.to_yaml(OmegaConf.structured(parts.config))
    )  # a run folder
    texts = tmp_path / "texts.txt"
    texts.write_text("hello\n")
    assert predict([str(path), str(texts)]) == 2
    assert not marker.exists()


def test_every_checkpoint_read_in_the_source_asks_for_weights_only():
    calls = []
    for file in [*SOURCE.glob("xlt/**/*.py"), *SOURCE.glob("xlt_serving/**/*.py")]:
        text = file.read_text()
        for match in re.finditer(r"torch\.load\(|ckpt_path=", text):
            call = text[match.start() : text.find("\n", match.start() + 200)]
            calls.append((file.name, "weights_only=True" in call))
    assert calls and all(ok for _, ok in calls), [name for name, ok in calls if not ok]
