"""The documentation site builds with `mkdocs build --strict` (a broken link, a missing anchor or
a stale generated table fails it), and the README stays a front page."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MKDOCS = [sys.executable, "-m", "mkdocs", "build", "--strict"]  # --quiet would hide warnings


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    env = {"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin", "HOME": str(site.parent),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}  # fmt: skip
    return subprocess.run([*MKDOCS, "-f", str(config), "-d", str(site)], cwd=config.parent,
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip


def test_the_site_builds_strictly(tmp_path):
    done = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "reference" / "config" / "index.html").is_file()


def test_a_stale_table_or_a_broken_link_fails_the_build(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", copy / "docs", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    page = copy / "docs" / "reference" / "config.md"
    page.write_text(page.read_text().replace("| `seed` |", "| `seeds` |"))
    guide = copy / "docs" / "how-to" / "own-data.md"
    guide.write_text(guide.read_text() + "\nSee [the serving guide](servin.md).\n")
    done = build(copy / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert "generated block 'fields train' is stale" in done.stdout + done.stderr
    assert "servin.md" in done.stdout + done.stderr


def test_the_readme_is_a_front_page():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move detail into docs/"
