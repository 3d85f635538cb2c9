"""Sequential transfer (parameter initialisation): start from a previous run's checkpoint, named
by path, by MLflow run id, or as `latest:STRATEGY` (the newest finished run of that strategy
with the same dataset, model and seed), then fine-tune on k target examples per class or on
the source data of this run's dataset (another task: `load_head: false`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import torch

from xlt.config.bounds import Range
from xlt.config.retired import RENAMED, renamed
from xlt.data.training_data import TrainingData
from xlt.errors import ConfigError
from xlt.models.init_encoder import RUN_ID
from xlt.models.network import TransferNetwork
from xlt.strategies.base import RunContext, Stage, TransferStrategy
from xlt.strategies.few_shot import FewShot
from xlt.training.checkpoints import load_weights


class Sequential(FewShot):
    """Start from a previous run's checkpoint, then fine-tune on k target examples per class or on
    source data."""

    name = "sequential"

    def __init__(
        self,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable | None = None,
        init_from: str = "latest:zero_shot",
        train_on: str = "target_few_shot",
        k: Annotated[int, Range(ge=0)] = 8,
        load_head: bool = True,
        sample_seed: Annotated[int, Range(ge=0)] = 0,
    ) -> None:
        super().__init__(optimizer, scheduler, k=k, sample_seed=sample_seed)
        if train_on not in ("target_few_shot", "source"):
            raise ConfigError(f"strategy.train_on={train_on!r}: use target_few_shot or source")
        self.init_from, self.train_on, self.load_head = init_from, train_on, load_head
        # A path needs no store; a run id or latest:... is resolved by setup_run.
        spec = str(init_from)
        by_store = spec.startswith("latest:") or RUN_ID.match(spec)
        self.checkpoint: Path | None = None if by_store else Path(spec).expanduser()
        if train_on == "source":
            self.k = 0

    def setup_run(self, run: RunContext) -> dict[str, str]:
        """Resolve `init_from` once; a resumed run reuses the run it resolved to then."""
        client = run.client
        previous = client.get_run(run.run_id).data.tags if run.resumed and run.run_id else {}
        if "strategy.init_run" in previous:
            source = client.get_run(previous["strategy.init_run"])
            self.checkpoint = Path(source.data.tags["best_checkpoint"])
        elif str(self.init_from).startswith("latest:"):
            source = self.latest_run(run)
            self.checkpoint = Path(source.data.tags["best_checkpoint"])
        elif RUN_ID.match(str(self.init_from)):
            source = client.get_run(str(self.init_from))
            if "best_checkpoint" not in source.data.tags:
                raise ConfigError(
                    f"strategy.init_from: run {source.info.run_id} recorded no checkpoint"
                )
            self.checkpoint = Path(source.data.tags["best_checkpoint"])
        else:
            source = None
        tags = {"strategy.init_checkpoint": str(self.checkpoint)}
        return tags | ({"strategy.init_run": source.info.run_id} if source else {})

    def latest_run(self, run: RunContext):
        """The newest finished run of that strategy (or its old name) with the same data
        (fingerprint), model, seed and selection, that recorded a checkpoint."""
        spec = str(self.init_from)
        strategy = renamed("strategy", spec.removeprefix("latest:"))
        names = [strategy, *(old for old, new in RENAMED["strategy"].items() if new == strategy)]
        same = (f"tags.dataset = '{run.dataset}' and tags.model = '{run.model}' and "
                f"tags.seed = '{run.seed}' and tags.selection = '{run.selection}' and "
                "attributes.status = 'FINISHED'")  # fmt: skip
        if run.fingerprint:
            same += f" and tags.data_fingerprint = '{run.fingerprint}'"
        experiments = [e.experiment_id for e in run.client.search_experiments()]
        runs = [found for name in names for found in run.client.search_runs(
            experiments, f"tags.strategy = '{name}' and {same}", max_results=20)]  # fmt: skip
        runs = sorted((r for r in runs if "best_checkpoint" in r.data.tags),
                      key=lambda r: r.info.start_time, reverse=True)  # fmt: skip
        if not runs:
            raise ConfigError(
                f"strategy.init_from={spec!r}: no finished {strategy!r} run with dataset "
                f"{run.dataset} (same data), model {run.model}, seed {run.seed}, "
                f"selection {run.selection} and a checkpoint in {run.store}; run it "
                "first or give a checkpoint path or run id."
            )
        return runs[0]

    def initial_weights(self) -> Path | None:
        return self.checkpoint

    def prepare(self, net: TransferNetwork) -> None:
        if self.checkpoint is None:
            raise ConfigError(
                f"strategy.init_from={self.init_from}: a run id or latest:... needs the tracking "
                "store (run through xlt-train), or give a checkpoint path"
            )
        self.loaded = load_weights(net, self.checkpoint, load_head=self.load_head)

    def train_dataloader(self, data: TrainingData, stage: Stage):
        if self.train_on == "source":
            return TransferStrategy.train_dataloader(self, data, stage)
        return data.loader(self.few_shot_set(data))

    def stages(self) -> list[Stage]:
        """One stage: the loaded weights already are the source stage. k target examples a
        class train for trainer.max_epochs, as few-shot fine-tuning does, not to a step budget."""
        return [Stage(follows_step_budget=self.train_on == "source")]

    def optimizer_groups(self, net, stage: Stage):
        return TransferStrategy.optimizer_groups(self, net, stage)

    def describe(self) -> dict[str, str]:
        return {
            **super().describe(),
            "strategy.init_from": str(self.init_from),
            "strategy.train_on": self.train_on,
        }
