"""Many languages at once, offline (issue 33): gettext_domains with four targets in four
scripts (Han, Japanese, Cyrillic, Latin) through every strategy, code-switching into three
languages, translate-test with each language's gettext dictionary, and retrieval over all of
them; the loader on a catalogue folder the test writes (a language xlt ships nothing for)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.gettext_fixtures import write_catalogues
from tests.golden import run_in_process
from xlt.config.options import group_options
from xlt.data.sources.gettext_catalogues import SCRIPTS, script_of
from xlt.data.sources.gettext_domains import load_gettext_domains
from xlt.errors import DataError

TARGETS = ["zh", "ja", "ru", "de"]
MANY = ["experiment=smoke", "dataset=gettext_domains",
        f"dataset.target_langs=[{','.join(TARGETS)}]", "dataset.loader.domains=4",
        "dataset.loader.per_domain=40", "dataset.limit=16",
        "trainer.max_steps=2", "dataset.eval_batch_size=256", "torch_threads=1"]  # fmt: skip
EXTRA = {"freeze_lower": ["strategy.freeze_layers=1"],
         "few_shot": ["strategy.k=1", "strategy.target_epochs=1"],
         "sequential": ["strategy.k=1"], "madx": ["strategy.mlm.steps=2"]}  # fmt: skip


def four_languages():
    """The real catalogues (outside CI a machine without them skips; in CI it fails)."""
    try:
        return load_gettext_domains(domains=4, per_domain=40, targets=TARGETS)
    except DataError as err:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(err))


def test_every_message_is_in_every_language_in_one_split_in_its_own_script():
    data = four_languages()
    assert set(data.languages) == {"en", *TARGETS}
    seen: dict[str, str] = {}
    for split, rows in data.splits.items():
        ids = {lang: [i for i, x in zip(rows["id"], rows["lang"], strict=True) if x == lang]
               for lang in data.languages}  # fmt: skip
        assert all(found == ids["en"] for found in ids.values())  # each message in all five
        assert not any(seen.get(i, split) != split for i in ids["en"])  # and in one split
        seen |= dict.fromkeys(ids["en"], split)
        for text, lang in zip(rows["text"], rows["lang"], strict=True):
            if lang != "en":
                assert re.search(f"[{SCRIPTS[script_of(lang)]}]", text), (lang, text)
    lexicon_langs = {lang for _, lang, _, _ in data.lexicon}
    assert lexicon_langs == set(TARGETS)  # a one-word dictionary per language
    assert data.info["packages"] or not os.environ.get("CI")  # dpkg names what was read


def test_a_language_with_too_few_messages_is_refused_with_its_count():
    four_languages()
    with pytest.raises(DataError, match=r"\(\w+\) has \d+ such catalogues alone, \d+ with"):
        load_gettext_domains(domains=8, per_domain=400, targets=TARGETS)


def test_your_own_catalogues_in_a_language_xlt_ships_nothing_for(tmp_path):
    """Swedish and Russian catalogues written here: read through `root`; one changed
    translation is other data (another fingerprint)."""
    words = {"Open": ("Öppna", "Открыть"), "Close": ("Stäng", "Закрыть")}

    def catalogues(changed: str = ""):
        out = {"sv": {}, "ru": {}}
        for name in ("alpha", "beta"):
            for locale, column in (("sv", 0), ("ru", 1)):
                messages = {f"Could not read the {name} file number {i}":
                            (f"Kunde inte läsa {name} filen nummer {i}{changed}",
                             f"Не удалось прочитать файл {name} номер {i}")[column]
                            for i in range(12)}  # fmt: skip
                messages |= {en: pair[column] for en, pair in words.items()}
                out[locale][name] = messages
        return out

    first = load_gettext_domains(
        domains=2,
        per_domain=10,
        targets=["sv", "ru"],
        root=str(write_catalogues(tmp_path / "a", catalogues())),
    )
    assert set(first.languages) == {"en", "sv", "ru"} and first.label_names == ["alpha", "beta"]
    assert ("öppna", "sv", "open", "en") in first.lexicon
    assert ("открыть", "ru", "open", "en") in first.lexicon
    other = load_gettext_domains(
        domains=2,
        per_domain=10,
        targets=["sv", "ru"],
        root=str(write_catalogues(tmp_path / "b", catalogues("!"))),
    )
    assert other.fingerprint != first.fingerprint


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    return tmp_path_factory.mktemp("many")  # one store: `sequential` starts from zero_shot's run


@pytest.mark.parametrize("strategy", sorted(group_options("strategy"), key="zero_shot".__ne__))
def test_every_strategy_transfers_to_four_languages_in_four_scripts(
    strategy, store_root, token_cache
):
    four_languages()
    overrides = [*MANY, f"strategy={strategy}", *EXTRA.get(strategy, [])]
    results, _ = run_in_process(overrides, store_root, token_cache, strategy)
    assert {f"test/acc/{lang}" for lang in TARGETS} <= set(results["test"])


def test_the_report_draws_languages_x_configurations_and_the_typology_table(
    store_root, token_cache
):
    """Over the strategy runs above (two of its own when run alone): the heatmap, and each
    target's gap beside its URIEL distances with rank correlations (4 targets known to URIEL)."""
    import mlflow

    from tests.conftest import compose_train
    from xlt.reporting.collect import fetch_runs
    from xlt.reporting.report import build_report

    four_languages()
    client = mlflow.MlflowClient(compose_train(MANY, root=store_root).logger.tracking_uri)
    collected = fetch_runs(client, filter_string="tags.dataset = 'gettext_domains'")
    if collected.runs.empty:
        for strategy in ("zero_shot", "linear_probe"):
            run_in_process([*MANY, f"strategy={strategy}"], store_root, token_cache, strategy)
        collected = fetch_runs(client, filter_string="tags.dataset = 'gettext_domains'")
    files = build_report(client, collected, store_root / "report")
    assert files["languages"].stat().st_size > 5000  # by_language_heatmap.png
    text = files["typology"].read_text()
    assert all(f"| {lang} " in text for lang in TARGETS) and "Not in URIEL" not in text
    assert "- syntactic: " in text and "- geographic: " in text


def test_languages_unknown_to_uriel_are_listed_not_dropped():
    from xlt.reporting.typology import distances

    found, unknown = distances("en", ["de", "qqq"])
    assert list(found.index) == ["de"] and unknown == ["qqq"]
    assert 0 < found.loc["de", "syntactic"] < found.loc["de", "genetic"] <= 1


def test_uriel_loads_where_xlt_report_runs_from():
    """lang2vec also installs a `lang2vec.py` script into the environment's bin folder, first on
    sys.path for a console script such as `.venv/bin/xlt-report`; it used to shadow the package
    there (a FileNotFoundError from the script), so the sweep report lost its typology table."""
    import subprocess
    import sys

    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from xlt.reporting.typology import uriel_vectors; "
            "print(sorted(uriel_vectors(('en', 'de'), 'syntax_knn')))")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code, str(Path(sys.executable).parent)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0 and "['de', 'en']" in proc.stdout, proc.stderr[-2000:]


def test_the_typology_table_never_averages_protocols_together():
    import pandas as pd

    from xlt.reporting.typology import typology_table

    scores = {"acc en": 0.8, "acc de": 0.7, "acc ru": 0.6, "acc avg_target": 0.65}
    worse_ru = {k: v - 0.3 * (k == "acc ru") for k, v in scores.items()}
    rows = [{"configuration": "a", "protocol": "zero-shot", **scores},
            {"configuration": "b", "protocol": "translate-train", **worse_ru}]  # fmt: skip
    summary = pd.DataFrame(rows)
    text, table = typology_table(summary, "acc", "en")
    assert "## zero-shot" in text and "## translate-train" in text
    gaps = table.set_index("protocol", append=True)["transfer gap"]
    assert gaps[("ru", "zero-shot")] == pytest.approx(0.2)
    assert gaps[("ru", "translate-train")] == pytest.approx(0.5)


def run_metrics(tmp_path, overrides: list[str], token_cache) -> dict[str, float]:
    import mlflow

    from tests.conftest import compose_train

    results, _ = run_in_process(overrides, tmp_path, token_cache, "run")
    client = mlflow.MlflowClient(compose_train(overrides, root=tmp_path).logger.tracking_uri)
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    return run.data.metrics | results["test"]


def test_code_switching_into_three_languages_with_their_own_dictionaries(tmp_path, token_cache):
    four_languages()
    metrics = run_metrics(tmp_path, [*MANY, "augmentation=code_switch",
                                     "augmentation.languages=[zh,ja,ru]"], token_cache)  # fmt: skip
    assert metrics["augment/switch_rate"] > 0 and metrics["augment/n_switched_words"] > 0


def test_translate_test_with_each_languages_dictionary(tmp_path, token_cache):
    four_languages()
    metrics = run_metrics(tmp_path, [*MANY, "evaluation.translate_test=true"], token_cache)
    for lang in TARGETS:
        assert f"test/acc/{lang}.translate_test" in metrics
        assert metrics[f"translate_test/untranslated/test/{lang}"] < 16  # some words found


def test_retrieval_over_four_languages_with_their_average(tmp_path):
    """XTREME's retrieval column offline: each language's messages against English (gold
    alignment by message), P@1 per language and averaged."""
    from tests.test_align_tasks import compose_align
    from xlt.align.cli import run

    four_languages()
    cfg = compose_align(["task=bitext", "model@encoder=tiny_random", "dataset=gettext_domains",
                         f"dataset.target_langs=[{','.join(TARGETS)}]", "dataset.limit=30",
                         "dataset.loader.domains=4", "dataset.loader.per_domain=40",
                         "task.scorings=[cosine]"], tmp_path)  # fmt: skip
    metrics = run(cfg)
    per_language = [metrics[f"bitext/en-{lang}/cosine/p1_fwd"] for lang in TARGETS]
    assert metrics["bitext/en-avg/cosine/p1_fwd"] == pytest.approx(sum(per_language) / 4)


SV = ["filmen var bra", "en dålig film", "fantastiskt skådespeleri", "tråkig historia",
      "jag älskade den", "jag hatade den", "en fin dag", "en hemsk dag"]  # fmt: skip
EN_SV = "film film\ngood bra\nbad dålig\ngreat fantastiskt\nboring tråkig\nstory historia\n" \
        "loved älskade\nhated hatade\nday dag\nfine fin\nawful hemsk\n"  # fmt: skip


def en_sv_run(folder: Path, dictionary: Path) -> list[str]:
    """A user's EN/SV corpus (xlt ships nothing for Swedish) and their MUSE-format dictionary."""
    from tests.test_ledger import EN, corpus_files

    return [*corpus_files(folder, {"en": EN, "sv": SV}), "dataset.target_langs=[sv]",
            "trainer.max_steps=2", "trainer.enable_progress_bar=false",
            f"+augmentation.translator.dictionaries.sv={dictionary}"]  # fmt: skip


def test_your_own_dictionary_for_a_pair_xlt_ships_nothing_for(tmp_path, token_cache):
    """EN-SV in MUSE's format: code-switching and translate-test use it with no code change;
    a malformed line is refused naming the file and the line."""
    dictionary = tmp_path / "en-sv.txt"
    dictionary.write_text(EN_SV, encoding="utf-8")
    overrides = en_sv_run(tmp_path / "data", dictionary)
    switched = run_metrics(tmp_path / "a", [*overrides, "augmentation=code_switch"], token_cache)
    assert switched["augment/switch_rate"] > 0
    translate_test = [o.replace("augmentation.translator", "evaluation.translator")
                      for o in overrides] + ["evaluation.translate_test=true"]  # fmt: skip
    tested = run_metrics(tmp_path / "b", translate_test, token_cache)
    assert tested["translate_test/untranslated/test/sv"] < 8
    dictionary.write_text(EN_SV + "one two three\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{dictionary} line 12: expected 'source target'"):
        run_metrics(tmp_path / "c", [*overrides, "augmentation=code_switch"], token_cache)


def test_bli_with_a_gettext_dictionary_for_another_language(tmp_path):
    """task=bli for EN-RU from the Russian catalogues' one-word messages (split by source
    word), with the induced table written for the translator."""
    from tests.test_align_tasks import compose_align
    from xlt.align.cli import run

    four_languages()
    cfg = compose_align(["task=bli", "model@source_encoder=tiny_random",
                         "model@encoder=tiny_random", "task.target_lang=ru",
                         "task.dictionary.gettext=true", "task.test_words=50",
                         "task.methods=[identity,procrustes]", "task.vocabulary.source=null",
                         "task.vocabulary.target=null"], tmp_path)  # fmt: skip
    metrics = run(cfg)
    assert 0 <= metrics["bli/procrustes/csls/p1"] <= 1
    assert (tmp_path / "run" / "alignment" / "induced-en-ru.txt").stat().st_size > 0


SOFTWARE_EN = [
    "open the file",
    "save the file",
    "close the window",
    "delete the folder",
    "print the page",
    "copy the text",
    "cancel the search",
    "rename the image",
]
SOFTWARE_DE = ["öffne die Datei", "speichere die Datei", "schließe das Fenster",
               "lösche den Ordner", "drucke die Seite", "kopiere den Text",
               "breche die Suche ab", "benenne das Bild um"]  # fmt: skip


def access_details(run_dir: Path) -> list[str]:
    import json

    reads = json.loads((run_dir / "data_access.json").read_text())["reads"]
    return [entry["detail"] for entry in reads]


def test_align_induce_then_code_switch_with_no_dictionary_for_the_pair(tmp_path, token_cache):
    """The dictionary-free pipeline: an xlt-align task=bli run induces an EN-DE table, and
    code-switching on a user's corpus without a word list reads it by the run's id (then the
    German catalogues' own one-word messages by name); the data-access record names each.
    A run that induced nothing, or another pair, is refused in one line."""
    import mlflow

    from tests.test_align_tasks import compose_align
    from tests.test_ledger import corpus_files
    from xlt.align.cli import run
    from xlt.errors import ConfigError

    four_languages()
    cfg = compose_align(["task=bli", "model@source_encoder=tiny_random",
                         "model@encoder=tiny_random", "task.target_lang=de",
                         "task.dictionary.gettext=true", "task.test_words=50",
                         "task.methods=[identity,procrustes]", "task.vocabulary.source=null",
                         "task.vocabulary.target=null"], tmp_path / "align")  # fmt: skip
    run(cfg)
    store = cfg.logger.tracking_uri  # the translator looks the run id up there
    client = mlflow.MlflowClient(store)
    (bli,) = client.search_runs([client.get_experiment_by_name("xlt-align").experiment_id])
    corpus = [*corpus_files(tmp_path / "data", {"en": SOFTWARE_EN, "de": SOFTWARE_DE}),
              "dataset.target_langs=[de]", "trainer.max_steps=2", "augmentation=code_switch",
              f"augmentation.translator.tracking_uri={store}",
              "trainer.enable_progress_bar=false"]  # fmt: skip
    for name, spec, named in (("induced", bli.info.run_id, f"bli run {bli.info.run_id}"),
                              ("gettext", "gettext", "gettext de@")):  # fmt: skip
        overrides = [*corpus, f"+augmentation.translator.dictionaries.de={spec}"]
        metrics = run_metrics(tmp_path / name, overrides, token_cache)
        assert metrics["augment/switch_rate"] > 0, name
        details = access_details(tmp_path / name / "runs" / "run")
        (detail,) = [d for d in details if "code_switch" in d]
        assert named in detail, detail
    missing = "+augmentation.translator.dictionaries.de=" + "0" * 32
    with pytest.raises(ConfigError, match="dictionaries.de=0{32}: no such run in sqlite"):
        run_metrics(tmp_path / "missing", [*corpus, missing], token_cache)
    wrong_pair = f"+augmentation.translator.dictionaries.fr={bli.info.run_id}"
    with pytest.raises(ConfigError, match="induced en-de, not fr"):
        run_metrics(tmp_path / "wrong", [*corpus, wrong_pair], token_cache)


def test_multilingual_alignment_through_english(tmp_path):
    """MUSE's multilingual setting over three catalogue languages in two scripts: a table of
    languages x methods, and translation between the three non-English pairs through English."""
    from tests.test_align_tasks import compose_align
    from xlt.align.cli import run

    four_languages()
    cfg = compose_align(["task=bli_multilingual", "model@encoder=tiny_random",
                         "task.langs=[de,ru,ja]", "task.test_words=60", "task.extra_words=0",
                         "task.methods=[identity,procrustes,procrustes+refine]",
                         "task.refinement.iterations=1"], tmp_path)  # fmt: skip
    metrics = run(cfg)
    for pair in ("de-ru", "de-ja", "ru-ja"):
        for method in ("identity", "procrustes", "procrustes_refine"):
            assert 0 <= metrics[f"pivot/{pair}/{method}/csls/p1"] <= 1
    for lang in ("de", "ru", "ja"):
        assert 0 <= metrics[f"bli/{lang}-en/procrustes/csls/p1"] <= 1
    assert (tmp_path / "run" / "bli_pivot.md").read_text().count("|") > 10
