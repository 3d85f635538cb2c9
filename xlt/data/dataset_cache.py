"""A prepared TransferData on disk (Arrow splits + JSON extras), so later runs skip parsing and
building the source: keyed by the source's own fingerprint, written atomically."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

from datasets import load_from_disk

from xlt.data.transfer_data import TransferData

VERSION = 1


def cached_transfer_data(
    fingerprint: str, cache_dir: str | Path | None, build: Callable[[], TransferData]
) -> TransferData:
    if cache_dir is None:
        return build()
    folder = Path(cache_dir).expanduser() / "datasets" / f"{fingerprint}-v{VERSION}"
    if (folder / "extras.json").is_file():
        extras = json.loads((folder / "extras.json").read_text())
        splits = {name: load_from_disk(str(folder / name)) for name in extras.pop("split_names")}
        extras["lexicon"] = [tuple(entry) for entry in extras["lexicon"]]
        return TransferData(splits=splits, **extras)
    data = build()
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder.parent))
    try:
        for name, split in data.splits.items():
            split.save_to_disk(str(staging / name))
        extras = {f.name: getattr(data, f.name) for f in fields(data) if f.name != "splits"}
        extras["split_names"] = list(data.splits)
        (staging / "extras.json").write_text(json.dumps(extras, ensure_ascii=False))
        os.replace(staging, folder)
    except OSError:  # another process got there first, or the disk is full: use what we built
        pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return data
