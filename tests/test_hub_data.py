"""The hub loader on a dataset in the hub layout saved locally (`load_dataset` on a folder works
offline): memory-mapped rows, a fingerprint that follows the data, only the run's languages,
and a real run through `dataset=xnli dataset.loader.path=FOLDER`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from tests.test_cli_end_to_end import run_cli

LANGS = ("en", "de", "zh")


def hub_layout(root: Path, n_train: int = 96, n_eval: int = 31) -> Path:
    """XNLI's layout: a config per language; English alone has a train split."""
    rng = np.random.default_rng(0)
    words = np.array(["sun", "rain", "cat", "dog", "tree", "river", "stone", "bird"])
    readme = ["---", "configs:"]
    for lang in LANGS:
        readme.append(f"- config_name: {lang}\n  data_files:")
        for split in ("train", "validation", "test"):
            n = n_train if split == "train" else n_eval
            if split == "train" and lang != "en":
                continue
            rows = {"premise": [" ".join(rng.choice(words, 9)) for _ in range(n)],
                    "hypothesis": [" ".join(rng.choice(words, 4)) for _ in range(n)],
                    "label": rng.integers(0, 3, n)}  # fmt: skip
            (root / lang).mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.table(rows), root / lang / f"{split}.parquet")
            readme.append(f"  - split: {split}\n    path: {lang}/{split}.parquet")
    (root / "README.md").write_text("\n".join([*readme, "---"]) + "\n")
    return root


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf")
    return tmp_path / "hf"


def load(folder: Path, languages=LANGS):
    from xlt.data.sources.hub_datasets import load_hub_classification

    return load_hub_classification(str(folder), list(languages), ["e", "n", "c"], "premise",
                                   "hypothesis")  # fmt: skip


def test_hub_rows_stay_in_memory_mapped_arrow_files(tmp_path, hf_cache):
    data = load(hub_layout(tmp_path / "xnli_like"))
    assert {s: len(ds) for s, ds in data.splits.items()} == {"train": 96, "dev": 93, "test": 93}
    assert data.languages_of("train") == ["en"] and data.languages == sorted(LANGS)
    for ds in data.splits.values():
        assert ds.cache_files and all(Path(f["filename"]).is_file() for f in ds.cache_files)
        assert ds.data.column("text").chunks  # read from the mapped file, not rebuilt
    original = pq.read_table(tmp_path / "xnli_like" / "de" / "test.parquet")
    de_test = data.subset("test", "de", purpose="evaluation")
    assert de_test["text"] == original.column("premise").to_pylist()
    assert de_test["text_pair"] == original.column("hypothesis").to_pylist()
    assert de_test["label"] == original.column("label").to_pylist()
    assert de_test["id"][:2] == ["test-0", "test-1"] and set(de_test["lang"]) == {"de"}


def test_the_fingerprint_follows_the_data(tmp_path, hf_cache):
    folder = hub_layout(tmp_path / "xnli_like")
    first, again = load(folder).fingerprint, load(folder).fingerprint
    assert first == again
    path = folder / "de" / "test.parquet"
    table = pq.read_table(path)
    labels = table.column("label").to_numpy().copy()
    labels[0] = (labels[0] + 1) % 3  # one label changed
    pq.write_table(table.set_column(2, "label", pa.array(labels)), path)
    edited = load(folder)
    assert edited.fingerprint != first
    assert edited.subset("test", "de", purpose="evaluation")["label"][0] == labels[0]  # not stale


def test_only_the_runs_languages_are_loaded(tmp_path, hf_cache):
    from tests.conftest import compose_train
    from xlt.components import build_data
    from xlt.errors import DataError

    folder = hub_layout(tmp_path / "xnli_like")
    cfg = compose_train(
        [
            "dataset=xnli",
            f"dataset.loader.path={folder}",
            "dataset.target_langs=[de]",
            "dataset.loader.languages=[en,de,zh]",
        ]
    )
    data, _, source, targets = build_data(cfg)
    assert data.languages == ["de", "en"] and (source, targets) == ("en", ["de"])
    cfg.dataset.target_langs = ["fr"]
    with pytest.raises(DataError, match=r"\['fr'\] not in the dataset 'xnli'"):
        build_data(cfg)


@pytest.mark.slow
def test_a_run_on_a_local_dataset_in_the_hub_layout(tmp_path, token_cache):
    folder = hub_layout(tmp_path / "xnli_like")
    proc = run_cli(["dataset=xnli", f"dataset.loader.path={folder}",
                    "dataset.loader.languages=[en,de,zh]", "model=tiny_random",
                    "trainer.max_epochs=1", "trainer.enable_progress_bar=false"],
                   tmp_path, token_cache)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/outputs/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("xlt-xnli").experiment_id])
    assert run.info.status == "FINISHED"
    assert {f"test/acc/{lang}" for lang in LANGS} <= set(run.data.metrics)
    assert run.data.tags["data_fingerprint"] == load(folder).fingerprint


TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def panx_layout(root: Path) -> Path:
    """google/xtreme's PAN-X configs (`PAN-X.{lang}`): tokens and tag ids, tag names declared."""
    rng = np.random.default_rng(1)
    names = "\n".join(f"          '{i}': {tag}" for i, tag in enumerate(TAGS))
    readme, info = ["---", "configs:"], ["dataset_info:"]
    for lang in ("en", "de"):
        config = f"PAN-X.{lang}"
        readme.append(f"- config_name: {config}\n  data_files:")
        info.append(f"- config_name: {config}\n  features:\n  - name: tokens\n    sequence: string"
                    f"\n  - name: ner_tags\n    sequence:\n      class_label:\n        names:\n"
                    f"{names}")  # fmt: skip
        for split, n in (("train", 40), ("validation", 13), ("test", 17)):
            lengths = rng.integers(3, 9, n)
            rows = {
                "tokens": [[f"{lang}{i}" for i in range(k)] for k in lengths],
                "ner_tags": [rng.integers(0, len(TAGS), k).tolist() for k in lengths],
            }
            (root / config).mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.table(rows), root / config / f"{split}.parquet")
            readme.append(f"  - split: {split}\n    path: {config}/{split}.parquet")
    (root / "README.md").write_text("\n".join([*readme, *info, "---"]) + "\n")
    return root


def answer(context: str) -> dict:
    start = context.index(" in ") + 4
    return {"text": [context[start:]], "answer_start": [start]}


def squad_layout(root: Path) -> Path:
    """SQuAD (`SQuAD`: train, validation) and XQuAD (`XQuAD.{lang}`: validation) configs."""
    readme = ["---", "configs:"]
    for config, splits in (("SQuAD", ("train", "validation")), ("XQuAD.de", ("validation",))):
        readme.append(f"- config_name: {config}\n  data_files:")
        for split in splits:
            contexts = [f"the {w} lives in town {i}" for i, w in enumerate(["cat", "dog"] * 6)]
            rows = {"id": [f"q{i}" for i in range(12)], "context": contexts,
                    "question": [f"where does the {c.split()[1]} live" for c in contexts],
                    "answers": [answer(c) for c in contexts]}  # fmt: skip
            (root / config).mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.table(rows), root / config / f"{split}.parquet")
            readme.append(f"  - split: {split}\n    path: {config}/{split}.parquet")
    (root / "README.md").write_text("\n".join([*readme, "---"]) + "\n")
    return root


def test_tagging_and_qa_hub_loaders_on_local_folders(tmp_path, hf_cache):
    from xlt.data.sources.hub_tasks import load_hub_qa, load_hub_tagging

    panx = load_hub_tagging(str(panx_layout(tmp_path / "xtreme")), "PAN-X.{lang}", ["en", "de"])
    assert panx.label_names == TAGS and panx.languages_of("train") == ["en"]
    original = pq.read_table(tmp_path / "xtreme" / "PAN-X.de" / "test.parquet")
    de = panx.subset("test", "de", purpose="evaluation")
    assert de["tokens"] == original.column("tokens").to_pylist()
    assert de["tags"] == original.column("ner_tags").to_pylist() and de["id"][0] == "de-test-0"
    folder = str(squad_layout(tmp_path / "squad"))
    qa = load_hub_qa(folder, "SQuAD", folder, "XQuAD.{lang}", ["de"], eval_split="validation")
    test = qa.subset("test", "de", purpose="evaluation")
    assert test["id"][:2] == ["de-q0", "de-q1"] and qa.splits["train"]["id"][0] == "train-q0"
    assert test["answers"][0] == {"text": ["town 0"], "answer_start": [17]}
    assert test[0]["context"][17:23] == "town 0"
