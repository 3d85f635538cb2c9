"""Task families on small data: QA windows and answers, tag alignment, official answer
normalisation, seqeval, strategy/task checks, the second HSK tasks, XTREME configs and the
reference table."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
import torch
from datasets import Dataset

from xlt.config.recipes import deviations, load_recipe, recipe_file, recipe_tags
from xlt.errors import ConfigError
from xlt.evaluation.qa_metrics import exact_match, f1, normalize_answer
from xlt.models.sources.random_init import byte_level_tokenizer
from xlt.reporting.reference import NOT_MEASURED, compare, load_references
from xlt.tasks import get_task
from xlt.tasks.tagging import IGNORE, TaggingScorer

REFERENCES = Path(__file__).resolve().parents[1] / "experiments" / "xtreme" / "references.csv"


def qa_examples() -> Dataset:
    context = "filler words here. " * 12 + "Marie Curie was born in Warsaw in 1867. " + "more. " * 8
    start = context.index("Warsaw")
    return Dataset.from_dict(
        {
            "id": ["q0"],
            "question": ["Where was Marie Curie born?"],
            "context": [context],
            "answers": [{"text": ["Warsaw"], "answer_start": [start]}],
            "lang": ["en"],
        }
    )


def test_qa_windows_cover_a_long_context_and_point_at_the_answer(tmp_path):
    task, tokenizer = get_task("qa", doc_stride=32), byte_level_tokenizer()
    examples = qa_examples()
    features = task.tokenize(examples, tokenizer, max_length=96, text_prefix="",
                             cache_dir=tmp_path, key=["t"], train=True)  # fmt: skip
    assert len(features) > 3  # one context, several overlapping windows
    assert all(len(ids) <= 96 for ids in features["input_ids"])
    context = examples[0]["context"]
    found = 0
    for f in features:
        if f["start_positions"] == 0:
            continue  # the answer is not inside this window
        start, end = f["offsets"][f["start_positions"]][0], f["offsets"][f["end_positions"]][1]
        assert context[start:end] == "Warsaw"
        found += 1
    assert found >= 1

    # Logits that point at the gold span give EM = F1 = 1 through the real post-processing.
    scorer = task.scorer([], features, examples)
    batch = task.collator(tokenizer)([dict(f) for f in features])
    logits = torch.full((*batch["input_ids"].shape, 2), -10.0)
    for row, f in enumerate(features):
        if f["start_positions"]:
            logits[row, f["start_positions"], 0] = logits[row, f["end_positions"], 1] = 10.0
    scorer.update(logits, batch)
    assert scorer.compute() == {"f1": 1.0, "em": 1.0}


def test_qa_windows_follow_xtreme_stride_and_query_length(tmp_path):
    """run_squad's semantics (XTREME's train_qa.sh): the question is cut to max_query_length
    tokens, and consecutive windows start doc_stride context tokens apart."""
    task, tokenizer = get_task("qa", doc_stride=40, max_query_length=16), byte_level_tokenizer()
    examples = qa_examples().map(lambda r: {"question": "In which of the cities " + r["question"]})
    features = task.tokenize(examples, tokenizer, max_length=96, text_prefix="",
                             cache_dir=tmp_path, key=["t"], train=False)  # fmt: skip
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    context_tokens = tokenizer(examples[0]["context"], add_special_tokens=False,
                               return_offsets_mapping=True)["offset_mapping"]  # fmt: skip
    token_at = {start: i for i, (start, _) in enumerate(context_tokens)}
    starts = []
    for f in features:
        outside = sum(1 for a, _ in f["offsets"] if a < 0)
        assert outside == 16 + specials  # the capped question and the special tokens
        starts.append(token_at[next(a for a, _ in f["offsets"] if a >= 0)])
    assert len(starts) > 3 and starts[0] == 0
    assert all(b - a == 40 for a, b in zip(starts, starts[1:], strict=False))
    last = features[-1]["offsets"]
    assert max(b for _, b in last) == len(examples[0]["context"])  # the windows reach the end


def test_long_sentences_split_into_scored_pieces_as_xtreme_preprocesses_panx(tmp_path):
    """`long_sentences=split`: no word is cut and scored as 'O'; every piece fits."""
    words = [f"word{i}" for i in range(60)]
    tags = [1 if i % 7 == 0 else 0 for i in range(60)]
    ds = Dataset.from_dict({"id": ["s"], "tokens": [words], "tags": [tags], "lang": ["en"]})
    tokenizer = byte_level_tokenizer()
    cut = get_task("tagging").tokenize(ds, tokenizer, max_length=64, text_prefix="",
                                       cache_dir=tmp_path, key=["t"], train=False)  # fmt: skip
    assert len(cut) == 1 and sum(t != IGNORE for t in cut[0]["labels"]) < 60
    split = get_task("tagging", long_sentences="split").tokenize(
        ds, tokenizer, max_length=64, text_prefix="", cache_dir=tmp_path, key=["t"], train=False
    )
    assert len(split) > 1 and all(len(ids) <= 64 for ids in split["input_ids"])
    assert [w for piece in split["tokens"] for w in piece] == words
    assert [t for piece in split["labels"] for t in piece if t != IGNORE] == tags
    assert split["id"] == [f"s~{k}" for k in range(len(split))]
    with pytest.raises(ConfigError, match="long_sentences='cut'"):
        get_task("tagging", long_sentences="cut")


def test_official_answer_normalisation():
    assert normalize_answer("The  Cat, sat!") == "cat sat"  # SQuAD v1.1
    assert exact_match("the Warsaw", "Warsaw.") == 1.0
    assert f1("in Warsaw Poland", "Warsaw") == pytest.approx(0.5)
    # MLQA: Spanish articles, Chinese mixed segmentation (a token per character)
    assert normalize_answer("La casa blanca", "es", "mlqa") == "casa blanca"
    assert normalize_answer("北京大学", "zh", "mlqa") == "北 京 大 学"
    assert f1("北京", "北京大学", "zh", "mlqa") == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert f1("北京", "北京大学", "zh", "squad") == 0.0  # without segmentation: one token each


def test_tags_sit_on_first_subwords_and_truncated_words_count_as_missed(tmp_path):
    task, tokenizer = get_task("tagging"), byte_level_tokenizer()
    ds = Dataset.from_dict({"id": ["0"], "tokens": [["Alice", "sees", "Paris"]],
                            "tags": [[1, 0, 3]], "lang": ["en"]})  # fmt: skip
    (row,) = task.tokenize(ds, tokenizer, max_length=64, text_prefix="query: ",
                           cache_dir=tmp_path, key=["t"], train=True)  # fmt: skip
    tagged = [t for t in row["labels"] if t != IGNORE]
    assert tagged == [1, 0, 3]  # one label per word; prefix, specials and continuations ignored
    assert row["labels"][0] == IGNORE and len(row["labels"]) == len(row["input_ids"])

    names = ["O", "B-PER", "I-PER", "B-LOC"]
    scorer = TaggingScorer(names)
    labels = torch.tensor([[IGNORE, 1, IGNORE, 0]])  # only 2 of 3 words survived truncation
    logits = torch.zeros(1, 4, 4)
    logits[0, 1, 1] = logits[0, 3, 0] = 5.0
    scorer.update(logits, {"labels": labels, "tags": [[1, 0, 3]], "row": torch.tensor([0])})
    scores = scorer.compute()
    assert scores["precision"] == 1.0 and scores["recall"] == 0.5  # Paris (B-LOC) was cut off


def test_strategies_and_augmentations_refuse_tasks_they_cannot_train(compose_cfg):
    from xlt.config.instantiate import instantiate_spec
    from xlt.config.validate import check_strategy_task

    tagging = get_task("tagging")
    cfg = compose_cfg("strategy=few_shot")
    with pytest.raises(ConfigError, match="few_shot.*not 'tagging'"):
        check_strategy_task(
            instantiate_spec(cfg.strategy, "strategy"),
            tagging,
            instantiate_spec(cfg.augmentation, "a"),
        )
    cfg = compose_cfg("augmentation=translate_train")
    with pytest.raises(ConfigError, match="augmentation=none"):
        check_strategy_task(
            instantiate_spec(cfg.strategy, "strategy"),
            tagging,
            instantiate_spec(cfg.augmentation, "a"),
        )
    with pytest.raises(ConfigError, match="not a task family"):
        get_task("summarization")


@pytest.mark.parametrize(("dataset", "n_labels"), [("hsk_level", 6), ("hsk_sentence_type", 3)])
def test_second_offline_hsk_tasks(compose_cfg, dataset, n_labels):
    from xlt.config.instantiate import instantiate_spec

    cfg = compose_cfg(f"dataset={dataset}")
    data = instantiate_spec(cfg.dataset.loader, "dataset.loader")
    assert cfg.dataset.name == dataset and len(data.label_names) == n_labels
    assert data.languages == ["en", "zh"]


def test_every_xtreme_experiment_follows_xtremes_scripts_field_by_field(compose_cfg):
    """experiments/xtreme/recipes.csv is XTREME's scripts as a table; every config matches its
    row (and a changed field is recorded as a deviation)."""
    folder = Path(__file__).resolve().parents[1] / "conf" / "experiment" / "xtreme"
    names = sorted(p.stem for p in folder.glob("*.yaml"))
    with recipe_file("xtreme").open() as handle:
        table = {(r["task"], r["model"]) for r in csv.DictReader(handle)}
    assert {tuple(n.split("_", 1)) for n in names} == table  # one config per recipe row
    for name in names:
        cfg = compose_cfg(f"experiment=xtreme/{name}")
        task, model = name.split("_", 1)
        assert cfg.model.name == model and cfg.logger.tags.reference_task == task
        assert cfg.strategy._target_.endswith("ZeroShot")
        row = load_recipe("xtreme", task, model)
        found = deviations(cfg, row)
        if task in ("xnli", "pawsx"):  # xlt's sequence head: the one recorded deviation
            assert found == [f"head=first_token+dropout+linear (recipe: {row['head']})"], name
        else:
            assert found == [], name
        assert recipe_tags(cfg)["recipe_deviations"] == ("; ".join(found) or "none")
        assert recipe_tags(cfg)["recipe_seed"].startswith(row["seed"])
    xnli = compose_cfg("experiment=xtreme/xnli_xlmr_large", "strategy.optimizer.lr=5e-6")
    assert xnli.strategy.optimizer.lr == 5e-6 and xnli.trainer.precision == "32-true"
    assert recipe_tags(xnli)["recipe_deviations"].startswith(
        "strategy.optimizer.lr=5e-06 (recipe: 3e-5); head="
    )
    qa = compose_cfg("experiment=xtreme/mlqa_mbert")
    assert qa.selection.value == "final" and qa.trainer.val_every_n_steps is None


def apply_head(words: str, states: torch.Tensor, layers: list) -> torch.Tensor:
    """recipes.csv's `head` words applied to last hidden states with `layers` (the dense and
    linear modules, in order), dropout off: what the words claim the head computes."""
    out, layers = states, iter(layers)
    for word in words.split("+"):
        if word == "first_token":
            out = out[:, 0]
        elif word in ("dense", "linear"):
            out = next(layers)(out)
        elif word == "tanh":
            out = torch.tanh(out)
    return out


def tiny_transformers_heads():
    """(recipe head words, a tiny transformers model of the class XTREME's scripts use, its
    head's dense/linear layers in order)."""
    from transformers import (
        BertConfig,
        BertForQuestionAnswering,
        BertForSequenceClassification,
        BertForTokenClassification,
        XLMRobertaConfig,
        XLMRobertaForSequenceClassification,
    )  # fmt: skip

    small = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
             "intermediate_size": 32, "vocab_size": 50, "num_labels": 3}  # fmt: skip
    bert = BertForSequenceClassification(BertConfig(**small))
    xlmr = XLMRobertaForSequenceClassification(XLMRobertaConfig(**small))
    tagger = BertForTokenClassification(BertConfig(**small))
    qa = BertForQuestionAnswering(BertConfig(**{**small, "num_labels": 2}))
    return [
        ("first_token+dense+tanh+dropout+linear", bert, bert.bert,
         [bert.bert.pooler.dense, bert.classifier]),
        ("first_token+dropout+dense+tanh+dropout+linear", xlmr, xlmr.roberta,
         [xlmr.classifier.dense, xlmr.classifier.out_proj]),
        ("tokens+dropout+linear", tagger, tagger.bert, [tagger.classifier]),
        ("tokens+linear", qa, qa.bert, [qa.qa_outputs]),
    ]  # fmt: skip


def test_recipe_heads_are_the_transformers_classes_heads_and_xlts_head_is_its_own(compose_cfg):
    """Each `head` of recipes.csv computes what the transformers class XTREME's scripts build
    computes (BERT's pretrained pooler, XLM-R's classification head); xlt's configured head
    words compute what xlt's built network computes."""
    with recipe_file("xtreme").open() as handle:
        claimed = {r["head"] for r in csv.DictReader(handle)}
    ids = torch.randint(5, 50, (2, 7))
    checked = set()
    for words, model, encoder, layers in tiny_transformers_heads():
        model.eval()
        with torch.no_grad():
            states = encoder(input_ids=ids).last_hidden_state
            out = model(input_ids=ids)
            logits = (torch.stack([out.start_logits, out.end_logits], -1)
                      if words == "tokens+linear" else out.logits)  # fmt: skip
            assert torch.allclose(apply_head(words, states, layers), logits, atol=1e-5), words
        checked.add(words)
    assert claimed <= checked
    from xlt.components import build as build_parts
    from xlt.components import prepare
    from xlt.config.recipes import configured_head

    cfg = compose_cfg("model=tiny_random", "model.pooling=cls", "dataset.limit=8")
    net = prepare(build_parts(cfg)).net.eval()
    with torch.no_grad():
        states = net.encoder(input_ids=ids).last_hidden_state
        expected = net(ids, torch.ones_like(ids), "en")
    assert configured_head(cfg) == "first_token+dropout+linear"
    assert torch.allclose(apply_head(configured_head(cfg), states, [net.head]), expected,
                          atol=1e-5)  # fmt: skip


def test_reference_file_holds_the_published_averages():
    refs = load_references(REFERENCES)
    avg = {(r.model, r.task, r.setting, r.metric): r.value
           for r in refs.itertuples() if r.language == "avg"}  # fmt: skip
    assert avg[("mbert", "xnli", "zero-shot", "acc")] == 65.4
    assert avg[("xlmr_large", "mlqa", "zero-shot+no-selection", "f1")] == 71.6  # final weights
    assert avg[("xlmr_large", "xnli", "translate-train-all", "acc")] == 83.6
    with REFERENCES.open() as handle:
        assert list(csv.DictReader(handle))[0].keys() >= {"paper", "table", "value"}


def test_reference_table_lines_runs_up_with_published_numbers():
    common = {"reference_task": "", "reference_model": "", "recipe": "", "protocol": "zero-shot",
              "test/macro_f1/en": 0.5}  # fmt: skip
    runs = pd.DataFrame(
        [
            {**common, "dataset": "xnli", "model": "mbert", "seed": s,
             "test/acc/en": en, "test/acc/zh": zh}
            for s, en, zh in [(0, 0.80, 0.66), (1, 0.82, 0.68)]
        ]
        + [{**common, "dataset": "hsk_topic", "model": "me5_small", "seed": 0,
            "test/acc/en": 0.57, "test/acc/zh": 0.57},
           # multilingual training is never compared with a zero-shot number
           {**common, "dataset": "xnli", "model": "mbert", "seed": 0, "protocol": "multilingual",
            "test/acc/en": 0.99, "test/acc/zh": 0.99},
           # XTREME's recipe is compared with XTREME's number (79.2), not XLM-R's (80.9)
           {**common, "dataset": "xnli", "model": "xlmr_large", "seed": 0, "recipe": "xtreme",
            "recipe_deviations": "none", "test/acc/en": 0.80, "test/acc/zh": 0.78},
           # ... and only when it followed XTREME's scripts
           {**common, "dataset": "xnli", "model": "xlmr_large", "seed": 1, "recipe": "xtreme",
            "recipe_deviations": "strategy.optimizer.lr=5e-06 (recipe: 3e-5)",
            "test/acc/en": 0.10, "test/acc/zh": 0.10}]
    )  # fmt: skip
    table = compare(runs, load_references(REFERENCES))
    multilingual = table[table.setting == "multilingual"]
    assert multilingual.published.item() == "-" and "'zero-shot'" in multilingual.source.item()
    xlmr = table[(table.model == "xlmr_large") & (table.task == "xnli")
                 & (table.setting == "zero-shot")].set_index("published")  # fmt: skip
    assert xlmr.loc["79.2"].measured == "79.0" and xlmr.loc["80.9"].measured == NOT_MEASURED
    (deviating,) = table[table.source.str.contains("recipe not followed")].source
    assert deviating == "xtreme's recipe not followed: strategy.optimizer.lr=5e-06 (recipe: 3e-5)"
    row = table[(table.task == "xnli") & (table.model == "mbert") & (table.language == "avg")
                & (table.setting == "zero-shot")]  # fmt: skip
    assert row.measured.item() == "74.0 ± 1.4" and row.delta.item() == "+8.6"
    en = table[(table.task == "xnli") & (table.model == "mbert") & (table.language == "en")]
    assert en.measured.item() == "81.0 ± 1.4" and en.published.item() == "80.8"
    others = table[(table.model == "xlmr_large") & (table.task != "xnli")]
    assert (others.measured == NOT_MEASURED).all()
    hsk = table[table.task == "hsk_topic"]
    assert hsk.measured.item() == "57.0" and hsk.published.item() == "-"


@pytest.mark.slow
def test_each_task_family_learns_its_fixture_through_the_cli(tmp_path, token_cache):
    import subprocess

    from mlflow import MlflowClient

    from tests.task_fixtures import write_task_files
    from tests.test_cli_end_to_end import XLT_TRAIN, run_cli

    common = ["model=tiny_random", "trainer.max_epochs=8", "strategy.optimizer.lr=1e-3",
              "trainer.enable_progress_bar=false"]  # fmt: skip
    floors = {"pairs": ("acc", 0.9), "tagging": ("f1", 0.5), "qa": ("f1", 0.4)}
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/outputs/mlflow.db")
    for kind, (metric, floor) in floors.items():
        overrides = write_task_files(tmp_path / "data", kind)
        proc = run_cli([*overrides, *common], tmp_path, token_cache)
        assert proc.returncode == 0, proc.stderr[-3000:]
        name = {"pairs": "local", "tagging": "local_tagging", "qa": "local_qa"}[kind]
        (run,) = client.search_runs([client.get_experiment_by_name(f"xlt-{name}").experiment_id])
        score = run.data.metrics[f"test/{metric}/en"]
        assert score >= floor, f"{kind}: test {metric} {score:.3f} < {floor}"  # it learnt
        assert run.data.tags["selection_metric"] == f"dev/{metric}/en"

    report = subprocess.run(
        [str(Path(XLT_TRAIN).with_name("xlt-report")), "--reference", str(REFERENCES),
         "--tracking-uri", f"sqlite:///{tmp_path}/outputs/mlflow.db", "--out", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr[-2000:]
    table = pd.read_csv(tmp_path / "r" / "reference.csv")
    assert set(table[table.published == "-"].task) == {"local", "local_tagging", "local_qa"}
    assert (table[table.published != "-"].measured == NOT_MEASURED).all()
    assert "not measured here" in report.stdout
