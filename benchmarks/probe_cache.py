"""The linear probe with cached features vs computing them in every pass: wall time of whole
4-epoch runs (me5_small, HSK topic, default settings: fit, dev every epoch, test), each in this
process through `xlt.pipeline.run` against its own MLflow store: without the cache, with an
empty cache (first run) and reading the cache the first run left (rerun). Test accuracy must
agree (the same batches; features differ only by float rounding).

    .venv/bin/python benchmarks/probe_cache.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from common import table, timed_pipeline_run


def timed_run(root: Path, *overrides: str) -> tuple[float, dict]:
    return timed_pipeline_run(root, "strategy=linear_probe", *overrides)


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="xlt-probe-bench-"))
    cache = f"strategy.cache_dir={root}/features"
    timed_run(root, "strategy.cache_features=false", "trainer.max_steps=1")  # warm the caches
    live, live_test = timed_run(root, "strategy.cache_features=false")
    first, first_test = timed_run(root, cache)
    rerun, rerun_test = timed_run(root, cache)
    rows = [("features in every pass", live, live_test), ("cached, first run", first, first_test),
            ("cached, rerun", rerun, rerun_test)]  # fmt: skip
    table([{"linear probe, 4 epochs": name, "wall s": round(s, 1),
            "speed-up": f"{live / s:.2f}x", "EN test acc": round(t["test/acc/en"], 4),
            "ZH test acc": round(t["test/acc/zh"], 4)} for name, s, t in rows],
          "Linear probe: features cached vs computed in every pass (whole runs)")  # fmt: skip


if __name__ == "__main__":
    main()
