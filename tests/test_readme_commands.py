"""Every `xlt-train` and `xlt-align` command line in the bash blocks of the README and docs/
composes: a renamed key or a missing `+` (as the MUSE recipe's `logger.tags.reference_model=`
once had) fails here, not on a reader's machine. Composition only (in-process, no run): placeholders
such as RUN_ID or a user's file names are checked where they are read, by other tests."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser

from tests.conftest import compose_train
from xlt.config.validate import check_required

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
ALIGN_CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "conf" / "align")
FLAGS = {"-m", "--multirun", "--cfg", "job"}


def readme_commands() -> list[tuple[str, list[str]]]:
    """(program, arguments) of each command line in the bash blocks of the README and docs/."""
    commands = []
    blocks = [b for page in PAGES for b in re.findall(r"```bash\n(.*?)```", page.read_text(), re.S)]
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)  # as the shell reads it (quotes)
            found = (
                re.fullmatch(r"(?:\.venv/bin/)?(xlt-train|xlt-align)", words[0]) if words else None
            )
            if found:
                commands.append((found.group(1), [w for w in words[1:] if w not in FLAGS]))
    return commands


def first_of_each_sweep(arguments: list[str]) -> list[str]:
    """A sweep override (`a=x,y`) as its first value: compose takes one job's overrides."""
    out = []
    for override in OverridesParser.create().parse_overrides(arguments):
        if override.is_sweep_override():
            value = next(iter(override.sweep_string_iterator()))
        else:
            value = override.get_value_element_as_str()
        out.append(f"{override.get_key_element()}={value}")
    return out


COMMANDS = readme_commands()


def test_the_readme_has_commands_to_check():
    programs = {program for program, _ in COMMANDS}
    assert programs == {"xlt-train", "xlt-align"} and len(COMMANDS) >= 20


@pytest.mark.parametrize(
    ("program", "arguments"), COMMANDS, ids=[" ".join(a)[:60] for _, a in COMMANDS]
)
def test_each_readme_command_composes(program, arguments, tmp_path):
    overrides = first_of_each_sweep(arguments)
    if program == "xlt-train":
        check_required(compose_train(overrides, root=tmp_path))
        return
    with initialize_config_dir(config_dir=ALIGN_CONFIG_DIR, version_base="1.3"):
        compose(config_name="align", overrides=overrides, return_hydra_config=True)
