"""Dynamic padding: each batch is padded to its own longest sequence, not to max_length."""

from __future__ import annotations

import numpy as np
import torch

from xlt.tasks.base import ROW
from xlt.training.rng_state import rng_state, set_rng_state


def pad(rows: list[dict], key: str, value: int) -> torch.Tensor:
    """rows[i][key] (lists of ints) as one [rows, longest] tensor, filled with `value`."""
    out = torch.full((len(rows), max(len(r[key]) for r in rows)), value, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row[key])] = torch.as_tensor(row[key], dtype=torch.long)
    return out


def pad_inputs(rows: list[dict], pad_id: int) -> dict:
    """input_ids padded with `pad_id`, and the attention mask; `lang` passed through (it routes
    language heads and discriminators)."""
    input_ids = pad(rows, "input_ids", pad_id)
    lengths = torch.tensor([len(r["input_ids"]) for r in rows])
    mask = (torch.arange(input_ids.shape[1])[None, :] < lengths[:, None]).long()
    batch = {"input_ids": input_ids, "attention_mask": mask}
    if "lang" in rows[0]:
        batch["lang"] = [r["lang"] for r in rows]
    return batch


class PadCollator:
    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: list[dict]) -> dict:
        batch = pad_inputs(rows, self.pad_id)
        if "label" in rows[0]:
            batch["labels"] = torch.as_tensor([r["label"] for r in rows], dtype=torch.long)
        return batch


class RowCollator:
    """Evaluation batches: the task's collation plus each row's position in its evaluation set
    (scorers key on it, so rows a distributed sampler repeats count once)."""

    def __init__(self, collate) -> None:
        self.collate = collate

    def __call__(self, rows: list[dict]) -> dict:
        batch = self.collate(rows)
        batch[ROW] = torch.as_tensor([r[ROW] for r in rows], dtype=torch.long)
        return batch


class LengthGroupedBatchSampler:
    """Random batches of similar lengths: shuffle, cut into mega-batches of `group` batches,
    sort each by length, batch, shuffle the batches. Less padding than random batches with
    nearly the same randomness. Draws from torch's global RNG (restored on resume)."""

    def __init__(self, lengths: list[int], batch_size: int, group: int = 50) -> None:
        self.lengths = np.asarray(lengths)
        self.batch_size, self.group = batch_size, group

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.lengths)).numpy()
        mega = self.batch_size * self.group
        batches = []
        for start in range(0, len(order), mega):
            chunk = order[start : start + mega]
            chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
            batches += [chunk[i : i + self.batch_size].tolist()
                        for i in range(0, len(chunk), self.batch_size)]  # fmt: skip
        for i in torch.randperm(len(batches)).tolist():
            yield batches[i]


class ResumableBatches:
    """A training batch sampler whose epoch can be continued: the wrapped sampler's batches are
    drawn when the epoch starts (the same draws, at the same moment), kept, and a run resumed
    from a mid-epoch checkpoint replays the rest of that epoch instead of drawing a new one,
    from the random state the checkpoint saved (the loader's own start-up draws undone)."""

    def __init__(self, batches) -> None:
        self.batches = batches
        self.sampler = getattr(batches, "sampler", None)  # Lightning calls its set_epoch
        self.order: list[list[int]] | None = None
        self.yielded = 0  # batches handed out this epoch (Lightning fetches one ahead)
        self._resume: tuple[int, dict] | None = None

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        start = 0
        if self._resume is not None and self.order is not None:
            (start, rng), self._resume = self._resume, None
            set_rng_state(rng)
        else:
            self.order = [list(batch) for batch in self.batches]
        self.yielded = start
        for batch in self.order[start:]:
            self.yielded += 1
            yield batch

    def state_dict(self, done: int) -> dict:
        """This epoch's batches, how many training finished, the random state now."""
        state = {"order": self.order, "done": done, "rng": rng_state()}
        if callable(getattr(self.batches, "state_dict", None)):  # a strategy's own sampler
            state["sampler"] = self.batches.state_dict()
        return state

    def load_state_dict(self, state: dict, finished_too: bool = False) -> None:
        """`finished_too`: a stream that had run out of batches also resumes (with none left),
        so that the loader restarts it, drawing from the same random state, as it did."""
        if "sampler" in state:  # its epoch counter: later epochs draw what they would have
            self.batches.load_state_dict(state["sampler"])
        order, done = state.get("order"), state.get("done", 0)
        if order is not None and (done < len(order) or finished_too):
            self.order, self._resume = order, (done, state["rng"])
