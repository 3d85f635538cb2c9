"""Debian's gettext catalogues (/usr/share/locale/<locale>/LC_MESSAGES/*.mo, installed by apt,
coreutils, git, GTK and others): software messages with human translations into dozens of
languages, offline and neither HSK nor CC-CEDICT. xlt reads them as parallel text and
dictionaries (xlt/align/gettext_corpus.py) and as a labelled dataset
(xlt/data/sources/gettext_domains.py), for any language whose script it can test."""

from __future__ import annotations

import gettext
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

CATALOGUES = Path("/usr/share/locale")
# A language's locale folder where it is not the language code itself.
LOCALES = {"zh": "zh_CN", "pt": "pt_BR", "zh-tw": "zh_TW", "zh_TW": "zh_TW"}
# Letters of a script (a translation must contain some; a one-word entry consists of them).
SCRIPTS = {
    "Han": "\u4e00-\u9fff",
    "Japanese": "\u3040-\u30ff\u4e00-\u9fff",  # kana and kanji
    "Hangul": "\uac00-\ud7af",
    "Cyrillic": "\u0400-\u04ff",
    "Greek": "\u0370-\u03ff",
    "Arabic": "\u0600-\u06ff",
    "Hebrew": "\u0590-\u05ff",
    "Devanagari": "\u0900-\u097f",
    "Bengali": "\u0980-\u09ff",
    "Thai": "\u0e00-\u0e7f",
    "Latin": "A-Za-z\u00c0-\u024f\u1e00-\u1eff",  # with diacritics (de, fr, pl, tr, vi)
}
SCRIPT_OF = {
    "zh": "Han",
    "zh_TW": "Han",
    "zh-tw": "Han",
    "ja": "Japanese",
    "ko": "Hangul",
    "ru": "Cyrillic",
    "uk": "Cyrillic",
    "bg": "Cyrillic",
    "sr": "Cyrillic",
    "be": "Cyrillic",
    "mk": "Cyrillic",
    "kk": "Cyrillic",
    "el": "Greek",
    "ar": "Arabic",
    "fa": "Arabic",
    "ur": "Arabic",
    "he": "Hebrew",
    "hi": "Devanagari",
    "mr": "Devanagari",
    "ne": "Devanagari",
    "bn": "Bengali",
    "th": "Thai",
}  # fmt: skip  (every other language: Latin)
# Scripts written without spaces: a word is a few characters, not a letter run.
UNSPACED = {"Han": 4, "Japanese": 6, "Thai": 12}
ENGLISH_WORD = re.compile(r"^[A-Za-z]{2,20}$")


def locale_of(lang: str, overrides: dict[str, str] | None = None) -> str:
    """The locale folder of a language code (`zh` -> `zh_CN`; `overrides` first)."""
    return (overrides or {}).get(lang) or LOCALES.get(lang, lang)


def script_of(lang: str) -> str:
    return SCRIPT_OF.get(lang, "Latin")


def catalogue_files(locale: str, root: Path = CATALOGUES) -> list[Path]:
    return sorted((Path(root) / locale / "LC_MESSAGES").glob("*.mo"))


def catalogues(locale: str = "zh_CN", root: Path = CATALOGUES) -> Iterator[tuple[str, dict]]:
    """(catalogue name, {English message: translation}) of every readable catalogue."""
    for path in catalogue_files(locale, root):
        try:
            with path.open("rb") as handle:
                catalog = gettext.GNUTranslations(handle)._catalog
        except (OSError, ValueError, UnicodeDecodeError):
            continue  # a catalogue in another encoding or format
        yield (
            path.stem,
            {
                source: target
                for source, target in catalog.items()
                if isinstance(source, str) and isinstance(target, str) and source and target
            },
        )  # fmt: skip  (plural forms: tuple keys)


def catalogue_entries(locale: str = "zh_CN", root: Path = CATALOGUES):
    """(English message, translation) of every readable catalogue, in file order."""
    for _, entries in catalogues(locale, root):
        yield from entries.items()


def is_sentence(en: str, translation: str, lang: str = "zh") -> bool:
    """A message of 4-12 words without format codes or line breaks, really translated: the
    translation differs from the English and has letters of the language's script."""
    letters = re.compile(f"[{SCRIPTS[script_of(lang)]}]")
    return (4 <= len(en.split()) <= 12 and "%" not in en
            and translation.strip() != en.strip() and bool(letters.search(translation))
            and not any(c in en + translation for c in "\n\t"))  # fmt: skip


def word_pairs(
    locale: str = "zh_CN", lang: str = "zh", root: Path = CATALOGUES
) -> list[tuple[str, str]]:
    """One-word messages (menu items, labels): lowercased English word and its one-word
    translation (accelerator marks and trailing colons removed); every distinct translation."""
    script = script_of(lang)
    run = f"{{1,{UNSPACED[script]}}}" if script in UNSPACED else "{2,24}"
    word = re.compile(f"^[{SCRIPTS[script]}]{run}$")
    pairs: Counter = Counter()
    for en, translated in catalogue_entries(locale, root):
        en = en.strip().replace("_", "").replace("&", "").rstrip(":.")
        translated = re.sub(r"[(（]_?[A-Za-z][)）]$", "", translated.strip().rstrip("：:。."))
        translated = translated.replace("_", "").replace("&", "")
        if script != "Han" and script != "Japanese":
            translated = translated.lower()
        if ENGLISH_WORD.match(en) and word.match(translated) and translated != en.lower():
            pairs[(en.lower(), translated)] += 1
    return sorted(pairs)


def installed_by(files: list[Path]) -> dict[str, str]:
    """Catalogue file -> "package version" from dpkg's records (empty where dpkg has none, e.g.
    a folder of the user's own catalogues): the data record names what was read."""
    info, status = Path("/var/lib/dpkg/info"), Path("/var/lib/dpkg/status")
    wanted = {str(Path(f).resolve()) for f in files}
    owners: dict[str, str] = {}
    for listing in sorted(info.glob("*.list")) if info.is_dir() else []:
        for line in listing.read_text(errors="replace").splitlines():
            if line in wanted:
                owners[line] = listing.stem.split(":")[0]
    versions = package_versions(status) if owners else {}
    return {path: f"{pkg} {versions.get(pkg, '?')}" for path, pkg in owners.items()}


def package_versions(status: Path) -> dict[str, str]:
    versions, package = {}, None
    for line in status.read_text(errors="replace").splitlines():
        if line.startswith("Package: "):
            package = line.removeprefix("Package: ").strip()
        elif line.startswith("Version: ") and package:
            versions[package] = line.removeprefix("Version: ").strip()
    return versions
